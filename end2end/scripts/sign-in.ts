// Signs in as ADMIN_EMAIL / ADMIN_PASSWORD for the screenshot scripts.
import { expect, type Page } from '@playwright/test';

export async function signIn(page: Page, width: number, height: number) {
  await page.setViewportSize({ width, height });
  await page.goto('/login');
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
  await page.getByTestId('login-email').fill(process.env.ADMIN_EMAIL!);
  await page.getByTestId('login-password').fill(process.env.ADMIN_PASSWORD!);
  await page.getByTestId('login-submit').click();
  await expect(page).toHaveURL(/\/webhooks$/);
}
