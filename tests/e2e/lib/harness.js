// Starts what the browser tests need: the fixture site (a Rust binary from the testkit), the real
// `aniworld serve` on 127.0.0.1 with a temporary data dir and library, and Debian's Chromium.
// Binaries come from `$CARGO_TARGET_DIR` (or `<repo>/target`) `/debug/`; `tests/run.sh` builds them first.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(repoRoot, process.env.CARGO_TARGET_DIR) : path.join(repoRoot, 'target');
const profile = process.env.E2E_PROFILE || 'debug';
export const screenshotDir = path.join(repoRoot, 'target', 'e2e-screenshots');
const logDir = path.join(repoRoot, 'target', 'e2e-logs');

function binary(name, envOverride) {
  const p = process.env[envOverride] || path.join(targetDir, profile, name);
  if (!fs.existsSync(p)) throw new Error(`${p} does not exist: build the workspace first (cargo build --workspace, as tests/run.sh does)`);
  return p;
}

/** A temp directory removed by `cleanup()`. */
function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function waitForExit(child, ms) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const t = setTimeout(() => { child.kill('SIGKILL'); resolve(); }, ms);
    child.once('exit', () => { clearTimeout(t); resolve(); });
  });
}

/** The fixture site process: `urls` by listener name, `command(line)` for knobs (see its source). */
export async function startFixtureSite() {
  const child = spawn(binary('aniworld-fixture-site', 'FIXTURE_SITE_BIN'), [], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout });
  const pending = [];
  lines.on('line', (line) => { const next = pending.shift(); if (next) next(line); });
  const nextLine = (ms = 15000) => new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('the fixture site did not answer')), ms);
    pending.push((line) => { clearTimeout(t); resolve(line); });
  });
  const urls = JSON.parse(await nextLine());
  return {
    urls,
    async command(line) {
      const answer = nextLine();
      child.stdin.write(`${line}\n`);
      return answer;
    },
    async stop() {
      child.stdin.end();
      await waitForExit(child, 3000);
    },
  };
}

/**
 * The real server, on a free loopback port, with its own data dir and library pointed at the fixture
 * site. `prepare(libraryPath)` runs before the server starts (an existing library on the first day).
 */
export async function startServer(fixture, { name = 'server', env = {}, prepare = null } = {}) {
  const dataDir = tempDir('aniworld-e2e-data-');
  const library = tempDir('aniworld-e2e-library-');
  if (prepare) await prepare(library);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  fs.mkdirSync(logDir, { recursive: true });
  const logPath = path.join(logDir, `${name}.log`);
  const log = fs.openSync(logPath, 'w');
  const childEnv = { ...process.env };
  for (const k of Object.keys(childEnv)) if (k.startsWith('ANIWORLD_')) delete childEnv[k];
  Object.assign(childEnv, {
    ANIWORLD_LOG: 'info',
    ANIWORLD_PROVIDERS__ANIWORLD__BASE_URL: fixture.urls.aniworld,
    ANIWORLD_PROVIDERS__STO__BASE_URL: fixture.urls.sto,
    // The cheapest bcrypt cost the config accepts: the tests are about the UI, not hashing.
    ANIWORLD_AUTH__BCRYPT_COST: '4',
    ...env,
  });
  let child = null;
  let exited = null;
  async function launch() {
    exited = null;
    const proc = spawn(binary('aniworld', 'ANIWORLD_BIN'),
      ['serve', '--data-dir', dataDir, '--library', library, '--bind', `127.0.0.1:${port}`],
      { stdio: ['ignore', log, log], env: childEnv });
    proc.once('exit', (code, signal) => { exited = { code, signal }; });
    child = proc;
    const deadline = Date.now() + 60000;
    for (;;) {
      if (exited) throw new Error(`aniworld serve exited (${JSON.stringify(exited)}); log: ${logPath}\n${fs.readFileSync(logPath, 'utf8').slice(-3000)}`);
      try {
        const r = await fetch(`${url}/health`);
        if (r.ok) return;
      } catch { /* not listening yet */ }
      if (Date.now() > deadline) { proc.kill('SIGKILL'); throw new Error(`aniworld serve did not become healthy in 60 s; log: ${logPath}`); }
      await new Promise((r) => setTimeout(r, 150));
    }
  }
  await launch();
  return {
    url, dataDir, library, logPath,
    /** Stops the server (SIGTERM) and starts it again on the same port, data dir and library. */
    async restart({ pauseMs = 0 } = {}) {
      child.kill('SIGTERM');
      await waitForExit(child, 10000);
      await new Promise((r) => setTimeout(r, pauseMs));
      await launch();
    },
    async stop() {
      child.kill('SIGTERM');
      await waitForExit(child, 10000);
      fs.closeSync(log);
      fs.rmSync(dataDir, { recursive: true, force: true });
      fs.rmSync(library, { recursive: true, force: true });
    },
  };
}

export const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
  '--no-first-run', '--disable-component-update', '--disable-sync',
];

/** Debian's Chromium with a fresh profile. Page errors are collected in `errors` so tests can assert none happened. */
export async function startBrowser() {
  const userDataDir = tempDir('aniworld-e2e-chromium-');
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 860 },
  });
  const errors = [];
  // Uncaught exceptions, and anything the Content-Security-Policy blocked.
  const watch = (p) => {
    p.on('pageerror', (e) => errors.push(e.message));
    p.on('console', (m) => {
      if (m.type() === 'error' && /Content.Security.Policy/i.test(m.text())) errors.push(m.text());
    });
  };
  context.on('page', watch);
  for (const p of context.pages()) watch(p);
  context.on('dialog', (d) => d.dismiss());
  return {
    context,
    errors,
    async newPage() {
      const page = await context.newPage();
      page.setDefaultTimeout(20000);
      return page;
    },
    async stop() {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Saves `target/e2e-screenshots/<name>.png`. */
export async function screenshot(page, name, opts = {}) {
  fs.mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: path.join(screenshotDir, `${name}.png`), fullPage: true, ...opts });
}

/** Calls the API directly (to prepare state or check what the UI claims). */
export async function apiCall(server, method, apiPath, { token, body } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  const r = await fetch(`${server.url}/api${apiPath}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  return { status: r.status, data };
}
