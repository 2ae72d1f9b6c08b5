// The first day with an existing library, in headless Chromium against the real `aniworld serve`:
// a library folder with series in it before the server ever started (one folder without
// .aniworld.json), covers, matching a folder from its suggestion, the queue running by itself,
// settings that leave environment and command-line overrides out of config.json, every page at
// desktop and phone size; then a day on which the sites cannot be reached.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startFixtureSite, startServer, startBrowser, screenshot, apiCall } from '../lib/harness.js';

const PASSWORD = 'correct horse battery';
const UNMATCHED = 'One Punch Man (2015)';
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 860 };

/** A series folder with empty episode files; `meta` null = no .aniworld.json. */
function makeFolder(library, folder, meta, files) {
  const dir = path.join(library, folder);
  fs.mkdirSync(dir, { recursive: true });
  if (meta) fs.writeFileSync(path.join(dir, '.aniworld.json'), JSON.stringify(meta));
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), 'not really a video');
  }
}

/** Records whether the page ever said the library has no series (checked on every DOM change). */
function watchForEmptyClaim() {
  window.__saidEmpty = false;
  new MutationObserver(() => {
    const text = document.body ? document.body.textContent : '';
    if (text.includes('The library is empty.') || text.includes('No series yet')) window.__saidEmpty = true;
  }).observe(document, { subtree: true, childList: true, characterData: true });
}

async function signIn(server, page) {
  assert.equal((await apiCall(server, 'POST', '/auth/setup', { body: { password: PASSWORD } })).status, 200);
  await page.goto(`${server.url}/#/login`);
  await page.fill('#login-password', PASSWORD);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('h1:text-is("Library")');
}

describe('web UI: the first day with an existing library', () => {
  let fixture;
  let server;
  let browser;
  let page;
  /** Buttons that would have started the queue by hand. */
  const startClicks = [];

  before(async () => {
    fixture = await startFixtureSite();
    server = await startServer(fixture, {
      name: 'first-day',
      prepare: (library) => {
        makeFolder(library, 'Attack on Titan (2013)', { key: 'attack-on-titan', site: 'aniworld', name: 'Attack on Titan', year: 2013 },
          ['Season 01/Attack on Titan - S01E01 - (German Dub).mp4', 'Season 01/Attack on Titan - S01E02 - (German Dub).mp4']);
        makeFolder(library, 'Dark', { key: 'dark', site: 'sto', name: 'Dark', year: 2017 }, ['Season 01/Dark - S01E01.mp4']);
        makeFolder(library, UNMATCHED, null, ['Season 01/One Punch Man - S01E01.mkv']);
      },
    });
    browser = await startBrowser();
    page = await browser.newPage();
    await page.addInitScript(watchForEmptyClaim);
    page.on('request', (r) => {
      if (['/api/queue/start', '/api/anime/rescan'].includes(new URL(r.url()).pathname)) startClicks.push(new URL(r.url()).pathname);
    });
    await signIn(server, page);
  });

  after(async () => {
    await browser?.stop();
    await server?.stop();
    await fixture?.stop();
  });

  /** The JSON body of the next response to `method path` (below /api). */
  function nextResponse(method, apiPath) {
    return page.waitForResponse((r) => r.request().method() === method && new URL(r.url()).pathname === `/api${apiPath}`)
      .then(async (r) => ({ status: r.status(), body: await r.json().catch(() => null), request: r.request() }));
  }

  test('the library shows the folders that were there before the server started, without a rescan', async () => {
    await page.locator('.series-card[data-key="attack-on-titan"]').waitFor();
    await page.locator('.series-card[data-key="dark"]').waitFor();
    assert.deepEqual(startClicks, [], 'nothing was rescanned by hand');
    assert.equal(await page.evaluate(() => window.__saidEmpty), false, 'the page never claimed the library was empty');
    // The folder without .aniworld.json is offered for matching, not hidden.
    await page.locator(`#unmatched li[data-folder="${UNMATCHED}"]`).waitFor();
    assert.match(await page.locator('#unmatched-title').textContent(), /Folders to match \(1\)/);
  });

  test('the covers come from the server once the site answered', async () => {
    const img = '.series-card[data-key="attack-on-titan"] .cover img';
    await page.waitForFunction((sel) => {
      const el = document.querySelector(sel);
      return el && el.complete && el.naturalWidth > 0;
    }, img, { timeout: 30000 });
    const src = await page.locator(img).getAttribute('src');
    assert.match(src, /^\/api\/anime\/attack-on-titan\/cover\?exp=\d+&sig=[0-9a-f]+$/);
    await page.waitForFunction(() => {
      const el = document.querySelector('.series-card[data-key="dark"] .cover img');
      return el && el.complete && el.naturalWidth > 0;
    }, null, { timeout: 30000 });
    // A card says what it holds once: no folder line repeating the title and year.
    assert.equal(await page.locator('.series-card[data-key="attack-on-titan"] .meta').textContent(), 'aniworld · 2013');
  });

  test('an unmatched folder is matched from its suggestion and then shows its episodes', async () => {
    const row = page.locator(`#unmatched li[data-folder="${UNMATCHED}"]`);
    const best = row.locator('.suggestion.best[data-key="one-punch-man"]');
    await best.waitFor();
    await screenshot(page, 'first-day-library-unmatched-desktop');
    const matched = nextResponse('POST', '/library/match');
    await best.locator('.match-button').click();
    const { status, body } = await matched;
    assert.equal(status, 201, JSON.stringify(body));
    assert.equal(body.key, 'one-punch-man');
    await row.locator('.notice.ok').waitFor();
    const meta = JSON.parse(fs.readFileSync(path.join(server.library, UNMATCHED, '.aniworld.json'), 'utf8'));
    assert.deepEqual([meta.key, meta.site], ['one-punch-man', 'aniworld']);
    // The series joins the library list and opens with its episode on disk and the missing ones.
    const card = page.locator('.series-card[data-key="one-punch-man"]');
    await card.waitFor();
    await card.locator('a').click();
    await page.waitForSelector('h1:text-is("One Punch Man")');
    await page.locator('.episode[data-season="1"][data-episode="1"].state-on_disk').waitFor();
    await page.locator('.episode[data-season="1"][data-episode="2"].state-missing').waitFor();
    assert.equal(await page.locator('.episode[data-season="1"][data-episode="1"] .ep-code').textContent(), 'S01E01');
    assert.match(await page.locator('.season-count').first().textContent(), /^1 of 2 on disk/);
  });

  test('a queued episode downloads without anyone pressing Start', async () => {
    assert.equal(await page.locator('#queue-note .notice').count(), 0, 'the queue runs: no note');
    const queued = nextResponse('POST', '/queue/add');
    await page.click('#queue-s1-e2');
    assert.ok((await queued).status < 300);
    await page.locator('.episode[data-season="1"][data-episode="2"].state-on_disk').waitFor({ timeout: 60000 });
    await screenshot(page, 'first-day-series-desktop');
    await page.click('#nav a[data-route=queue]');
    const done = page.locator('.queue-item[data-key="one-punch-man"][data-status="completed"]');
    await done.waitFor({ timeout: 60000 });
    assert.match(await page.locator('#queue-state').textContent(), /^Running/);
    assert.deepEqual(startClicks, [], 'the queue was never started by hand');
    const token = await page.evaluate(() => localStorage.getItem('aniworld.token'));
    const item = (await apiCall(server, 'GET', '/queue/status', { token })).data.items.find((i) => i.key === 'one-punch-man');
    assert.ok(fs.statSync(item.path).size > 0, `${item.path} was downloaded`);
    await screenshot(page, 'first-day-queue-desktop');
  });

  test('the queue page and the series page say when the queue is paused, and the banner goes away', async () => {
    await page.click('#queue-pause');
    await page.locator('#queue-note .queue-note-state:text("paused")').waitFor();
    // The confirmation can be closed (and closes by itself).
    const banner = page.locator('.view-queue .notice.ok.dismissable');
    await banner.waitFor();
    await banner.locator('.dismiss').click();
    await banner.waitFor({ state: 'detached' });
    await page.goto(`${server.url}/#/series/attack-on-titan`);
    await page.locator('#queue-note .queue-note-state:text("paused")').waitFor();
    await page.click('#queue-note-resume');
    await page.locator('#queue-note .notice').waitFor({ state: 'detached' });
  });

  test('saving one setting leaves the environment and command-line overrides out of config.json', async () => {
    await page.goto(`${server.url}/#/settings`);
    const libraryPath = page.locator('#cfg-library-path');
    await libraryPath.waitFor();
    assert.equal(await libraryPath.isDisabled(), true);
    assert.match(await page.locator('#cfg-library-path-locked').textContent(), /--library/);
    const baseUrl = page.locator('#cfg-providers-aniworld-base_url');
    assert.equal(await baseUrl.isDisabled(), true);
    assert.match(await page.locator('#cfg-providers-aniworld-base_url-locked').textContent(), /ANIWORLD_PROVIDERS__ANIWORLD__BASE_URL/);
    // Plain labels with units and hints, advanced keys folded away.
    assert.match(await page.locator('[data-path="download.rate_limit"]').textContent(), /MB\/s/);
    assert.equal(await page.locator('#cfg-server-bind').isVisible(), false, 'advanced keys are folded away');
    assert.match(await page.locator('[data-path="server.bind"] label').textContent(), /needs a restart/);
    await screenshot(page, 'first-day-settings-desktop');

    await page.locator('#cfg-download-max_parallel').fill('3');
    const saved = nextResponse('PUT', '/config');
    await page.click('#settings-save');
    const { status, request } = await saved;
    assert.equal(status, 200);
    assert.deepEqual(JSON.parse(request.postData()), { download: { max_parallel: 3 } }, 'only the change was sent');
    await page.locator('#settings-message .notice.ok').waitFor();
    const file = JSON.parse(fs.readFileSync(path.join(server.dataDir, 'config.json'), 'utf8'));
    assert.equal(file.download.max_parallel, 3);
    assert.equal(file.library.path, './library', 'the --library override stayed out of the file');
    assert.equal(file.providers.aniworld.base_url, 'https://aniworld.to', 'the environment override stayed out of the file');
    assert.equal(file.auth.bcrypt_cost, 12, 'ANIWORLD_AUTH__BCRYPT_COST stayed out of the file');
  });

  test('a wrong-typed value is named next to its field and nothing is sent', async () => {
    const puts = [];
    const watch = (r) => { if (r.method() === 'PUT') puts.push(r.url()); };
    page.on('request', watch);
    await page.locator('#cfg-download-max_parallel').fill('many');
    await page.click('#settings-save');
    const slot = page.locator('#cfg-download-max_parallel-error:not([hidden])');
    await slot.waitFor();
    assert.match(await slot.textContent(), /must be a number/);
    assert.match(await page.locator('#settings-message [role=alert]').textContent(), /download\.max_parallel/);
    assert.equal(await page.locator('#cfg-download-max_parallel').getAttribute('aria-invalid'), 'true');
    page.off('request', watch);
    assert.deepEqual(puts, []);
  });

  test('every page fits a phone: the whole navigation is reachable, no sideways scrolling', async () => {
    const routes = ['library', 'series/attack-on-titan', 'search', 'queue', 'settings', 'plugins'];
    for (const [size, viewport] of [['phone', PHONE], ['desktop', DESKTOP]]) {
      await page.setViewportSize(viewport);
      for (const route of routes) {
        await page.goto(`${server.url}/#/${route}`);
        await page.locator('main h1').first().waitFor();
        await page.locator('main .view h1').first().waitFor();
        if (route === 'library') await page.locator('.series-card').first().waitFor();
        if (route.startsWith('series')) await page.locator('#seasons .season').first().waitFor();
        if (route === 'settings') await page.locator('#cfg-download-max_parallel').waitFor();
        if (route === 'plugins') await page.locator('#plugin-list table').waitFor();
        if (size === 'phone') {
          for (const link of await page.locator('#nav a').all()) {
            assert.ok(await link.isVisible(), `${await link.textContent()} is visible on ${route}`);
            const box = await link.boundingBox();
            assert.ok(box.x >= 0 && box.x + box.width <= viewport.width, `${await link.textContent()} fits the width on ${route}: ${JSON.stringify(box)}`);
          }
          const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
          assert.ok(overflow <= 0, `no horizontal scrolling on ${route} (${overflow}px too wide)`);
        }
        await screenshot(page, `first-day-${route.split('/')[0]}-${size}`);
      }
    }
  });

  test('no page had a script error', () => {
    assert.deepEqual(browser.errors, []);
  });
});

describe('web UI: the first day with the sites unreachable', () => {
  let fixture;
  let server;
  let browser;
  let page;

  before(async () => {
    fixture = await startFixtureSite();
    server = await startServer(fixture, {
      name: 'first-day-offline',
      // Nothing listens on port 9: every request to the sites is refused.
      env: {
        ANIWORLD_PROVIDERS__ANIWORLD__BASE_URL: 'http://127.0.0.1:9',
        ANIWORLD_PROVIDERS__STO__BASE_URL: 'http://127.0.0.1:9',
        ANIWORLD_PROVIDERS__ANIWORLD__RETRIES: '0',
        ANIWORLD_PROVIDERS__STO__RETRIES: '0',
      },
      prepare: (library) => {
        makeFolder(library, 'Attack on Titan (2013)', { key: 'attack-on-titan', site: 'aniworld', name: 'Attack on Titan', year: 2013 },
          [1, 2, 3, 4].map((e) => `Season 01/Attack on Titan - S01E0${e}.mp4`));
        makeFolder(library, 'Dark', { key: 'dark', site: 'sto', name: 'Dark', year: 2017 }, ['Season 01/Dark - S01E01.mp4']);
      },
    });
    browser = await startBrowser();
    page = await browser.newPage();
    await signIn(server, page);
  });

  after(async () => {
    await browser?.stop();
    await server?.stop();
    await fixture?.stop();
  });

  test('no series is shown as complete while its site has never answered', async () => {
    for (const key of ['attack-on-titan', 'dark']) {
      const card = page.locator(`.series-card[data-key="${key}"][data-state="unknown"]`);
      await card.waitFor();
      await card.locator('.state-unknown', { hasText: 'site unreachable' }).waitFor({ timeout: 30000 });
    }
    assert.equal(await page.locator('.series-card .state-complete').count(), 0);
    assert.doesNotMatch(await page.locator('#library-list').textContent(), /Complete|0 missing/);
    await screenshot(page, 'first-day-offline-library-desktop');

    await page.selectOption('#library-state', 'complete');
    await page.locator('#library-list .empty', { hasText: 'No series match the filter.' }).waitFor();
    await page.selectOption('#library-state', 'unknown');
    await page.waitForFunction(() => document.querySelectorAll('.series-card').length === 2);
    await page.selectOption('#library-state', '');
  });

  test('the series page shows the files on disk and says the rest is unknown', async () => {
    await page.goto(`${server.url}/#/series/attack-on-titan`);
    await page.locator('#provider-note .notice.error').waitFor();
    assert.match(await page.locator('#provider-note').textContent(), /unknown: site unreachable/);
    assert.equal(await page.locator('.episode.state-on_disk').count(), 4);
    assert.equal(await page.locator('.season-count').first().textContent(), '4 on disk · episode list unknown');
    assert.equal(await page.locator('#queue-all').textContent(), 'Missing episodes unknown');
    assert.doesNotMatch(await page.locator('main').textContent(), /Complete/);
    await screenshot(page, 'first-day-offline-series-desktop');
  });

  test('no page had a script error', () => {
    assert.deepEqual(browser.errors, []);
  });
});
