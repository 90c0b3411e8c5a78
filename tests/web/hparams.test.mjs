// Unit tests for web/src/hparams.js: the Runs page's table as data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { differingKeys, tableColumns, visibleColumns, filterRuns, filterChoices, sortRuns, toCsv, metricKeys, lowerIsBetter } from '../../web/src/hparams.js';

const runs = [
	{ id: 'r1', name: 'fashion-mnist · mlp', status: 'completed', seconds: 60, tags: ['baseline'], notebook: 'a.ipynb', hparams: { 'data.dataset': 'fashion-mnist', 'optimizer.lr': 0.001, 'train.seed': 0, model: '[flatten, {linear: 128}]' }, metrics: { 'test/accuracy': { last: 0.85, min: 0.7, max: 0.86 }, 'train/loss': { last: 0.3, min: 0.25, max: 2.3 } } },
	{ id: 'r2', name: 'fashion-mnist · mlp', status: 'failed', seconds: 5, tags: ['sweep'], notebook: 'a.ipynb', hparams: { 'data.dataset': 'fashion-mnist', 'optimizer.lr': 0.1, 'train.seed': 0, model: '[flatten, {linear: 128}]' }, metrics: { 'train/loss': { last: 9e9, min: 2.1, max: 9e9 } } },
	{ id: 'r10', name: 'fashion-mnist · cnn', status: 'completed', seconds: 300, tags: ['sweep', 'cnn'], notebook: 'b.ipynb', archived: true, hparams: { 'data.dataset': 'fashion-mnist', 'optimizer.lr': 0.001, 'train.seed': 1, model: 'cnn', 'train.precision': 'bf16' }, metrics: { 'test/accuracy': { last: 0.9, min: 0.8, max: 0.91 } } },
];

test('columns are the spec keys that differ (a missing key counts), then each metric', () => {
	assert.deepEqual(differingKeys(runs), ['model', 'optimizer.lr', 'train.precision', 'train.seed']);
	assert.deepEqual(differingKeys(runs.slice(0, 1)), []);
	assert.deepEqual(metricKeys(runs), ['test/accuracy', 'train/loss']);
	const cols = tableColumns(runs);
	const ids = cols.map((c) => c.id);
	assert.ok(ids.includes('h:optimizer.lr') && !ids.includes('h:data.dataset'));
	// final and best shown by default: max for accuracy, min for loss; the other hidden
	const shown = visibleColumns(cols).map((c) => c.id);
	assert.ok(shown.includes('m:test/accuracy:last') && shown.includes('m:test/accuracy:max') && !shown.includes('m:test/accuracy:min'));
	assert.ok(shown.includes('m:train/loss:min') && !shown.includes('m:train/loss:max'));
	// the user's choice wins over the defaults
	const mine = visibleColumns(cols, { 'h:model': false, 'm:train/loss:max': true }).map((c) => c.id);
	assert.ok(!mine.includes('h:model') && mine.includes('m:train/loss:max'));
	// the keys that differ among the runs on the charts come first
	const picked = tableColumns(runs, runs.slice(0, 2)).filter((c) => c.kind === 'hparam').map((c) => c.label);
	assert.deepEqual(picked, ['optimizer.lr', 'model', 'train.precision', 'train.seed']);
	assert.equal(lowerIsBetter('accuracy'), false);
	assert.equal(lowerIsBetter('loss'), true);
});

test('filters: text (names, tags, key=value), tag, status, notebook, archived', () => {
	const ids = (o) => filterRuns(runs, o).map((r) => r.id);
	assert.deepEqual(ids({}), ['r1', 'r2']); // archived hidden by default
	assert.deepEqual(ids({ archived: true }), ['r1', 'r2', 'r10']);
	assert.deepEqual(ids({ text: 'optimizer.lr=0.1' }), ['r2']);
	assert.deepEqual(ids({ text: 'CNN', archived: true }), ['r10']);
	assert.deepEqual(ids({ tag: 'sweep', archived: true }), ['r2', 'r10']);
	assert.deepEqual(ids({ status: 'failed' }), ['r2']);
	assert.deepEqual(ids({ notebook: 'b.ipynb', archived: true }), ['r10']);
	assert.deepEqual(filterChoices(runs), { tags: ['baseline', 'cnn', 'sweep'], statuses: ['completed', 'failed'], notebooks: ['a.ipynb', 'b.ipynb'] });
});

test('sorting by a column, both ways, blanks last', () => {
	const cols = tableColumns(runs);
	const acc = cols.find((c) => c.id === 'm:test/accuracy:last');
	assert.deepEqual(sortRuns(runs, acc, 1).map((r) => r.id), ['r1', 'r10', 'r2']);
	assert.deepEqual(sortRuns(runs, acc, -1).map((r) => r.id), ['r10', 'r1', 'r2']);
	const name = cols.find((c) => c.id === 'name');
	assert.deepEqual(sortRuns(runs, name, 1).map((r) => r.id), ['r10', 'r2', 'r1']); // equal names: newest first
	const dur = cols.find((c) => c.id === 'duration');
	assert.deepEqual(sortRuns(runs, dur, -1).map((r) => r.id), ['r10', 'r1', 'r2']);
});

test('CSV of what the table shows, quoted where needed', () => {
	const cols = visibleColumns(tableColumns(runs)).filter((c) => ['name', 'h:model', 'm:test/accuracy:last'].includes(c.id));
	const csv = toCsv(runs.slice(0, 2), cols);
	assert.equal(csv, 'run,name,model,test/accuracy final\nr1,fashion-mnist · mlp,"[flatten, {linear: 128}]",0.85\nr2,fashion-mnist · mlp,"[flatten, {linear: 128}]",\n');
});

test('an owner column after the name for instructors in accounts mode, and only then', () => {
	const owned = runs.map((r, i) => ({ ...r, owner: ['alice', 'bob'][i % 2] }));
	assert.ok(!tableColumns(owned).some((c) => c.id === 'owner'));
	const cols = tableColumns(owned, [], { owners: true });
	assert.deepEqual(cols.slice(0, 2).map((c) => c.id), ['name', 'owner']);
	const owner = cols[1];
	assert.ok(owner.visible);
	assert.deepEqual(sortRuns(owned, owner, -1).map((r) => owner.get(r)), ['bob', 'alice', 'alice']);
	assert.equal(toCsv(owned.slice(0, 2), [owner]), 'run,owner\nr1,alice\nr2,bob\n');
});
