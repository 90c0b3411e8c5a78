// Unit tests for web/src/sweep.js: the best-so-far line and the ASHA rung chart's points.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bestText, rungPoints } from '../../web/src/sweep.js';

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
