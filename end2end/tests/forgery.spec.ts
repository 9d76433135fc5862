// Another site's page tries to act in a signed-in admin's name. It is
// served from another port of this host: the closest kind of other site,
// the one a browser still sends the session cookie to (same-site). It
// tries to save a webhook that would export every lead, delete one, and
// sign the browser in as someone else (login CSRF): every request is
// refused and nothing changes.
import { test, expect } from '@playwright/test';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { addUser, createApiKey, LoginPage } from './pages';

const admin = { email: 'forgery-admin@dealer.example', password: 'forgery admin pass 1' };
const intruder = { email: 'forgery-support@dealer.example', password: 'forgery support pass 1' };

/** The other site's page: three requests by fetch, then a classic form. */
function attackPage(console: string, hookId: string): string {
  const webhook = {
    id: null,
    input: {
      title: 'Export every lead',
      url: 'http://127.0.0.1:9/collect',
      triggers: [{ event_type: 'lead.created', filters: [] }],
      active: true,
    },
  };
  const login = new URLSearchParams({ email: intruder.email, password: intruder.password });
  return `<!doctype html><title>Free coupons</title>
<form id="delete" method="post" action="${console}/api/delete_webhook">
  <input type="hidden" name="id" value="${hookId}">
</form>
<script>
  const send = (path, type, body) =>
    fetch(${JSON.stringify(console)} + path, {
      method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': type }, body,
    }).then(() => 'sent', (e) => 'failed: ' + e);
  window.attack = Promise.all([
    send('/api/save_webhook', 'text/plain', ${JSON.stringify(JSON.stringify(webhook))}),
    send('/api/delete_webhook', 'application/x-www-form-urlencoded', 'id=${hookId}'),
    send('/api/login', 'application/x-www-form-urlencoded', ${JSON.stringify(login.toString())}),
  ]);
</script>`;
}

test('a page on another port cannot save, delete or sign in', async ({ page, request, baseURL }) => {
  addUser(admin.email, admin.password, 'admin');
  addUser(intruder.email, intruder.password, 'support');
  const headers = { authorization: `Bearer ${createApiKey()}` };
  const created = await request.post('/api/v1/webhooks', {
    headers,
    data: { title: 'Keep me', url: 'http://127.0.0.1:9/kept', triggers: [{ event_type: 'lead.created', filters: [] }] },
  });
  expect(created.status()).toBe(201);
  const hookId: string = (await created.json()).id;
  const listed = async () =>
    ((await (await request.get('/api/v1/webhooks', { headers })).json()).data as { id: string; title: string }[])
      .map((w) => w.title)
      .sort();
  const before = await listed();
  expect(before).toContain('Keep me');

  const site = http.createServer((_, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(attackPage(baseURL!, hookId));
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  const siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}/`;

  try {
    await new LoginPage(page).loginAs(admin.email, admin.password);
    const statuses: Record<string, number[]> = {};
    page.on('response', (r) => {
      const url = new URL(r.url());
      if (url.origin === baseURL && url.pathname.startsWith('/api/')) {
        (statuses[url.pathname] ??= []).push(r.status());
      }
    });
    await page.goto(siteUrl);
    expect(await page.evaluate(() => (window as unknown as { attack: Promise<string[]> }).attack)).toEqual([
      'sent',
      'sent',
      'sent',
    ]);
    // The classic way: a form the page submits itself.
    await Promise.all([page.waitForURL(`${baseURL}/api/delete_webhook`), page.evaluate(() => (document.getElementById('delete') as HTMLFormElement).submit())]);
    await expect(page.locator('body')).toContainText('came from another site');

    expect(statuses).toEqual({
      '/api/save_webhook': [403],
      '/api/delete_webhook': [403, 403],
      '/api/login': [403],
    });
    // Nothing changed: the same webhooks, and the browser is still the admin's.
    expect(await listed()).toEqual(before);
    await page.goto('/webhooks');
    await expect(page.getByTestId('current-user')).toHaveText(admin.email);
    await expect(page.getByText('Keep me')).toBeVisible();
    await expect(page.getByText('Export every lead')).toHaveCount(0);
  } finally {
    site.closeAllConnections();
    await new Promise<void>((resolve) => site.close(() => resolve()));
  }
});
