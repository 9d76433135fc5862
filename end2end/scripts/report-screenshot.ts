// Takes the README's screenshot of the webhooks report against a running
// console seeded with `postback bench-reports --deliveries 40000 --webhooks 5`.
// Usage (from end2end/): BASE_URL=http://127.0.0.1:3000 ADMIN_EMAIL=… ADMIN_PASSWORD=… \
//   MATCH=report-screenshot.ts npx playwright test -c scripts/screenshot.config.ts
import { test, expect } from '@playwright/test';
import * as path from 'node:path';
import { signIn } from './sign-in';

test('webhooks report screenshot', async ({ page }) => {
  await signIn(page, 1360, 1000);
  await page.goto('/reports?range=30d');
  await expect(page.getByTestId('chart')).toBeVisible();
  const out = process.env.SHOT_DIR ?? path.resolve(__dirname, '..', '..', 'docs');
  await page.screenshot({ path: path.join(out, 'report.png'), fullPage: false });
  await page.goto('/reports/history?status=failed');
  await page.screenshot({ path: path.join(out, 'history.png'), fullPage: false });
  await page.getByTestId('delivery-link').first().click();
  await expect(page.getByTestId('attempt').first()).toBeVisible();
  await page.screenshot({ path: path.join(out, 'delivery.png'), fullPage: false });
});
