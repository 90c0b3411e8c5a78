// Unit tests for web/src/board-model.js: the board's state from the feed's
// board messages (snapshot, updates, deletions, stale updates), the series
// rule shared with server/board.c, and the filters and orders of the board.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BoardModel, addPoint, BOARD_POINTS, progressOf } from '../../web/src/board-model.js';

const run = (id, owner, extra = {}) => ({ id, name: 'run', owner, status: 'running', notebook: `users/${owner}/lab1.ipynb`,
	progress: { step: 0, total_steps: 100 }, best: null, ...extra });

test('the series keeps the newest point and thins itself as server/board.c does', () => {
	const s = [];
	for (let i = 1; i <= BOARD_POINTS; i++) addPoint(s, i, i / 2);
	assert.equal(s.length, BOARD_POINTS);
	addPoint(s, BOARD_POINTS + 1, 99);
	assert.equal(s.length, (BOARD_POINTS + 2) / 2);
	assert.deepEqual(s[s.length - 1], [BOARD_POINTS + 1, 99]);
	assert.deepEqual([s[0][0], s[1][0]], [1, 3]);
	addPoint(s, BOARD_POINTS + 1, 7); /* the same step again: its newer value */
	assert.deepEqual(s[s.length - 1], [BOARD_POINTS + 1, 7]);
});

test('a snapshot replaces everything; updates add points; older updates and deletions', () => {
	const m = new BoardModel();
	assert.equal(m.apply({ type: 'board', full: true, tick: 5, runs: [
		{ id: 'r1', run: run('r1', 'alice'), series: { loss: [[1, 2]], accuracy: [] }, step: 1, event_ms: 1000 },
		{ id: 'r2', run: run('r2', 'bob'), series: { loss: [], accuracy: [] }, step: 0, event_ms: null },
	] }), null);
	assert.equal(m.runs.size, 2);
	// An update made before the snapshot (tick ≤ 5) is already in it.
	assert.equal(m.apply({ type: 'board', tick: 5, runs: [{ id: 'r1', points: { loss: [2, 1.5] } }] }).size, 0);
	assert.equal(m.runs.get('r1').series.loss.length, 1);
	const c = m.apply({ type: 'board', tick: 6, runs: [
		{ id: 'r1', points: { loss: [2, 1.5], accuracy: [2, 0.4] }, step: 2, epoch: 0, event_ms: 2000 },
		{ id: 'r3', run: run('r3', 'carol', { status: 'queued', queue: { position: 1, reason: 'next in line' } }) },
	] });
	assert.deepEqual([...c.keys()], ['r1', 'r3']);
	assert.deepEqual(c.get('r1'), { points: true, eventMs: 2000 });
	assert.equal(c.get('r3').points, false);
	assert.deepEqual(m.runs.get('r1').series.loss, [[1, 2], [2, 1.5]]);
	assert.equal(m.runs.get('r1').eventMs, 2000);
	assert.equal(m.runs.get('r3').run.queue.position, 1);
	// A summary update merges; a deletion forgets the run.
	m.apply({ type: 'board', tick: 7, runs: [{ id: 'r3', run: { id: 'r3', status: 'running', queue: null } }] });
	assert.equal(m.runs.get('r3').run.owner, 'carol');
	assert.equal(m.runs.get('r3').run.status, 'running');
	m.apply({ type: 'board', tick: 8, runs: [{ id: 'r2', run: { status: 'deleted' } }] });
	assert.equal(m.runs.has('r2'), false);
});

test('filter by student or notebook, by status; sort by progress, metric, queue', () => {
	const m = new BoardModel();
	m.apply({ type: 'board', full: true, tick: 1, runs: [
		{ id: 'r1', run: run('r1', 'alice', { progress: { step: 10, total_steps: 100 } }), series: { loss: [], accuracy: [[10, 0.5]] } },
		{ id: 'r2', run: run('r2', 'bob', { progress: { step: 90, total_steps: 100 }, best: { metric: 'test.accuracy', value: 0.9 } }), series: { loss: [], accuracy: [] } },
		{ id: 'r3', run: run('r3', 'carol', { status: 'queued', queue: { position: 2, reason: 'x' }, notebook: 'users/carol/cnn.ipynb' }), series: { loss: [], accuracy: [] } },
		{ id: 'r4', run: run('r4', 'dave', { status: 'queued', queue: { position: 1, reason: 'y' } }), series: { loss: [], accuracy: [] } },
		{ id: 'r10', run: run('r10', 'alice', { status: 'completed' }), series: { loss: [], accuracy: [] } },
	] });
	const ids = (opts) => m.view(opts).map((e) => e.id);
	assert.deepEqual(ids({}), ['r10', 'r4', 'r3', 'r2', 'r1']); /* newest first, by number */
	assert.deepEqual(ids({ filter: 'ALICE' }), ['r10', 'r1']);
	assert.deepEqual(ids({ filter: 'cnn' }), ['r3']);
	assert.deepEqual(ids({ status: 'queued' }), ['r4', 'r3']);
	assert.deepEqual(ids({ status: 'ended' }), ['r10']);
	assert.deepEqual(ids({ status: 'active', sort: 'progress' }).slice(0, 2), ['r2', 'r1']);
	assert.deepEqual(ids({ sort: 'metric' }).slice(0, 2), ['r2', 'r1']);
	assert.deepEqual(ids({ sort: 'queue' }).slice(0, 2), ['r4', 'r3']);
	assert.equal(progressOf(m.runs.get('r10')), 1);
	assert.equal(progressOf(m.runs.get('r1')), 0.1);
});
