// Mass post from the contacts list: an admin checks 25 rows, steps
// through three records' requests, posts, and watches the job finish with
// its summary; the whole filtered list posts without JavaScript too; a
// support user reads a job's page but can neither start nor cancel one.
import { test, expect, type APIRequestContext, type Page } from '@playwright/test';
import { addUser, createApiKey, hydrated, LoginPage } from './pages';
import { Receiver } from './receiver';

const admin = { email: 'mass-admin@dealer.example', password: 'mass post admin pass 1' };
const support = { email: 'mass-support@dealer.example', password: 'mass post support pass 1' };
// The receiver refuses contact 07, and the webhook tries once: one failure.
const board = new Receiver((body) => (body.includes('mass-07@') ? 500 : 200), 'posted');
const STATE = 'massposted';
const number = (n: number) => String(n).padStart(2, '0');
let key = '';
let jobUrl = '';

async function api(request: APIRequestContext, path: string, data: unknown) {
  const response = await request.post(`/api/v1${path}`, {
    headers: { authorization: `Bearer ${key}` },
    data,
  });
  expect(response.status(), `post ${path}: ${await response.text()}`).toBeLessThan(300);
  return response.json();
}

/** The emails the receiver was sent, in order. */
function emailsReceived(): string[] {
  return board.received.map((r) => JSON.parse(r.body).email as string);
}

async function signInWithoutScript(page: Page, email: string, password: string) {
  await page.goto('/login');
  await page.getByTestId('login-email').fill(email);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await expect(page).toHaveURL(/\/webhooks$/);
}

test.describe.serial('mass post', () => {
  test.beforeAll(async ({ request }) => {
    addUser(admin.email, admin.password, 'admin');
    addUser(support.email, support.password, 'support');
    key = createApiKey();
    const url = await board.start();
    await api(request, '/webhooks', {
      title: 'Mass board',
      url: `${url}/mass`,
      triggers: [{ event_type: 'contact.created', filters: [{ field: 'contact.state', op: 'eq', value: 'never' }] }],
      format: 'json_mapped',
      mapping: [
        { key: 'email', value: { field: 'contact.email' } },
        { key: 'name', value: { field: 'contact.first_name' } },
      ],
      retry: { max_attempts: 1, schedule_s: [0] },
    });
    // Oldest first, so the list (newest first) starts at Mass 30.
    for (let n = 1; n <= 30; n++) {
      await api(request, '/contacts', {
        first_name: 'Mass',
        last_name: number(n),
        email: `mass-${number(n)}@dealer.example`,
        state: STATE,
      });
    }
  });

  test.afterAll(async () => {
    await board.stop();
  });

  test('mass post 25 selected contacts, stepping through three previews', async ({ page }) => {
    await new LoginPage(page).loginAs(admin.email, admin.password);
    await page.goto(`/contacts?state=${STATE}`);
    await hydrated(page);
    const boxes = page.getByTestId('select-contact');
    await expect(boxes).toHaveCount(30);
    for (let i = 0; i < 25; i++) await boxes.nth(i).check();
    await page.screenshot({ path: 'test-results/mass-post-list.png' });
    await page.getByTestId('mass-post-selected').click();

    await expect(page).toHaveURL(/\/contacts\/mass-post\?.*with=selected/);
    await expect(page.getByTestId('mass-post-count')).toHaveText('25 selected contacts.');
    await page.getByTestId('mass-post-webhook').selectOption({ label: 'Mass board' });
    await page.getByTestId('mass-post-choose').click();
    const record = page.getByTestId('mass-post-record');
    const request = page.getByTestId('mass-post-request');
    await expect(record).toHaveText('Record 1 of 25: Mass 30');
    await expect(request).toContainText('/mass');
    await expect(request).toContainText('mass-30@dealer.example');
    await hydrated(page);
    await page.getByTestId('next-record').click();
    await expect(record).toHaveText('Record 2 of 25: Mass 29');
    await expect(request).toContainText('mass-29@dealer.example');
    await page.getByTestId('next-record').click();
    await expect(record).toHaveText('Record 3 of 25: Mass 28');
    await expect(request).toContainText('mass-28@dealer.example');
    await expect(request).not.toContainText('mass-29@dealer.example');
    await page.getByTestId('previous-record').click();
    await expect(record).toHaveText('Record 2 of 25: Mass 29');
    expect(board.received, 'a preview sends nothing').toHaveLength(0);
    await page.screenshot({ path: 'test-results/mass-post-preview.png', fullPage: true });

    await page.getByTestId('mass-post-start').click();
    await expect(page).toHaveURL(/\/jobs\/job_/);
    jobUrl = new URL(page.url()).pathname;
    const progress = page.getByTestId('job-progress');
    await expect(progress).toHaveAttribute('data-settled', 'true', { timeout: 30_000 });
    await expect(progress).toHaveAttribute('data-state', 'done');
    await expect(page.getByTestId('job-state')).toHaveText('Done: 25 of 25 contacts');
    await expect(page.locator('#job-bar')).toHaveAttribute('value', '100');
    await expect(page.getByTestId('job-summary')).toContainText('25 deliveries sent: 24 succeeded, 1 failed.');
    await expect(page.getByTestId('job-cancel')).toHaveCount(0);
    await page.screenshot({ path: 'test-results/mass-post-done.png', fullPage: true });

    const expected = Array.from({ length: 25 }, (_, i) => `mass-${number(30 - i)}@dealer.example`);
    expect([...emailsReceived()].sort(), 'each selected contact once').toEqual([...expected].sort());

    await page.getByTestId('job-history-failed').click();
    await expect(page).toHaveURL(/\/reports\/history\?job=job_.*status=failed/);
    await expect(page.getByTestId('filter-job')).toBeVisible();
    await expect(page.getByTestId('history-row')).toHaveCount(1);
    await expect(page.getByTestId('history-row')).toContainText('Mass 07');
    await page.getByTestId('filter-status').selectOption('');
    await page.getByTestId('filter-apply').click();
    await expect(page.getByTestId('history-row')).toHaveCount(25);

    // At a phone's width the preview and the progress stay readable.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(jobUrl);
    await expect(page.getByTestId('job-summary')).toBeVisible();
    await page.screenshot({ path: 'test-results/mass-post-done-390.png', fullPage: true });
  });

  test('with list, without JavaScript: the filtered list posts and the progress page reloads itself', async ({
    browser,
  }) => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await signInWithoutScript(page, admin.email, admin.password);
    await page.goto(`/contacts?state=${STATE}`);
    await page.getByTestId('mass-post-list').click();
    await expect(page).toHaveURL(/\/contacts\/mass-post\?.*with=list/);
    await expect(page.getByTestId('mass-post-count')).toHaveText(
      `The list filtered by state “${STATE}”: 30 contacts.`,
    );
    await page.getByTestId('mass-post-webhook').selectOption({ label: 'Mass board' });
    await page.getByTestId('mass-post-choose').click();
    await expect(page.getByTestId('mass-post-record')).toHaveText('Record 1 of 30: Mass 30');
    await page.getByTestId('next-record').click();
    await expect(page.getByTestId('mass-post-record')).toHaveText('Record 2 of 30: Mass 29');
    await page.getByTestId('mass-post-start').click();
    await expect(page).toHaveURL(/\/jobs\/job_/);
    // The page reloads itself (a refresh tag) until the post has settled.
    await expect(page.getByTestId('job-progress')).toHaveAttribute('data-settled', 'true', { timeout: 30_000 });
    await expect(page.getByTestId('job-summary')).toContainText('30 deliveries sent: 29 succeeded, 1 failed.');
    expect(board.received).toHaveLength(55);
    await context.close();
  });

  test('support reads a mass post but can neither start nor cancel one', async ({ page }) => {
    await new LoginPage(page).loginAs(support.email, support.password);
    await page.goto(`/contacts?state=${STATE}`);
    await hydrated(page);
    await expect(page.getByTestId('contact-row')).toHaveCount(30);
    await expect(page.getByTestId('select-contact')).toHaveCount(0);
    await expect(page.getByTestId('mass-post-bar')).toHaveCount(0);
    const refused = await page.goto(`/contacts/mass-post?with=list&state=${STATE}`);
    expect(refused?.status()).toBe(403);
    await expect(page.getByTestId('page-error')).toContainText('support');
    await page.goto(jobUrl);
    await expect(page.getByTestId('job-summary')).toContainText('25 deliveries sent');
    await expect(page.getByTestId('job-cancel')).toHaveCount(0);
  });
});
