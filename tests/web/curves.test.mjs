// Unit tests for web/src/curves.js and the smoothing of web/src/smooth.js
// over downsampled buckets (issue 16, "curves that scale").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Curve, curveXs, alignLines } from '../../web/src/curves.js';
import { emaSmooth } from '../../web/src/smooth.js';

const answer = (o) => ({ run: 'r1', split: 'train', metric: 'loss', from: 1, to: 100, bucket: 1, last_seq: 10, ...o });

test('buckets are drawn at the end of their grid window, the last one at its real step', () => {
	const c = new Curve(answer({ bucket: 16, steps: [10, 30, 40], values: [1, 2, 3], means: [1, 2, 3], mins: [1, 2, 3], maxs: [1, 2, 3], counts: [5, 6, 2], times: [1, 2, 3] }));
	assert.deepEqual(c.grid, [15, 31, 40]);
	assert.deepEqual(curveXs(c, 'step'), [15, 31, 40]);
	// a bucket of one point is that point
	const one = new Curve(answer({ bucket: 16, steps: [10, 40], values: [1, 3], counts: [1, 1] }));
	assert.deepEqual(one.grid, [10, 40]);
});

test('x by fractional epoch and by seconds since the start', () => {
	const c = new Curve(answer({ steps: [50, 100], values: [1, 2], counts: [1, 1], times: [1000.5, 1001.5] }));
	assert.deepEqual(curveXs(c, 'epoch', { stepsPerEpoch: 100 }), [0.5, 1]);
	assert.deepEqual(curveXs(c, 'time', { t0: 1000 }), [0.5, 1.5]);
	assert.deepEqual(curveXs(c, 'epoch', {}), [null, null]);
});

test('live points append; a resumed run that redoes steps replaces what followed', () => {
	const c = new Curve(answer({ steps: [1, 2, 3], values: [3, 2, 1], counts: [1, 1, 1] }));
	c.push(4, 0.5, 12.5);
	assert.deepEqual(c.steps, [1, 2, 3, 4]);
	c.push(3, 0.9); // resumed from the checkpoint at step 2
	assert.deepEqual(c.steps, [1, 2, 3]);
	assert.deepEqual(c.values, [3, 2, 0.9]);
	// a folded event brings its window's count and extremes
	c.push(10, 0.4, null, { events: 7, min: { loss: 0.3 }, max: { loss: 0.8 } }, 'loss');
	assert.equal(c.counts[3], 7);
	assert.equal(c.mins[3], 0.3);
	assert.equal(c.maxs[3], 0.8);
	c.push(11, NaN);
	assert.equal(c.length, 4);
});

test('zoom detail replaces the coarse buckets of its range and keeps the rest', () => {
	const coarse = new Curve(answer({ bucket: 100, steps: [99, 199, 299, 399], values: [4, 3, 2, 1], counts: [100, 100, 100, 100] }));
	coarse.push(450, 0.5);
	const fine = coarse.withDetail(answer({ from: 100, to: 299, bucket: 1, last_seq: 20, steps: [100, 150, 250, 299], values: [3.5, 3.1, 2.2, 2], counts: [1, 1, 1, 1] }));
	assert.deepEqual(fine.steps, [99, 100, 150, 250, 299, 399, 450]);
	assert.deepEqual(fine.values, [4, 3.5, 3.1, 2.2, 2, 1, 0.5]);
	assert.equal(fine.lastSeq, 10); // live points are told apart by the whole curve's answer
	// the coarse curve is unchanged (zooming out goes back to it)
	assert.deepEqual(coarse.steps, [99, 199, 299, 399, 450]);
	// an empty range answer leaves it as it was
	assert.equal(coarse.withDetail({ from: null, to: null, steps: [] }), coarse);
});

test('smoothing over buckets matches smoothing every raw point (zoom does not change its shape)', () => {
	// 4,000 raw points of a noisy falling curve, and the same as 40 buckets of 100
	const raw = Array.from({ length: 4000 }, (_, i) => 2 / (1 + i / 500) + 0.2 * Math.sin(i * 12.9898));
	const w = 0.99;
	const full = emaSmooth(raw, w);
	const means = [];
	const counts = [];
	for (let b = 0; b < 40; b++) {
		const part = raw.slice(b * 100, (b + 1) * 100);
		means.push(part.reduce((a, x) => a + x, 0) / part.length);
		counts.push(part.length);
	}
	const coarse = emaSmooth(means, w, counts);
	// compare at each bucket's end: within 2% of the value range
	for (let b = 1; b < 40; b++) {
		const exact = full[(b + 1) * 100 - 1];
		assert.ok(Math.abs(coarse[b] - exact) < 0.04, `bucket ${b}: ${coarse[b]} vs ${exact}`);
	}
	// a per-point average of the bucket means (what tensorboard#6829 describes) is far off at the start
	const naive = emaSmooth(means, w);
	assert.ok(Math.abs(naive[5] - full[599]) > 5 * Math.abs(coarse[5] - full[599]), 'count weighting matters');
	// counts of one are the plain per-point average
	assert.deepEqual(emaSmooth(raw.slice(0, 50), 0.6, raw.slice(0, 50).map(() => 1)), emaSmooth(raw.slice(0, 50), 0.6));
});

test('lines are aligned on the union of their x values with gaps as null', () => {
	const a = alignLines([{ xs: [1, 3], ys: [10, 30], lo: [9, 29], hi: [11, 31] }, { xs: [2, 3], ys: [20, 31] }]);
	assert.deepEqual(a.x, [1, 2, 3]);
	assert.deepEqual(a.ys, [[10, null, 30], [null, 20, 31]]);
	assert.deepEqual(a.lo[0], [9, null, 29]);
	assert.equal(a.lo[1], null);
});
