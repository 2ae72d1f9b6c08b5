// Library, search & add, live queue, rescan and plugins of the web UI in headless Chromium against the
// real `aniworld serve` and the offline fixture site. The tests run in order and share one server.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startFixtureSite, startServer, startBrowser, screenshot, apiCall } from '../lib/harness.js';

const PASSWORD = 'correct horse battery';

describe('web UI: search, add, queue, library', () => {
  let fixture;
  let server;
  let browser;
  let page;
  /** Every WebSocket message the page received, parsed. */
  const frames = [];

  before(async () => {
    fixture = await startFixtureSite();
    server = await startServer(fixture, {
      name: 'library-queue',
      // One HLS segment at a time, so a download takes long enough to show progress.
      env: { ANIWORLD_DOWNLOAD__SEGMENT_PARALLELISM: '1' },
    });
    browser = await startBrowser();
    page = await browser.newPage();
    page.on('websocket', (ws) => ws.on('framereceived', (f) => {
      try { frames.push(JSON.parse(String(f.payload))); } catch { /* not JSON: not ours */ }
    }));
    // First run through the API; signing in is the UI's job.
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
  });

  /** The JSON body of the next response to `method path` (below /api). */
  function nextResponse(method, path) {
    return page.waitForResponse((r) => r.request().method() === method && new URL(r.url()).pathname === `/api${path}`)
      .then(async (r) => ({ status: r.status(), body: await r.json().catch(() => null) }));
  }

  test('search finds a series on the fixture site and adds it to the library', async () => {
    await page.click('#nav a[data-route=search]');
    await page.selectOption('#search-site', 'aniworld');
    await page.fill('#search-query', 'Attack');
    await page.click('form[role=search] button[type=submit]');
    const hit = page.locator('.result[data-key="attack-on-titan"]');
    await hit.waitFor();
    await screenshot(page, 'search');
    const added = nextResponse('POST', '/anime/add');
    await hit.locator('button.add-series').click();
    const { status, body } = await added;
    assert.equal(status, 201);
    await hit.locator('.notice.ok').waitFor();
    // The series folder now exists in the library, with its identity file.
    const folder = path.join(server.library, body.folder);
    const meta = JSON.parse(fs.readFileSync(path.join(folder, '.aniworld.json'), 'utf8'));
    assert.equal(meta.key, 'attack-on-titan');
    assert.equal(meta.site, 'aniworld');
  });

  test('adding the same series again says it is already in the library', async () => {
    const hit = page.locator('.result[data-key="attack-on-titan"]');
    const again = nextResponse('POST', '/anime/add');
    await page.click('form[role=search] button[type=submit]');
    await hit.waitFor();
    await hit.locator('button.add-series').click();
    const { status, body } = await again;
    assert.equal(status, 409);
    assert.match(await hit.locator('.notice').textContent(), new RegExp(escapeRegExp(body.message)));
  });

  test('a blocked site explains the way out and takes the cookie of a browser that passed the check', async () => {
    assert.equal(await fixture.command('knob sto.challenge cloudflare'), 'ok');
    try {
      await page.selectOption('#search-site', 'sto');
      await page.fill('#search-query', 'Breaking');
      const response = nextResponse('POST', '/anime/search');
      await page.click('form[role=search] button[type=submit]');
      const { status, body } = await response;
      assert.equal(status, 502, JSON.stringify(body));
      assert.equal(body.error, 'blocked');
      const alert = page.locator('.view-search [role=alert]');
      await alert.waitFor();
      const text = await alert.textContent();
      assert.match(text, /bot check/);
      assert.ok(text.includes(body.message), `${JSON.stringify(text)} does not show ${JSON.stringify(body.message)}`);
      const form = alert.locator('form.blocked-help[data-site="sto"]');
      await form.locator('input').first().fill('cf_clearance=e2e-cookie');
      await screenshot(page, 'search-site-blocked');
      const saved = nextResponse('PUT', '/config');
      await form.locator('button[type=submit]').click();
      assert.equal((await saved).status, 200);
      await form.locator('.notice.ok').waitFor();
    } finally {
      assert.equal(await fixture.command('clear sto.challenge'), 'ok');
    }
    // The next search carries the handed-over cookie.
    const response = nextResponse('POST', '/anime/search');
    await page.click('form[role=search] button[type=submit]');
    assert.equal((await response).status, 200);
    await page.locator('.result[data-key="breaking-bad"]').waitFor();
    const log = JSON.parse(await fixture.command('requests'));
    const last = log.filter((r) => r.server === 'sto').pop();
    assert.match(last.headers.cookie ?? '', /cf_clearance=e2e-cookie/);
  });

  test('the series page shows seasons with missing episodes', async () => {
    await page.goto(`${server.url}/#/series/attack-on-titan`);
    await page.locator('#seasons .season').first().waitFor();
    const missing = await page.locator('.episode.state-missing').count();
    assert.ok(missing > 0, 'a freshly added series has missing episodes');
    assert.equal(await page.locator('.episode.state-on_disk').count(), 0);
    await screenshot(page, 'series');
  });

  test('a queued episode shows its progress bar reach 100% from WebSocket events, and the file is on disk', async () => {
    // Slow media, so the download is watched while it runs.
    assert.equal(await fixture.command('knob media.rate 65536'), 'ok');
    assert.equal(await fixture.command('knob hls.segment_delay_ms 400'), 'ok');
    const seenBefore = frames.length;
    const statusFetches = [];
    page.on('request', (r) => { if (new URL(r.url()).pathname === '/api/queue/status') statusFetches.push(Date.now()); });

    // The queue page first: it starts the queue if it is stopped.
    await page.click('#nav a[data-route=queue]');
    await page.locator('#queue-state').waitFor();
    if (await page.locator('#queue-start').count()) {
      await page.click('#queue-start');
      await page.locator('#queue-stop').waitFor();
    }
    await page.goBack();
    const button = page.locator('#queue-s1-e1');
    await button.waitFor();
    const queued = nextResponse('POST', '/queue/add');
    await button.click();
    assert.equal((await queued).status < 300, true);
    await page.locator('.episode[data-season="1"][data-episode="1"].state-queued').waitFor();
    await page.click('#nav a[data-route=queue]');
    const item = page.locator('.queue-item[data-key="attack-on-titan"]').first();
    await item.waitFor();
    const itemId = await item.getAttribute('data-item-id');
    // Record every value the bar shows from here on.
    await page.evaluate((id) => {
      window.__seen = [];
      const watch = () => {
        const bar = document.querySelector(`.queue-item[data-item-id="${id}"] [role=progressbar]`);
        if (bar) window.__seen.push(Number(bar.getAttribute('aria-valuenow')));
      };
      watch();
      new MutationObserver(watch).observe(document.getElementById('queue-list'), { subtree: true, attributes: true, childList: true });
    }, itemId);
    const fetchesBefore = statusFetches.length;
    await screenshot(page, 'queue-downloading');
    await page.locator(`.queue-item[data-item-id="${itemId}"] [role=progressbar][aria-valuenow="100"]`).waitFor({ timeout: 60000 });
    await page.locator(`.queue-item[data-item-id="${itemId}"][data-status="completed"]`).waitFor();
    await screenshot(page, 'queue');

    const seen = await page.evaluate(() => window.__seen);
    assert.equal(seen.at(-1), 100);
    assert.ok(seen.some((v) => v > 0 && v < 100), `the bar moved through intermediate values: ${JSON.stringify(seen)}`);
    assert.equal(statusFetches.length, fetchesBefore, 'the queue page did not poll the REST API while the download ran');
    const events = frames.slice(seenBefore);
    const progress = events.filter((e) => e.type === 'download_progress');
    assert.ok(progress.length > 0, 'download_progress events arrived over the WebSocket');
    assert.ok(events.some((e) => e.type === 'download_complete'), 'download_complete arrived over the WebSocket');

    const token = await page.evaluate(() => localStorage.getItem('aniworld.token'));
    const status = await apiCall(server, 'GET', '/queue/status', { token });
    const done = status.data.items.find((i) => String(i.id) === itemId);
    assert.equal(done.status, 'completed');
    const file = path.isAbsolute(done.path) ? done.path : path.join(server.library, done.path);
    assert.ok(file.startsWith(server.library), `${file} is inside the library`);
    assert.ok(fs.statSync(file).size > 0, `${file} has content`);
    assert.ok(!fs.existsSync(`${file}.part`));
    await fixture.command('clear media.rate');
    await fixture.command('clear hls.segment_delay_ms');
  });

  test('pause and resume switch the queue state shown on the page', async () => {
    await page.click('#queue-pause');
    await page.locator('#queue-resume').waitFor();
    assert.match(await page.locator('#queue-state').textContent(), /^Paused/);
    await page.click('#queue-resume');
    await page.locator('#queue-pause').waitFor();
    assert.match(await page.locator('#queue-state').textContent(), /^Running/);
  });

  test('clear completed empties the list and the file stays', async () => {
    const token = await page.evaluate(() => localStorage.getItem('aniworld.token'));
    const before = await apiCall(server, 'GET', '/queue/status', { token });
    const done = before.data.items.filter((i) => i.status === 'completed');
    assert.ok(done.length > 0);
    await page.click('#queue-clear');
    await page.locator('#queue-list .empty').waitFor();
    const after = await apiCall(server, 'GET', '/queue/status', { token });
    assert.equal(after.data.items.filter((i) => i.status === 'completed').length, 0);
    for (const item of done) assert.ok(fs.existsSync(item.path), `${item.path} is still on disk`);
  });

  test('remove takes a waiting episode off the stopped queue', async () => {
    await page.click('#queue-stop');
    await page.locator('#queue-start').waitFor();
    await page.goto(`${server.url}/#/series/attack-on-titan`);
    const button = page.locator('#queue-s1-e2');
    await button.click();
    await page.locator('.episode[data-season="1"][data-episode="2"].state-queued').waitFor();
    await page.click('#nav a[data-route=queue]');
    const item = page.locator('.queue-item[data-status="pending"]').first();
    await item.waitFor();
    const itemId = await item.getAttribute('data-item-id');
    await item.locator('button', { hasText: 'Remove' }).click();
    await page.locator(`.queue-item[data-item-id="${itemId}"]`).waitFor({ state: 'detached' });
    const token = await page.evaluate(() => localStorage.getItem('aniworld.token'));
    const status = await apiCall(server, 'GET', '/queue/status', { token });
    assert.equal(status.data.items.some((i) => String(i.id) === itemId), false);
  });

  test('a long queue shows the server\'s counts and loads more items on request', async () => {
    const token = await page.evaluate(() => localStorage.getItem('aniworld.token'));
    // The queue runs by itself (download.autostart): stopped here, these items stay waiting.
    const wasRunning = (await apiCall(server, 'GET', '/queue/status', { token })).data.running;
    assert.equal((await apiCall(server, 'POST', '/queue/stop', { token })).status, 200);
    const episodes = Array.from({ length: 150 }, (_, i) => ({ key: 'paging-show', site: 'aniworld', season: 1, episode: i + 1 }));
    const added = await apiCall(server, 'POST', '/queue/add', { token, body: { episodes } });
    assert.equal(added.status, 200);
    assert.equal(added.data.added.length, 150);
    await page.goto(`${server.url}/#/library`);
    await page.click('#nav a[data-route=queue]');
    const more = page.locator('#queue-more');
    await more.waitFor();
    assert.match(await more.textContent(), /100 of 150 shown/);
    assert.match(await page.locator('.queue-group h2', { hasText: 'Waiting' }).textContent(), /100 of 150 shown/);
    assert.match(await page.locator('#queue-state').textContent(), /150 waiting/);
    await more.click();
    await page.waitForFunction(() => document.querySelectorAll('.queue-item[data-key="paging-show"]').length === 150);
    assert.equal(await page.locator('#queue-more').count(), 0);
    for (const item of added.data.added) {
      assert.equal((await apiCall(server, 'DELETE', `/queue/${item.id}`, { token })).status, 204);
    }
    if (wasRunning) assert.equal((await apiCall(server, 'POST', '/queue/start', { token })).status, 200);
  });

  test('rescan shows live progress and the library then shows the episode on disk', async () => {
    // More series, added through the API, so the library page has something to compare.
    const token = await page.evaluate(() => localStorage.getItem('aniworld.token'));
    for (const [site, query, key] of [['aniworld', 'Kaguya', 'kaguya-sama-love-is-war'], ['aniworld', 'One Punch', 'one-punch-man'], ['sto', 'Dark', 'dark']]) {
      const hits = await apiCall(server, 'POST', '/anime/search', { token, body: { query, site } });
      const hit = hits.data.find((h) => h.key === key);
      assert.ok(hit, `${key} found on ${site}`);
      assert.equal((await apiCall(server, 'POST', '/anime/add', { token, body: { link: hit.link, site } })).status, 201);
    }
    await page.click('#nav a[data-route=library]');
    await page.locator('.series-card[data-key="attack-on-titan"]').waitFor();
    await page.click('#rescan');
    await page.locator('.scan-status .notice.ok').waitFor({ timeout: 30000 });
    assert.match(await page.locator('.scan-status').textContent(), /Scan complete/);
    const card = page.locator('.series-card[data-key="attack-on-titan"]');
    await card.waitFor();
    await page.locator('.series-card').nth(3).waitFor();
    const list = await apiCall(server, 'GET', '/anime', { token });
    const summary = list.data.items.find((s) => s.key === 'attack-on-titan');
    // The page reloads its list when the scan completes: the card then shows the server's count.
    assert.equal(typeof summary.missing_episodes, 'number');
    await page.locator('.series-card[data-key="attack-on-titan"]', { hasText: `${summary.missing_episodes} missing` }).waitFor();
    // …and what is missing in each season, as the API lists it.
    assert.ok(summary.missing.length > 0);
    const cardText = await card.textContent();
    for (const m of summary.missing) {
      assert.ok(cardText.includes(m.season === 0 ? 'Movies & specials:' : `Season ${m.season}:`), `season ${m.season} on the card`);
    }
    await screenshot(page, 'library');
    await page.goto(`${server.url}/#/series/attack-on-titan`);
    await page.locator('.episode[data-season="1"][data-episode="1"].state-on_disk').waitFor();
  });

  test('the plugins page lists the built-in providers and hosters', async () => {
    await page.click('#nav a[data-route=plugins]');
    await page.locator('#plugin-list table').waitFor();
    const rows = page.locator('#plugin-list tbody tr');
    const aniworld = rows.filter({ has: page.locator('th', { hasText: /aniworld/i }) }).first();
    assert.match(await aniworld.textContent(), /provider/);
    assert.match(await aniworld.textContent(), /Built in/);
    assert.ok(await rows.filter({ hasText: /voe/i }).count() > 0, 'the VOE hoster is listed');
  });

  test('a broken script shows its error after reload', async () => {
    const scripts = path.join(server.dataDir, 'scripts');
    fs.mkdirSync(scripts, { recursive: true });
    fs.writeFileSync(path.join(scripts, 'broken_hook.rhai'), 'fn on_download_completed(e) {\n  let x = ;\n}\n');
    const reloaded = nextResponse('POST', '/plugins/reload');
    await page.click('#plugins-reload');
    const { status, body } = await reloaded;
    assert.equal(status, 200);
    const entry = body.items.find((p) => String(p.path || p.id).includes('broken_hook'));
    assert.ok(entry && entry.error, `the API reports the broken script: ${JSON.stringify(body.items.map((p) => p.id))}`);
    const row = page.locator('#plugin-list tr.row-bad', { hasText: 'broken_hook' });
    await row.waitFor();
    assert.ok((await row.textContent()).includes(entry.error), 'the row shows the API error');
    await page.locator('#plugin-list [role=alert]').waitFor();
    await screenshot(page, 'plugins');
    fs.rmSync(path.join(scripts, 'broken_hook.rhai'));
  });

  test('the library reads well on a phone in the dark theme', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.click('#nav a[data-route=library]');
    await page.locator('.series-card').first().waitFor();
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.notEqual(bg, 'rgb(246, 247, 251)', 'the dark theme applies');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling (${overflow}px too wide)`);
    await screenshot(page, 'library-phone-dark');
  });
});

function escapeRegExp(text) {
  return String(text).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
