/*
 * chart.js — a line chart (uPlot) with its own legend, redrawn at most once
 * per animation frame however fast points arrive.
 *
 * What it is: the drawing side of the curves. Callers hand it aligned data
 * ({x, series:[{label, color, values, faint}]}, see series.js alignSeries)
 * and options (log y, x mode); it recreates the uPlot instance only when the
 * set of series, the scales or the theme change, and otherwise just swaps
 * the data. What it is not: smoothing or bookkeeping (smooth.js, series.js).
 *
 * Threads: the page's main thread.
 */

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h, clear } from './dom.js';
import { fmtMetric, fmtDuration, fmtAxis } from './format.js';

/* Ten colours readable on both themes (matplotlib's tab10). */
export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
export const SPLIT_COLORS = { train: '#1f77b4', validation: '#ff7f0e', test: '#2ca02c' };

export function cssVar(name, fallback) {
	const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
	return v || fallback;
}

export function themeName() {
	return window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

function fmtX(mode, v) {
	if (v === null || v === undefined) return '';
	if (mode === 'time') return fmtDuration(v);
	if (mode === 'epoch') return String(Number(v.toFixed(2)));
	return String(Math.round(v));
}

/* Charts alive on the page, redrawn when the colour scheme flips (axis colours are baked in). */
const liveCharts = new Set();
if (typeof window !== 'undefined' && window.matchMedia) {
	window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
		for (const c of liveCharts) c.refresh();
	});
}

/* The colour with alpha, for the faint raw curve behind a smoothed one. */
function faint(color) {
	return color.startsWith('#') && color.length === 7 ? color + '55' : color;
}

export class LineChart {
	constructor(parent, { title, height = 180, syncKey = null, name = '' } = {}) {
		this.height = height;
		this.syncKey = syncKey;
		this.plotEl = h('div.chart-plot');
		this.emptyEl = h('div.chart-empty', { text: 'waiting for points…' });
		this.legendEl = h('div.chart-legend');
		this.root = h('figure.chart', { 'data-chart': name },
			h('figcaption', { text: title }), h('div.chart-body', this.plotEl, this.emptyEl), this.legendEl);
		parent.append(this.root);
		this.u = null;
		this.signature = '';
		this.data = { x: [], series: [] };
		this.opts = { log: false, xMode: 'step' };
		this.frame = 0;
		this.cursorIdx = null;
		this.ro = new ResizeObserver(() => this.#schedule());
		this.ro.observe(this.plotEl);
		liveCharts.add(this);
	}

	refresh() {
		this.#schedule();
	}

	update(data, opts = {}) {
		this.data = data;
		this.opts = { ...this.opts, ...opts };
		this.#schedule();
	}

	/* Number of x points drawn (tests read it through the debug hook). */
	get points() {
		return this.data.x.length;
	}

	destroy() {
		liveCharts.delete(this);
		this.ro.disconnect();
		if (this.frame) cancelAnimationFrame(this.frame);
		if (this.u) this.u.destroy();
		this.u = null;
		this.root.remove();
	}

	#schedule() {
		if (!this.frame) this.frame = requestAnimationFrame(() => {
			this.frame = 0;
			this.#render();
		});
	}

	#render() {
		const width = this.plotEl.clientWidth;
		const { x, series } = this.data;
		this.emptyEl.hidden = x.length > 0;
		this.#legend();
		if (width <= 0) return;
		const sig = JSON.stringify([series.map((s) => [s.label, s.color, !!s.faint, !!s.points]), this.opts.log, this.opts.xMode, themeName()]);
		const plotData = [x, ...series.map((s) => s.values)];
		if (!this.u || sig !== this.signature) {
			if (this.u) this.u.destroy();
			clear(this.plotEl);
			this.signature = sig;
			this.u = new uPlot(this.#options(width), plotData, this.plotEl);
		} else {
			if (this.u.width !== width) this.u.setSize({ width, height: this.height });
			this.u.setData(plotData);
		}
	}

	#options(width) {
		const axis = cssVar('--chart-axis', '#666');
		const grid = cssVar('--chart-grid', '#8883');
		const mode = this.opts.xMode;
		return {
			width,
			height: this.height,
			legend: { show: false },
			cursor: { sync: this.syncKey ? { key: this.syncKey } : undefined, drag: { x: true, y: false } },
			scales: { x: { time: false }, y: this.opts.log ? { distr: 3, log: 10 } : {} },
			axes: [
				{ stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, values: (u, vals) => vals.map((v) => fmtX(mode, v)) },
				{ stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 50, values: (u, vals) => vals.map((v) => fmtAxis(v)) },
			],
			series: [
				{ label: mode },
				...this.data.series.map((s) => ({
					label: s.label,
					stroke: s.faint ? faint(s.color) : s.color,
					width: s.faint ? 1 : 1.75,
					spanGaps: true,
					points: { show: !!s.points, size: 5, fill: s.color },
				})),
			],
			hooks: {
				setCursor: [(u) => {
					this.cursorIdx = u.cursor.idx ?? null;
					this.#legend();
				}],
			},
		};
	}

	/* The legend: each non-faint series with its value under the cursor, or its latest. */
	#legend() {
		const { x, series } = this.data;
		const idx = this.cursorIdx;
		clear(this.legendEl);
		if (idx !== null && idx !== undefined && x[idx] !== undefined) {
			this.legendEl.append(h('span.legend-x', { text: `${this.opts.xMode} ${fmtX(this.opts.xMode, x[idx])}` }));
		}
		for (const s of series) {
			if (s.faint) continue;
			let v = null;
			if (idx !== null && idx !== undefined) v = s.values[idx];
			else for (let i = s.values.length - 1; i >= 0 && (v === null || v === undefined); i--) v = s.values[i];
			this.legendEl.append(h('span.legend-item',
				h('span.swatch', { style: `background:${s.color}` }),
				h('span.legend-label', { text: s.label }),
				h('span.legend-value', { text: v === null || v === undefined ? '' : fmtMetric(v) })));
		}
	}
}
