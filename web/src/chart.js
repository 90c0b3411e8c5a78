/*
 * chart.js — a line chart (uPlot) with its own legend, redrawn at most once
 * per animation frame however fast points arrive.
 *
 * What it is: the drawing side of the curves. Callers hand it aligned data
 * ({x, series:[{label, color, values, faint, points, lo, hi}]}; lo/hi draw
 * a shaded band behind the line: min–max of a downsampled bucket, or a
 * group's spread) and options (log y, x mode, metric, the x range of the
 * whole data). It recreates the uPlot instance only when the set of
 * series, the scales or the theme change, and otherwise swaps the data.
 *
 * Zoom: dragging across the plot zooms x, a double-click zooms out; the
 * chart tells its owner (onZoom) so it can fetch finer points and zoom the
 * page's other charts alike, and keeps the zoom while new points arrive.
 * The y axis fits the visible data (yRange: a flat accuracy of 1.0 is not
 * drawn on 0..2) and is as wide as its labels. The legend shows each
 * line's value under the cursor, or the nearest point where a line has
 * none at that x.
 *
 * What it is not: smoothing or bookkeeping (curves.js, run-curves.js).
 *
 * Threads: the page's main thread.
 */

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h, clear } from './dom.js';
import { fmtMetric, fmtDuration, fmtAxis, yRange } from './format.js';
import { nearestIndex, axisWidth } from './chart-util.js';

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
	return fmtAxis(Math.round(v));
}

/* Charts alive on the page, redrawn when the colour scheme flips (axis colours are baked in). */
const liveCharts = new Set();
if (typeof window !== 'undefined' && window.matchMedia) {
	window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
		for (const c of liveCharts) c.refresh();
	});
}

/* The colour with alpha, for faint curves and bands. */
function alpha(color, aa) {
	return color.startsWith('#') && color.length === 7 ? color + aa : color;
}

const AXIS_FONT = '12px system-ui, sans-serif';
let measureCtx = null;
function textWidth(s) {
	if (!measureCtx) measureCtx = document.createElement('canvas').getContext('2d');
	measureCtx.font = AXIS_FONT;
	return measureCtx.measureText(s).width;
}

export class LineChart {
	/* onZoom([min, max] or null) after the user zooms or zooms out */
	constructor(parent, { title, height = 180, syncKey = null, name = '', onZoom = null } = {}) {
		this.height = height;
		this.syncKey = syncKey;
		this.onZoom = onZoom;
		this.plotEl = h('div.chart-plot');
		this.emptyEl = h('div.chart-empty', { text: 'waiting for points…' });
		this.legendEl = h('div.chart-legend');
		this.root = h('figure.chart', { 'data-chart': name },
			h('figcaption', { text: title }), h('div.chart-body', this.plotEl, this.emptyEl), this.legendEl);
		parent.append(this.root);
		this.u = null;
		this.signature = '';
		this.data = { x: [], series: [] };
		this.opts = { log: false, xMode: 'step', metric: '', xRange: null };
		this.zoom = null; /* [min, max] of x while zoomed in */
		this.frame = 0;
		this.cursorIdx = null;
		this.drawn = 0;   /* frames drawn (tests) */
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

	/* Zoom x to [min, max], or out with null; the owner is not told (it asked). */
	zoomTo(range) {
		this.zoom = range ? [Math.min(range[0], range[1]), Math.max(range[0], range[1])] : null;
		if (this.u) this.u.setScale('x', this.#xScale());
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

	/* The x range shown: the zoom, else the whole data's (never a made-up range around one point). */
	#xScale() {
		if (this.zoom) return { min: this.zoom[0], max: this.zoom[1] };
		const r = this.opts.xRange;
		const x = this.data.x;
		let min = r ? r[0] : x.length ? x[0] : 0;
		let max = r ? r[1] : x.length ? x[x.length - 1] : 1;
		if (!(max > min)) {
			min = Math.min(0, min);
			max = max > min ? max : min + 1;
		}
		return { min, max };
	}

	#render() {
		const width = this.plotEl.clientWidth;
		const { x, series } = this.data;
		this.emptyEl.hidden = x.length > 0;
		this.#legend();
		if (width <= 0) return;
		const sig = JSON.stringify([series.map((s) => [s.label, s.color, !!s.faint, !!s.points, !!s.lo, s.width || 0]), this.opts.log, this.opts.xMode, this.opts.metric, themeName()]);
		const plotData = [x, ...series.map((s) => s.values)];
		if (!this.u || sig !== this.signature) {
			if (this.u) this.u.destroy();
			clear(this.plotEl);
			this.signature = sig;
			this.u = new uPlot(this.#options(width), plotData, this.plotEl);
		} else {
			if (this.u.width !== width) this.u.setSize({ width, height: this.height });
			this.u.setData(plotData, false);
		}
		this.u.setScale('x', this.#xScale());
		this.drawn++;
	}

	/* Shaded bands (lo..hi) under the lines, clipped to the plot. */
	#drawBands(u) {
		const ctx = u.ctx;
		const { left, top, width, height } = u.bbox;
		const x = u.data[0];
		ctx.save();
		ctx.beginPath();
		ctx.rect(left, top, width, height);
		ctx.clip();
		this.data.series.forEach((s) => {
			if (!s.lo || !s.hi) return;
			ctx.fillStyle = alpha(s.color, s.faint ? '18' : '2e');
			let run = [];
			const flush = () => {
				if (run.length > 1) {
					ctx.beginPath();
					run.forEach(([px, py], k) => (k ? ctx.lineTo(px, py) : ctx.moveTo(px, py)));
					for (let k = run.length - 1; k >= 0; k--) ctx.lineTo(run[k][0], run[k][2]);
					ctx.closePath();
					ctx.fill();
				}
				run = [];
			};
			for (let i = 0; i < x.length; i++) {
				const lo = s.lo[i];
				const hi = s.hi[i];
				if (!Number.isFinite(lo) || !Number.isFinite(hi) || (this.opts.log && lo <= 0)) {
					if (s.values[i] === null || s.values[i] === undefined) continue; /* another line's x */
					flush();
					continue;
				}
				run.push([u.valToPos(x[i], 'x', true), u.valToPos(hi, 'y', true), u.valToPos(lo, 'y', true)]);
			}
			flush();
		});
		ctx.restore();
	}

	#options(width) {
		const axis = cssVar('--chart-axis', '#666');
		const grid = cssVar('--chart-grid', '#8883');
		const mode = this.opts.xMode;
		const metric = this.opts.metric;
		const log = this.opts.log;
		return {
			width,
			height: this.height,
			legend: { show: false },
			cursor: {
				sync: this.syncKey ? { key: this.syncKey } : undefined,
				drag: { x: true, y: false, setScale: false },
				bind: {
					dblclick: () => () => {
						this.zoomTo(null);
						if (this.onZoom) this.onZoom(null);
						return null;
					},
				},
			},
			scales: {
				x: { time: false, range: () => { const s = this.#xScale(); return [s.min, s.max]; } },
				y: { ...(log ? { distr: 3, log: 10 } : {}), range: (u, min, max) => yRange(min, max, { metric, log }) },
			},
			axes: [
				{ font: AXIS_FONT, stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, values: (u, vals) => vals.map((v) => fmtX(mode, v)) },
				{
					font: AXIS_FONT, stroke: axis, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid },
					values: (u, vals) => vals.map((v) => fmtAxis(v)),
					size: (u, values) => axisWidth(values, textWidth),
				},
			],
			series: [
				{ label: mode },
				...this.data.series.map((s) => ({
					label: s.label,
					stroke: s.faint ? alpha(s.color, '55') : s.color,
					width: s.width || (s.faint ? 1 : 1.75),
					spanGaps: true,
					points: { show: !!s.points, size: 5, fill: s.color },
				})),
			],
			hooks: {
				drawAxes: [(u) => this.#drawBands(u)],
				setCursor: [(u) => {
					this.cursorIdx = u.cursor.idx ?? null;
					this.#legend();
				}],
				setSelect: [(u) => {
					if (u.select.width < 3) return;
					const range = [u.posToVal(u.select.left, 'x'), u.posToVal(u.select.left + u.select.width, 'x')];
					u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
					this.zoomTo(range);
					if (this.onZoom) this.onZoom(this.zoom);
				}],
			},
		};
	}

	/* The legend: each non-faint line with its value under the cursor (or the nearest point), or its latest. */
	#legend() {
		const { x, series } = this.data;
		const idx = this.cursorIdx;
		clear(this.legendEl);
		const at = idx !== null && idx !== undefined && x[idx] !== undefined;
		if (at) this.legendEl.append(h('span.legend-x', { text: `${this.opts.xMode} ${fmtX(this.opts.xMode, x[idx])}` }));
		for (const s of series) {
			if (s.faint) continue;
			let v = null;
			if (at) {
				const j = nearestIndex(x, s.values, idx);
				v = j === null ? null : s.values[j];
			} else for (let i = s.values.length - 1; i >= 0 && (v === null || v === undefined); i--) v = s.values[i];
			this.legendEl.append(h('span.legend-item', { title: s.title || s.label },
				h('span.swatch', { style: `background:${s.color}` }),
				h('span.legend-label', { text: s.label }),
				h('span.legend-value', { text: v === null || v === undefined ? '' : fmtMetric(v) })));
		}
	}
}
