// Page objects for the console. Every locator is a data-testid; every
// action is awaited; pages wait for hydration before they are used.
import { expect, type Locator, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

export const binary =
  process.env.POSTBACK_BIN ?? path.resolve(__dirname, '..', '..', 'target', 'debug', 'postback');

/** Adds a user through the `postback user add` command, as an operator would. */
export function addUser(email: string, password: string, role: 'admin' | 'support') {
  execFileSync(binary, ['user', 'add', '--email', email, '--password-stdin', '--role', role], {
    input: `${password}\n`,
    env: { ...process.env, DATABASE_URL: process.env.E2E_DATABASE_URL },
  });
}

/** Creates an API key with `postback api-key create`, as an operator would. */
export function createApiKey(): string {
  return execFileSync(binary, ['api-key', 'create', '--name', 'e2e'], {
    env: { ...process.env, DATABASE_URL: process.env.E2E_DATABASE_URL },
  })
    .toString()
    .trim();
}

export async function hydrated(page: Page) {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

export class SetupPage {
  constructor(private page: Page) {}
  async createAdmin(email: string, password: string) {
    await hydrated(this.page);
    await this.page.getByTestId('setup-email').fill(email);
    await this.page.getByTestId('setup-password').fill(password);
    await this.page.getByTestId('setup-submit').click();
  }
}

export class LoginPage {
  constructor(private page: Page) {}
  async open() {
    await this.page.goto('/login');
    await hydrated(this.page);
  }
  async login(email: string, password: string) {
    await this.page.getByTestId('login-email').fill(email);
    await this.page.getByTestId('login-password').fill(password);
    await this.page.getByTestId('login-submit').click();
  }
  /** Signs in and waits until the webhooks list is shown. */
  async loginAs(email: string, password: string) {
    await this.open();
    await this.login(email, password);
    await expect(this.page).toHaveURL(/\/webhooks$/);
    await hydrated(this.page);
  }
  error(): Locator {
    return this.page.getByTestId('form-error');
  }
}

export class WebhooksPage {
  constructor(private page: Page) {}
  async open() {
    await this.page.goto('/webhooks');
    await hydrated(this.page);
  }
  row(title: string): Locator {
    return this.page.locator(`[data-testid="webhook-row"][data-title="${title}"]`);
  }
  rows(): Locator {
    return this.page.getByTestId('webhook-row');
  }
  async toggle(title: string) {
    await this.row(title).getByTestId('toggle-active').click();
  }
  async edit(title: string) {
    await this.row(title).getByTestId('webhook-link').click();
    await expect(this.page.getByTestId('form-heading')).toContainText(title);
  }
}

export class WebhookForm {
  constructor(private page: Page) {}

  async openNew() {
    await this.page.goto('/webhooks/new');
    await hydrated(this.page);
  }
  field(testid: string): Locator {
    return this.page.getByTestId('webhook-form').getByTestId(testid);
  }
  error(field: string): Locator {
    return this.page.getByTestId(`error-${field}`);
  }
  previewBody(): Locator {
    return this.page.getByTestId('preview-body');
  }
  previewLine(): Locator {
    return this.page.getByTestId('preview-request-line');
  }
  previewHeaders(): Locator {
    return this.page.getByTestId('preview-headers');
  }
  mappingRows(): Locator {
    return this.page.getByTestId('mapping-row');
  }
  async setTrigger(index: number, eventType: string) {
    await this.page.getByTestId('trigger-type').nth(index).fill(eventType);
  }
  async addMapping(key: string, kind: 'field' | 'constant' | 'template', value: string) {
    await this.page.getByTestId('add-mapping').click();
    const row = this.mappingRows().last();
    await row.getByTestId('mapping-key').fill(key);
    await row.getByTestId('mapping-kind').selectOption(kind);
    await row.getByTestId('mapping-value').fill(value);
  }
  async save() {
    await this.page.getByTestId('save').click();
  }
}
