// The browser-test harness, shared by the page checks (pages.test.mjs) and the README
// screenshots (screenshots.mjs): a real `gatehouse serve` on SQLite with a branded test
// configuration, a user and a registered client, and Debian's Chromium driven by playwright-core.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash, randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const CHROMIUM = '/usr/bin/chromium';
export const EMAIL = 'pat@example.com';
export const PASSWORD = 'correct horse battery staple';
/// A user with the admin role (SPEC §12), for the dashboard; same password.
export const ADMIN_EMAIL = 'ops@example.com';
export const APP_NAME = 'Acme Workspace';
export const BRAND = { product_name: 'Acme Cloud', accent_color: '#0f766e', support_url: 'https://help.acme.example/' };

async function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

function gatehouse(binary, dir, args, input) {
  const run = spawnSync(binary, ['--config', join(dir, 'gatehouse.toml'), ...args], {
    cwd: dir, input, encoding: 'utf8', env: { PATH: process.env.PATH },
  });
  if (run.status !== 0) {
    throw new Error(`gatehouse ${args.join(' ')} failed (${run.status}): ${run.stderr}`);
  }
  return run.stdout;
}

/// Start Gatehouse from `binary` in a fresh directory; resolves once /healthz answers.
export async function startGatehouse(binary) {
  if (!existsSync(binary)) throw new Error(`no gatehouse binary at ${binary} (build it first)`);
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-browser-'));
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const config = `issuer = "${issuer}"
[server]
bind = "127.0.0.1:${port}"
[database]
url = "sqlite://${join(dir, 'gatehouse.db')}"
[dcr]
enabled = true
[branding]
product_name = "${BRAND.product_name}"
logo_file = "${resolve(here, 'fixtures/logo.svg')}"
accent_color = "${BRAND.accent_color}"
support_url = "${BRAND.support_url}"
[login.app]
# The app's own sign-in (never followed here): its "Continue with" button shows on the sign-in page.
url = "http://127.0.0.1:9/sign-in"
api_key = "${randomBytes(24).toString('hex')}"
name = "${APP_NAME}"
`;
  writeFileSync(join(dir, 'gatehouse.toml'), config);
  gatehouse(binary, dir, ['migrate']);
  gatehouse(binary, dir, ['users', 'add', EMAIL, '--password-stdin'], `${PASSWORD}\n`);
  gatehouse(binary, dir, ['users', 'add', ADMIN_EMAIL, '--admin', '--password-stdin'], `${PASSWORD}\n`);
  const log = [];
  const child = spawn(binary, ['--config', join(dir, 'gatehouse.toml'), 'serve'], {
    cwd: dir, env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (d) => log.push(d.toString()));
  child.stderr.on('data', (d) => log.push(d.toString()));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gatehouse serve exited (${child.exitCode}):\n${log.join('')}`);
    try {
      if ((await fetch(`${issuer}/healthz`)).ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`gatehouse did not answer /healthz within 60 s:\n${log.join('')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const redirectUri = 'https://app.example/callback';
  const registered = await fetch(`${issuer}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: [redirectUri], client_name: 'Example Notes', scope: 'offline_access' }),
  });
  if (registered.status !== 201) throw new Error(`registration failed: ${registered.status} ${await registered.text()}`);
  const { client_id: clientId } = await registered.json();
  return {
    issuer,
    log,
    /// A fresh authorization request's URL (its own PKCE challenge and state).
    authorizeUrl() {
      const verifier = randomBytes(32).toString('base64url');
      const query = new URLSearchParams({
        response_type: 'code', client_id: clientId, redirect_uri: redirectUri, scope: 'offline_access',
        code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
        state: randomBytes(8).toString('hex'),
      });
      return `${issuer}/authorize?${query}`;
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/// Debian's Chromium, headless, as root (no sandbox), with nothing that reaches the network by
/// itself (on a closed network those features make the launch fail). Playwright gives every
/// launch a fresh user-data directory of its own and removes it on close.
export async function launchChromium() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/// The viewports and colour schemes every page is checked in.
export const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 375, height: 740 },
];
export const SCHEMES = ['light', 'dark'];

/// Console errors and warnings, uncaught exceptions and failed subresources of a page, as
/// `{ text, url }` entries pushed to the returned array.
export function watch(page) {
  const seen = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') {
      seen.push({ text: `console ${message.type()}: ${message.text()}`, url: message.location()?.url ?? '' });
    }
  });
  page.on('pageerror', (error) => seen.push({ text: `page error: ${error.message}`, url: '' }));
  page.on('requestfailed', (request) => seen.push({ text: `request failed: ${request.url()} ${request.failure()?.errorText}`, url: request.url() }));
  return seen;
}
