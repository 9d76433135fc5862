// A support day: real deliveries go through the API to a local receiver
// that answers some 200 and some 500; then the reports tell what happened,
// an admin fixes it, and a support user reads without changing anything.
import { test, expect, type APIRequestContext, type Page } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import { addUser, createApiKey, hydrated, LoginPage } from './pages';
import { Receiver } from './receiver';

const admin = { email: 'reports-admin@dealer.example', password: 'reports admin pass 1' };
const support = { email: 'reports-support@dealer.example', password: 'reports support pass 1' };
const secret = 'Bearer rep0rt-s3cret-value';

// Records whose id starts with "bad-" are refused with 500 until fixed.
let fixed = false;
const receiver = new Receiver((body) => (!fixed && body.includes('"id":"bad-') ? 500 : 200), 'thanks');
let key = '';
const hooks: Record<string, string> = {};
const today = new Date().toISOString().slice(0, 10);

async function api(request: APIRequestContext, method: 'get' | 'post', path: string, data?: unknown) {
  const response = await request[method](`/api/v1${path}`, {
    headers: { authorization: `Bearer ${key}` },
    data,
  });
  expect(response.status(), `${method} ${path}`).toBeLessThan(300);
  return response.json();
}

async function settled(request: APIRequestContext, webhookId: string) {
  for (const status of ['pending', 'retrying']) {
    await expect
      .poll(async () => (await api(request, 'get', `/deliveries?webhook_id=${webhookId}&status=${status}`)).data.length, {
        timeout: 20_000,
      })
      .toBe(0);
  }
}

async function noSeriousA11yViolations(page: Page) {
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(serious.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([]);
}

function reportRow(page: Page, title: string) {
  return page.locator(`[data-testid="report-row"][data-title="${title}"]`);
}

test.describe.serial('reports', () => {
  test.beforeAll(async ({ request }) => {
    addUser(admin.email, admin.password, 'admin');
    addUser(support.email, support.password, 'support');
    key = createApiKey();
    const url = await receiver.start();
    const webhook = (title: string, eventType: string) => ({
      title,
      url: `${url}/hook`,
      method: 'POST',
      format: 'json',
      auth: { type: 'header', name: 'Authorization', value: secret },
      triggers: [{ event_type: eventType, filters: [] }],
      retry: { max_attempts: 1, schedule_s: [0] },
      timeout_ms: 5000,
    });
    hooks.mixed = (await api(request, 'post', '/webhooks', webhook('Report mixed', 'contact.created'))).id;
    hooks.busy = (await api(request, 'post', '/webhooks', webhook('Report busy', 'contact.updated'))).id;
    for (let i = 1; i <= 8; i++) {
      const id = i <= 5 ? `good-${i}` : `bad-${i}`;
      await api(request, 'post', '/events', {
        type: 'contact.created',
        data: { id, first_name: 'Ann', last_name: `Lee ${i}` },
      });
    }
    for (let i = 1; i <= 55; i++) {
      await api(request, 'post', '/events', { type: 'contact.updated', data: { id: `busy-${i}`, first_name: 'Bo' } });
    }
    await settled(request, hooks.mixed);
    await settled(request, hooks.busy);
  });

  test.afterAll(async () => {
    await receiver.stop();
  });

  test('the report counts what fired, succeeded and failed, with a chart', async ({ page }) => {
    await new LoginPage(page).loginAs(admin.email, admin.password);
    await page.getByTestId('nav-reports').click();
    await expect(page).toHaveURL(/\/reports$/);
    const mixed = reportRow(page, 'Report mixed');
    await expect(mixed.getByTestId('times-fired')).toHaveText('8');
    await expect(mixed.getByTestId('succeeded')).toHaveText(/^5/);
    await expect(mixed.getByTestId('failed')).toHaveText(/^3/);
    await expect(mixed.getByTestId('open')).toHaveText('0');
    await expect(mixed.getByTestId('success-rate')).toHaveText('62.5%');
    await expect(reportRow(page, 'Report busy').getByTestId('times-fired')).toHaveText('55');
    await expect(page.getByTestId('report-explain')).toContainText('Times fired counts the deliveries created in the range');
    await expect(page.getByTestId('chart')).toBeVisible();
    await expect(page.getByTestId('chart-bar')).toHaveCount(7);
    // The chart's numbers are a table too: today's row of this webhook's chart.
    await page.goto(`/reports?webhook=${hooks.mixed}`);
    await page.getByText("The chart's numbers as a table").click();
    const todayRow = page.getByTestId('chart-table').locator('tbody tr').last();
    await expect(todayRow.locator('td')).toHaveText(['5', '3', '0']);

    // One webhook's chart, and "today" as a range: both kept in the URL.
    await page.getByTestId('range-preset').selectOption('today');
    await page.getByTestId('chart-webhook').selectOption({ label: 'Report mixed' });
    await page.getByTestId('range-apply').click();
    await expect(page).toHaveURL(/range=today/);
    await expect(page.getByTestId('chart-bar')).toHaveCount(24);
    await expect(page.locator('#chart-title')).toContainText('Deliveries of Report mixed per hour');
    await expect(reportRow(page, 'Report mixed').getByTestId('times-fired')).toHaveText('8');

    // A custom range the wrong way round is a field error, not a crash.
    await page.goto('/reports?range=custom&from=2026-02-10&to=2026-02-01');
    await expect(page.locator('#to-error')).toHaveText('The end date is before the start date.');
  });

  test('times fired leads to the filtered history; status and date filters narrow it', async ({ page }) => {
    await new LoginPage(page).loginAs(admin.email, admin.password);
    await page.goto('/reports');
    await reportRow(page, 'Report mixed').getByTestId('times-fired').click();
    await expect(page).toHaveURL(new RegExp(`/reports/history\\?webhook=${hooks.mixed}&from=`));
    await expect(page.getByTestId('history-row')).toHaveCount(8);
    await expect(page.getByTestId('filter-webhook')).toHaveValue(hooks.mixed);

    await page.getByTestId('filter-status').selectOption('failed');
    await page.getByTestId('filter-apply').click();
    await expect(page.getByTestId('history-row')).toHaveCount(3);
    await expect(page.getByTestId('history-row').first()).toContainText('HTTP 500');
    await expect(page.getByTestId('history-row').first()).toContainText('Ann Lee');

    await page.getByTestId('filter-range').selectOption('custom');
    await page.getByTestId('filter-from').fill('2020-01-01');
    await page.getByTestId('filter-to').fill('2020-01-31');
    await page.getByTestId('filter-apply').click();
    await expect(page.getByTestId('no-deliveries')).toBeVisible();

    await page.getByTestId('filter-from').fill(today);
    await page.getByTestId('filter-to').fill(today);
    await page.getByTestId('filter-apply').click();
    await expect(page.getByTestId('history-row')).toHaveCount(3);

    // The record filter, and the export of what is shown.
    await page.goto('/reports/history?record=good-2');
    await expect(page.getByTestId('history-row')).toHaveCount(1);
    const csv = await page.request.get(`/reports/history.csv?webhook=${hooks.mixed}&status=failed`);
    expect(csv.headers()['content-type']).toContain('text/csv');
    const lines = (await csv.text()).trim().split('\n');
    expect(lines[0]).toBe('created_at,delivery_id,webhook_id,webhook,event_id,event_type,record_id,record,status,attempts,last_response');
    expect(lines).toHaveLength(4);
    expect(lines[1]).toContain(',Report mixed,');
    expect(lines[1]).toContain(',failed,1,500');
  });

  test('paging forward and back', async ({ page }) => {
    await new LoginPage(page).loginAs(admin.email, admin.password);
    await page.goto(`/reports/history?webhook=${hooks.busy}`);
    await expect(page.getByTestId('history-row')).toHaveCount(50);
    const newest = await page.getByTestId('history-row').first().getAttribute('data-id');
    const fiftieth = await page.getByTestId('history-row').last().getAttribute('data-id');
    await page.getByTestId('page-older').click();
    await expect(page).toHaveURL(/cursor=/);
    await expect(page.getByTestId('history-row')).toHaveCount(5);
    await expect(page.getByTestId('page-older')).toHaveCount(0);
    await expect(page.getByTestId('history-row').first()).not.toHaveAttribute('data-id', fiftieth!);
    await page.getByTestId('page-newer').click();
    await expect(page).toHaveURL(/prev=/);
    await expect(page.getByTestId('history-row')).toHaveCount(50);
    await expect(page.getByTestId('history-row').first()).toHaveAttribute('data-id', newest!);
    await expect(page.getByTestId('page-newer')).toHaveCount(0);
  });

  test('the detail shows request and response with the secret redacted; resend adds an attempt', async ({ page }) => {
    await new LoginPage(page).loginAs(admin.email, admin.password);
    await page.goto(`/reports/history?webhook=${hooks.mixed}&status=failed`);
    await page.getByTestId('delivery-link').first().click();
    await expect(page).toHaveURL(/\/reports\/deliveries\/dlv_/);
    await hydrated(page);
    await expect(page.getByTestId('envelope')).toContainText('"type": "contact.created"');
    await expect(page.getByTestId('attempt')).toHaveCount(1);
    const attempt = page.getByTestId('attempt').first();
    await expect(attempt.getByTestId('attempt-request-line')).toContainText('POST http://127.0.0.1:');
    await expect(attempt.getByTestId('request-headers')).toContainText('webhook-signature');
    await expect(attempt.getByTestId('request-headers').locator('tr', { hasText: 'Authorization' })).toHaveText('Authorization********');
    await expect(page.locator('body')).not.toContainText('rep0rt-s3cret');
    await expect(attempt.getByTestId('request-body')).toContainText('"id":"bad-');
    await expect(attempt.getByTestId('attempt-outcome')).toHaveText('HTTP 500');
    await expect(attempt.getByTestId('response-body')).toHaveText('thanks');
    await expect(attempt.getByTestId('response-headers')).toContainText('x-receiver');

    const before = receiver.received.length;
    await page.getByTestId('resend').click();
    await expect(page.getByTestId('resend-result')).toContainText('Resent: HTTP 500');
    await expect(page.getByTestId('attempt')).toHaveCount(2);
    await expect(page.getByTestId('attempt-count')).toHaveText('2');
    expect(receiver.received.length).toBe(before + 1);
  });

  test('retry all failed shows progress and a summary that survive a reload', async ({ page, request }) => {
    await new LoginPage(page).loginAs(admin.email, admin.password);
    fixed = true;
    await page.goto('/reports');
    await hydrated(page);
    await reportRow(page, 'Report mixed').getByTestId('retry-all').click();
    await expect(page).toHaveURL(/\/reports\/retries\/rr_/);
    await expect(page.getByTestId('retry-progress')).toBeVisible();
    await expect(page.getByTestId('retry-summary')).toContainText('3 sent: 3 succeeded, 0 failed.', { timeout: 20_000 });
    await page.reload();
    await expect(page.getByTestId('retry-progress')).toHaveAttribute('data-finished', 'true');
    await expect(page.getByTestId('retry-summary')).toContainText('3 sent');
    await page.getByTestId('summary-succeeded').click();
    await expect(page.getByTestId('history-row')).toHaveCount(8);
    await settled(request, hooks.mixed);
    await page.goto('/reports');
    await expect(reportRow(page, 'Report mixed').getByTestId('succeeded')).toHaveText('8');
    await expect(reportRow(page, 'Report mixed').getByTestId('success-rate')).toHaveText('100.0%');
  });

  test('a support user reads every report but cannot resend; a forged resend is refused', async ({ page }) => {
    await new LoginPage(page).loginAs(support.email, support.password);
    await page.goto('/reports');
    await expect(reportRow(page, 'Report mixed').getByTestId('times-fired')).toHaveText('8');
    await expect(page.getByTestId('retry-all')).toHaveCount(0);
    await page.goto(`/reports/history?webhook=${hooks.mixed}`);
    await page.getByTestId('delivery-link').first().click();
    await expect(page.getByTestId('attempt').first()).toBeVisible();
    await expect(page.getByTestId('resend')).toHaveCount(0);
    const id = page.url().split('/').pop()!;
    const forged = await page.request.post('/api/resend', { form: { id } });
    expect(forged.status()).toBe(403);
    const forgedRun = await page.request.post('/api/retry_all', { form: { webhook_id: hooks.mixed } });
    expect(forgedRun.status()).toBe(403);
  });

  test('the report and history render without JavaScript and pass an accessibility check', async ({ page, browser }) => {
    await new LoginPage(page).loginAs(admin.email, admin.password);
    for (const path of ['/reports', `/reports/history?webhook=${hooks.mixed}`]) {
      await page.goto(path);
      await hydrated(page);
      await noSeriousA11yViolations(page);
    }
    await page.getByTestId('delivery-link').first().click();
    await expect(page.getByTestId('attempt').first()).toBeVisible();
    await noSeriousA11yViolations(page);

    const noJs = await browser.newContext({ javaScriptEnabled: false, storageState: await page.context().storageState() });
    const plain = await noJs.newPage();
    await plain.goto('/reports');
    await expect(reportRow(plain, 'Report mixed').getByTestId('times-fired')).toHaveText('8');
    await expect(plain.getByTestId('chart')).toBeVisible();
    await plain.getByTestId('range-preset').selectOption('30d');
    await plain.getByTestId('range-apply').click();
    await expect(plain).toHaveURL(/range=30d/);
    await expect(plain.getByTestId('chart-bar')).toHaveCount(30);
    await plain.goto(`/reports/history?webhook=${hooks.busy}`);
    await expect(plain.getByTestId('history-row')).toHaveCount(50);
    await plain.getByTestId('page-older').click();
    await expect(plain.getByTestId('history-row')).toHaveCount(5);
    await noJs.close();
  });
});
