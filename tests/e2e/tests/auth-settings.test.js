// First run, sign-in and settings of the web UI in headless Chromium against the real `aniworld serve`.
// The tests run in order and share one server: each step starts where the previous one left off.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startFixtureSite, startServer, startBrowser, screenshot, apiCall } from '../lib/harness.js';

const PASSWORD = 'correct horse battery';

describe('web UI: first run, sign-in, settings', () => {
  let fixture;
  let server;
  let browser;
  let page;

  before(async () => {
    fixture = await startFixtureSite();
    server = await startServer(fixture, { name: 'auth-settings' });
    browser = await startBrowser();
    page = await browser.newPage();
  });

  after(async () => {
    await browser?.stop();
    await server?.stop();
    await fixture?.stop();
  });

  /** The JSON body of the next response to `method path` (below /api). */
  function nextResponse(method, path) {
    return page.waitForResponse((r) => r.request().method() === method && new URL(r.url()).pathname === `/api${path}`)
      .then(async (r) => ({ status: r.status(), body: await r.json().catch(() => null) }));
  }

  test('first run asks for the master password and signs in to the library', async () => {
    await page.goto(`${server.url}/`);
    await page.waitForSelector('#setup-form');
    await screenshot(page, 'setup');
    await page.fill('#setup-password', PASSWORD);
    await page.fill('#setup-confirm', PASSWORD);
    await page.click('#setup-form button[type=submit]');
    await page.waitForSelector('h1:text-is("Library")');
    assert.match(page.url(), /#\/library$/);
    const token = await page.evaluate(() => localStorage.getItem('aniworld.token'));
    const status = await apiCall(server, 'GET', '/auth/status', { token });
    assert.deepEqual(status.data, { setup_done: true, authenticated: true });
  });

  test('setup is not offered again once the password is set', async () => {
    await page.goto(`${server.url}/#/setup`);
    await page.waitForSelector('h1:text-is("Library")');
    assert.equal(await page.locator('#setup-form').count(), 0);
  });

  test('log out drops the token and shows the login form', async () => {
    const token = await page.evaluate(() => localStorage.getItem('aniworld.token'));
    await page.click('#logout');
    await page.waitForSelector('#login-form');
    assert.equal(await page.evaluate(() => localStorage.getItem('aniworld.token')), null);
    // The server revoked the session too.
    const status = await apiCall(server, 'GET', '/auth/status', { token });
    assert.equal(status.data.authenticated, false);
  });

  test('a wrong password shows the API error and does not sign in', async () => {
    await page.fill('#login-password', 'not the password');
    const response = nextResponse('POST', '/auth/login');
    await page.click('#login-form button[type=submit]');
    const { status, body } = await response;
    assert.equal(status, 401);
    const shown = page.locator('#login-form [role=alert]');
    await shown.waitFor();
    assert.equal((await shown.textContent()).trim(), body.message);
    await screenshot(page, 'login-wrong-password');
    assert.equal(await page.evaluate(() => localStorage.getItem('aniworld.token')), null);
    assert.equal(await page.locator('#nav').isVisible(), false);
  });

  test('the right password signs in', async () => {
    await page.fill('#login-password', PASSWORD);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('h1:text-is("Library")');
    assert.ok(await page.evaluate(() => localStorage.getItem('aniworld.token')));
  });

  test('checking settings shows the API validation message next to the bad key', async () => {
    await page.goto(`${server.url}/#/settings`);
    const field = page.locator('#cfg-download-max_parallel');
    await field.fill('0');
    const response = nextResponse('POST', '/config/validate');
    await page.click('#settings-validate');
    const { body } = await response;
    assert.equal(body.valid, false);
    assert.equal(body.field, 'download.max_parallel');
    const alert = page.locator('#settings-message [role=alert] .api-message');
    await alert.waitFor();
    assert.equal(await alert.textContent(), body.message);
    assert.equal(await field.getAttribute('aria-invalid'), 'true');
    assert.equal(await page.locator('#cfg-download-max_parallel-error').textContent(), body.message);
    await screenshot(page, 'settings-validation', { fullPage: false });
  });

  test('settings that load code or expose the server are shown but cannot be edited', async () => {
    await page.goto(`${server.url}/#/settings`);
    for (const id of ['#cfg-plugins-dir', '#cfg-scripts-dir', '#cfg-server-bind', '#cfg-database-url']) {
      const field = page.locator(id);
      // Folded under Advanced: in the page, not necessarily in view.
      await field.waitFor({ state: 'attached' });
      assert.equal(await field.isDisabled(), true, id);
    }
    assert.match(await page.locator('#cfg-plugins-dir-locked').textContent(), /config\.json or the environment/);
    assert.equal(await page.locator('#cfg-read_only').count(), 0);
  });

  test('saving invalid settings shows the API error and changes nothing', async () => {
    const token = await page.evaluate(() => localStorage.getItem('aniworld.token'));
    const before = await apiCall(server, 'GET', '/config', { token });
    await page.locator('#cfg-download-max_parallel').fill('0');
    const response = nextResponse('PUT', '/config');
    await page.click('#settings-save');
    const { status, body } = await response;
    assert.equal(status, 422);
    const alert = page.locator('#settings-message [role=alert] .api-message');
    await alert.waitFor();
    assert.equal(await alert.textContent(), body.message);
    const afterSave = await apiCall(server, 'GET', '/config', { token });
    assert.deepEqual(afterSave.data, before.data);
  });

  test('saving valid settings makes a backup that restores the previous value', async () => {
    const token = await page.evaluate(() => localStorage.getItem('aniworld.token'));
    const previous = String((await apiCall(server, 'GET', '/config', { token })).data.download.max_parallel);
    const field = page.locator('#cfg-download-max_parallel');
    await field.fill(previous === '3' ? '4' : '3');
    const saved = nextResponse('PUT', '/config');
    await page.click('#settings-save');
    assert.equal((await saved).status, 200);
    await page.locator('#settings-message .notice.ok').waitFor();
    assert.notEqual(await field.inputValue(), previous);
    await screenshot(page, 'settings');
    // Backups are listed newest first: the first one holds the value before the save.
    const restore = page.locator('#backups .backup button').first();
    await restore.click(); // arms
    const restored = page.waitForResponse((r) => /\/api\/config\/backups\/[^/]+\/restore$/.test(new URL(r.url()).pathname));
    await restore.click();
    assert.equal((await restored).status(), 200);
    await page.locator('#settings-message .notice.ok').waitFor();
    await page.waitForFunction((v) => document.querySelector('#cfg-download-max_parallel')?.value === v, previous);
  });

  test('the theme toggle switches to dark and the choice survives a reload', async () => {
    await page.emulateMedia({ colorScheme: 'light' });
    await page.goto(`${server.url}/#/library`);
    await page.waitForSelector('h1:text-is("Library")');
    const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const light = await background();
    // automatic → light → dark
    await page.click('#theme-toggle');
    await page.click('#theme-toggle');
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
    assert.match(await page.getAttribute('#theme-toggle', 'aria-label'), /dark/);
    const dark = await background();
    assert.notEqual(dark, light);
    await page.reload();
    await page.waitForSelector('h1:text-is("Library")');
    assert.equal(await background(), dark);
    await screenshot(page, 'library-dark', { fullPage: false });
    await page.click('#theme-toggle'); // back to automatic
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), undefined);
  });

  test('live updates reconnect by themselves after the server restarts', async () => {
    await page.locator('#live-state[data-state="open"]').waitFor();
    await page.evaluate(() => {
      window.__liveStates = [];
      const el = document.getElementById('live-state');
      new MutationObserver(() => window.__liveStates.push(el.dataset.state)).observe(el, { attributes: true, attributeFilter: ['data-state'] });
    });
    const refreshed = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/queue/status', { timeout: 30000 });
    await server.restart({ pauseMs: 300 });
    await page.waitForFunction(() => window.__liveStates.includes('closed') && window.__liveStates.at(-1) === 'open', null, { timeout: 30000 });
    // Events may have been missed while it was down: the page reloads the queue's state.
    assert.equal((await refreshed).status(), 200);
    // Still signed in: the session survived the restart.
    await page.click('#nav a[data-route=settings]');
    await page.locator('#cfg-download-max_parallel').waitFor();
  });

  test('no page had a script error', () => {
    assert.deepEqual(browser.errors, []);
  });
});
