/*
 * run-status.js — what a run's header says in words: where it is (queued
 * and behind how many, step and fractional epoch, evaluating on test with
 * its progress, ETA or how long it took), a warning when it ended at
 * chance accuracy with an exploding loss, and an evaluation's heading.
 *
 * What it is: pure text from the run object (docs/api.md), the worker's
 * status event and the latest progress. What it is not: the DOM
 * (run-view.js draws it).
 *
 * Threads: pure.
 */

import { fmtDuration, fmtEpochs, fmtInt, fmtMetric, runSeconds } from './format.js';

/* A run object as received, stamped with the page's clock (runSeconds counts on from there). */
export function received(run, now = Date.now() / 1000) {
	return run ? { ...run, received: now } : run;
}

/*
 * The progress line: state {run, info (status event), step, epoch, phase
 * (the latest phase event while it lasts), eta (seconds or null)}.
 */
export function progressText({ run = {}, info = {}, step = null, phase = null, eta = null, now } = {}) {
	const p = run.progress || {};
	if (run.status === 'queued') {
		const ahead = run.queue_ahead;
		const what = run.evaluate ? 'queued to evaluate ' + run.evaluate : 'queued';
		if (ahead === null || ahead === undefined) return what;
		return `${what} — ${ahead === 0 ? 'next to start' : ahead === 1 ? '1 run ahead of it' : fmtInt(ahead) + ' runs ahead of it'}`;
	}
	const parts = [];
	const total = info.total_steps || p.total_steps || 0;
	const at = step ?? p.step ?? null;
	if (at !== null) parts.push(`step ${fmtInt(at)}${total ? ' / ' + fmtInt(total) : ''}`);
	const spe = info.steps_per_epoch || p.steps_per_epoch || 0;
	const epochs = info.epochs || p.epochs;
	if (at !== null && spe) parts.push(`epoch ${fmtEpochs(at / spe)}${epochs ? ' / ' + epochs : ''}`);
	else if (p.epoch !== null && p.epoch !== undefined) parts.push(`epoch ${p.epoch}${epochs ? ' / ' + epochs : ''}`);
	if (phase && phase.phase === 'evaluating' && run.status === 'running') {
		const pct = phase.total ? Math.floor((100 * phase.done) / phase.total) : null;
		parts.push(`evaluating on ${phase.split || 'test'}…${pct === null ? '' : ' ' + pct + '%'}`);
	} else if (run.status === 'running') {
		if (eta !== null && eta !== undefined) parts.push('ETA ' + fmtDuration(eta));
	} else {
		const took = runSeconds(run, now);
		if (took !== null && run.status && run.status !== 'unknown') parts.push('took ' + fmtDuration(took));
	}
	return parts.join(' · ');
}

/*
 * A run that ended no better than guessing with a loss far above where it
 * started has diverged: say so, with what usually helps. null otherwise.
 */
export function chanceWarning({ accuracy, loss, classes }) {
	if (!(classes >= 2) || !Number.isFinite(accuracy)) return null;
	const chance = 1 / classes;
	const hugeLoss = !Number.isFinite(loss) || loss > 10 * Math.log(classes);
	if (accuracy > chance + 0.02 || !hugeLoss) return null;
	return `This run ended at chance accuracy (${(100 * accuracy).toFixed(1)}% for ${classes} classes) with a loss of ${Number.isFinite(loss) ? fmtMetric(loss) : loss}: the training diverged. A lower learning rate (or warm-up) usually helps.`;
}

/* "Evaluation on test at step 60 (epoch 0.06)", or of a checkpoint when the Evaluate action made it. */
export function evaluationHeading(ev, stepsPerEpoch = 0) {
	const split = ev.split || 'test';
	const where = Number.isFinite(ev.step)
		? ` at step ${fmtInt(ev.step)}${stepsPerEpoch ? ` (epoch ${fmtEpochs(ev.step / stepsPerEpoch)})` : ''}`
		: ev.epoch !== undefined ? `, epoch ${ev.epoch}` : '';
	return ev.checkpoint ? `Evaluation of ${ev.checkpoint} on ${split}${where}` : `Evaluation on ${split}${where}`;
}
