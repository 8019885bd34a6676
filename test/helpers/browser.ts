/**
 * Debian's Chromium driven by playwright-core, for the tests that log in as a person does.
 * Without it the tests skip with a message saying what to install – except under CI
 * (`CI=true`), where a missing browser is a failure, never a silent skip.
 */
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** `describe(..., { skip: chromiumSkip() })`; throws under CI when the browser is missing. */
export function chromiumSkip(): string | false {
  if (existsSync(CHROMIUM)) return false;
  if (process.env.CI === 'true')
    throw new Error(`${CHROMIUM} not found: install the Debian package chromium (.ci/run does)`);
  return `${CHROMIUM} not found: install the Debian package chromium`;
}

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    // playwright gives every launch a fresh, empty profile directory of its own.
    timeout: 30_000,
  });
}
