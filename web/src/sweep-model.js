/*
 * sweep-model.js — what the sweep view (sweep.js) draws, from GET
 * /api/sweeps/<id>'s answer: the best-so-far line, the ASHA rung chart's
 * points and the trials' parallel coordinates.
 *
 * What it is not: drawing (sweep.js, parcoords.js).
 *
 * Threads: pure.
 */

import { fmtMetric } from './format.js';

/* "best validation.accuracy 0.8812 (trial 3: optimizer.lr=1.0e-3, model.hidden=[512])" */
export function bestText(sweep) {
	const b = sweep.best;
	if (!b) return 'no trial has been evaluated yet';
	const values = (sweep.params || []).map((p, i) => `${p}=${b.values[i]}`).join(', ');
	return `best ${sweep.metric} ${fmtMetric(b.value)} (trial ${b.trial}: ${values})`;
}

/*
 * The rung chart's points: one per value recorded at a rung, x = the rung's
 * index, y = the value; `stopped` when ASHA stopped that trial at that rung.
 */
export function rungPoints(sweep) {
	const stoppedAt = new Map((sweep.trial_list || []).map((t) => [t.trial, t.asha_stopped_at]));
	const index = new Map((sweep.rungs || []).map((e, i) => [e, i]));
	return (sweep.rung_values || []).filter((v) => index.has(v.epoch) && Number.isFinite(v.value)).map((v) => ({
		rung: index.get(v.epoch), epoch: v.epoch, trial: v.trial, value: v.value, stopped: stoppedAt.get(v.trial) === v.epoch,
	}));
}

/* A swept value as an axis reads it: a number as a number ("1.0e-3" → 0.001), anything else as written. */
function axisValue(text) {
	const n = typeof text === 'string' && text.trim() !== '' ? Number(text) : NaN;
	return Number.isFinite(n) ? n : text;
}

/*
 * The trials as parallel coordinates: one line per trial ({id: "t<n>",
 * trial}), one axis per swept key and one for the sweep's metric.
 */
export function trialAxes(sweep) {
	const lines = (sweep.trial_list || []).map((t) => ({ id: `t${t.trial}`, trial: t }));
	const dims = (sweep.params || []).map((p, i) => ({ id: 'p:' + p, key: p, label: p, get: (l) => axisValue((l.trial.values || [])[i]) }));
	dims.push({ id: 'metric', key: sweep.metric, label: sweep.metric, get: (l) => l.trial.metric ?? null });
	return { lines, dims };
}
