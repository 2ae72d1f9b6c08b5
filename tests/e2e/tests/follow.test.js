// Following a series in the web UI (issue 14), in headless Chromium against the real
// `aniworld serve` and the fixture site: follow from the series page, an episode airs on the
// fixture, "Check now" on the Upcoming / new page, the new episode appears in the queue.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startFixtureSite, startServer, startBrowser, screenshot, apiCall } from '../lib/harness.js';

const PASSWORD = 'correct horse battery';

function makeFolder(library, folder, meta, files) {
  const dir = path.join(library, folder);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, '.aniworld.json'), JSON.stringify(meta));
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), 'not really a video');
  }
}

describe('web UI: follow a series', () => {
  let fixture;
  let server;
  let browser;
  let page;

  before(async () => {
    fixture = await startFixtureSite();
    server = await startServer(fixture, {
      name: 'follow',
      // Queued items stay in the list as pending: the test looks at what the check queued.
      env: { ANIWORLD_DOWNLOAD__AUTOSTART: 'false' },
      prepare: (library) => makeFolder(library, 'Attack on Titan (2013)',
        { key: 'attack-on-titan', site: 'aniworld', name: 'Attack on Titan', year: 2013 },
        ['Season 01/Attack on Titan - S01E01 - (German Dub).mp4']),
    });
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
  });

  test('follow from the series page; an aired episode is queued after a check', async () => {
    await page.locator('.series-card[data-key="attack-on-titan"] a.series-link').click();
    await page.waitForSelector('h1:text-is("Attack on Titan")');
    // The site's episode list is known before following (the baseline "new" counts from).
    await page.waitForSelector('#seasons .season');
    await page.selectOption('#follow-monitor', 'new');
    const saved = page.waitForResponse((r) => r.request().method() === 'PUT' && new URL(r.url()).pathname === '/api/anime/attack-on-titan/follow');
    await page.check('#follow-toggle');
    assert.equal((await saved).status(), 200);
    await page.waitForSelector('.follow-control[data-followed="true"]');
    await screenshot(page, 'follow-series');

    // The library's Followed filter shows it.
    await page.click('#nav a[data-route=library]');
    await page.check('#library-followed');
    await page.waitForSelector('#library-list[aria-busy="false"] .series-card[data-key="attack-on-titan"]');

    const aired = JSON.parse(await fixture.command('air attack-on-titan 2'));
    assert.deepEqual([aired.season, aired.episode], [2, 3]);

    await page.click('#nav a[data-route=new]');
    await page.waitForSelector('h1:text-is("Upcoming / new")');
    await page.click('#follow-check');
    const found = page.locator('#follow-found .found[data-key="attack-on-titan"][data-season="2"][data-episode="3"]');
    await found.waitFor();
    assert.match(await found.innerText(), /Queued/);
    await screenshot(page, 'follow-new');

    await page.click('#nav a[data-route=queue]');
    await page.locator('.queue-item[data-key="attack-on-titan"][data-season="2"][data-episode="3"]').waitFor();
    assert.equal(await page.locator('.queue-item').count(), 1);
    assert.deepEqual(browser.errors, []);
  });
});
