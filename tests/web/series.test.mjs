// Unit tests for web/src/series.js: metric events → series by split, x-axis modes, alignment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RunSeries, alignSeries } from '../../web/src/series.js';

function sample() {
	const s = new RunSeries();
	s.add({ type: 'status', status: 'running', steps_per_epoch: 100 });
	s.add({ type: 'metric', split: 'train', step: 50, epoch: 0, time: 1000.5, values: { loss: 1.2, lr: 0.001 } });
	s.add({ type: 'metric', split: 'train', step: 100, epoch: 0, time: 1001.5, values: { loss: 0.9, lr: 0.001 } });
	s.add({ type: 'metric', split: 'test', step: 100, epoch: 1, time: 1002, values: { loss: 0.95, accuracy: 0.7 } });
	s.add({ type: 'log', level: 'info', message: 'x' });
	return s;
}

test('metric events are kept per split; other events are ignored', () => {
	const s = sample();
	assert.equal(s.count('train'), 2);
	assert.equal(s.count('test'), 1);
	assert.deepEqual([...s.metrics].sort(), ['accuracy', 'loss', 'lr']);
	assert.equal(s.last('test', 'accuracy'), 0.7);
	assert.equal(s.last('train', 'accuracy'), undefined);
});

test('x by step, fractional epoch and seconds since the first point', () => {
	const s = sample();
	assert.deepEqual(s.get('train', 'loss', 'step').xs, [50, 100]);
	assert.deepEqual(s.get('train', 'loss', 'epoch').xs, [0.5, 1]);
	assert.deepEqual(s.get('train', 'loss', 'time').xs, [0, 1]);
	assert.deepEqual(s.get('test', 'accuracy', 'time').xs, [1.5]);
});

test('epoch axis falls back to the integer epoch without steps_per_epoch', () => {
	const s = new RunSeries();
	s.add({ type: 'metric', split: 'train', step: 7, epoch: 2, values: { loss: 1 } });
	assert.deepEqual(s.get('train', 'loss', 'epoch').xs, [2]);
});

test('alignSeries puts series on the sorted union of x with nulls', () => {
	const a = { xs: [1, 2, 3], ys: [10, 20, 30] };
	const b = { xs: [2, 4], ys: [200, 400] };
	const { x, ys } = alignSeries([a, b]);
	assert.deepEqual(x, [1, 2, 3, 4]);
	assert.deepEqual(ys[0], [10, 20, 30, null]);
	assert.deepEqual(ys[1], [null, 200, null, 400]);
});

test('a repeated x (resumed from an older checkpoint) keeps the later value', () => {
	const { x, ys } = alignSeries([{ xs: [1, 2, 3, 2, 3, 4], ys: [1, 2, 3, 20, 30, 40] }]);
	assert.deepEqual(x, [1, 2, 3, 4]);
	assert.deepEqual(ys[0], [1, 20, 30, 40]);
});
