// Unit tests for web/src/sweep-model.js: the best-so-far line, the ASHA rung chart's points, the trials' parallel coordinates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bestText, rungPoints, trialAxes } from '../../web/src/sweep-model.js';
import { axisScale } from '../../web/src/parcoords-scale.js';

const sweep = {
	metric: 'validation.accuracy', params: ['optimizer.lr', 'model.hidden'], rungs: [1, 3],
	best: { trial: 3, run: 'r9', value: 0.88123, epochs: 4, values: ['1.0e-3', '[512]'] },
	trial_list: [
		{ trial: 1, asha_stopped_at: null }, { trial: 2, asha_stopped_at: 1 }, { trial: 3, asha_stopped_at: null },
	],
	rung_values: [
		{ epoch: 1, trial: 1, value: 0.8 }, { epoch: 1, trial: 2, value: 0.2 }, { epoch: 1, trial: 3, value: 0.85 },
		{ epoch: 3, trial: 3, value: 0.88 }, { epoch: 2, trial: 1, value: 0.5 }, { epoch: 3, trial: 1, value: null },
	],
};

test('the best-so-far line names the metric, the value and the trial\'s values', () => {
	assert.equal(bestText(sweep), 'best validation.accuracy 0.8812 (trial 3: optimizer.lr=1.0e-3, model.hidden=[512])');
	assert.equal(bestText({ ...sweep, best: null }), 'no trial has been evaluated yet');
});

test('rung points: one per recorded value at a rung, the trial ASHA stopped there marked', () => {
	const pts = rungPoints(sweep);
	assert.equal(pts.length, 4); // epoch 2 is no rung; a null value (diverged) is not drawn
	assert.deepEqual(pts.map((p) => [p.rung, p.trial, p.stopped]), [[0, 1, false], [0, 2, true], [0, 3, false], [1, 3, false]]);
	assert.deepEqual(rungPoints({ rungs: [], rung_values: [] }), []);
});

test('parallel coordinates of the trials: an axis per swept key read as numbers where they are, and the metric', () => {
	const s = {
		metric: 'validation.accuracy', params: ['optimizer.lr', 'model.hidden', 'optimizer.name'],
		trial_list: [
			{ trial: 1, values: ['1.0e-3', '[512]', 'adam'], metric: 0.87 },
			{ trial: 2, values: ['0.1', '[64]', 'sgd'], metric: null },
		],
	};
	const { lines, dims } = trialAxes(s);
	assert.deepEqual(lines.map((l) => l.id), ['t1', 't2']);
	assert.deepEqual(dims.map((d) => d.label), ['optimizer.lr', 'model.hidden', 'optimizer.name', 'validation.accuracy']);
	assert.deepEqual(lines.map((l) => dims.map((d) => d.get(l))), [[0.001, '[512]', 'adam', 0.87], [0.1, '[64]', 'sgd', null]]);
	// The lr axis is a log axis (a rate read as numbers); the list-valued one is categories.
	assert.equal(axisScale(lines.map((l) => dims[0].get(l)), { key: dims[0].key }).kind, 'log');
	assert.equal(axisScale(lines.map((l) => dims[1].get(l)), { key: dims[1].key }).kind, 'category');
	assert.deepEqual(trialAxes({ metric: 'test.loss', params: [], trial_list: [] }).dims.map((d) => d.id), ['metric']);
});
