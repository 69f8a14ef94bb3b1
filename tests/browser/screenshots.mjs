// The README's screenshots of the pages, made with the browser-test harness so they show what
// the code renders today. Usage: node screenshots.mjs PATH/TO/gatehouse OUTPUT_DIR.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startGatehouse, launchChromium, EMAIL, PASSWORD, ADMIN_EMAIL } from './harness.mjs';

const [binary, out] = process.argv.slice(2);
if (!binary || !out) {
  console.error('usage: node screenshots.mjs PATH/TO/gatehouse OUTPUT_DIR');
  process.exit(2);
}
mkdirSync(out, { recursive: true });

// Wide enough to show the card on its background, small enough to keep the PNGs small.
const VIEWPORT = { width: 560, height: 600 };
const gatehouse = await startGatehouse(binary);
const browser = await launchChromium();
try {
  for (const scheme of ['light', 'dark']) {
    const context = await browser.newContext({ viewport: VIEWPORT, colorScheme: scheme });
    const page = await context.newPage();
    await page.goto(gatehouse.authorizeUrl());
    await page.fill('#email', EMAIL);
    await page.screenshot({ path: join(out, `sign-in-${scheme}.png`), fullPage: true });
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForNavigation({ timeout: 60_000 }), page.getByRole('button', { name: 'Sign in' }).click()]);
    await page.screenshot({ path: join(out, `consent-${scheme}.png`), fullPage: true });
    await context.close();
  }
  // The phone width, once.
  const phone = await browser.newContext({ viewport: { width: 375, height: 667 }, colorScheme: 'dark' });
  const page = await phone.newPage();
  await page.goto(gatehouse.authorizeUrl());
  await page.screenshot({ path: join(out, 'sign-in-phone-dark.png'), fullPage: true });
  await phone.close();
  // The operator dashboard (SPEC §12): the overview, a client and the audit log, after a disable.
  const admin = await browser.newContext({ viewport: { width: 1100, height: 700 }, colorScheme: 'light' });
  const dash = await admin.newPage();
  await dash.goto(`${gatehouse.issuer}/admin`);
  await dash.fill('#email', ADMIN_EMAIL);
  await dash.fill('#password', PASSWORD);
  await Promise.all([dash.waitForURL(`${gatehouse.issuer}/admin`, { timeout: 60_000 }), dash.getByRole('button', { name: 'Sign in' }).click()]);
  await dash.screenshot({ path: join(out, 'dashboard-overview.png'), fullPage: true });
  await dash.goto(`${gatehouse.issuer}/admin/clients?q=example`);
  await dash.getByRole('link', { name: 'Example Notes' }).click();
  await dash.getByRole('link', { name: 'Disable', exact: true }).click();
  await dash.fill('#reason', 'registered from an unknown address');
  await Promise.all([dash.waitForURL(/done=disable/), dash.getByRole('button', { name: 'Disable', exact: true }).click()]);
  await dash.screenshot({ path: join(out, 'dashboard-client.png'), fullPage: true });
  await dash.goto(`${gatehouse.issuer}/admin/audit`);
  await dash.screenshot({ path: join(out, 'dashboard-audit.png'), fullPage: true });
  await admin.close();
} finally {
  await browser.close();
  await gatehouse.stop();
}
console.log(`screenshots written to ${out}`);
