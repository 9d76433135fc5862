import * as fs from 'node:fs';

// Removes the run's SQLite folder (made in playwright.config.ts).
export default async function teardown() {
  const dir = process.env.E2E_DATA_DIR;
  if (dir) {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
