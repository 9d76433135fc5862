import { test } from '@playwright/test';
test('console', async ({ page }) => {
  page.on('console', m => console.log('CONSOLE', m.type(), m.text()));
  page.on('pageerror', e => console.log('PAGEERROR', e.message));
  page.on('requestfailed', r => console.log('FAILED', r.url()));
  await page.goto('/login');
  await page.waitForTimeout(3000);
});
