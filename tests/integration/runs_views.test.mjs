// tests/integration/runs_views.test.mjs — what the Runs page and a run's
// view read and change about runs (issue 16): default names, PATCH of
// name / notes / tags / archived (and the feed telling everyone), the
// flattened spec for hyperparameter tables, one duration definition
// across stop and resume, a queued run's place in the queue, evaluating a
// checkpoint as its own action, events without metrics, metrics.json
// keeping milliseconds, and the login page's icon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import WebSocket from './node_modules/ws/index.js';
import { ROOT, startServer, submitRun, waitStatus, allEvents, waitFor, sleep, SPECS, writeWorkspaceFile } from './fixture.mjs';

const FAKE = join(ROOT, 'tests/integration/fake_worker.sh');
const fakeSpec = (mode) => `${SPECS.small}# fake: ${mode}\n`;
const CKPT_SPEC = `${SPECS.small}checkpoint: {every: 1, keep: 3}\n`;

function notebook(cells) {
	return {
		nbformat: 4, nbformat_minor: 5, metadata: {},
		cells: cells.map(([id, source]) => ({ cell_type: 'code', id, metadata: { trainbook: { kind: 'run' } }, source, outputs: [], execution_count: null })),
	};
}

test('a run cell\'s run is named after its notebook and what it trains, not the cell id', async (t) => {
	const h = await startServer(t, { env: { TRAINBOOK_WORKER_CMD: FAKE } });
	writeWorkspaceFile(h, 'lab/fashion-mnist.ipynb', JSON.stringify(notebook([
		['k3j9x0ab', 'data: {dataset: fashion-mnist, batch_size: 64}\nmodel: cnn\ntrain: {epochs: 1}\n'],
		['q1w2e3r4', '# 784 → 32 → 10, a comment with arrows\ndata: {dataset: fashion-mnist}\nmodel: [flatten, {linear: 32}, relu, {linear: 10}]\ntrain: {epochs: 1}\n'],
	])));
	const a = await h.api('POST', 'api/runs', { notebook: 'lab/fashion-mnist.ipynb', cell: 'k3j9x0ab' });
	const b = await h.api('POST', 'api/runs', { notebook: 'lab/fashion-mnist.ipynb', cell: 'q1w2e3r4' });
	assert.equal(a.run.name, 'fashion-mnist · cnn');
	assert.equal(b.run.name, 'fashion-mnist · mlp');
	// the layer list as written, whatever came before it in the spec (libyaml counts characters, not bytes)
	const hp = (await h.api('GET', 'api/runs?hparams=1')).runs.find((r) => r.id === b.run.id).hparams;
	assert.equal(hp.model, '[flatten, {linear: 32}, relu, {linear: 10}]');
	const c = await h.api('POST', 'api/runs', { spec: SPECS.small });
	assert.equal(c.run.name, 'synthetic · mlp');
	const d = await h.api('POST', 'api/runs', { spec: SPECS.small, name: 'my baseline' });
	assert.equal(d.run.name, 'my baseline');
	// A cell's runs, newest first (the notebook lists a cell's earlier runs).
	const cellRuns = await h.api('GET', 'api/runs?notebook=lab%2Ffashion-mnist.ipynb&cell=k3j9x0ab');
	assert.deepEqual(cellRuns.runs.map((r) => r.id), [a.run.id]);
});

test('PATCH renames, annotates, tags and archives a run; the feed tells every page', async (t) => {
	const h = await startServer(t, { env: { TRAINBOOK_WORKER_CMD: FAKE } });
	const id = await submitRun(h, fakeSpec('done'));
	await waitStatus(h, id, 'completed');
	const ws = new WebSocket(`ws://127.0.0.1:${h.port}/ws`, { headers: { Authorization: 'token ' + h.token } });
	await new Promise((res, rej) => { ws.on('open', res); ws.on('error', rej); });
	t.after(() => ws.close());
	const seen = [];
	ws.on('message', (m) => {
		const msg = JSON.parse(m.toString());
		if (msg.type === 'run' && msg.run.id === id) seen.push(msg.run);
	});
	ws.send(JSON.stringify({ type: 'subscribe_runs' }));
	await sleep(200);
	const r = await h.api('PATCH', `api/runs/${id}`, { name: 'lr 3e-4 baseline', notes: 'first try\nwith warm-up', tags: ['baseline', 'adam', 'baseline'] });
	assert.equal(r.run.name, 'lr 3e-4 baseline');
	assert.equal(r.run.notes, 'first try\nwith warm-up');
	assert.deepEqual(r.run.tags, ['baseline', 'adam']);
	assert.equal(r.run.archived, false);
	await waitFor(() => seen.some((s) => s.name === 'lr 3e-4 baseline' && s.tags.length === 2), { what: 'the rename on the feed' });
	const arch = await h.api('PATCH', `api/runs/${id}`, { archived: true, notes: '' });
	assert.equal(arch.run.archived, true);
	assert.equal(arch.run.notes, null);
	assert.equal(arch.run.name, 'lr 3e-4 baseline');
	const list = await h.api('GET', 'api/runs');
	assert.equal(list.runs[0].archived, true);
	assert.deepEqual(list.runs[0].tags, ['baseline', 'adam']);
	for (const [body, why] of [
		[{}, /one of name/], [{ name: '' }, /name/], [{ name: 'a\u0001b' }, /name/], [{ name: 'x'.repeat(201) }, /name/],
		[{ tags: 'a' }, /tags/], [{ tags: [''] }, /tag/], [{ tags: Array.from({ length: 33 }, (_, i) => 't' + i) }, /tags/],
		[{ archived: 'yes' }, /archived/], [{ owner: 'eve' }, /unknown field "owner"/], [{ notes: 'x'.repeat(70000) }, /notes|too_large/],
	]) {
		const bad = await h.req('PATCH', `api/runs/${id}`, { json: body });
		assert.ok(bad.status === 400 || bad.status === 413, `${JSON.stringify(body).slice(0, 40)}: HTTP ${bad.status}`);
		assert.match(bad.json.message + bad.json.error, why);
	}
	const missing = await h.req('PATCH', 'api/runs/r999', { json: { name: 'x' } });
	assert.equal(missing.status, 404);
	// Nothing of the refused requests stuck.
	assert.equal((await h.api('GET', `api/runs/${id}`)).run.name, 'lr 3e-4 baseline');
});

test('run lists carry the flattened spec on request, for hyperparameter tables', async (t) => {
	const h = await startServer(t, { env: { TRAINBOOK_WORKER_CMD: FAKE } });
	await submitRun(h, SPECS.small + 'optimizer: {name: adam, lr: 3.0e-4}\n');
	const plain = await h.api('GET', 'api/runs');
	assert.equal(plain.runs[0].hparams, undefined);
	assert.equal(plain.runs[0].spec, undefined);
	const withH = await h.api('GET', 'api/runs?hparams=1');
	const hp = withH.runs[0].hparams;
	assert.equal(hp['optimizer.lr'], 3e-4);
	assert.equal(hp['data.batch_size'], 32);
	assert.equal(hp['train.epochs'], 2);
	assert.equal(hp.model, '[flatten, {linear: 16}, relu, {linear: 4}]');
	assert.equal(withH.runs[0].spec, undefined);
	assert.equal((await h.req('GET', 'api/runs?hparams=2')).status, 400);
});

test('a run\'s duration is the sum of its running segments, the same in every answer', async (t) => {
	const h = await startServer(t, { env: { TRAINBOOK_WORKER_CMD: FAKE, FAKE_STEPS: '8' }, args: ['--cpu-runs', '1'] });
	const id = await submitRun(h, fakeSpec('sleep'));
	await waitStatus(h, id, 'running');
	await sleep(700);
	await h.api('POST', `api/runs/${id}/stop`);
	const stopped = await waitStatus(h, id, 'stopped');
	const first = stopped.seconds;
	assert.ok(first > 0.4 && first < 5, `first segment ${first} s`);
	await sleep(2500); // stopped: this must not count
	const again = (await h.api('GET', `api/runs/${id}`)).run.seconds;
	assert.equal(again, first);
	await h.api('POST', `api/runs/${id}/resume`);
	const done = await waitStatus(h, id, 'completed', 30000);
	// Two segments of ~1.6 s of work each, not the 2.5 s in between.
	assert.ok(done.seconds > first + 1, `total ${done.seconds} s after a first segment of ${first} s`);
	assert.ok(done.seconds < done.ended - done.started - 1.5, `total ${done.seconds} s counts the stopped time (${done.ended - done.started} s wall)`);
	const listed = (await h.api('GET', 'api/runs')).runs.find((r) => r.id === id);
	assert.equal(listed.seconds, done.seconds);
});

test('a queued run says how many runs are ahead of it', async (t) => {
	const h = await startServer(t, { env: { TRAINBOOK_WORKER_CMD: FAKE, FAKE_STEPS: '50' }, args: ['--cpu-runs', '1'] });
	const a = await submitRun(h, fakeSpec('sleep'));
	await waitStatus(h, a, 'running');
	const b = await submitRun(h, fakeSpec('sleep'));
	const c = await submitRun(h, fakeSpec('sleep'));
	// The scheduler's pass places them (queue.position; queue_ahead is one less).
	const rc = await waitFor(async () => {
		const r = (await h.api('GET', `api/runs/${c}`)).run;
		return r.queue_ahead !== null ? r : false;
	}, { what: `${c} placed in the queue` });
	const rb = (await h.api('GET', `api/runs/${b}`)).run;
	assert.equal(rb.status, 'queued');
	assert.equal(rb.queue_ahead, 0);
	assert.equal(rc.queue_ahead, 1);
	assert.equal(rc.queue.position, 2);
	assert.equal((await h.api('GET', `api/runs/${a}`)).run.queue_ahead, null);
	await h.api('POST', `api/runs/${b}/stop`);
	await waitFor(async () => (await h.api('GET', `api/runs/${c}`)).run.queue_ahead === 0, { what: 'r3 to move up' });
	await h.api('POST', `api/runs/${a}/stop`);
	await h.api('POST', `api/runs/${c}/stop`);
});

test('Evaluate is its own action: the checkpoint is scored, the training summary and status stay', async (t) => {
	const h = await startServer(t, { args: ['--cpu-runs', '1'] });
	const id = await submitRun(h, CKPT_SPEC);
	const done = await waitStatus(h, id, 'completed', 120000);
	const before = await allEvents(h, id);
	const summaries = before.filter((e) => e.event.type === 'summary');
	assert.equal(summaries.length, 1);
	const { checkpoints } = await h.api('GET', `api/runs/${id}/checkpoints`);
	const first = checkpoints.find((c) => c.file.startsWith('step-'));
	assert.ok(first, JSON.stringify(checkpoints));
	const bad = await h.req('POST', `api/runs/${id}/evaluate`, { json: { checkpoint: 'nope.safetensors' } });
	assert.equal(bad.status, 404);
	const r = await h.req('POST', `api/runs/${id}/evaluate`, { json: { checkpoint: first.file } });
	assert.equal(r.status, 202, r.text);
	const evaluated = await waitFor(async () => {
		const evs = await allEvents(h, id);
		const last = evs[evs.length - 1].event;
		return last.type === 'status' && last.evaluation ? evs : null;
	}, { timeout: 120000, what: 'the evaluation to end' });
	const after = evaluated.slice(before.length);
	const ev = after.find((e) => e.event.type === 'evaluation');
	assert.ok(ev, 'no evaluation event');
	assert.equal(ev.event.checkpoint, first.file);
	assert.equal(ev.event.step, first.step);
	const metric = after.find((e) => e.event.type === 'metric');
	assert.equal(metric.event.split, 'test');
	assert.equal(metric.event.checkpoint, first.file);
	assert.ok(after.some((e) => e.event.type === 'phase' && e.event.phase === 'evaluating'), 'no evaluating phase event');
	assert.equal(after.filter((e) => e.event.type === 'summary').length, 0, 'the evaluation wrote a summary over the training\'s');
	const end = after[after.length - 1].event;
	assert.equal(end.status, 'completed');
	assert.equal(end.evaluation, 'completed');
	const run = (await h.api('GET', `api/runs/${id}`)).run;
	assert.equal(run.status, 'completed');
	assert.deepEqual(run.best, done.best);
	// A stopped run stays stopped, with its reason, after an evaluation.
	const id2 = await submitRun(h, SPECS.long);
	await waitFor(async () => (await h.api('GET', `api/runs/${id2}/checkpoints`)).checkpoints.length > 0, { timeout: 120000, what: 'a checkpoint' });
	await h.api('POST', `api/runs/${id2}/stop`);
	const stopped = await waitStatus(h, id2, 'stopped', 60000);
	const e2 = await h.req('POST', `api/runs/${id2}/evaluate`, { json: {} });
	assert.equal(e2.status, 202, e2.text);
	await waitFor(async () => {
		const evs = await allEvents(h, id2);
		return evs[evs.length - 1].event.evaluation ? evs : null;
	}, { timeout: 120000, what: 'the second evaluation to end' });
	const run2 = (await h.api('GET', `api/runs/${id2}`)).run;
	assert.equal(run2.status, 'stopped');
	assert.equal(run2.reason, stopped.reason);
	// While a run runs it cannot be evaluated.
	const id3 = await submitRun(h, SPECS.long);
	await waitStatus(h, id3, 'running', 60000);
	assert.equal((await h.req('POST', `api/runs/${id3}/evaluate`)).status, 409);
	await h.api('POST', `api/runs/${id3}/stop`);
});

test('events can be read without the metrics (a view reads curves as series)', async (t) => {
	const h = await startServer(t, { env: { TRAINBOOK_WORKER_CMD: FAKE, FIREHOSE_EVENTS: '3000' }, args: ['--cpu-runs', '1'] });
	const id = await submitRun(h, fakeSpec('firehose'));
	await waitStatus(h, id, 'completed');
	const all = await allEvents(h, id);
	const others = all.filter((e) => e.event.type !== 'metric');
	const r = await h.api('GET', `api/runs/${id}/events?since=0&limit=5000&exclude=metric`);
	assert.deepEqual(r.events.map((e) => e.seq), others.map((e) => e.seq));
	assert.equal(r.last_seq, all[all.length - 1].seq);
	assert.equal((await h.req('GET', `api/runs/${id}/events?exclude=log`)).status, 400);
});

test('metrics.json keeps the milliseconds of each time, as the CSV and the feed do (newcomer bug 5)', async (t) => {
	const h = await startServer(t, { env: { TRAINBOOK_WORKER_CMD: FAKE, FIREHOSE_EVENTS: '200' }, args: ['--cpu-runs', '1'] });
	const id = await submitRun(h, fakeSpec('firehose'));
	await waitStatus(h, id, 'completed');
	const json = await h.api('GET', `api/runs/${id}/metrics.json`);
	const train = json.metrics.filter((m) => m.split === 'train');
	assert.ok(train.length > 0);
	for (const m of train) assert.equal(m.time, 1780000000.123);
	const csv = await h.req('GET', `api/runs/${id}/metrics.csv`);
	assert.ok(csv.text.split('\n')[1].includes('1780000000.123'), csv.text.split('\n')[1]);
});

test('the login page has the favicon, served without the token', async (t) => {
	const h = await startServer(t);
	const page = await h.req('GET', '', { token: false });
	assert.equal(page.status, 200);
	assert.match(page.text, /<link rel="icon" href="favicon.svg" type="image\/svg\+xml">/);
	const icon = await h.req('GET', 'favicon.svg', { token: false });
	assert.equal(icon.status, 200);
	assert.match(icon.headers.get('content-type'), /image\/svg\+xml/);
});
