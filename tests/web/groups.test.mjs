// Unit tests for web/src/groups.js: grouping runs and a group's band.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupKeyOf, groupRuns, valueAt, aggregate } from '../../web/src/groups.js';

const run = (id, hp, tags = []) => ({ id, name: 'mnist · mlp', tags, hparams: hp });
const runs = [
	run('r1', { 'optimizer.lr': 0.001, 'train.seed': 0 }, ['a']),
	run('r2', { 'optimizer.lr': 0.001, 'train.seed': 1 }, ['b']),
	run('r3', { 'optimizer.lr': 0.01, 'train.seed': 0 }, ['a']),
	run('r4', { 'optimizer.lr': 0.001, 'train.seed': 2, 'data.seed': 5 }),
];

test('"same spec but seed" puts runs together whatever their seeds', () => {
	const g = groupRuns(runs, 'seed');
	assert.deepEqual(g.map((x) => x.runs.map((r) => r.id)), [['r1', 'r2', 'r4'], ['r3']]);
	// labelled by what tells the groups apart, not by a run's name
	assert.equal(g[0].label, 'optimizer.lr=0.001');
	assert.equal(g[1].label, 'optimizer.lr=0.01');
	assert.equal(groupRuns(runs.slice(0, 2), 'seed')[0].label, 'mnist · mlp'); // one group: its name
	assert.equal(groupKeyOf(runs[0], 'seed'), groupKeyOf(runs[3], 'seed'));
});

test('by a spec key and by tag', () => {
	const byLr = groupRuns(runs, 'key:optimizer.lr');
	assert.deepEqual(byLr.map((x) => x.label), ['optimizer.lr = 0.001', 'optimizer.lr = 0.01']);
	const byTag = groupRuns(runs, 'tag');
	assert.deepEqual(byTag.map((x) => [x.label, x.runs.length]), [['a', 2], ['b', 1], ['(no tag)', 1]]);
});

test('a run is read between its points, never past its ends', () => {
	assert.equal(valueAt([0, 10, 20], [0, 1, 3], 15), 2);
	assert.equal(valueAt([0, 10, 20], [0, 1, 3], 10), 1);
	assert.equal(valueAt([0, 10, 20], [0, 1, 3], 25), null);
	assert.equal(valueAt([5, 10], [1, 1], 0), null);
	assert.equal(valueAt([0, 10], [0, null], 5), null);
});

test('mean ± std and min–max across a group', () => {
	const lines = [{ xs: [0, 10], ys: [1, 3] }, { xs: [0, 10], ys: [3, 5] }, { xs: [0, 5], ys: [2, 2] }];
	const s = aggregate(lines, 'std');
	assert.deepEqual(s.x, [0, 5, 10]);
	assert.deepEqual(s.mean, [2, 8 / 3, 4]);
	assert.deepEqual(s.n, [3, 3, 2]);
	assert.ok(Math.abs(s.hi[0] - (2 + Math.sqrt(2 / 3))) < 1e-12);
	assert.ok(Math.abs(s.lo[2] - 3) < 1e-12);
	const m = aggregate(lines, 'minmax');
	assert.deepEqual([m.lo[1], m.hi[1]], [2, 4]);
});
