// Takes the README's screenshots of a mass post (the preview, and the job
// in progress) against a running console that may send to loopback
// (POSTBACK_ALLOW_PRIVATE_DESTINATIONS=true). It adds 300 contacts through
// the API and a queued webhook to a slow receiver on 127.0.0.1 here, so the
// job's page is caught while deliveries are still on their way.
// Usage (from end2end/): BASE_URL=http://127.0.0.1:3000 ADMIN_EMAIL=… ADMIN_PASSWORD=… \
//   API_KEY=… MATCH=mass-post-screenshot.ts npx playwright test -c scripts/screenshot.config.ts
import { test, expect } from '@playwright/test';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { signIn } from './sign-in';

test('mass post screenshots', async ({ page, request }) => {
  test.setTimeout(120_000);
  const receiver = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => setTimeout(() => res.end('ok'), 40));
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const { port } = receiver.address() as AddressInfo;
  const post = async (apiPath: string, data: unknown) => {
    const answer = await request.post(`/api/v1${apiPath}`, {
      headers: { authorization: `Bearer ${process.env.API_KEY}` },
      data,
    });
    expect(answer.status(), await answer.text()).toBeLessThan(300);
  };
  const account = await request.patch('/api/v1/account', {
    headers: { authorization: `Bearer ${process.env.API_KEY}` },
    data: { external_ref: 'DEALER-42' },
  });
  expect(account.status()).toBe(200);
  await post('/webhooks', {
    title: 'Dealer CRM sync',
    url: `http://127.0.0.1:${port}/contacts`,
    triggers: [{ event_type: 'contact.created', filters: [{ field: 'contact.state', op: 'eq', value: 'never' }] }],
    format: 'json_mapped',
    delivery_mode: 'queued',
    mapping: [
      { key: 'DealerID', value: { field: 'account.external_ref' } },
      { key: 'First Name', value: { field: 'contact.first_name' } },
      { key: 'Last Name', value: { field: 'contact.last_name' } },
      { key: 'Email', value: { field: 'contact.email' } },
      { key: 'Phone', value: { field: 'contact.phone' } },
    ],
  });
  const first = ['Ann', 'Ben', 'Cleo', 'Dev', 'Eli', 'Fay', 'Gus', 'Hana', 'Ivo', 'Jun'];
  const last = ['Lee', 'Moss', 'Nash', 'Ortiz', 'Park', 'Quinn', 'Reyes', 'Shaw', 'Toth', 'Vega'];
  for (let n = 0; n < 300; n++) {
    const [f, l] = [first[n % 10], last[Math.floor(n / 10) % 10]];
    await post('/contacts', {
      first_name: f,
      last_name: l,
      email: `${f}.${l}.${n}@example.com`.toLowerCase(),
      phone: `+1 555 01${String(n).padStart(2, '0')}`,
      state: 'spring-campaign',
    });
  }

  await signIn(page, 1280, 800);
  const out = process.env.SHOT_DIR ?? path.resolve(__dirname, '..', '..', 'docs');
  await page.goto('/contacts?state=spring-campaign');
  await page.getByTestId('mass-post-list').click();
  await page.getByTestId('mass-post-webhook').selectOption({ label: 'Dealer CRM sync' });
  await page.getByTestId('mass-post-choose').click();
  await page.getByTestId('next-record').click();
  await page.getByTestId('next-record').click();
  await expect(page.getByTestId('mass-post-record')).toContainText('Record 3 of 300');
  await page.screenshot({ path: path.join(out, 'mass-post-preview.png'), fullPage: false });
  await page.getByTestId('mass-post-start').click();
  await expect(page.getByTestId('job-summary')).toContainText('on their way');
  await page.waitForTimeout(2500);
  await page.screenshot({ path: path.join(out, 'mass-post.png'), fullPage: false });
  receiver.closeAllConnections();
  receiver.close();
});
