// Unit tests for web/src/summary.js and evaldata.js: the stored text summary; confusion stats; sample pixels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summaryText } from '../../web/src/summary.js';
import { confusionStats, sampleRGBA } from '../../web/src/evaldata.js';

test('a finished run is summarised from its summary event', () => {
	const text = summaryText({
		run: { id: 'r7', status: 'completed', device: 'cpu' },
		info: { device: 'cpu', total_steps: 4690, epochs: 5, params: 101770 },
		summary: { steps: 4690, epochs: 5, seconds: 52.3, images_per_sec: 5731, final: { 'test.loss': 0.3401, 'test.accuracy': 0.879 }, best: { metric: 'test.accuracy', value: 0.8811, step: 3752 } },
	});
	const lines = text.split('\n');
	assert.equal(lines[0], 'trainbook run r7: completed on cpu');
	assert.match(lines[1], /step 4,690\/4,690, epoch 5\/5, 0:52, 5,731 images\/s, 101,770 parameters/);
	assert.equal(lines[2], 'test.accuracy 0.879  test.loss 0.3401');
	assert.equal(lines[3], 'best test.accuracy 0.8811 at step 3,752');
});

test('a running or stopped run without a summary uses the last values', () => {
	const text = summaryText({ run: { id: 'r2', status: 'stopped', reason: 'stopped by user' }, step: 120, epoch: 0, last: { 'train.loss': 0.61, 'train.lr': 0.001 } });
	assert.match(text, /r2: stopped \(stopped by user\)/);
	assert.match(text, /step 120, epoch 0/);
	assert.match(text, /train.loss 0.61/);
	assert.doesNotMatch(text, /lr/);
});

test('confusion stats: accuracy and row shares', () => {
	const s = confusionStats([[8, 2], [1, 9]]);
	assert.equal(s.total, 20);
	assert.equal(s.correct, 17);
	assert.equal(s.accuracy, 0.85);
	assert.deepEqual(s.share[0], [0.8, 0.2]);
	assert.deepEqual(confusionStats([[0, 0], [0, 0]]).accuracy, null);
});

test('grey and colour samples decode to RGBA', () => {
	const grey = Buffer.from([0, 128, 255, 7]).toString('base64');
	assert.deepEqual(Array.from(sampleRGBA(grey, [1, 2, 2])), [0, 0, 0, 255, 128, 128, 128, 255, 255, 255, 255, 255, 7, 7, 7, 255]);
	// CHW planar: R plane, G plane, B plane of one 1x2 picture
	const rgb = Buffer.from([10, 20, 30, 40, 50, 60]).toString('base64');
	assert.deepEqual(Array.from(sampleRGBA(rgb, [3, 1, 2])), [10, 30, 50, 255, 20, 40, 60, 255]);
});

test('pixels that do not match the shape are refused', () => {
	assert.equal(sampleRGBA(Buffer.from([1, 2, 3]).toString('base64'), [1, 2, 2]), null);
	assert.equal(sampleRGBA('AAAA', [2, 1, 1]), null);
	assert.equal(sampleRGBA('AAAA', [3]), null);
});
