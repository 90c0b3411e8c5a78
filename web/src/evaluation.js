/*
 * evaluation.js — what an `evaluation` event shows: the confusion matrix as
 * a heatmap table (rows true class, columns predicted, shade = share of the
 * row) and a grid of sample pictures with their true and predicted labels,
 * wrong ones marked.
 *
 * What it is not: the numbers (evaldata.js).
 *
 * Threads: the page's main thread.
 */

import { h } from './dom.js';
import { confusionStats, sampleRGBA } from './evaldata.js';
import { fmtInt } from './format.js';

/* heading: the block's title (run-status.js evaluationHeading); the accuracy is added to it. */
export function renderEvaluation(ev, heading = `Evaluation on ${ev.split || 'test'}`) {
	const classes = ev.classes || [];
	const name = (i) => classes[i] ?? String(i);
	const root = h('section.evaluation', { 'aria-label': 'evaluation' });
	const stats = ev.confusion && ev.confusion.length ? confusionStats(ev.confusion) : null;
	root.append(h('h4', { text: `${heading}${stats && stats.accuracy !== null ? ` — accuracy ${(100 * stats.accuracy).toFixed(2)}% (${fmtInt(stats.correct)}/${fmtInt(stats.total)})` : ''}` }));
	const wrap = h('div.evaluation-body');
	root.append(wrap);
	if (stats) wrap.append(confusionTable(ev.confusion, stats, name));
	if (Array.isArray(ev.samples) && ev.samples.length) wrap.append(sampleGrid(ev.samples, name));
	return root;
}

function confusionTable(matrix, stats, name) {
	const head = h('tr', h('th', { scope: 'col', class: 'corner', text: 'true \\ predicted' }),
		matrix.map((_, j) => h('th', { scope: 'col', title: name(j) }, h('span.rot', { text: name(j) }))));
	const rows = matrix.map((row, i) => h('tr',
		h('th', { scope: 'row', text: name(i) }),
		row.map((v, j) => {
			const share = stats.share[i][j];
			const cls = i === j ? 'diag' : 'off';
			return h('td.' + cls, {
				style: `--share:${share.toFixed(3)}`,
				title: `true ${name(i)}, predicted ${name(j)}: ${v} (${(100 * share).toFixed(1)}% of ${name(i)})`,
				text: String(v),
			});
		})));
	return h('table.confusion', h('caption', { text: 'Confusion matrix (rows: true class, columns: predicted; shade: share of the row)' }), h('thead', head), h('tbody', rows));
}

function sampleGrid(samples, name) {
	const grid = h('div.samples', { role: 'list', 'aria-label': 'sample predictions' });
	for (const s of samples) {
		const ok = s.label === s.predicted;
		const canvas = h('canvas.sample-img', { 'aria-hidden': 'true' });
		const rgba = sampleRGBA(s.pixels, s.shape);
		if (rgba) {
			canvas.width = s.shape[2];
			canvas.height = s.shape[1];
			canvas.getContext('2d').putImageData(new ImageData(rgba, s.shape[2], s.shape[1]), 0, 0);
		}
		grid.append(h('figure.sample' + (ok ? '.right' : '.wrong'), { role: 'listitem', 'aria-label': `true ${name(s.label)}, predicted ${name(s.predicted)}` },
			canvas,
			h('figcaption',
				h('span.true', { text: name(s.label) }),
				h('span.pred', { text: (ok ? '✓ ' : '✗ ') + name(s.predicted) }))));
	}
	return grid;
}
