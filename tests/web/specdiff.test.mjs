// Unit tests for web/src/specdiff.js: a run's spec against another's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffLines } from '../../web/src/specdiff.js';

test('changed, removed and added lines, common lines in between', () => {
	const a = 'data: {dataset: mnist}\nmodel: mlp\noptimizer: {name: adam, lr: 1.0e-3}\ntrain: {epochs: 5}\n';
	const b = 'data: {dataset: mnist}\nmodel: cnn\noptimizer: {name: adam, lr: 1.0e-3}\ntrain: {epochs: 5}\nschedule: cosine\n';
	const d = diffLines(a, b);
	assert.deepEqual(d.map((l) => l.op + l.text), [
		' data: {dataset: mnist}', '-model: mlp', '+model: cnn', ' optimizer: {name: adam, lr: 1.0e-3}', ' train: {epochs: 5}', '+schedule: cosine',
	]);
	assert.deepEqual(d[1], { op: '-', text: 'model: mlp', a: 2, b: null });
	assert.deepEqual(d[2], { op: '+', text: 'model: cnn', a: null, b: 2 });
	assert.deepEqual(d[5], { op: '+', text: 'schedule: cosine', a: null, b: 5 });
});

test('the same spec has no change; an empty one is all added', () => {
	assert.ok(diffLines('a\nb\n', 'a\nb\n').every((l) => l.op === ' '));
	assert.deepEqual(diffLines('', 'x\ny').map((l) => l.op + l.text), ['-', '+x', '+y']);
});
