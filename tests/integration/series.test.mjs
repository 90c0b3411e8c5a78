// tests/integration/series.test.mjs — GET /api/runs/<id>/series: a metric
// downsampled for drawing (issue 16, "curves that scale"). Min/max per
// bucket honour the server's folded windows ("thinned"), the extremes and
// the last point are never lost, a narrow range comes back at full
// resolution, summaries built when the store is opened equal the ones
// kept live, and bad queries are refused before anything is read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, startServer, submitRun, waitStatus, allEvents, SPECS } from './fixture.mjs';

const FAKE = join(ROOT, 'tests/integration/fake_worker.sh');
const firehose = `${SPECS.small}# fake: firehose\n`;
const N = 20000; // the fake worker's loss is its step, 1..N; a test loss of -step every 1000 steps

async function firehoseRun(t, opts = {}) {
	const h = await startServer(t, { env: { TRAINBOOK_WORKER_CMD: FAKE, FIREHOSE_EVENTS: String(N) }, args: ['--cpu-runs', '1'], ...opts });
	const id = await submitRun(h, firehose);
	await waitStatus(h, id, 'completed');
	return { h, id };
}

const series = (h, id, q) => h.api('GET', `api/runs/${id}/series?${q}`);

test('a downsampled series keeps every extreme, the last point and the count of raw points', async (t) => {
	const { h, id } = await firehoseRun(t);
	const s = await series(h, id, 'metric=loss&split=train&points=100');
	assert.ok(s.steps.length <= 100 && s.steps.length >= 20, `${s.steps.length} buckets`);
	assert.equal(s.exact, false);
	assert.equal(s.from, 1);
	assert.equal(s.to, N);
	// Every raw point is accounted for, including the ones the server folded.
	assert.equal(s.counts.reduce((a, b) => a + b, 0), N);
	// Extremes: loss = step, so the smallest is 1 and the largest N.
	assert.equal(Math.min(...s.mins), 1);
	assert.equal(Math.max(...s.maxs), N);
	// The last point is the run's last point.
	assert.equal(s.steps[s.steps.length - 1], N);
	assert.equal(s.values[s.values.length - 1], N);
	// Buckets are in step order, each inside its min/max.
	for (let i = 0; i < s.steps.length; i++) {
		assert.ok(s.mins[i] <= s.means[i] && s.means[i] <= s.maxs[i], `bucket ${i}`);
		assert.ok(s.mins[i] <= s.values[i] && s.values[i] <= s.maxs[i], `bucket ${i}`);
		if (i) assert.ok(s.steps[i] > s.steps[i - 1]);
	}
	// The answer knows the last seq it saw, so a page can follow the feed from there.
	assert.equal(s.last_seq, (await h.api('GET', `api/runs/${id}`)).run.last_seq);
	// Each bucket's last point carries its wall time (the x axis in "time" mode).
	assert.equal(s.times.length, s.steps.length);
	assert.equal(s.t0, 1780000000);
	assert.ok(s.times.every((x) => Math.abs(s.t0 + x - 1780000000.123) < 1e-6), JSON.stringify(s.times.slice(0, 3)));
	// The same metric of several runs in one answer; a run that is gone says so.
	const multi = await h.api('GET', `api/series?runs=${id},r77,${id}&metric=loss&points=100`);
	assert.equal(multi.series.length, 3);
	assert.deepEqual(multi.series[0], s);
	assert.deepEqual(multi.series[1], { run: 'r77', error: 'not_found' });
	assert.deepEqual(multi.series[2], s);
	for (const q of ['runs=&metric=loss', 'metric=loss', 'runs=r1,x2&metric=loss', `runs=${Array.from({ length: 101 }, () => id).join(',')}&metric=loss`, 'runs=r1,,r2&metric=loss'])
		assert.equal((await h.req('GET', `api/series?${q}`)).status, 400, q);
	// Buckets sized for a span shared by runs of other lengths: one grid, and nothing cut off at the end.
	const spanned = await series(h, id, `metric=loss&span=${4 * N}&points=100`);
	assert.equal(spanned.bucket, 1024); // 80,000 / 100 = 800 → whole tiles of 256 steps
	assert.equal(spanned.steps[spanned.steps.length - 1], N);
	assert.equal(spanned.counts.reduce((a, b) => a + b, 0), N);
	for (let i = 1; i < spanned.steps.length; i++) assert.ok(Math.floor(spanned.steps[i] / 1024) > Math.floor(spanned.steps[i - 1] / 1024), `buckets ${i - 1}, ${i} share a window`);
	// The run list's hyperparameter view carries each metric in a few numbers.
	const listed = (await h.api('GET', 'api/runs?hparams=1')).runs[0];
	assert.deepEqual(listed.metrics['train/loss'], { last: N, min: 1, max: N, step: N, count: N });
	assert.deepEqual(listed.metrics['test/loss'], { last: -N, min: -N, max: -1000, step: N, count: 20 });
	// Test points are few: each comes back on its own.
	const test_ = await series(h, id, 'metric=loss&split=test');
	assert.deepEqual(test_.steps, Array.from({ length: 20 }, (_, i) => (i + 1) * 1000));
	assert.deepEqual(test_.values, test_.steps.map((x) => -x));
	assert.ok(test_.counts.every((c) => c === 1));
});

test('a narrow range comes back at full resolution, folded events with their window', async (t) => {
	const { h, id } = await firehoseRun(t);
	const events = await allEvents(h, id);
	const stored = events.filter((e) => e.event.type === 'metric' && e.event.split === 'train').map((e) => e.event);
	const k = Math.floor(stored.length / 2);
	const lo = stored[k].step;
	const hi = stored[Math.min(k + 5, stored.length - 1)].step;
	const s = await series(h, id, `metric=loss&from=${lo}&to=${hi}&points=${hi - lo + 1}`);
	assert.equal(s.exact, true);
	assert.equal(s.bucket, 1);
	const want = stored.filter((e) => e.step >= lo && e.step <= hi);
	assert.deepEqual(s.steps, want.map((e) => e.step));
	assert.deepEqual(s.values, want.map((e) => e.values.loss));
	for (let i = 0; i < want.length; i++) {
		const th = want[i].thinned;
		assert.equal(s.mins[i], th ? th.min.loss : want[i].values.loss);
		assert.equal(s.maxs[i], th ? th.max.loss : want[i].values.loss);
		assert.equal(s.counts[i], th ? th.events : 1);
	}
	// A zoom inside a range of tiles: still every extreme of the range.
	const z = await series(h, id, 'metric=loss&from=5000&to=15000&points=50');
	assert.equal(z.exact, false);
	assert.ok(Math.min(...z.mins) <= 5000 + z.bucket && Math.max(...z.maxs) >= 15000 - z.bucket);
});

test('curve summaries built when the store opens equal the ones kept while the run ran', async (t) => {
	const { h, id } = await firehoseRun(t);
	const queries = ['metric=loss&points=100', 'metric=loss&points=7', 'metric=loss&from=3000&to=9000&points=40', 'metric=loss&split=test&points=3'];
	const live = [];
	for (const q of queries) live.push(await series(h, id, q));
	await h.kill('SIGTERM');
	// What a store from before the summaries (or written by another program) looks like.
	const db = join(h.workspace, '.trainbook/trainbook.db');
	execFileSync('sqlite3', [db, `DELETE FROM series_tiles; UPDATE runs SET series_ready = 0;`]);
	const h2 = await startServer(t, { workspace: h.workspace });
	assert.match(h2.log(), /building the curve summaries of 1 run/);
	for (let i = 0; i < queries.length; i++) assert.deepEqual(await series(h2, id, queries[i]), live[i], queries[i]);
});

test('series queries are checked before anything is read', async (t) => {
	const { h, id } = await firehoseRun(t);
	for (const [q, status] of [
		['split=train', 400], ['metric=lo%22ss', 400], ['metric=loss&split=a%2Fb', 400], ['metric=loss&points=0', 400],
		['metric=loss&points=20001', 400], ['metric=loss&from=-1', 400], ['metric=loss&from=10&to=5', 400],
		['metric=loss&to=abc', 400],
	]) {
		const r = await h.req('GET', `api/runs/${id}/series?${q}`);
		assert.equal(r.status, status, `${q}: ${r.text}`);
		assert.equal(r.json.error, 'bad_request');
	}
	assert.equal((await h.req('GET', 'api/runs/r99/series?metric=loss')).status, 404);
	const none = await series(h, id, 'metric=nothing');
	assert.deepEqual(none.steps, []);
	const empty = await series(h, id, 'metric=loss&split=validation');
	assert.equal(empty.from, null);
	assert.deepEqual(empty.steps, []);
	assert.equal((await h.req('GET', `api/runs/${id}/series?metric=loss`, { token: false })).status, 401);
});
