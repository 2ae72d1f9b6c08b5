// Settings → Connections in headless Chromium against the real `aniworld serve`: add a webhook
// connection, press Test and see the result; edit it (the stored token stays), see a failing test,
// a validation error next to the field, and remove it. The receiver is a small HTTP server in this test.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startFixtureSite, startServer, startBrowser, screenshot, apiCall } from '../lib/harness.js';

const PASSWORD = 'correct horse battery';
const SECRET = 'e2e-secret-token';

/** A loopback receiver: `/ok` answers 200, anything else 500; every request is kept. */
function startReceiver() {
  const requests = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      requests.push({ method: req.method, url: req.url, headers: req.headers, body });
      if (req.url === '/ok') { res.writeHead(200); res.end('fine'); } else { res.writeHead(500); res.end('receiver down'); }
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    stop: () => new Promise((r) => server.close(r)),
  })));
}

describe('web UI: Settings → Connections', () => {
  let fixture;
  let server;
  let browser;
  let page;
  let receiver;

  before(async () => {
    receiver = await startReceiver();
    fixture = await startFixtureSite();
    server = await startServer(fixture, { name: 'connections' });
    browser = await startBrowser();
    page = await browser.newPage();
    assert.equal((await apiCall(server, 'POST', '/auth/setup', { body: { password: PASSWORD } })).status, 200);
    await page.goto(`${server.url}/#/login`);
    await page.fill('#login-password', PASSWORD);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('h1:text-is("Library")');
  });

  after(async () => {
    await browser?.stop();
    await server?.stop();
    await fixture?.stop();
    await receiver?.stop();
  });

  /** The JSON body of the next response to `method path` (below /api). */
  function nextResponse(method, path) {
    return page.waitForResponse((r) => r.request().method() === method && new URL(r.url()).pathname === `/api${path}`)
      .then(async (r) => ({ status: r.status(), body: await r.json().catch(() => null) }));
  }

  const row = (name) => page.locator(`#connections-list li.connection[data-name="${name}"]`);

  test('a webhook connection added in Settings is saved into the config', async () => {
    await page.click('#nav a[data-route=settings]');
    await page.locator('#connections-list li.empty').waitFor();
    await page.click('#connection-add');
    await page.fill('#connection-name', 'home-hook');
    await page.selectOption('#connection-kind', 'webhook');
    await page.fill('#connection-url', `${receiver.url}/ok`);
    await page.fill('#connection-token', SECRET);
    await page.check('#connection-event-download_failed');
    const saved = nextResponse('PUT', '/config');
    await page.click('#connection-save');
    assert.equal((await saved).status, 200);
    await row('home-hook').locator('.connection-last[data-state="none"]').waitFor();
    // The save made a config backup like any other settings change.
    await page.locator('#backups .backup').first().waitFor();
    assert.equal(await page.locator('#connection-form').count(), 0);
    const token = await page.evaluate(() => localStorage.getItem('aniworld.token'));
    const config = (await apiCall(server, 'GET', '/config', { token })).data;
    assert.deepEqual(config.connections, [{
      name: 'home-hook', kind: 'webhook', url: `${receiver.url}/ok`, token: '***',
      events: ['download_completed', 'download_failed'],
    }]);
  });

  test('Test sends a test notification and shows its result and the last result', async () => {
    const answer = nextResponse('POST', '/connections/test');
    await row('home-hook').getByRole('button', { name: 'Test home-hook' }).click();
    const { status, body } = await answer;
    assert.equal(status, 200);
    assert.deepEqual(body, { ok: true, status: 200, message: 'HTTP 200' });
    const shown = row('home-hook').locator('.connection-test .notice.ok');
    await shown.waitFor();
    assert.equal((await shown.textContent()).trim(), 'Test: HTTP 200');
    await row('home-hook').locator('.connection-last[data-state="ok"]').waitFor();
    await screenshot(page, 'settings-connections');
    assert.equal(receiver.requests.length, 1);
    const sent = receiver.requests[0];
    assert.equal(sent.method, 'POST');
    assert.equal(sent.headers.authorization, `Bearer ${SECRET}`);
    assert.equal(JSON.parse(sent.body).event, 'test');
  });

  test('editing keeps the stored token; a failing receiver shows its error', async () => {
    await row('home-hook').getByRole('button', { name: 'Edit home-hook' }).click();
    assert.equal(await page.inputValue('#connection-token'), '');
    await page.fill('#connection-url', `${receiver.url}/broken`);
    const saved = nextResponse('PUT', '/config');
    await page.click('#connection-save');
    assert.equal((await saved).status, 200);
    await row('home-hook').locator('.connection-url', { hasText: '/broken' }).waitFor();
    const answer = nextResponse('POST', '/connections/test');
    await row('home-hook').getByRole('button', { name: 'Test home-hook' }).click();
    assert.deepEqual((await answer).body, { ok: false, status: 500, message: 'answered HTTP 500: receiver down' });
    await row('home-hook').locator('.connection-test .notice.error', { hasText: 'answered HTTP 500: receiver down' }).waitFor();
    const last = row('home-hook').locator('.connection-last[data-state="failed"] .connection-error');
    await last.waitFor();
    assert.equal(await last.textContent(), 'answered HTTP 500: receiver down');
    assert.equal(receiver.requests.at(-1).url, '/broken');
    assert.equal(receiver.requests.at(-1).headers.authorization, `Bearer ${SECRET}`);
    assert.ok(!(await page.content()).includes(SECRET), 'the token is never on the page');
  });

  test('an invalid URL is refused with the message next to the field', async () => {
    await page.click('#connection-add');
    await page.fill('#connection-name', 'bad');
    await page.fill('#connection-url', 'ftp://example.org/x');
    const saved = nextResponse('PUT', '/config');
    await page.click('#connection-save');
    const { status, body } = await saved;
    assert.equal(status, 422);
    assert.equal(body.details.field, 'connections[1].url');
    const error = page.locator('#connection-url-error');
    await error.waitFor();
    assert.equal(await error.textContent(), body.message);
    assert.equal(await page.getAttribute('#connection-url', 'aria-invalid'), 'true');
    await page.locator('#connection-form').scrollIntoViewIfNeeded();
    await screenshot(page, 'settings-connection-form', { fullPage: false });
    await page.click('#connection-cancel');
    assert.equal(await page.locator('#connections-list li.connection').count(), 1);
  });

  test('remove takes two clicks and empties the list', async () => {
    const remove = row('home-hook').getByRole('button', { name: 'Remove home-hook' });
    await remove.click();
    const saved = nextResponse('PUT', '/config');
    await remove.click();
    assert.equal((await saved).status, 200);
    await page.locator('#connections-list li.empty').waitFor();
    const token = await page.evaluate(() => localStorage.getItem('aniworld.token'));
    assert.deepEqual((await apiCall(server, 'GET', '/connections', { token })).data, []);
  });

  test('no page had a script error', () => {
    assert.deepEqual(browser.errors, []);
  });
});
