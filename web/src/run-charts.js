/*
 * run-charts.js — one run's curves: loss and accuracy (train, validation,
 * test), learning rate and images/s, with the TensorBoard controls
 * (smoothing, log scale, x by step/epoch/time) and links to the metrics
 * export routes (CSV, JSON).
 *
 * What it is: the glue from RunSeries to LineChart. The controls are the
 * same for every run on the page and remembered in localStorage.
 * What it is not: the run's header, checkpoints or evaluation (run-view.js).
 *
 * Threads: the page's main thread.
 */

import { h } from './dom.js';
import { LineChart, SPLIT_COLORS } from './chart.js';
import { SPLITS, alignSeries } from './series.js';
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
		extra);
}

/* The lines of one chart: per split, a faint raw curve behind a smoothed one. */
export function groupLines(series, group, prefs, { label = (split) => split, color = (split) => SPLIT_COLORS[split] } = {}) {
	const lines = [];
	for (const split of group.splits) {
		const { xs, ys } = series.get(split, group.metric, prefs.xMode);
		if (!xs.length) continue;
		const vals = prefs.log ? logSafe(ys) : ys;
		const sparse = xs.length < SMOOTH_MIN_POINTS;
		if (prefs.smoothing > 0 && group.smooth !== false && !sparse) {
			lines.push({ label: label(split) + ' (raw)', color: color(split), faint: true, xs, ys: vals });
			lines.push({ label: label(split), color: color(split), xs, ys: emaSmooth(vals, prefs.smoothing) });
		} else {
			lines.push({ label: label(split), color: color(split), xs, ys: vals, points: sparse });
		}
	}
	return lines;
}

export function toChartData(lines) {
	const aligned = alignSeries(lines);
	return { x: aligned.x, series: lines.map((l, i) => ({ label: l.label, color: l.color, faint: l.faint, points: l.points, values: aligned.ys[i] })) };
}

export class RunCharts {
	constructor(parent, api, runId) {
		this.prefs = loadPrefs();
		this.series = null;
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
		for (const g of GROUPS) this.charts[g.name] = new LineChart(this.grid, { title: g.title, syncKey: 'run-' + runId, name: g.name });
		this.frame = 0;
	}

	update(series) {
		this.series = series;
		if (!this.frame) this.frame = requestAnimationFrame(() => {
			this.frame = 0;
			this.refresh();
		});
	}

	refresh() {
		if (!this.series) return;
		for (const g of GROUPS) {
			const lines = groupLines(this.series, g, this.prefs);
			const chart = this.charts[g.name];
			chart.root.hidden = !lines.length && !g.always;
			chart.update(toChartData(lines), { log: this.prefs.log, xMode: this.prefs.xMode });
		}
	}

	destroy() {
		if (this.frame) cancelAnimationFrame(this.frame);
		for (const c of Object.values(this.charts)) c.destroy();
		this.root.remove();
	}
}
