// Unit tests for web/src/smooth.js: TensorBoard-style debiased EMA and log-scale gaps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emaSmooth, logSafe } from '../../web/src/smooth.js';

test('smoothing weight 0 returns the values unchanged (a copy)', () => {
	const v = [3, 1, 2];
	const out = emaSmooth(v, 0);
	assert.deepEqual(out, v);
	assert.notEqual(out, v);
});

test('debiased EMA starts at the first value instead of near zero', () => {
	const out = emaSmooth([10, 10, 10], 0.9);
	for (const y of out) assert.ok(Math.abs(y - 10) < 1e-9, `got ${y}`);
});

test('EMA matches the TensorBoard recurrence', () => {
	const w = 0.6;
	const v = [1, 5, 2, 8, 3];
	let last = 0;
	const want = v.map((y, i) => {
		last = last * w + (1 - w) * y;
		return last / (1 - Math.pow(w, i + 1));
	});
	const got = emaSmooth(v, w);
	got.forEach((y, i) => assert.ok(Math.abs(y - want[i]) < 1e-12, `point ${i}: ${y} vs ${want[i]}`));
	// smoothing must actually change a noisy curve
	assert.notDeepEqual(got, v);
	// and stay within the data's range
	for (const y of got) assert.ok(y >= 1 && y <= 8);
});

test('non-finite points pass through and do not disturb the average', () => {
	const out = emaSmooth([2, null, NaN, 4], 0.5);
	assert.equal(out[1], null);
	assert.ok(Number.isNaN(out[2]));
	const ref = emaSmooth([2, 4], 0.5);
	assert.ok(Math.abs(out[3] - ref[1]) < 1e-12);
});

test('heavier smoothing lags a step change more', () => {
	const step = [0, 0, 0, 0, 1, 1, 1, 1];
	const light = emaSmooth(step, 0.3);
	const heavy = emaSmooth(step, 0.9);
	assert.ok(heavy[5] < light[5]);
});

test('logSafe turns zero, negatives and nulls into gaps', () => {
	assert.deepEqual(logSafe([1, 0, -2, null, 0.5, Infinity]), [1, null, null, null, 0.5, null]);
});
