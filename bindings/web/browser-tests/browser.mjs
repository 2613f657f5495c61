// Headless Chromium from Debian (never a downloaded browser), and pages that record every
// console error, page error and Content-Security-Policy violation.

import { chromium } from 'playwright-core';

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/** Debian's Chromium, headless, with this machine's closed network in mind. */
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/**
 * A fresh context (its own storage: another person, or another device) and a page in it. The
 * page's `problems` lists console errors, uncaught errors and CSP violations as they happen.
 */
export async function openPage(browser, viewport = DESKTOP) {
  const context = await browser.newContext({ viewport, reducedMotion: 'reduce' });
  // Runs before the page's own scripts, outside its CSP: counts violations the page causes.
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (event) => {
      window.__cspViolations.push(`${event.violatedDirective}: ${event.blockedURI}`);
    });
  });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  return { context, page, problems };
}

/** The CSP violations the page has seen since it loaded. */
export function cspViolations(page) {
  return page.evaluate(() => window.__cspViolations ?? []);
}
