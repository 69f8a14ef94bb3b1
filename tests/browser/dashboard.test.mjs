// The operator dashboard in a real browser (SPEC §12), the "done when" path end to
// end: an admin opens /admin, signs in on the ordinary sign-in page, sees the overview chart,
// finds a client by name, disables it with a reason and sees the audit row naming them — at
// desktop and 375 px widths. Every page: no console error, no horizontal overflow, and no
// serious or critical axe-core violation on the overview, the client page and the audit log.
// Usage: node dashboard.test.mjs PATH/TO/gatehouse. Exits 1 on any failure.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { startGatehouse, launchChromium, watch, VIEWPORTS, ADMIN_EMAIL, PASSWORD, BRAND } from './harness.mjs';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'];
const CLIENT = 'Example Notes';

const binary = process.argv[2];
if (!binary) {
  console.error('usage: node dashboard.test.mjs PATH/TO/gatehouse');
  process.exit(2);
}

/// Console, overflow and (when asked) axe-core: the problems found on the page as it is now.
async function checkPage(page, seen, { axe }) {
  const problems = seen.splice(0).map(({ text }) => text);
  const width = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  if (width[0] > width[1]) problems.push(`horizontal overflow: ${width[0]} px in ${width[1]} px`);
  if (axe) {
    await page.evaluate(AXE_SOURCE);
    const run = await page.evaluate((tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags } }), AXE_TAGS);
    for (const v of run.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')) {
      problems.push(`axe ${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    }
  }
  return problems;
}

const results = [];
let gatehouse;
let browser;
try {
  gatehouse = await startGatehouse(binary);
  browser = await launchChromium();
  for (const viewport of VIEWPORTS) {
    const context = await browser.newContext({ viewport: { width: viewport.width, height: viewport.height } });
    const page = await context.newPage();
    const seen = watch(page);
    const step = async (name, axe, check = async () => []) => {
      const problems = [...(await check()), ...(await checkPage(page, seen, { axe }))];
      results.push({ name, viewport: viewport.name, problems });
    };
    const expect = (condition, message) => (condition ? [] : [message]);

    // Sign-in: /admin without a session lands on the ordinary sign-in page, naming the dashboard.
    await page.goto(`${gatehouse.issuer}/admin`);
    await step('sign-in for the dashboard', false, async () => [
      ...expect((await page.locator('h1').textContent())?.trim() === `Sign in to ${BRAND.product_name}`, 'no sign-in heading'),
      ...expect((await page.locator('main').textContent()).includes('the operator dashboard'), 'the page does not name the dashboard'),
    ]);
    await page.fill('#email', ADMIN_EMAIL);
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForURL(`${gatehouse.issuer}/admin`, { timeout: 60_000 }), page.getByRole('button', { name: 'Sign in' }).click()]);

    // The overview and its chart.
    await step('overview', true, async () => [
      ...expect((await page.locator('h1').textContent())?.trim() === 'Overview', 'no overview heading'),
      ...expect(await page.locator('svg.chart').isVisible(), 'no chart'),
      ...expect((await page.locator('svg.chart rect').count()) >= 1, 'the registration is not on the chart'),
    ]);

    // The checks themselves can fail: the overview, spoiled in place (faint text, a box wider
    // than the screen), must be reported for both. Then it is loaded again.
    if (viewport.name === 'desktop') {
      await page.evaluate(() => {
        for (const p of document.querySelectorAll('p, li')) p.style.color = '#d0d0d0';
        const wide = document.createElement('div');
        wide.style.width = '3000px';
        wide.textContent = 'wide';
        document.body.append(wide);
      });
      const spoiled = await checkPage(page, seen, { axe: true });
      const missed = ['color-contrast', 'horizontal overflow'].filter((want) => !spoiled.some((p) => p.includes(want)));
      results.push({ name: 'self-check (a spoiled overview fails)', viewport: viewport.name, problems: missed.map((m) => `the checks missed: ${m}`) });
      await page.reload();
      seen.splice(0);
    }

    // Find the client by name, open it.
    await page.getByRole('link', { name: 'Clients', exact: true }).click();
    await page.fill('#q', CLIENT.slice(0, 7).toLowerCase());
    await Promise.all([page.waitForURL(/\/admin\/clients\?/), page.getByRole('button', { name: 'Filter' }).click()]);
    await Promise.all([page.waitForURL(/\/admin\/client\?id=/), page.getByRole('link', { name: CLIENT }).click()]);
    await step('client page', true, async () =>
      expect((await page.locator('h1').textContent())?.includes(CLIENT), 'no client heading'));

    // Disable it with a reason, behind the confirmation.
    const reason = `browser test at ${viewport.width} px`;
    await Promise.all([page.waitForURL(/\/admin\/client\/disable\?/), page.getByRole('link', { name: 'Disable', exact: true }).click()]);
    await page.fill('#reason', reason);
    await Promise.all([page.waitForURL(/done=disable/), page.getByRole('button', { name: 'Disable', exact: true }).click()]);
    await step('client disabled', false, async () => {
      const text = await page.locator('main').textContent();
      return [
        ...expect(text.includes('The client is disabled.'), 'no confirmation notice'),
        ...expect(text.includes(reason), 'the reason is not shown'),
        ...expect((await page.locator('td.actor', { hasText: /^admin:usr_/ }).count()) >= 1, 'no audit row with an admin:usr_ actor'),
      ];
    });

    // The audit log names the admin as the actor of the disable.
    await page.getByRole('link', { name: 'Audit log' }).click();
    await step('audit log', true, async () => {
      const row = page.locator('tr', { hasText: 'client.disabled' }).first();
      return expect(/admin:usr_/.test(await row.locator('td.actor').textContent()), 'the disable row does not name the admin');
    });

    // Enable it again, for the next viewport's run.
    await page.goto(page.url().replace(/\/admin\/audit.*/, '/admin/clients'));
    await page.getByRole('link', { name: CLIENT }).click();
    await page.getByRole('link', { name: 'Enable', exact: true }).click();
    await Promise.all([page.waitForURL(/done=enable/), page.getByRole('button', { name: 'Enable', exact: true }).click()]);
    await context.close();
  }
} catch (error) {
  console.error(`dashboard browser tests could not run: ${error.stack ?? error}`);
  if (gatehouse) console.error(`gatehouse log:\n${gatehouse.log.join('')}`);
  process.exitCode = 1;
} finally {
  await browser?.close();
  await gatehouse?.stop();
}

let failed = 0;
for (const r of results) {
  if (r.problems.length) {
    failed += 1;
    console.log(`FAIL dashboard ${r.name} ${r.viewport}:`);
    for (const p of r.problems) console.log(`     ${p}`);
  } else {
    console.log(`ok   dashboard ${r.name} ${r.viewport}`);
  }
}
if (results.length === 0 || failed) process.exitCode = 1;
console.log(`dashboard browser tests: ${results.length - failed} of ${results.length} checks passed`);
