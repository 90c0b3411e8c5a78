// Unit tests for web/src/run-curves.js with a fake API and feed: curves are
// read as series, then followed live from the series' last seq without a
// point twice or missing, and a zoom splices finer points in (issue 16).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RunCurves } from '../../web/src/run-curves.js';

const empty = (run, q) => ({ run, split: q.get('split'), metric: q.get('metric'), from: null, to: null, bucket: 1, last_seq: 0, steps: [], values: [], means: [], mins: [], maxs: [], counts: [], times: [] });

/* A server holding run r1's train loss (loss = 10 / step) up to `stored` events; every event is a metric. */
function fakeServer() {
	const s = { stored: 100, asked: [], answer: null };
	s.api = {
		get: async (url) => {
			const q = new URLSearchParams(url.split('?')[1]);
			s.asked.push(url);
			const runs = q.get('runs').split(',');
			if (s.answer) return s.answer(q, runs);
			return {
				series: runs.map((run) => {
					if (q.get('split') !== 'train' || q.get('metric') !== 'loss') return empty(run, q);
					const from = Number(q.get('from') ?? 1);
					const to = Math.min(Number(q.get('to') ?? s.stored), s.stored);
					const steps = [];
					for (let i = Math.max(1, from); i <= to; i++) steps.push(i);
					return { run, split: 'train', metric: 'loss', from, to, bucket: 1, last_seq: s.stored, steps, values: steps.map((i) => 10 / i), means: steps.map((i) => 10 / i), mins: steps.map((i) => 10 / i), maxs: steps.map((i) => 10 / i), counts: steps.map(() => 1), times: steps.map(() => null) };
				}),
			};
		},
	};
	s.handlers = new Map();
	s.feed = {
		subscribeRun: (run, fn, { since }) => {
			s.handlers.set(run, { fn, since });
			return () => s.handlers.delete(run);
		},
	};
	s.emit = (run, seq, step) => s.handlers.get(run).fn([{ seq, event: { type: 'metric', split: 'train', step, values: { loss: 10 / step } } }]);
	return s;
}

test('series first, then live points after the series\' last seq, each once', async () => {
	const s = fakeServer();
	let changes = 0;
	const c = new RunCurves({ api: s.api, feed: s.feed, onChange: () => changes++ });
	const loading = c.load([{ id: 'r1', last_seq: 90, progress: { step: 90 } }]);
	// the feed replays from the record's last seq while the series load: buffered, not lost
	assert.equal(s.handlers.get('r1').since, 90);
	for (let seq = 91; seq <= 102; seq++) s.emit('r1', seq, seq);
	await loading;
	const curve = c.get('r1', 'train/loss');
	// the series (to seq 100) plus 101 and 102 from the feed; 91..100 not twice
	assert.deepEqual(curve.steps, Array.from({ length: 102 }, (_, i) => i + 1));
	s.emit('r1', 103, 103);
	assert.equal(curve.lastStep, 103);
	assert.ok(changes >= 2);
	// one request per split/metric for all the runs, buckets sized for a shared span, no range cut
	assert.equal(s.asked.length, 8);
	assert.ok(s.asked.every((u) => u.includes('runs=r1') && u.includes('span=91') && !u.includes('to=')));
	c.destroy();
	assert.equal(s.handlers.size, 0);
});

test('a zoom splices finer points in; a stale zoom answer is dropped; zooming out restores', async () => {
	const s = fakeServer();
	const c = new RunCurves({ api: s.api, feed: s.feed, points: 10 });
	s.answer = (q, runs) => ({
		series: runs.map((run) => (q.get('metric') !== 'loss' || q.get('split') !== 'train' ? empty(run, q) : q.get('from') === null
			? { run, from: 0, to: 100, bucket: 10, last_seq: 100, steps: [9, 19, 29, 39, 49, 59, 69, 79, 89, 100], values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], counts: Array(10).fill(10) }
			: { run, from: Number(q.get('from')), to: Number(q.get('to')), bucket: 1, last_seq: 100, steps: [40, 41, 42], values: [4.0, 4.1, 4.2], counts: [1, 1, 1] })),
	});
	await c.load([{ id: 'r1', last_seq: 100, progress: { step: 100 } }]);
	assert.equal(c.get('r1', 'train/loss').length, 10);
	const first = c.zoomTo([40, 42]);
	const second = c.zoomTo([40, 42]);
	await Promise.all([first, second]);
	const z = c.get('r1', 'train/loss');
	assert.deepEqual(z.steps, [9, 19, 29, 39, 40, 41, 42, 49, 59, 69, 79, 89, 100]);
	assert.ok(s.asked.some((u) => u.includes('from=40&to=42')));
	// a live point lands in the zoomed curve and in the coarse one
	s.emit('r1', 101, 101);
	assert.equal(c.get('r1', 'train/loss').lastStep, 101);
	await c.zoomTo(null);
	assert.deepEqual(c.get('r1', 'train/loss').steps, [9, 19, 29, 39, 49, 59, 69, 79, 89, 100, 101]);
});
