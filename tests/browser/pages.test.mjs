// Gatehouse's pages in a real browser (SPEC §12): sign-in, consent, "Not you?" and an error page,
// at desktop and 375 px widths, light and dark. Each must load with no console error, fit the
// width without horizontal scrolling, show the brand (its stylesheet and logo loaded under the
// pages' strict CSP), follow the colour scheme, and have no serious or critical axe-core
// violation. Usage: node pages.test.mjs PATH/TO/gatehouse. Exits 1 on any failure.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { startGatehouse, launchChromium, watch, VIEWPORTS, SCHEMES, EMAIL, PASSWORD, BRAND, APP_NAME } from './harness.mjs';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'];
// The body background of each scheme, as style.css sets it.
const BACKGROUND = { light: 'rgb(238, 240, 243)', dark: 'rgb(15, 17, 21)' };

const binary = process.argv[2];
if (!binary) {
  console.error('usage: node pages.test.mjs PATH/TO/gatehouse');
  process.exit(2);
}

function rgb(hex) {
  const n = (i) => parseInt(hex.slice(i, i + 2), 16);
  return `rgb(${n(1)}, ${n(3)}, ${n(5)})`;
}

/// The checks every page gets; returns the problems found (empty = pass).
async function checkPage(page, seen, { expectStatus = 200, documentStatus }) {
  const problems = [];
  if (documentStatus !== expectStatus) problems.push(`status ${documentStatus}, expected ${expectStatus}`);
  const documentUrl = page.url();
  for (const { text, url } of seen.splice(0)) {
    // Chromium logs an error page's own status as a console error; that status is the point.
    const ownStatus = expectStatus >= 400 && url === documentUrl && text.includes(`status of ${expectStatus}`);
    if (!ownStatus) problems.push(text);
    else if (process.env.BROWSER_TEST_VERBOSE) console.log(`(expected) ${text}`);
  }
  const facts = await page.evaluate(() => {
    const root = document.documentElement;
    const main = document.querySelector('main');
    const logo = document.querySelector('.brand img');
    const primary = document.querySelector('button.primary');
    return {
      scrollWidth: root.scrollWidth,
      clientWidth: root.clientWidth,
      styled: main ? getComputedStyle(main).maxWidth : 'no <main>',
      background: getComputedStyle(document.body).backgroundColor,
      logoLoaded: Boolean(logo && logo.complete && logo.naturalWidth > 0),
      brand: document.querySelector('.brand')?.textContent.trim(),
      primaryBackground: primary ? getComputedStyle(primary).backgroundColor : null,
    };
  });
  if (facts.scrollWidth > facts.clientWidth) problems.push(`horizontal overflow: ${facts.scrollWidth} px in ${facts.clientWidth} px`);
  if (facts.styled !== '448px') problems.push(`the stylesheet did not apply (main max-width ${facts.styled})`);
  if (!facts.logoLoaded) problems.push('the logo did not load');
  if (facts.brand !== BRAND.product_name) problems.push(`brand reads ${JSON.stringify(facts.brand)}`);
  if (facts.primaryBackground !== null && facts.primaryBackground !== rgb(BRAND.accent_color)) {
    problems.push(`primary button is ${facts.primaryBackground}, not the accent ${BRAND.accent_color}`);
  }
  const scheme = await page.evaluate(() => (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'));
  if (facts.background !== BACKGROUND[scheme]) problems.push(`${scheme} background is ${facts.background}`);

  // The keyboard reaches the page, and what it reaches shows a focus ring (a page with nothing
  // to focus has nothing to show).
  await page.keyboard.press('Tab');
  const focus = await page.evaluate(() => {
    const el = document.activeElement;
    const focusable = document.querySelector('a[href], button, input:not([type=hidden])') !== null;
    if (!el || el === document.body) return { focusable, reached: null };
    const style = getComputedStyle(el);
    const what = `${el.tagName.toLowerCase()} ${el.textContent.trim() || el.id}`;
    return { focusable, reached: { what, ring: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2 } };
  });
  if (focus.focusable && !focus.reached) problems.push('the Tab key reaches nothing');
  if (focus.reached && !focus.reached.ring) problems.push(`no visible focus ring on ${focus.reached.what}`);

  // axe-core, evaluated through the DevTools protocol (the page's CSP allows no script of ours).
  await page.evaluate(AXE_SOURCE);
  const axe = await page.evaluate((tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags } }), AXE_TAGS);
  const serious = axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of serious) {
    problems.push(`axe ${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  }
  const minor = axe.violations.filter((v) => !serious.includes(v)).map((v) => `${v.id} (${v.impact})`);
  return { problems, axe: { passes: axe.passes.length, serious: serious.length, minor } };
}

/// More sign-in sources, as the upstream providers (SPEC §9.1) will add them to the `.sources`
/// block of secondary full-width buttons above the password form, a long name included. The
/// page must take them as it takes its own markup.
async function withMoreSignInSources(page) {
  await page.evaluate(() => {
    const sources = document.querySelector('.sources');
    for (const name of ['GitHub', 'Acme Corporation Single Sign-On (Europe, Middle East and Africa)']) {
      const form = document.createElement('form');
      form.method = 'post';
      form.action = 'login/provider';
      const button = document.createElement('button');
      button.type = 'submit';
      button.textContent = `Continue with ${name}`;
      form.append(button);
      sources.append(form);
    }
  });
}

/// The checks themselves can fail: the sign-in page, spoiled in place (faint text, a box wider
/// than the screen, focus rings removed), must be reported for each. Then the page is loaded again.
async function checksCanFail(page, seen, response) {
  await page.evaluate(() => {
    for (const p of document.querySelectorAll('p')) p.style.color = '#d0d0d0';
    for (const el of document.querySelectorAll('a, button, input')) el.style.outline = 'none';
    const wide = document.createElement('div');
    wide.style.width = '3000px';
    wide.textContent = 'wide';
    document.body.append(wide);
  });
  const spoiled = await checkPage(page, seen, { documentStatus: response.status() });
  const caught = ['color-contrast', 'horizontal overflow', 'focus ring'].filter((want) => !spoiled.problems.some((p) => p.includes(want)));
  results.push({
    name: 'self-check (a spoiled page fails)', viewport: 'desktop', scheme: 'light', axe: null,
    problems: caught.map((want) => `the checks missed: ${want}`),
  });
  await page.reload();
  seen.splice(0);
}

const results = [];
let gatehouse;
let browser;
try {
  gatehouse = await startGatehouse(binary);
  browser = await launchChromium();
  for (const viewport of VIEWPORTS) {
    for (const scheme of SCHEMES) {
      const context = await browser.newContext({ viewport: { width: viewport.width, height: viewport.height }, colorScheme: scheme });
      const page = await context.newPage();
      const seen = watch(page);
      const record = async (name, expect, response) => {
        const outcome = await checkPage(page, seen, { ...expect, documentStatus: response?.status() });
        results.push({ name, viewport: viewport.name, scheme, ...outcome });
      };
      const heading = async (want) => {
        const got = (await page.locator('h1').textContent())?.trim();
        if (got !== want) results.push({ name: `heading ${want}`, viewport: viewport.name, scheme, problems: [`h1 reads ${JSON.stringify(got)}`], axe: null });
      };

      // Sign-in: /authorize without a session lands on /login.
      const signIn = await page.goto(gatehouse.authorizeUrl());
      await heading(`Sign in to ${BRAND.product_name}`);
      const appButton = page.locator('.sources button', { hasText: `Continue with ${APP_NAME}` });
      if ((await appButton.count()) !== 1) {
        results.push({ name: 'sign-in: the app\'s Continue-with button in .sources', viewport: viewport.name, scheme, problems: ['missing'], axe: null });
      }
      await record('sign-in', {}, signIn);
      await withMoreSignInSources(page);
      await record('sign-in with more "Continue with" sources', {}, signIn);
      await page.reload();
      if (viewport.name === 'desktop' && scheme === 'light') await checksCanFail(page, seen, signIn);

      // Consent, after signing in with the keyboard-reachable form.
      await page.fill('#email', EMAIL);
      await page.fill('#password', PASSWORD);
      const [consent] = await Promise.all([
        page.waitForNavigation({ timeout: 60_000 }),
        page.getByRole('button', { name: 'Sign in' }).click(),
      ]);
      await heading('Allow access?');
      const primary = (await page.locator('button.primary').allTextContents()).map((t) => t.trim());
      if (primary.join() !== 'Allow') {
        results.push({ name: 'consent: Allow is the one primary action', viewport: viewport.name, scheme, problems: [`primary buttons: ${primary}`], axe: null });
      }
      await record('consent', {}, consent);

      // "Not you? Sign out" ends the session and asks for a fresh sign-in at the source (SPEC §9.3):
      // for a password user, the sign-in page again.
      const [signedOut] = await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Not you? Sign out' }).click()]);
      await heading(`Sign in to ${BRAND.product_name}`);
      await record('sign-in again after "Not you?"', {}, signedOut);

      // An error page: an authorization request for a client nobody registered.
      const error = await page.goto(`${gatehouse.issuer}/authorize?response_type=code&client_id=nobody-registered-this&code_challenge_method=S256&code_challenge=${'a'.repeat(43)}`);
      await record('error', { expectStatus: 400 }, error);
      await context.close();
    }
  }
} catch (error) {
  console.error(`browser tests could not run: ${error.stack ?? error}`);
  if (gatehouse) console.error(`gatehouse log:\n${gatehouse.log.join('')}`);
  process.exitCode = 1;
} finally {
  await browser?.close();
  await gatehouse?.stop();
}

let failed = 0;
for (const r of results) {
  const axe = r.axe ? ` axe: ${r.axe.passes} rules pass, ${r.axe.serious} serious/critical${r.axe.minor.length ? `, minor: ${r.axe.minor.join(' ')}` : ''}` : '';
  if (r.problems.length) {
    failed += 1;
    console.log(`FAIL ${r.name} ${r.viewport} ${r.scheme}:${axe}`);
    for (const p of r.problems) console.log(`     ${p}`);
  } else {
    console.log(`ok   ${r.name} ${r.viewport} ${r.scheme}:${axe}`);
  }
}
if (process.exitCode !== 1 && results.length === 0) process.exitCode = 1;
if (failed) process.exitCode = 1;
console.log(`browser tests: ${results.length - failed} of ${results.length} page checks passed`);
