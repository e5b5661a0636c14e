// The playground over HTTP and SSE with the real core and engine (tiny fixture model), and the operations endpoints.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openStream, post, startPlayground, tab } from './helpers.ts';

let app: Awaited<ReturnType<typeof startPlayground>>;
before(async () => {
  app = await startPlayground();
});
after(() => app.close());

const PNG = [0x89, 0x50, 0x4e, 0x47];

test('/imagine streams queued → running with previews → done with the grid and Discord buttons; PNGs from the store', async () => {
  const me = tab(1);
  const stream = await openStream(app.url, me.tabId, me.guildId);
  try {
    const hello = await stream.next((e) => e.event === 'hello');
    assert.equal((hello.data.model as { name: string }).name, 'tiny-sd');
    const response = await post(app.url, { ...me, text: '/imagine a red fox --steps 150 --seed 7' });
    assert.equal(response.status, 202);
    assert.deepEqual(await response.json(), { ok: true, ephemeral: false });
    const first = await stream.next((e) => e.event === 'message');
    assert.equal(first.data.title, 'a red fox');
    assert.match(String(first.data.flags), /--seed 7 .*--steps 150/);
    const preview = await stream.next((e) => e.event === 'message' && e.data.state === 'running' && e.data.image !== undefined);
    assert.match((preview.data.image as { src: string }).src, /^data:image\/png;base64,iVBORw0KGgo/);
    const done = await stream.next((e) => e.event === 'message' && e.data.state === 'done');
    assert.equal(done.data.id, first.data.id, 'the same message is updated');
    const labels = (done.data.buttons as { label: string }[][]).map((row) => row.map((b) => b.label));
    assert.deepEqual(labels, [['U1', 'U2', 'U3', 'U4', '🔄'], ['V1', 'V2', 'V3', 'V4']]);
    const jobId = String(done.data.jobId);
    const grid = await fetch(`${app.url}/api/jobs/${jobId}/grid.png`);
    assert.equal(grid.headers.get('content-type'), 'image/png');
    const bytes = new Uint8Array(await grid.arrayBuffer());
    assert.deepEqual([...bytes.slice(0, 4)], PNG);
    assert.equal(new DataView(bytes.buffer).getUint32(16), 128, 'a 2×2 grid of 64×64 images is 128 wide');
    const single = new Uint8Array(await (await fetch(`${app.url}/api/jobs/${jobId}/images/3.png`)).arrayBuffer());
    assert.equal(new DataView(single.buffer).getUint32(16), 64);

    // U2 starts an upscale exactly as on Discord: a new message with its own lineage and the upscale buttons.
    const u2 = (done.data.buttons as { id: string; label: string }[][])[0][1];
    assert.equal((await post(app.url, { ...me, button: u2.id })).status, 202);
    const up = await stream.next((e) => e.event === 'message' && e.data.state === 'done' && e.data.jobId !== jobId);
    assert.deepEqual(up.data.parent, { jobId, action: 'U2' });
    const upLabels = (up.data.buttons as { label: string }[][]).flat().map((b) => b.label);
    for (const label of ['Vary (Strong)', 'Vary (Subtle)', 'Upscale 2×']) assert.ok(upLabels.includes(label), `${label} in ${upLabels.join(', ')}`);
    const upscaled = new Uint8Array(await (await fetch(`${app.url}/api/jobs/${up.data.jobId}/grid.png`)).arrayBuffer());
    assert.equal(new DataView(upscaled.buffer).getUint32(16), 128, 'U2 is image 2 at 2×');
  } finally {
    stream.close();
  }
});

test('ephemeral answers reach only the tab that asked; public job messages reach the whole guild and no other', async () => {
  const [a, b, c] = [tab(11, 'guild-x'), tab(12, 'guild-x'), tab(13, 'guild-y')];
  const streams = await Promise.all([a, b, c].map((t) => openStream(app.url, t.tabId, t.guildId)));
  try {
    await Promise.all(streams.map((s) => s.next((e) => e.event === 'hello')));
    assert.equal((await post(app.url, { ...a, text: '/help' })).status, 202);
    const help = await streams[0].next((e) => e.event === 'ephemeral');
    assert.match(String(help.data.text), /imagine/);
    assert.equal((await post(app.url, { ...b, text: '/imagine a tiny boat --steps 2' })).status, 202);
    for (const s of streams.slice(0, 2)) await s.next((e) => e.event === 'message' && e.data.state === 'done');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(streams[1].events.filter((e) => e.event === 'ephemeral').length, 0, 'b never saw a’s /help');
    assert.equal(streams[2].events.filter((e) => e.event !== 'hello').length, 0, 'guild-y saw nothing of guild-x');
    // A tab opened later sees the channel's latest state.
    const late = await openStream(app.url, 'tab-late-xxxxxxx', 'guild-x');
    const hello = await late.next((e) => e.event === 'hello');
    late.close();
    assert.ok((hello.data.history as { state: string; title: string }[]).some((m) => m.state === 'done' && m.title === 'a tiny boat'));
  } finally {
    streams.forEach((s) => s.close());
  }
});

test('bad requests get 400 with a clear JSON error; nothing reaches the core', async () => {
  const me = tab(21);
  const bad = async (res: Response | Promise<Response>, pattern: RegExp) => {
    const r = await res;
    assert.equal(r.status, 400);
    const body = (await r.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'web_bad_request');
    assert.match(body.error.message, pattern);
  };
  await bad(fetch(`${app.url}/api/input`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{nope' }), /not valid JSON/);
  await bad(fetch(`${app.url}/api/input`, { method: 'POST', body: 'x' }), /content-type: application\/json/);
  await bad(post(app.url, { ...me, userId: 'x' }), /expected `userId` to be 8 to 64/);
  await bad(post(app.url, { ...me, text: '/draw a fox' }), /Unknown command `\/draw`/);
  await bad(fetch(`${app.url}/api/jobs/..%2F..%2Fetc/grid.png`), /is not a job id/);
  await bad(fetch(`${app.url}/api/jobs/k3f9qz/images/9.png`), /image number must be 1 to 4/);
  await bad(fetch(`${app.url}/api/events?tab=short&guild=g`), /`tab` must be 8 to 64/);
  const missing = await fetch(`${app.url}/api/jobs/zzzzzz/grid.png`);
  assert.equal(missing.status, 404);
  assert.match(((await missing.json()) as { error: { message: string } }).error.message, /no finished grid/);
  // A forged button id is the core's to refuse: acknowledged, then an ephemeral error to that tab only.
  const stream = await openStream(app.url, me.tabId, me.guildId);
  try {
    assert.equal((await post(app.url, { ...me, button: 'ib:k3f9qz:zz' })).status, 202);
    const answer = await stream.next((e) => e.event === 'ephemeral');
    assert.equal(answer.data.tone, 'error');
  } finally {
    stream.close();
  }
});

test('/healthz reports the loaded model and connected platforms; /metrics has the job figures', async () => {
  const health = await fetch(`${app.url}/healthz`);
  assert.equal(health.status, 200);
  const report = (await health.json()) as { status: string; engine: { loaded: boolean; model: string }; platforms: Record<string, { state: string }> };
  assert.equal(report.status, 'ok');
  assert.deepEqual(report.engine, { loaded: true, model: 'tiny-sd', device: 'cpu', size: '64x64' });
  assert.deepEqual(report.platforms, { web: { state: 'connected' } });
  const metrics = await fetch(`${app.url}/metrics`);
  assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await metrics.text();
  const done = /^imagine_jobs_total\{platform="web",status="done"\} (\d+)$/m.exec(text);
  assert.ok(done && Number(done[1]) >= 1, 'finished playground jobs are counted');
  const acks = /^imagine_ack_latency_seconds_count\{platform="web"\} (\d+)$/m.exec(text);
  assert.ok(acks && Number(acks[1]) >= 3, 'every accepted input records its acknowledgement');
  assert.match(text, /^imagine_step_duration_seconds_count [1-9]\d*$/m);
  app.health.platform('discord', 'failed', 'invalid token');
  assert.equal((await fetch(`${app.url}/healthz`)).status, 503);
  app.health.platform('discord', 'connected');
});

test('settings (admin toggle for the guild), queue and cancel work from the playground as on Discord', async () => {
  const [member, admin] = [tab(41, 'guild-s'), { ...tab(42, 'guild-s'), admin: true }];
  const streams = await Promise.all([member, admin].map((t) => openStream(app.url, t.tabId, t.guildId)));
  const answer = async (i: number, body: object) => {
    assert.equal((await post(app.url, body)).status, 202);
    return (await streams[i].next((e) => e.event === 'ephemeral')).data as { text: string; tone: string; fields?: { name: string; value: string }[] };
  };
  try {
    const refused = await answer(0, { ...member, text: '/settings scope:guild steps:7' });
    assert.equal(refused.tone, 'error');
    assert.match(refused.text, /Only server admins/);
    const saved = await answer(1, { ...admin, text: '/settings scope:guild steps:7' });
    assert.match(saved.text, /^Saved\. The server/);
    assert.deepEqual(saved.fields?.find((f) => f.name === 'steps'), { name: 'steps', value: '7' });
    // The guild default applies to the member's next job.
    await post(app.url, { ...member, text: '/imagine guild default steps --seed 4' });
    const done = await streams[0].next((e) => e.event === 'message' && e.data.state === 'done');
    assert.match(String(done.data.flags), /--steps 7 /);

    // A long job: the admin cancels the member's job; the member cannot cancel the admin's.
    await post(app.url, { ...member, text: '/imagine long one --steps 150' });
    const running = await streams[0].next((e) => e.event === 'message' && e.data.title === 'long one' && e.data.state === 'running');
    const queue = await answer(0, { ...member, text: '/queue' });
    assert.match(queue.text + JSON.stringify(queue.fields ?? []), new RegExp(String(running.data.jobId)));
    const strangers = await answer(0, { ...member, userId: 'someone-else-xx', text: `/cancel ${running.data.jobId}` });
    assert.equal(strangers.tone, 'error');
    await answer(1, { ...admin, text: `/cancel ${running.data.jobId}` });
    const cancelled = await streams[0].next((e) => e.event === 'message' && e.data.jobId === running.data.jobId && e.data.state === 'cancelled');
    assert.match(String(cancelled.data.status), /Cancelled by an admin/);
  } finally {
    streams.forEach((s) => s.close());
  }
});
