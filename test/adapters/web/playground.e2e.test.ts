// The playground end to end in real headless Chromium (Debian's, driven by playwright-core; no browser download):
// real core, real engine, real SQLite. Screenshots land in artifacts/ for a human to look at. The engine runs the tiny
// fixture model: its speed is known, so the step counts below keep the test near 15 s (the subject here is the page).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { fixtureModel, startPlayground } from './helpers.ts';

const executablePath = '/usr/bin/chromium';
const artifacts = join(import.meta.dirname, '../../../artifacts');

let app: Awaited<ReturnType<typeof startPlayground>>;
let browser: Browser;

before(async () => {
  assert.ok(existsSync(executablePath), `${executablePath} is missing: install Debian's Chromium with \`apt-get install chromium\` (.ci/run does this in CI)`);
  mkdirSync(artifacts, { recursive: true });
  // The tiny model runs 150 steps in well under a second; a short edit interval lets the page show several previews.
  app = await startPlayground({ modelDir: fixtureModel, minEditIntervalMs: 20 });
  // launch() gives every run a fresh temporary profile (user-data dir).
  browser = await chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  await browser?.close();
  await app?.close();
});

async function openTab(guild: string, name: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (error) => assert.fail(`page error: ${error.message}`));
  await page.goto(app.url);
  await page.fill('#name', name);
  await page.dispatchEvent('#name', 'change');
  await page.fill('#guild', guild);
  await page.dispatchEvent('#guild', 'change');
  await page.waitForSelector('#model.ok');
  return page;
}

async function imagine(page: Page, text: string): Promise<string> {
  const before = await page.locator('article[data-job]').count();
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
  const article = page.locator('article[data-job]').nth(before);
  await article.waitFor();
  return (await article.getAttribute('data-job'))!;
}

async function send(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.press('#text', 'Enter');
}

async function jobBySeed(page: Page, seed: number): Promise<string> {
  // A regex, not a string: Playwright trims string filters, and `--seed 11` would also match a variation's `--seed 1187`.
  const article = page.locator('article[data-job]', { has: page.locator('.flags', { hasText: new RegExp(`--seed ${seed}(\\s|$)`) }) });
  await article.waitFor();
  return (await article.getAttribute('data-job'))!;
}

const jobArticle = (page: Page, jobId: string) => page.locator(`article[data-job="${jobId}"]`);

test('a newcomer imagines, watches previews, presses U2 and V1; two guilds take fair turns', async () => {
  const ana = await openTab('guild-a', 'Ana');
  await ana.screenshot({ path: join(artifacts, 'playground-0-empty.png') });

  // 1. Prompt → at least two preview updates → the grid with its buttons.
  // The intro's first example, as a newcomer would use it (plus enough steps to watch the previews).
  await ana.locator('button.example').first().click();
  assert.equal(await ana.inputValue('#text'), '/imagine a big red circle on a blue background --seed 42');
  await ana.press('#text', 'End');
  const first = await imagine(ana, `${await ana.inputValue('#text')} --steps 150`);
  await jobArticle(ana, first).and(ana.locator('[data-state=done]')).waitFor({ timeout: 15_000 });
  const previews = Number(await jobArticle(ana, first).getAttribute('data-previews'));
  assert.ok(previews >= 2, `expected at least two preview updates, saw ${previews}`);
  const grid = jobArticle(ana, first).locator('img.image');
  assert.match((await grid.getAttribute('src'))!, new RegExp(`^/api/jobs/${first}/grid\\.png`));
  assert.ok(await grid.evaluate((img) => (img as unknown as { complete: boolean; naturalWidth: number }).complete && (img as unknown as { naturalWidth: number }).naturalWidth > 0), 'the grid image loaded');
  const labels = await jobArticle(ana, first).locator('.rows button').allTextContents();
  assert.deepEqual(labels, ['U1', 'U2', 'U3', 'U4', '🔄', 'V1', 'V2', 'V3', 'V4']);
  await ana.screenshot({ path: join(artifacts, 'playground-1-grid.png') });

  // 2. U2 and V1 start jobs exactly as on Discord, each with its own message and lineage.
  await jobArticle(ana, first).locator('button', { hasText: 'U2' }).click();
  const upscale = ana.locator('article[data-state=done]', { has: ana.locator('.tag', { hasText: `U2 of ${first}` }) });
  await upscale.waitFor({ timeout: 15_000 });
  assert.ok((await upscale.locator('.rows button').allTextContents()).includes('Vary (Strong)'));
  await jobArticle(ana, first).locator('button', { hasText: 'V1' }).click();
  const variation = ana.locator('article[data-state=done]', { has: ana.locator('.tag', { hasText: `V1 of ${first}` }) });
  await variation.waitFor({ timeout: 15_000 });
  assert.deepEqual(await variation.locator('.rows button').allTextContents(), labels, 'a variation is a new grid');
  await ana.screenshot({ path: join(artifacts, 'playground-2-u2-v1.png'), fullPage: true });

  // 3. Fairness: Ana queues three slow jobs in guild-a; Ben (another tab, guild-b) then queues one. Ben's starts next.
  const ben = await openTab('guild-b', 'Ben');
  // The engine is held so Ana's first job stays running while the rest queue up, whatever this machine's speed.
  app.engine.hold();
  for (const seed of [11, 12, 13]) await send(ana, `/imagine a lighthouse at dusk --steps 30 --seed ${seed}`);
  const anaJobs = await Promise.all([11, 12, 13].map((seed) => jobBySeed(ana, seed)));
  await ana.locator(`article[data-job="${anaJobs[2]}"][data-state=queued]`).waitFor();
  await send(ben, '/imagine a tiny boat --steps 20 --seed 5');
  const benJob = await jobBySeed(ben, 5);
  // Ben is next although Ana queued first: guilds take turns.
  await ben.locator(`article[data-job="${benJob}"] .status`, { hasText: 'next up' }).waitFor();
  app.engine.release();
  await ben.screenshot({ path: join(artifacts, 'playground-3-guild-b-queued.png') });
  await jobArticle(ben, benJob).and(ben.locator('[data-state=done]')).waitFor({ timeout: 20_000 });
  for (const id of anaJobs) await jobArticle(ana, id).and(ana.locator('[data-state=done]')).waitFor({ timeout: 20_000 });
  const started = async (id: string) => (await app.core.store.getJob(id))!.startedAt!;
  // Ana's three requests race each other to the server, so take her jobs in the order they ran: one of hers was
  // running when Ben asked, then Ben's went before her other two.
  const [a1, a2, a3] = (await Promise.all(anaJobs.map(started))).sort((x, y) => x - y);
  const b1 = await started(benJob);
  assert.ok(a1 < b1 && b1 < a2 && a2 < a3, `start order should be A B A A, got ${JSON.stringify({ a1, b1, a2, a3 })}`);
  assert.equal(await ben.locator(`article[data-job="${anaJobs[0]}"]`).count(), 0, 'guild-b does not see guild-a’s channel');
  await ana.screenshot({ path: join(artifacts, 'playground-4-guild-a.png') });
  await ben.screenshot({ path: join(artifacts, 'playground-4-guild-b.png') });

  // 4. Private answers stay in their tab.
  await ben.fill('#text', '/queue');
  await ben.press('#text', 'Enter');
  await ben.locator('article.ephemeral').waitFor();
  assert.equal(await ana.locator('article.ephemeral').count(), 0);
});
