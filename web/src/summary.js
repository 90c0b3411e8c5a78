/*
 * summary.js — a run's result in a few plain lines: what a notebook stores
 * as the text/plain of a run cell's output (Jupyter and GitHub show it) and
 * what the page shows before a run is re-attached.
 *
 * What it is: pure text from the run object, the worker's status/summary
 * events and the last metric values. What it is not: the PNG (snapshot.js).
 *
 * Threads: pure.
 */

import { fmtDuration, fmtMetric, fmtInt, runSeconds } from './format.js';

/*
 * state: {run, info (status event: device, total_steps, epochs, params),
 *         summary (summary event), step, epoch, last: {"train.loss": v, …}}
 */
export function summaryText(state) {
	const run = state.run || {};
	const info = state.info || {};
	const sum = state.summary || null;
	const lines = [];
	const device = info.device_name ? `${info.device || run.device} (${info.device_name})` : info.device || run.device || '';
	lines.push(`trainbook run ${run.id || '?'}: ${run.status || 'unknown'}${run.reason ? ' (' + run.reason + ')' : ''}${device ? ' on ' + device : ''}`);
	const parts = [];
	const step = sum ? sum.steps : state.step;
	const total = info.total_steps || (run.progress && run.progress.total_steps);
	if (step !== undefined && step !== null) parts.push(`step ${fmtInt(step)}${total ? '/' + fmtInt(total) : ''}`);
	const epochs = info.epochs || (run.progress && run.progress.epochs);
	const epoch = sum ? sum.epochs : state.epoch;
	if (epoch !== undefined && epoch !== null) parts.push(`epoch ${epoch}${epochs ? '/' + epochs : ''}`);
	/* the run's duration (its running segments), as every view shows it; the worker's own for old records */
	const took = runSeconds(run) ?? (sum && Number.isFinite(sum.seconds) ? sum.seconds : null);
	if (took !== null && run.status !== 'running' && run.status !== 'queued') parts.push(fmtDuration(took));
	if (sum && Number.isFinite(sum.images_per_sec)) parts.push(`${fmtInt(sum.images_per_sec)} images/s`);
	if (info.params) parts.push(`${fmtInt(info.params)} parameters`);
	if (parts.length) lines.push(parts.join(', '));
	const final = sum && sum.final ? sum.final : state.last || {};
	const keys = Object.keys(final).filter((k) => /(^|\.)(loss|accuracy)$/.test(k)).sort();
	if (keys.length) lines.push(keys.map((k) => `${k} ${fmtMetric(final[k])}`).join('  '));
	const best = (sum && sum.best) || run.best;
	if (best && best.metric) lines.push(`best ${best.metric} ${fmtMetric(best.value)}${best.step !== undefined ? ' at step ' + fmtInt(best.step) : ''}`);
	return lines.join('\n');
}
