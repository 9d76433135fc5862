// A CRM admin's first day with the console, then a support agent's.
import { test, expect } from '@playwright/test';
import { addUser, hydrated, LoginPage, SetupPage, WebhookForm, WebhooksPage } from './pages';
import { Receiver } from './receiver';

const admin = { email: 'admin@dealer.example', password: 'correct horse battery' };
const support = { email: 'support@dealer.example', password: 'support staple 42' };

test.describe.serial('console', () => {
  test('the first visit creates the first admin', async ({ page }) => {
    await page.goto('/');
    await expect(page).toHaveURL(/\/setup$/);
    await new SetupPage(page).createAdmin(admin.email, admin.password);
    await expect(page).toHaveURL(/\/webhooks$/);
    await expect(page.getByTestId('current-user')).toHaveText(admin.email);
    await expect(page.getByTestId('current-role')).toHaveText('admin');
    await expect(page.getByTestId('no-webhooks')).toBeVisible();
    // Setup is closed once an admin exists.
    await page.goto('/setup');
    await expect(page).toHaveURL(/\/webhooks$/);
  });

  test('sign out, a wrong password, then sign in', async ({ page }) => {
    const login = new LoginPage(page);
    await page.goto('/webhooks');
    await expect(page).toHaveURL(/\/login$/);
    await hydrated(page);
    await login.login(admin.email, 'not the password');
    await expect(login.error()).toHaveText('Wrong email or password.');
    await expect(page).toHaveURL(/\/login$/);
    await login.login(admin.email, admin.password);
    await expect(page).toHaveURL(/\/webhooks$/);
    await hydrated(page);
    await page.getByTestId('logout').click();
    await expect(page).toHaveURL(/\/login$/);
    await page.goto('/webhooks');
    await expect(page).toHaveURL(/\/login$/);
  });

  test('create a webhook: mapping rows drive the live preview, a bad URL is caught and fixed', async ({ page }) => {
    await new LoginPage(page).loginAs(admin.email, admin.password);

    const form = new WebhookForm(page);
    await form.openNew();
    await form.field('title').fill('Dialer queue');
    await form.field('url').fill('ftp://dialer.example/hook');
    await form.setTrigger(0, 'lead.created');

    // No mapping rows: the whole envelope is previewed.
    await expect(form.previewBody()).toContainText('"type":"lead.created"');
    await expect(form.previewBody()).toContainText('"external_ref":"DEALER-42"');

    await form.field('format').selectOption('json_mapped');
    await form.addMapping('First Name', 'field', 'contact.first_name');
    await expect(form.previewBody()).toHaveText('{"First Name":"Jane"}');
    await form.addMapping('api_hash', 'constant', 's3cr3t');
    await form.addMapping('ref', 'template', '{account.id}-{contact.id}');
    await expect(form.previewBody()).toHaveText(
      '{"First Name":"Jane","api_hash":"s3cr3t","ref":"acc_demo-c_1001"}',
    );

    // Reorder: move "ref" to the top; the preview follows.
    await form.mappingRows().nth(2).getByTestId('move-up').click();
    await form.mappingRows().nth(1).getByTestId('move-up').click();
    await expect(form.previewBody()).toHaveText(
      '{"ref":"acc_demo-c_1001","First Name":"Jane","api_hash":"s3cr3t"}',
    );

    // Form format and GET change the request, not just the body.
    await form.field('format').selectOption('form');
    await expect(form.previewBody()).toHaveText('ref=acc_demo-c_1001&First+Name=Jane&api_hash=s3cr3t');
    await form.field('method').selectOption('GET');
    await expect(form.previewLine()).toContainText('GET ftp://dialer.example/hook?ref=acc_demo-c_1001');
    await form.field('method').selectOption('POST');

    // The auth header shows in the preview, its secret masked even while typed.
    await form.field('auth-type').selectOption('header');
    await form.field('auth-value').fill('Bearer live-token-123');
    await expect(form.previewHeaders()).toContainText('Authorization: ********');
    await expect(form.previewHeaders()).not.toContainText('live-token-123');

    // A duplicate key and a bad URL are rejected beside their fields…
    await form.addMapping('api_hash', 'template', '{contact.nope}');
    await form.save();
    await expect(form.error('url')).toContainText('must start with http:// or https://');
    await expect(form.error('mapping[3].key')).toContainText('already used');
    await expect(form.error('mapping[3].value')).toContainText('Unknown field {contact.nope}');
    await expect(page.getByTestId('form-errors')).toHaveText('Fix the 3 problems marked below.');
    // …and nothing typed is lost.
    await expect(form.field('title')).toHaveValue('Dialer queue');
    await expect(form.mappingRows()).toHaveCount(4);

    await form.mappingRows().nth(3).getByTestId('remove-mapping').click();
    await form.field('url').fill('http://127.0.0.1:9999/hook');
    await form.save();
    await expect(page.getByTestId('created-panel')).toBeVisible();
    await expect(page.getByTestId('signing-secret')).toHaveText(/^whsec_[A-Za-z0-9+/=]{40,}$/);
    await page.getByTestId('done').click();

    const list = new WebhooksPage(page);
    await expect(list.row('Dialer queue')).toContainText('http://127.0.0.1:9999/hook');
    await expect(list.row('Dialer queue')).toContainText('lead.created');
    await expect(list.row('Dialer queue')).toContainText('As fast as possible');
    await expect(list.row('Dialer queue').getByTestId('active-state')).toHaveText('Active');
  });

  test('edit keeps the secret masked, then toggle active', async ({ page }) => {
    await new LoginPage(page).loginAs(admin.email, admin.password);
    const list = new WebhooksPage(page);
    await list.open();
    await list.edit('Dialer queue');
    await hydrated(page);

    const form = new WebhookForm(page);
    // The secret never comes back to the page.
    await expect(form.field('auth-value')).toHaveValue('********');
    expect(await page.content()).not.toContain('live-token-123');
    await expect(form.mappingRows()).toHaveCount(3);
    await expect(form.mappingRows().first().getByTestId('mapping-key')).toHaveValue('ref');

    await form.field('title').fill('Dialer queue (EU)');
    await form.field('delivery-mode').selectOption('queued');
    await form.save();
    await expect(page).toHaveURL(/\/webhooks$/);
    await expect(list.row('Dialer queue (EU)')).toContainText('Queued (in order)');

    await list.toggle('Dialer queue (EU)');
    await expect(list.row('Dialer queue (EU)').getByTestId('active-state')).toHaveText('Inactive');
    await page.reload();
    await expect(list.row('Dialer queue (EU)').getByTestId('active-state')).toHaveText('Inactive');
    await hydrated(page);
    await list.toggle('Dialer queue (EU)');
    await expect(list.row('Dialer queue (EU)').getByTestId('active-state')).toHaveText('Active');

    // The preview still renders with the masked secret, never the real one.
    await list.edit('Dialer queue (EU)');
    await expect(page.getByTestId('preview-headers')).toContainText('Authorization: ********');
  });

  test('test send shows the receiver\'s answer on the page', async ({ page }) => {
    const receiver = new Receiver(202, 'thanks from the dialer');
    const url = await receiver.start();
    try {
      await new LoginPage(page).loginAs(admin.email, admin.password);
      const list = new WebhooksPage(page);
      await list.edit('Dialer queue (EU)');
      await hydrated(page);
      const form = new WebhookForm(page);
      await form.field('url').fill(`${url}/leads`);
      await form.save();
      // Another host: the saved credentials are not sent there unless typed again.
      await expect(form.error('auth.value')).toContainText('type the credentials again');
      await form.field('auth-value').fill('Bearer live-token-123');
      await form.save();
      await expect(page).toHaveURL(/\/webhooks$/);
      await list.edit('Dialer queue (EU)');
      await hydrated(page);

      await page.getByTestId('send-test').click();
      await expect(page.getByTestId('test-status')).toHaveText('202');
      await expect(page.getByTestId('test-response-body')).toHaveText('thanks from the dialer');
      await expect(page.getByTestId('test-response-headers')).toContainText('x-receiver: e2e');
      await expect(page.getByTestId('test-request')).toContainText(`POST ${url}/leads`);
      await expect(page.getByTestId('test-request')).toContainText('webhook-signature: v1,');
      await expect(page.getByTestId('test-request')).toContainText('Authorization: ********');
      await expect(page.getByTestId('test-request')).not.toContainText('live-token-123');

      // Rotating the secret shows the new one once; requests then carry both signatures.
      await page.getByTestId('rotate').click();
      await page.getByTestId('rotate-yes').click();
      await expect(page.getByTestId('rotated-secret')).toHaveText(/^whsec_[A-Za-z0-9+/=]{40,}$/);
      await page.getByTestId('send-test').click();
      await expect(page.getByTestId('test-request')).toContainText(/webhook-signature: v1,\S+ v1,\S+/);

      // The receiver got the real request, secret and signature included.
      expect(receiver.received).toHaveLength(2);
      expect(receiver.received[0].headers['authorization']).toBe('Bearer live-token-123');
      expect(receiver.received[0].headers['webhook-signature']).toMatch(/^v1,/);
      expect(receiver.received[0].headers['content-type']).toBe('application/x-www-form-urlencoded');
      const fields = new URLSearchParams(receiver.received[0].body);
      expect(fields.get('First Name')).toBe('Jane');
      expect(fields.get('api_hash')).toBe('s3cr3t');
      expect(fields.get('ref')).toMatch(/^acc_[0-9a-z]+-c_1001$/);
    } finally {
      await receiver.stop();
    }
  });

  test('a support user reads webhooks but cannot save them', async ({ page, browser }) => {
    addUser(support.email, support.password, 'support');
    await new LoginPage(page).loginAs(support.email, support.password);
    await expect(page.getByTestId('current-role')).toHaveText('support');
    await expect(page.getByTestId('new-webhook')).toHaveCount(0);
    const list = new WebhooksPage(page);
    await expect(list.row('Dialer queue (EU)').getByTestId('toggle-active')).toHaveCount(0);
    await list.edit('Dialer queue (EU)');
    await expect(page.getByTestId('readonly-notice')).toBeVisible();
    await expect(page.getByTestId('save')).toHaveCount(0);
    await expect(page.getByTestId('webhook-form').getByTestId('title')).toBeDisabled();

    // The server refuses a forged save and a forged toggle.
    const id = page.url().split('/').pop();
    const forged = await page.request.post('/api/save_webhook', {
      data: { id, input: { title: 'Hijacked', url: 'https://evil.example/', triggers: [{ event_type: 'contact.created' }] } },
    });
    expect(forged.status()).toBe(403);
    const toggle = await page.request.post('/api/set_webhook_active', {
      form: { id: id!, active: 'false' },
    });
    expect(toggle.status()).toBe(403);
    await list.open();
    await expect(list.row('Dialer queue (EU)')).toBeVisible();
    await expect(list.row('Hijacked')).toHaveCount(0);
    await expect(list.row('Dialer queue (EU)').getByTestId('active-state')).toHaveText('Active');

    // Reading pages render on the server: they work with JavaScript off.
    const context = await browser.newContext({ javaScriptEnabled: false, storageState: await page.context().storageState() });
    const noJs = await context.newPage();
    await noJs.goto('/webhooks');
    await expect(noJs.locator('[data-testid="webhook-row"][data-title="Dialer queue (EU)"]')).toContainText('lead.created');
    await noJs.goto(`/webhooks/${id}`);
    await expect(noJs.getByTestId('title')).toHaveValue('Dialer queue (EU)');
    await expect(noJs.getByTestId('preview-body')).toContainText('acc_demo-c_1001');
    await context.close();
  });

  test('delete asks for confirmation', async ({ page }) => {
    await new LoginPage(page).loginAs(admin.email, admin.password);
    const list = new WebhooksPage(page);
    await list.open();
    await list.edit('Dialer queue (EU)');
    await hydrated(page);
    await page.getByTestId('delete').click();
    await expect(page.getByTestId('confirm-delete')).toBeVisible();
    await page.getByTestId('confirm-delete-no').click();
    await expect(page.getByTestId('confirm-delete')).toHaveCount(0);
    await page.getByTestId('delete').click();
    await page.getByTestId('confirm-delete-yes').click();
    await expect(page).toHaveURL(/\/webhooks$/);
    await expect(page.getByTestId('no-webhooks')).toBeVisible();
  });
});
