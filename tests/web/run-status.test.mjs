// Unit tests for web/src/run-status.js and the formatting it uses: what a
// run's header says (newcomer bugs 1, 3, 6, 7, 8, 12).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { progressText, chanceWarning, evaluationHeading, received } from '../../web/src/run-status.js';
import { fmtAxis, yRange, runSeconds, fmtEpochs } from '../../web/src/format.js';

test('a queued run says how many runs are ahead of it, never "null" (bug 1)', () => {
	const queued = { id: 'r9', status: 'queued', progress: { step: null, total_steps: null, epoch: null, epochs: null }, queue_ahead: 1 };
	assert.equal(progressText({ run: queued }), 'queued — 1 run ahead of it');
	assert.equal(progressText({ run: { ...queued, queue_ahead: 0 } }), 'queued — next to start');
	assert.equal(progressText({ run: { ...queued, queue_ahead: 3 } }), 'queued — 3 runs ahead of it');
	assert.doesNotMatch(progressText({ run: { ...queued, queue_ahead: null } }), /null/);
});

test('a run limited by max_steps shows fractional epochs (bug 7)', () => {
	const run = { status: 'completed', progress: { step: 60, total_steps: 60, epochs: 1, epoch: 0, steps_per_epoch: 938 }, seconds: 12 };
	assert.equal(progressText({ run }), 'step 60 / 60 · epoch 0.06 / 1 · took 0:12');
	assert.equal(fmtEpochs(1.5), '1.5');
	assert.equal(fmtEpochs(2), '2');
	assert.equal(evaluationHeading({ split: 'test', step: 60, epoch: 0 }, 938), 'Evaluation on test at step 60 (epoch 0.06)');
	assert.equal(evaluationHeading({ split: 'test', step: 938, checkpoint: 'step-000000938.safetensors' }, 938), 'Evaluation of step-000000938.safetensors on test at step 938 (epoch 1)');
});

test('the final evaluation shows as a phase with its progress, not "ETA 0.0 s" (bug 8)', () => {
	const run = { status: 'running', progress: { step: 4690, total_steps: 4690, epochs: 5, steps_per_epoch: 938 } };
	const text = progressText({ run, step: 4690, eta: 0, phase: { phase: 'evaluating', split: 'test', done: 4500, total: 10000 } });
	assert.match(text, /evaluating on test… 45%/);
	assert.doesNotMatch(text, /ETA/);
	assert.match(progressText({ run, step: 100, eta: 42 }), /ETA 0:42/);
});

test('one duration everywhere: the run\'s running segments, counting on while it runs (bug 6)', () => {
	const stopped = received({ id: 'r1', status: 'stopped', seconds: 42.4, started: 1000, ended: 1244 }, 5000);
	assert.equal(runSeconds(stopped, 6000), 42.4);
	assert.match(progressText({ run: stopped }), /took 0:42/);
	const running = received({ id: 'r1', status: 'running', seconds: 10, running_since: 990 }, 1000);
	assert.equal(runSeconds(running, 1005), 15);
	assert.equal(runSeconds({ id: 'r2', status: 'queued' }), null);
});

test('large axis values are short and small ones readable (bug 3)', () => {
	assert.equal(fmtAxis(12000), '12k');
	assert.equal(fmtAxis(2.5e6), '2.5M');
	assert.equal(fmtAxis(3e9), '3G');
	assert.equal(fmtAxis(1e12), '1e12');
	assert.equal(fmtAxis(2.5e15), '2.5e15');
	assert.equal(fmtAxis(-4e13), '-4e13');
	assert.equal(fmtAxis(0.0001), '1e-4');
	assert.equal(fmtAxis(0.25), '0.25');
	for (const v of [1e10, 1e12, 1e15, 1e20]) assert.ok(fmtAxis(v).length <= 6, `${v} → ${fmtAxis(v)}`);
});

test('a run at chance accuracy with a huge loss gets a warning; a healthy one does not (bug 3)', () => {
	assert.match(chanceWarning({ accuracy: 0.1, loss: 3.2e9, classes: 10 }), /chance accuracy \(10\.0% for 10 classes\).*diverged/);
	assert.match(chanceWarning({ accuracy: 0.098, loss: NaN, classes: 10 }), /diverged/);
	assert.equal(chanceWarning({ accuracy: 0.88, loss: 0.35, classes: 10 }), null);
	assert.equal(chanceWarning({ accuracy: 0.1, loss: 2.3, classes: 10 }), null); // chance, but a sane loss: untrained, not diverged
	assert.equal(chanceWarning({ accuracy: 0.1, loss: 1e9, classes: 0 }), null);
});

test('a flat accuracy of 1.0 is drawn in a small range inside 0..1, not 0..2 (bug 12)', () => {
	const [lo, hi] = yRange(1, 1, { metric: 'accuracy' });
	assert.ok(lo >= 0.85 && lo < 1 && hi === 1, `${lo}..${hi}`);
	const [a, b] = yRange(0.5, 0.9, { metric: 'accuracy' });
	assert.ok(a < 0.5 && a >= 0 && b > 0.9 && b <= 1);
	const [c, d] = yRange(3, 3, { metric: 'loss' });
	assert.ok(c < 3 && d > 3 && d - c < 1);
	const [e, f] = yRange(0, 0, {});
	assert.ok(e < 0 && f > 0);
	const [g, k] = yRange(0.001, 10, { log: true });
	assert.ok(g > 0 && g < 0.001 && k > 10);
});
