/*
 * run-charts.js — one run's curves: loss and accuracy (train, validation,
 * test), learning rate and images/s, with the TensorBoard controls
 * (smoothing, log scale, x by step/epoch/time) and links to the metrics
 * export routes (CSV, JSON).
 *
 * What it is: the glue from curves (run-curves.js) to LineChart, and the
 * line building the Runs page shares (curveLines, toChartData). The
 * controls are the same for every run on the page and remembered in
 * localStorage; zooming one chart zooms the run's other charts and fetches
 * their finer points. What it is not: the run's header, checkpoints or
 * evaluation (run-view.js).
 *
 * Threads: the page's main thread.
 */

import { h } from './dom.js';
import { LineChart, SPLIT_COLORS } from './chart.js';
import { SPLITS, alignLines, curveXs } from './curves.js';
import { emaSmooth, logSafe } from './smooth.js';

const GROUPS = [
	{ name: 'loss', title: 'loss', metric: 'loss', splits: SPLITS, always: true },
	{ name: 'accuracy', title: 'accuracy', metric: 'accuracy', splits: SPLITS, always: true },
	{ name: 'lr', title: 'learning rate', metric: 'lr', splits: ['train'], smooth: false },
	{ name: 'images_per_sec', title: 'images/s', metric: 'images_per_sec', splits: ['train'] },
];
const SMOOTH_MIN_POINTS = 10; /* per-epoch test points are few: draw them as they are */
const PREFS_KEY = 'trainbook.chartPrefs';

export function loadPrefs() {
	try {
		const p = JSON.parse(localStorage.getItem(PREFS_KEY) || '{}');
		return { smoothing: Number.isFinite(p.smoothing) ? p.smoothing : 0.6, log: !!p.log, xMode: ['step', 'epoch', 'time'].includes(p.xMode) ? p.xMode : 'step' };
	} catch {
		return { smoothing: 0.6, log: false, xMode: 'step' };
	}
}

export function savePrefs(p) {
	try {
		localStorage.setItem(PREFS_KEY, JSON.stringify(p));
	} catch {
		/* private mode: the controls still work for this page */
	}
}

/* Chart controls; onChange(prefs) after each change. Shared by the run view and the runs page. */
export function chartControls(prefs, onChange, extra = []) {
	const id = Math.random().toString(36).slice(2, 8);
	const smoothOut = h('output', { for: 'sm-' + id, text: prefs.smoothing.toFixed(2) });
	const smooth = h('input', { type: 'range', id: 'sm-' + id, min: '0', max: '0.99', step: '0.01', value: String(prefs.smoothing), 'aria-label': 'smoothing' });
	smooth.addEventListener('input', () => {
		prefs.smoothing = Number(smooth.value);
		smoothOut.textContent = prefs.smoothing.toFixed(2);
		onChange(prefs);
	});
	const log = h('input', { type: 'checkbox', checked: prefs.log, 'aria-label': 'log scale' });
	log.addEventListener('change', () => {
		prefs.log = log.checked;
		onChange(prefs);
	});
	const xsel = h('select', { 'aria-label': 'x axis' }, ['step', 'epoch', 'time'].map((m) => h('option', { value: m, selected: prefs.xMode === m, text: m })));
	xsel.addEventListener('change', () => {
		prefs.xMode = xsel.value;
		onChange(prefs);
	});
	return h('div.chart-controls',
		h('label', h('span', { text: 'smoothing' }), smooth, smoothOut),
		h('label', log, h('span', { text: 'log scale' })),
		h('label', h('span', { text: 'x' }), xsel),
		h('span.muted.small', { text: 'drag to zoom · double-click to zoom out' }),
		extra);
}

/*
 * The lines of one curve: a faint raw line (with its min–max band when
 * the points are downsampled) behind a smoothed one, or the raw line
 * alone. xopts: {stepsPerEpoch, t0} for the x modes.
 */
export function curveLines(curve, { label, color, prefs, smooth = true, band = true, xopts = {}, title = label }) {
	if (!curve || !curve.length) return [];
	const xs = curveXs(curve, prefs.xMode, xopts);
	const pick = (a) => (prefs.log ? logSafe(a) : a);
	const downsampled = curve.counts.some((n) => n > 1);
	const raw = { label: label + ' (raw)', color, xs, ys: pick(curve.values), title };
	if (band && downsampled) {
		raw.lo = pick(curve.mins);
		raw.hi = pick(curve.maxs);
	}
	const sparse = curve.length < SMOOTH_MIN_POINTS;
	if (prefs.smoothing > 0 && smooth && !sparse) {
		return [{ ...raw, faint: true }, { label, color, xs, ys: pick(emaSmooth(curve.means, prefs.smoothing, curve.counts)), title }];
	}
	return [{ ...raw, label, points: sparse }];
}

/* Lines → the chart's data (uPlot's shape, bands included). */
export function toChartData(lines) {
	const a = alignLines(lines);
	return {
		x: a.x,
		series: lines.map((l, i) => ({
			label: l.label, title: l.title, color: l.color, faint: l.faint, points: l.points, width: l.width,
			values: a.ys[i], lo: a.lo[i], hi: a.hi[i],
		})),
	};
}

/* [min, max] of the steps of these curves, the x range of charts that are not zoomed. */
export function stepRange(curves) {
	let lo = Infinity;
	let hi = -Infinity;
	for (const c of curves) {
		if (!c || !c.length) continue;
		lo = Math.min(lo, c.steps[0]);
		hi = Math.max(hi, c.lastStep);
	}
	return Number.isFinite(lo) ? [Math.min(0, lo), hi] : null;
}

export class RunCharts {
	/* curves: a RunCurves following this run; info(): {stepsPerEpoch, t0} for the x modes */
	constructor(parent, api, runId, curves, info = () => ({})) {
		this.prefs = loadPrefs();
		this.runId = runId;
		this.curves = curves;
		this.info = info;
		this.grid = h('div.chart-grid');
		const links = h('span.exports',
			h('a', { href: api.url(`api/runs/${encodeURIComponent(runId)}/metrics.csv`), download: `${runId}-metrics.csv`, text: 'CSV' }),
			h('a', { href: api.url(`api/runs/${encodeURIComponent(runId)}/metrics.json`), download: `${runId}-metrics.json`, text: 'JSON' }));
		this.root = h('section.run-charts', { 'aria-label': 'training curves' },
			chartControls(this.prefs, (p) => {
				savePrefs(p);
				this.refresh();
			}, links),
			this.grid);
		parent.append(this.root);
		this.charts = {};
		for (const g of GROUPS) this.charts[g.name] = new LineChart(this.grid, { title: g.title, syncKey: 'run-' + runId, name: g.name, onZoom: (r) => this.#zoom(g.name, r) });
		this.frame = 0;
	}

	/* One chart zoomed: the others follow, and finer points are fetched (steps; other x modes zoom what is loaded). */
	#zoom(from, range) {
		for (const [name, c] of Object.entries(this.charts)) if (name !== from) c.zoomTo(range);
		if (this.prefs.xMode === 'step') this.curves.zoomTo(range);
	}

	/* The finer points of the last zoom are in (the benchmark waits for it). */
	zoomSettled() {
		return this.curves.settled();
	}

	update() {
		if (!this.frame) this.frame = requestAnimationFrame(() => {
			this.frame = 0;
			this.refresh();
		});
	}

	refresh() {
		const xopts = this.info();
		const all = [];
		for (const g of GROUPS) for (const split of g.splits) all.push(this.curves.get(this.runId, `${split}/${g.metric}`));
		const range = stepRange(all);
		for (const g of GROUPS) {
			const lines = [];
			for (const split of g.splits) {
				const c = this.curves.get(this.runId, `${split}/${g.metric}`);
				lines.push(...curveLines(c, { label: split, color: SPLIT_COLORS[split], prefs: this.prefs, smooth: g.smooth !== false, xopts }));
			}
			const chart = this.charts[g.name];
			chart.root.hidden = !lines.length && !g.always;
			chart.update(toChartData(lines), {
				log: this.prefs.log, xMode: this.prefs.xMode, metric: g.metric,
				xRange: this.prefs.xMode === 'step' ? range : null,
			});
		}
	}

	destroy() {
		if (this.frame) cancelAnimationFrame(this.frame);
		for (const c of Object.values(this.charts)) c.destroy();
		this.root.remove();
	}
}
