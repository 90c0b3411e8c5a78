// Unit tests for web/src/parcoords-scale.js: the axes of parallel coordinates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { axisScale, inBrushes, isRateKey } from '../../web/src/parcoords-scale.js';

test('rates get a log axis: 1e-4 .. 1e-2 are evenly spaced', () => {
	assert.ok(isRateKey('optimizer.lr') && isRateKey('optimizer.weight_decay') && !isRateKey('train.epochs'));
	const s = axisScale([1e-4, 1e-3, 1e-2], { key: 'optimizer.lr' });
	assert.equal(s.kind, 'log');
	assert.ok(Math.abs(s.unit(1e-3) - 0.5) < 1e-12);
	assert.equal(s.unit(1e-4), 0);
	assert.deepEqual(s.ticks.map((t) => t.label), ['1e-4', '0.001', '0.01']);
	// values over two decades get one even without a rate's name; zero cannot
	assert.equal(axisScale([1, 1000], { key: 'data.batch_size' }).kind, 'log');
	assert.equal(axisScale([0, 1000], { key: 'x' }).kind, 'linear');
	assert.equal(axisScale([32, 64], { key: 'data.batch_size' }).kind, 'linear');
});

test('text values spread evenly; a single value sits in the middle', () => {
	const s = axisScale(['mlp', 'cnn', 'resnet18', 'cnn']);
	assert.equal(s.kind, 'category');
	assert.deepEqual(['cnn', 'mlp', 'resnet18'].map((v) => s.unit(v)), [0, 0.5, 1]);
	assert.equal(axisScale([7, 7]).unit(7), 0.5);
	assert.equal(s.unit(null), null);
});

test('a run stays when every brushed axis holds its value', () => {
	const dims = [{ id: 'lr', get: (r) => r.lr }, { id: 'acc', get: (r) => r.acc }];
	const runs = [{ lr: 1e-4, acc: 0.8 }, { lr: 1e-3, acc: 0.9 }, { lr: 1e-2, acc: 0.1 }];
	const scales = { lr: axisScale(runs.map((r) => r.lr), { key: 'lr' }), acc: axisScale(runs.map((r) => r.acc)) };
	const keep = (brushes) => runs.filter((r) => inBrushes(r, dims, scales, brushes)).map((r) => r.lr);
	assert.deepEqual(keep({}), [1e-4, 1e-3, 1e-2]);
	assert.deepEqual(keep({ lr: [0.4, 1] }), [1e-3, 1e-2]);
	assert.deepEqual(keep({ lr: [1, 0.4], acc: [0.5, 1] }), [1e-3]); // a brush dragged upwards counts the same
});
