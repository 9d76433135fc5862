// Contacts in the console: an admin creates a contact and adds the status
// "Thank You Note"; the webhook that asks for that status gets it, the one
// that asks for "Sold" gets nothing; the contact's page lists the delivery;
// a support user reads the contact and finds nothing to change.
import { test, expect, type APIRequestContext, type Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { addUser, createApiKey, hydrated, LoginPage } from './pages';
import { Receiver } from './receiver';

const admin = { email: 'contacts-admin@dealer.example', password: 'contacts admin pass 1' };
const support = { email: 'contacts-support@dealer.example', password: 'contacts support pass 1' };
const thanks = new Receiver(200, 'thank you noted');
const sold = new Receiver(200, 'sold noted');
let key = '';

async function api(request: APIRequestContext, method: 'get' | 'post' | 'patch', path: string, data?: unknown) {
  const response = await request[method](`/api/v1${path}`, {
    headers: { authorization: `Bearer ${key}` },
    data,
  });
  expect(response.status(), `${method} ${path}: ${await response.text()}`).toBeLessThan(300);
  return response.json();
}

async function noSeriousA11yViolations(page: Page) {
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(serious.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
}

test.describe.serial('contacts', () => {
  test.beforeAll(async ({ request }) => {
    addUser(admin.email, admin.password, 'admin');
    addUser(support.email, support.password, 'support');
    key = createApiKey();
    for (const [receiver, title, status] of [
      [thanks, 'Thank-you card printer', 'Thank You Note'],
      [sold, 'Sold board', 'Sold'],
    ] as const) {
      const url = await receiver.start();
      await api(request, 'post', '/webhooks', {
        title,
        url: `${url}/hook`,
        triggers: [
          { event_type: 'contact.status_added', filters: [{ field: 'contact.status', op: 'eq', value: status }] },
        ],
        format: 'json_mapped',
        mapping: [
          { key: 'dealer', value: { field: 'account.external_ref' } },
          { key: 'email', value: { field: 'contact.email' } },
          { key: 'status', value: { field: 'contact.status' } },
        ],
      });
    }
    await api(request, 'patch', '/account', { external_ref: 'DEALER-42' });
  });

  test.afterAll(async () => {
    await thanks.stop();
    await sold.stop();
  });

  test('a status added in the console reaches only the webhook that asks for it', async ({ page }) => {
    await new LoginPage(page).loginAs(admin.email, admin.password);
    await page.getByTestId('nav-contacts').click();
    await expect(page).toHaveURL(/\/contacts$/);
    await hydrated(page);
    await expect(page.getByTestId('no-contacts')).toBeVisible();
    await page.getByTestId('new-contact').click();
    await expect(page).toHaveURL(/\/contacts\/new$/);
    await hydrated(page);

    await page.getByTestId('contact-first_name').fill('Jane');
    await page.getByTestId('contact-last_name').fill('Doe');
    await page.getByTestId('contact-email').fill('Jane.Doe@Example.com');
    await page.getByTestId('contact-source').selectOption('Website');
    await page.getByTestId('contact-custom').fill('preferred_time = Morning\nnot a pair');
    await page.getByTestId('contact-save').click();
    // The bad line is named beside the box, and what was typed stays.
    await expect(page.getByText('Line 2: write name = value.')).toBeVisible();
    await expect(page.getByTestId('contact-first_name')).toHaveValue('Jane');
    await page.getByTestId('contact-custom').fill('preferred_time = Morning');
    await page.getByTestId('contact-save').click();
    await expect(page).toHaveURL(/\/contacts\/con_/);
    await hydrated(page);
    await expect(page.getByTestId('contact-name')).toHaveText('Jane Doe');
    await expect(page.getByTestId('contact-email')).toHaveValue('jane.doe@example.com');

    await page.getByTestId('add-status').selectOption('Thank You Note');
    await page.getByTestId('add-status-submit').click();
    const outcome = page.getByTestId('change-outcome');
    await expect(outcome).toContainText('contact.status_added');
    await expect(outcome).toContainText('Thank-you card printer');
    await expect(outcome).not.toContainText('Sold board');
    await expect(page.getByTestId('status-chip')).toHaveText(['Thank You Note×']);

    await expect.poll(() => thanks.received.length, { timeout: 15_000 }).toBe(1);
    // json_mapped: the mapped object alone.
    expect(JSON.parse(thanks.received[0].body)).toEqual({
      dealer: 'DEALER-42',
      email: 'jane.doe@example.com',
      status: 'Thank You Note',
    });
    await page.waitForTimeout(500);
    expect(sold.received).toHaveLength(0);

    // A to-do, done; the page lists the delivery about this contact.
    await page.getByTestId('todo-title').fill('Send the card');
    await page.getByTestId('todo-add').click();
    await expect(page.getByTestId('todo')).toHaveText(/Send the card/);
    await expect(page.getByTestId('todo-title')).toHaveValue('');
    await page.getByTestId('todo-toggle').click();
    await expect(page.getByTestId('todo')).toHaveAttribute('data-done', 'true');
    await page.reload();
    await hydrated(page);
    await expect(page.getByTestId('contact-delivery')).toHaveCount(1);
    await expect(page.getByTestId('contact-delivery')).toContainText('Thank-you card printer');
    await expect(page.getByTestId('contact-delivery')).toContainText('succeeded');
    await noSeriousA11yViolations(page);

    // The list finds her by status.
    await page.goto('/contacts?status=Thank+You+Note');
    await hydrated(page);
    await expect(page.getByTestId('contact-row')).toHaveCount(1);
    await expect(page.getByTestId('contact-row')).toContainText('Jane Doe');
    await noSeriousA11yViolations(page);
    await page.goto('/contacts?status=Sold');
    await expect(page.getByTestId('no-contacts')).toBeVisible();
  });

  test('execute a webhook on a contact and see the receiver\'s answer', async ({ page }) => {
    await new LoginPage(page).loginAs(admin.email, admin.password);
    await page.goto('/contacts?q=jane');
    await hydrated(page);
    await page.getByTestId('contact-link').first().click();
    await expect(page).toHaveURL(/\/contacts\/con_/);
    await hydrated(page);
    const before = thanks.received.length;
    await page.getByTestId('execute-webhook').selectOption({ label: 'Thank-you card printer' });
    // The exact request, before anything is sent.
    await expect(page.getByTestId('execute-request')).toContainText('"email":"jane.doe@example.com"');
    expect(thanks.received.length).toBe(before);
    await page.getByTestId('execute-send').click();
    await expect(page.getByTestId('test-status')).toHaveText('200');
    await expect(page.getByTestId('test-response-body')).toHaveText('thank you noted');
    expect(thanks.received.length).toBe(before + 1);
    expect(JSON.parse(thanks.received[before].body)).toMatchObject({ dealer: 'DEALER-42', email: 'jane.doe@example.com' });
    // Recorded as a manual delivery about this contact.
    await expect(page.getByTestId('contact-delivery').filter({ hasText: 'manual' })).toHaveCount(1);
    await page.getByTestId('test-delivery-link').click();
    await expect(page).toHaveURL(/\/reports\/deliveries\/dlv_/);
  });

  test('a trigger offers ready-made filters with the account\'s own values', async ({ page }) => {
    await new LoginPage(page).loginAs(admin.email, admin.password);
    await page.goto('/webhooks/new');
    await hydrated(page);
    await page.getByTestId('trigger-type').first().fill('contact.status_added');
    const ready = page.getByTestId('ready-filter').first();
    await expect(ready.locator('option', { hasText: 'Status added is Thank You Note' })).toHaveCount(1);
    await ready.selectOption({ label: 'Status added is Thank You Note' });
    await expect(page.getByTestId('filter-field').first()).toHaveValue('contact.status');
    await expect(page.getByTestId('filter-value').first()).toHaveValue('Thank You Note');
    await page.getByTestId('trigger-type').first().fill('lead.created');
    await expect(page.getByTestId('ready-filter').first().locator('option', { hasText: 'The contact is new' })).toHaveCount(1);
  });

  test('an event type a program sent joins the trigger and field pickers', async ({ page, request }) => {
    await api(request, 'post', '/events', { type: 'invoice.paid', data: { id: 'inv_7', total: 120.5 } });
    await new LoginPage(page).loginAs(admin.email, admin.password);
    await page.goto('/webhooks/new');
    await hydrated(page);
    await expect(page.locator('#event-types option[value="invoice.paid"]')).toHaveCount(1);
    await page.getByTestId('url').fill('https://crm.example.com/hook');
    await page.getByTestId('trigger-type').first().fill('invoice.paid');
    await expect(page.locator('#field-options option[value="invoice.total"]')).toHaveCount(1);
    await page.getByTestId('preview-type').selectOption('invoice.paid');
    await expect(page.getByTestId('preview-body')).toContainText('inv_7');
  });

  test('settings: the receiver id and a user to assign', async ({ page }) => {
    await new LoginPage(page).loginAs(admin.email, admin.password);
    await page.getByTestId('nav-settings').click();
    await hydrated(page);
    await expect(page.getByTestId('account-ref')).toHaveValue('DEALER-42');
    await page.getByTestId('new-users').fill('Sam Seller');
    await page.getByTestId('new-users-company').fill('North Motors');
    await page.getByTestId('add-users-submit').click();
    await expect(page.getByTestId('items-users').getByTestId('item')).toHaveCount(1);
    await page.getByTestId('new-statuses').fill('Thank You Note');
    await page.getByTestId('add-statuses-submit').click();
    await expect(page.getByTestId('item-error')).toContainText('There is a status named Thank You Note already.');
    await noSeriousA11yViolations(page);
  });

  test('support reads a contact and finds nothing to change', async ({ page }) => {
    await new LoginPage(page).loginAs(support.email, support.password);
    await page.goto('/contacts');
    await hydrated(page);
    await expect(page.getByTestId('new-contact')).toHaveCount(0);
    await page.getByTestId('contact-link').first().click();
    await expect(page).toHaveURL(/\/contacts\/con_/);
    await hydrated(page);
    await expect(page.getByTestId('contact-facts')).toContainText('jane.doe@example.com');
    await expect(page.getByTestId('contact-facts')).toContainText('preferred_time = Morning');
    await expect(page.getByTestId('contact-form')).toHaveCount(0);
    await expect(page.getByTestId('add-status')).toHaveCount(0);
    await expect(page.getByTestId('contact-delete')).toHaveCount(0);
    await expect(page.locator('main button')).toHaveCount(0);
    const response = await page.goto('/contacts/new');
    expect(response?.status()).toBe(403);
  });
});
