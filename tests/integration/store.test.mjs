// tests/integration/store.test.mjs — what a long-running server writes to
// disk: metric floods thinned but never a status or evaluation lost, a WAL
// that stays small, a full disk that ends runs cleanly (no ghost runs) and
// recovers, and run listings without specs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
	ROOT, startServer, submitRun, waitStatus, allEvents, assertGapless, waitFor, tempDir, sleep, SPECS,
} from './fixture.mjs';

const FAKE = join(ROOT, 'tests/integration/fake_worker.sh');
const fakeSpec = (mode) => `${SPECS.small}# fake: ${mode}\n`;

test('a metric flood is thinned: last value, min/max and every evaluation kept', async (t) => {
	const h = await startServer(t, {
		env: { TRAINBOOK_WORKER_CMD: FAKE, FIREHOSE_EVENTS: '20000' }, args: ['--cpu-runs', '1'],
	});
	const id = await submitRun(h, fakeSpec('firehose'));
	await waitStatus(h, id, 'completed');
	const events = await allEvents(h, id);
	assertGapless(events);
	const train = events.filter((e) => e.event.type === 'metric' && e.event.split === 'train');
	const test_ = events.filter((e) => e.event.type === 'metric' && e.event.split === 'test');
	// 20,000 train metrics arrive in well under a second; far fewer are stored.
	assert.ok(train.length < 5000, `${train.length} train metric events stored of 20000`);
	// Every evaluation is kept, in order, none folded.
	assert.deepEqual(test_.map((e) => e.event.step), Array.from({ length: 20 }, (_, i) => (i + 1) * 1000));
	assert.ok(test_.every((e) => !e.event.thinned));
	// Each stored train event stands for itself or for the folded ones: none vanish.
	const covered = train.reduce((n, e) => n + (e.event.thinned ? e.event.thinned.events : 1), 0);
	assert.equal(covered, 20000);
	// The last point is kept, and a folded event carries its window's extremes (loss = step).
	assert.equal(train[train.length - 1].event.step, 20000);
	const folded = train.filter((e) => e.event.thinned);
	assert.ok(folded.length > 0, 'some events were folded');
	for (const e of folded) {
		const th = e.event.thinned;
		assert.equal(th.max.loss, e.event.step);
		assert.equal(th.min.loss, th.from_step);
		assert.equal(e.event.step - th.from_step + 1, th.events);
		assert.equal(e.event.time, 1780000000.123); // milliseconds survive re-serialisation
	}
	// Steps of stored train events increase: folding kept the order.
	for (let i = 1; i < train.length; i++) assert.ok(train[i].event.step > train[i - 1].event.step);
	// The run ends with its status after everything else.
	assert.equal(events[events.length - 1].event.status, 'completed');
});

test('the WAL stays small while a run floods the store', async (t) => {
	// Log events are never thinned: 6,000 of 8 KB each are ~48 MB of rows.
	const h = await startServer(t, {
		env: { TRAINBOOK_WORKER_CMD: FAKE, FLOOD_EVENTS: '6000', FLOOD_DELAY: '0' }, args: ['--cpu-runs', '1'],
	});
	const wal = join(h.workspace, '.trainbook/trainbook.db-wal');
	const id = await submitRun(h, fakeSpec('flood'));
	let peak = 0;
	await waitFor(async () => {
		if (existsSync(wal)) peak = Math.max(peak, statSync(wal).size);
		const r = await h.api('GET', `api/runs/${id}`);
		return r.run.status === 'completed';
	}, { interval: 20, timeout: 60000, what: 'the flood run to complete' });
	const events = await allEvents(h, id);
	assertGapless(events);
	assert.equal(events.filter((e) => e.event.type === 'log').length, 6000);
	// One answer stops at ~4 MiB however large the limit; the client pages on.
	const page = await h.req('GET', `api/runs/${id}/events?since=0&limit=10000`);
	assert.ok(page.text.length <= (4 << 20) + 16384, `one page of events is ${page.text.length} bytes`);
	assert.ok(page.json.events.length > 100 && page.json.events.length < 6000);
	// STORE_WAL_LIMIT is 8 MiB; a checkpoint may lag one interval behind.
	assert.ok(peak <= 32 << 20, `the WAL reached ${(peak / 1048576).toFixed(1)} MiB`);
	await waitFor(() => !existsSync(wal) || statSync(wal).size <= 8 << 20, { what: 'the WAL to shrink to 8 MiB' });
});

test('a run recorded as running with no worker behind it can be stopped and resumed (no ghost)', async (t) => {
	const h = await startServer(t, { env: { TRAINBOOK_WORKER_CMD: FAKE } });
	const id = await submitRun(h, fakeSpec('done'));
	await waitStatus(h, id, 'completed');
	// What a lost final status leaves behind: the row says running, no worker runs it.
	const db = join(h.workspace, '.trainbook/trainbook.db');
	execFileSync('sqlite3', [db, `PRAGMA busy_timeout=5000; UPDATE runs SET status='running' WHERE id=${id.slice(1)}`]);
	const stop = await h.req('POST', `api/runs/${id}/stop`);
	assert.equal(stop.status, 202, stop.text);
	const run = await waitStatus(h, id, 'stopped');
	assert.match(run.reason, /lost its worker/);
	const resume = await h.req('POST', `api/runs/${id}/resume`);
	assert.equal(resume.status, 201, resume.text);
	await waitStatus(h, id, 'completed');
});

// ---- a full disk ---------------------------------------------------------------

/* A tmpfs of `mib` MiB, unmounted when the case ends. Needs root (CI runs as root). */
function tmpfs(t, mib) {
	if (process.getuid() !== 0) throw new Error('the disk-full cases mount a tmpfs and must run as root');
	const dir = mkdtempSync(join(tmpdir(), 'tb-tmpfs-'));
	execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m`, 'tmpfs', dir]);
	t.after(() => {
		try {
			execFileSync('umount', ['-l', dir]);
			rmSync(dir, { recursive: true, force: true });
		} catch { /* already gone */ }
	});
	return dir;
}

test('a full disk ends the run failed with the reason, keeps its events, and the server recovers', async (t) => {
	const disk = tmpfs(t, 24);
	const ws = join(disk, 'ws');
	mkdirSync(ws);
	const h = await startServer(t, {
		workspace: ws,
		env: { TRAINBOOK_WORKER_CMD: FAKE, FLOOD_EVENTS: '100000', FLOOD_DELAY: '0' },
		args: ['--cpu-runs', '1'],
	});
	// Leave ~6 MiB free besides the server's reserve.
	const filler = join(disk, 'filler');
	const free = () => Number(execFileSync('df', ['--output=avail', '-B1', disk]).toString().split('\n')[1]);
	writeFileSync(filler, Buffer.alloc(Math.max(0, free() - (6 << 20))));

	const id = await submitRun(h, fakeSpec('flood'));
	const run = await waitStatus(h, id, ['failed', 'completed'], 60000);
	assert.equal(run.status, 'failed');
	assert.match(run.reason, /disk full/);
	// Every event it acknowledged is there, gapless, ending with the failure.
	const events = await allEvents(h, id);
	assertGapless(events);
	assert.ok(events.length > 10, `${events.length} events kept`);
	assert.equal(events[events.length - 1].event.status, 'failed');
	// Nothing is left running, and the API answers.
	const status = await h.api('GET', 'api/status');
	assert.equal(JSON.stringify(status).includes('"running":1'), false);
	// New runs are refused while the disk is full: 507 with a JSON error.
	const refused = await h.req('POST', 'api/runs', { json: { spec: SPECS.small } });
	assert.equal(refused.status, 507);
	assert.equal(refused.json.error, 'disk_full');
	// The condition is logged a few times, not once per event.
	const lines = h.log().split('\n').filter((l) => /disk|cannot write|rollback/i.test(l));
	assert.ok(lines.length <= 6, `${lines.length} log lines about the disk:\n${lines.slice(0, 8).join('\n')}`);

	// Space returns: the server takes runs again.
	unlinkSync(filler);
	const next = await waitFor(async () => {
		const r = await h.req('POST', 'api/runs', { json: { spec: fakeSpec('done') } });
		return r.status === 201 ? r.json.run.id : false;
	}, { timeout: 20000, what: 'the server to accept runs again' });
	await waitStatus(h, next, 'completed');
	// The database is intact.
	const check = execFileSync('sqlite3', [join(ws, '.trainbook/trainbook.db'), 'PRAGMA quick_check']).toString().trim();
	assert.equal(check, 'ok');
});

// ---- listings carry summaries, not specs ------------------------------------------

test('run lists and run messages carry a summary without the spec; pages with ?limit=&before=', async (t) => {
	const { default: WebSocket } = await import('ws');
	const h = await startServer(t, { env: { TRAINBOOK_WORKER_CMD: FAKE }, args: ['--cpu-runs', '4'] });
	// A spec of ~600 KB: a comment pads it (comments are kept in the stored spec).
	const big = `${fakeSpec('done')}optimizer: {name: sgd, lr: 0.05}\n# ${'x'.repeat(600000)}\n`;
	const ws = new WebSocket(`ws://127.0.0.1:${h.port}/ws`, { headers: { Authorization: 'token ' + h.token } });
	const runMsgs = [];
	await new Promise((res, rej) => {
		ws.on('open', res);
		ws.on('error', rej);
	});
	ws.on('message', (m) => {
		const msg = JSON.parse(m.toString());
		if (msg.type === 'run') runMsgs.push({ msg, bytes: m.length });
	});
	ws.send(JSON.stringify({ type: 'subscribe_runs' }));
	t.after(() => ws.close());
	const ids = [];
	for (let i = 0; i < 5; i++) ids.push(await submitRun(h, big));
	for (const id of ids) await waitStatus(h, id, 'completed');

	const list = await h.req('GET', 'api/runs');
	assert.equal(list.status, 200);
	assert.ok(list.text.length < 20000, `the list of 5 runs is ${list.text.length} bytes`);
	assert.equal(list.json.runs.length, 5);
	for (const r of list.json.runs) {
		assert.equal(r.spec, undefined);
		assert.equal(r.params['optimizer.lr'], 0.05);
		assert.equal(r.params['optimizer.name'], 'sgd');
		assert.equal(r.params['data.dataset'], 'synthetic');
		assert.equal(r.status, 'completed');
	}
	assert.equal(list.json.next, null);
	// The spec comes from the run itself.
	const one = await h.api('GET', `api/runs/${ids[0]}`);
	assert.equal(one.run.spec, big);
	// Pages: newest first, `next` leads to the rest, nothing twice.
	const p1 = await h.api('GET', 'api/runs?limit=2');
	assert.deepEqual(p1.runs.map((r) => r.id), [ids[4], ids[3]]);
	assert.equal(p1.next, ids[3]);
	const p2 = await h.api('GET', `api/runs?limit=2&before=${p1.next}`);
	assert.deepEqual(p2.runs.map((r) => r.id), [ids[2], ids[1]]);
	const p3 = await h.api('GET', `api/runs?limit=2&before=${p2.next}`);
	assert.deepEqual(p3.runs.map((r) => r.id), [ids[0]]);
	assert.equal(p3.next, null);
	assert.equal((await h.req('GET', 'api/runs?before=12')).status, 400);
	// The feed's run messages are summaries too.
	await waitFor(() => runMsgs.length >= 10, { what: 'run messages on the feed' });
	for (const { msg, bytes } of runMsgs) {
		assert.equal(msg.run.spec, undefined);
		assert.ok(bytes < 4096, `a run message of ${bytes} bytes`);
	}
});

test('a metrics export of more rows than a page streams every row once, in order', async (t) => {
	const h = await startServer(t, {
		env: { TRAINBOOK_WORKER_CMD: FAKE, FIREHOSE_EVENTS: '3000' }, args: ['--cpu-runs', '1'],
	});
	const id = await submitRun(h, fakeSpec('firehose'));
	await waitStatus(h, id, 'completed');
	const events = await allEvents(h, id);
	const metrics = events.filter((e) => e.event.type === 'metric');
	const csv = await h.req('GET', `api/runs/${id}/metrics.csv`);
	assert.equal(csv.status, 200);
	const lines = csv.text.trim().split('\n');
	assert.equal(lines[0], 'step,epoch,split,time,loss');
	assert.equal(lines.length, metrics.length + 1);
	const json = await h.api('GET', `api/runs/${id}/metrics.json`);
	assert.equal(json.metrics.length, metrics.length);
	assert.deepEqual(json.metrics.map((m) => m.step), metrics.map((e) => e.event.step));
});
