import { defineConfig } from '@playwright/test';
import * as os from 'node:os';
import * as path from 'node:path';
import * as fs from 'node:fs';

// Every run gets a fresh database: a new SQLite file unless the Makefile
// hands over a fresh PostgreSQL database in E2E_DATABASE_URL. The runner and
// each worker read this file; only the first makes the folder, the others
// find it in the environment, and the teardown removes it.
const port = Number(process.env.E2E_PORT ?? 3210);
if (!process.env.E2E_DATABASE_URL) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'postback-e2e-'));
  process.env.E2E_DATA_DIR = dataDir;
  process.env.E2E_DATABASE_URL = `sqlite://${dataDir}/postback.db?mode=rwc`;
}
const databaseUrl = process.env.E2E_DATABASE_URL;
const root = path.resolve(__dirname, '..');
const binary = process.env.POSTBACK_BIN ?? path.join(root, 'target', 'debug', 'postback');

export default defineConfig({
  testDir: './tests',
  globalTeardown: './scripts/teardown.ts',
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  retries: 0,
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],
  outputDir: './test-results',
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  webServer: {
    command: `${binary} serve --addr 127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'pipe',
    stderr: 'pipe',
    env: {
      DATABASE_URL: databaseUrl,
      LEPTOS_SITE_ROOT: path.join(root, 'target', 'site'),
      RUST_LOG: 'info,sqlx=warn',
      // Tests send to receivers on this machine's loopback.
      POSTBACK_ALLOW_PRIVATE_DESTINATIONS: 'true',
    },
  },
});
