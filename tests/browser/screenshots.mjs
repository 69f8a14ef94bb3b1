// The README's screenshots of the pages, made with the browser-test harness so they show what
// the code renders today. Usage: node screenshots.mjs PATH/TO/gatehouse OUTPUT_DIR.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startGatehouse, launchChromium, EMAIL, PASSWORD } from './harness.mjs';

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
} finally {
  await browser.close();
  await gatehouse.stop();
}
console.log(`screenshots written to ${out}`);
