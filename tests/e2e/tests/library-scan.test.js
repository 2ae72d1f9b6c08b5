// The library page over a library folder made by hand: rescan with live progress, hostile names
// shown as text, filter and sort by the server, the series page's episodes on disk.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startFixtureSite, startServer, startBrowser, screenshot, apiCall } from '../lib/harness.js';

const PASSWORD = 'correct horse battery';
const HOSTILE = '<img src=x onerror="window.__pwned=1">Tom &amp; Jerry';

/** A series folder with its identity file and empty episode files. */
function makeSeries(library, folder, meta, files) {
  const dir = path.join(library, folder);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, '.aniworld.json'), JSON.stringify(meta));
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), 'not really a video');
  }
}

describe('web UI: library from a scanned folder', () => {
  let fixture;
  let server;
  let browser;
  let page;
  /** Every WebSocket message the page received, parsed. */
  const frames = [];

  before(async () => {
    fixture = await startFixtureSite();
    server = await startServer(fixture, { name: 'library-scan' });
    makeSeries(server.library, 'Attack on Titan (2013)', { key: 'attack-on-titan', site: 'aniworld', name: 'Attack on Titan', year: 2013 },
      ['Season 01/Attack on Titan - S01E001 - (German Dub).mp4', 'Season 01/Attack on Titan - S01E002 - (German Dub).mp4']);
    makeSeries(server.library, 'Hostile', { key: 'hostile-name', site: 'sto', name: HOSTILE }, ['Season 01/Hostile - S01E001.mp4']);
    makeSeries(server.library, 'Dark', { key: 'dark', site: 'sto', name: 'Dark' }, []);
    browser = await startBrowser();
    page = await browser.newPage();
    page.on('websocket', (ws) => ws.on('framereceived', (f) => {
      try { frames.push(JSON.parse(String(f.payload))); } catch { /* not JSON: not ours */ }
    }));
    assert.equal((await apiCall(server, 'POST', '/auth/setup', { body: { password: PASSWORD } })).status, 200);
    await page.goto(`${server.url}/#/login`);
    await page.fill('#login-password', PASSWORD);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('h1:text-is("Library")');
    await page.locator('#live-state[data-state="open"]').waitFor();
  });

  /** Waits until the library list has no reload pending or running. */
  async function listSettled() {
    await page.locator('#library-list[aria-busy="false"]').waitFor();
  }

  after(async () => {
    await browser?.stop();
    await server?.stop();
    await fixture?.stop();
  });

  test('rescan shows the scan live and then lists every series folder', async () => {
    const seenBefore = frames.length;
    await page.click('#rescan');
    const done = page.locator('.scan-status .notice.ok');
    await done.waitFor();
    assert.match(await done.textContent(), /Scan complete: 3 series, 3 episodes/);
    const types = frames.slice(seenBefore).map((f) => f.type);
    assert.ok(types.includes('scan_progress'), `scan_progress arrived over the WebSocket: ${types}`);
    await page.locator('.series-card').nth(2).waitFor();
    assert.equal(await page.locator('.series-card').count(), 3);
    assert.match(await page.locator('#library-summary').textContent(), /3 series/);
  });

  test('a hostile series name is shown as text and never runs', async () => {
    const card = page.locator('.series-card[data-key="hostile-name"]');
    assert.equal(await card.locator('.series-name').textContent(), HOSTILE);
    assert.equal(await card.locator('img[src="x"]').count(), 0);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
  });

  test('the filter asks the server and shows only matching series', async () => {
    const listed = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/anime' && new URL(r.url()).searchParams.get('q') === 'titan');
    await page.fill('#library-filter', 'titan');
    await listed;
    await listSettled();
    await page.waitForFunction(() => document.querySelectorAll('.series-card').length === 1);
    assert.equal(await page.locator('.series-card').getAttribute('data-key'), 'attack-on-titan');
    await page.fill('#library-filter', '');
    await listSettled();
    await page.waitForFunction(() => document.querySelectorAll('.series-card').length === 3);
  });

  test('sorting by name orders the cards by name', async () => {
    await page.selectOption('#library-sort', 'name');
    // The old cards stay until the re-sorted list arrives: wait for that, not for a count.
    await listSettled();
    await page.waitForFunction(() => document.querySelectorAll('.series-card').length === 3);
    const names = await page.locator('.series-name').allTextContents();
    const sorted = [...names].sort((a, b) => a.localeCompare(b, undefined, { sensitivity: 'base' }));
    assert.deepEqual(names, sorted);
    await screenshot(page, 'library-scanned');
  });

  test('the series page shows the episodes on disk, reached by keyboard', async () => {
    // Tab to the first card link and open it with Enter. A list still reloading would replace
    // the focused link before Enter arrives (what made this test flaky): wait until it settled.
    await listSettled();
    const link = page.locator('.series-card[data-key="attack-on-titan"] a');
    await link.focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector('h1:text-is("Attack on Titan")');
    await page.locator('.episode[data-season="1"][data-episode="1"].state-on_disk').waitFor();
    await page.locator('.episode[data-season="1"][data-episode="2"].state-on_disk').waitFor();
    // Focus moved to the page heading for keyboard and screen reader users.
    assert.equal(await page.evaluate(() => document.activeElement.tagName), 'H1');
  });

  test('no page had a script error', () => {
    assert.deepEqual(browser.errors, []);
  });
});
