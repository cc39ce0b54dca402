/**
 * Debian's chromium driven by playwright-core for the console's tests: the system browser
 * (nothing is downloaded), headless, a fresh profile per test file, and every console error
 * and uncaught page error collected so a test can insist there were none.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Where screenshots go (gitignored): `test-artifacts/ui/` at the repository's root. */
export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/ui/', import.meta.url));

export const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];

/** Viewports the console must be readable at. */
export const DESKTOP = { width: 1280, height: 900 } as const;
export const PHONE = { width: 390, height: 844 } as const;

export interface Browser {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Console errors and page errors so far, as text. */
  errors(): string[];
  /** Forgets errors matching `pattern` seen so far (an expected 401 before signing in). */
  forget(pattern: RegExp): void;
  /** Writes a full-page screenshot `test-artifacts/ui/<name>.png`; returns its path. */
  shot(name: string): Promise<string>;
  close(): Promise<void>;
}

/** Launches chromium on a fresh user-data-dir with one page at the desktop viewport. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`the console's tests drive Debian's chromium at ${CHROMIUM}: apt-get install -y chromium`);
  const profile = mkdtempSync(join(tmpdir(), 'sagad-ui-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: ARGS, viewport: DESKTOP, timeout: 30_000,
  });
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(15_000);
  let errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  mkdirSync(ARTIFACTS, { recursive: true });
  return {
    context, page,
    errors: () => [...errors],
    forget(pattern) {
      errors = errors.filter((e) => !pattern.test(e));
    },
    async shot(name) {
      const path = join(ARTIFACTS, `${name}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
