// Unit tests for web/src/chart-util.js: the legend's nearest point
// (newcomer bug 10) and a y axis as wide as its labels (bug 3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nearestIndex, axisWidth } from '../../web/src/chart-util.js';

test('a line without a point at the cursor shows its nearest point (bug 10)', () => {
	const x = [0, 10, 20, 30, 40, 100];
	const run2 = [null, 5, null, null, 7, null];
	assert.equal(nearestIndex(x, run2, 1), 1);
	assert.equal(nearestIndex(x, run2, 2), 1);  // 20 is nearer 10 than 40
	assert.equal(nearestIndex(x, run2, 3), 4);  // 30 is nearer 40
	assert.equal(nearestIndex(x, run2, 5), 4);
	assert.equal(nearestIndex(x, run2, 0), 1);
	assert.equal(nearestIndex(x, [null, null, null, null, null, null], 2), null);
	assert.equal(nearestIndex(x, run2, null), null);
});

test('the y axis is as wide as its widest label (bug 3)', () => {
	const measure = (s) => s.length * 7;
	assert.equal(axisWidth(['0', '1'], measure), 40);
	assert.ok(axisWidth(['1e12', '2.5e15', '7.5e15'], measure) >= 6 * 7 + 10);
});
