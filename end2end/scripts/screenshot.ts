// Takes the README's screenshot of the webhook form against a running console.
// Usage (from end2end/): BASE_URL=http://127.0.0.1:3000 ADMIN_EMAIL=… ADMIN_PASSWORD=… \
//   npx playwright test -c scripts/screenshot.config.ts
import { test, expect } from '@playwright/test';
import * as path from 'node:path';
import { signIn } from './sign-in';

test('webhook form screenshot', async ({ page }) => {
  await signIn(page, 1360, 1500);
  await page.goto('/webhooks/new');
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await page.getByTestId('title').fill('Dialer queue');
  await page.getByTestId('url').fill('https://dialer.example.com/leads');
  await page.getByTestId('trigger-type').first().fill('lead.created');
  await page.getByTestId('add-filter').click();
  await page.getByTestId('filter-field').fill('lead.type');
  await page.getByTestId('filter-op').selectOption('in');
  await page.getByTestId('filter-value').fill('call, chat, form, email');
  await page.getByTestId('format').selectOption('json_mapped');
  await page.getByTestId('auth-type').selectOption('header');
  await page.getByTestId('auth-value').fill('Bearer 5up3r-s3cr3t');
  const rows: [string, string, string][] = [
    ['First Name', 'field', 'contact.first_name'],
    ['Last Name', 'field', 'contact.last_name'],
    ['Phone', 'field', 'contact.phone'],
    ['Lead type', 'field', 'lead.type'],
    ['DealerID', 'field', 'account.external_ref'],
    ['api_hash', 'constant', '9f2c1e'],
    ['ref', 'template', '{account.id}-{contact.id}'],
  ];
  for (const [key, kind, value] of rows) {
    await page.getByTestId('add-mapping').click();
    const row = page.getByTestId('mapping-row').last();
    await row.getByTestId('mapping-key').fill(key);
    await row.getByTestId('mapping-kind').selectOption(kind);
    await row.getByTestId('mapping-value').fill(value);
  }
  await expect(page.getByTestId('preview-body')).toContainText('"DealerID":"DEALER-42"');
  await page.screenshot({ path: path.resolve(__dirname, '..', '..', 'docs', 'webhook-form.png'), fullPage: false });
});
