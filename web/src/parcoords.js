/*
 * parcoords.js — parallel coordinates of runs: one vertical axis per
 * hyperparameter that differs (and one for a chosen metric), one line per
 * run through its values, so which settings lead to good results shows as
 * bundles of lines. Rates (lr, weight decay) and values spanning two
 * decades or more get log axes; text values are spread evenly. Dragging
 * along an axis brushes a range and only runs inside every brush stay
 * (onBrush gets their ids); a double-click on the axis clears its brush.
 *
 * What it is: a canvas view over the pure scales of parcoords-scale.js.
 * What it is not: choosing the runs or columns (runs.js, hparams.js).
 *
 * Threads: the page's main thread (the scales are pure).
 */

import { h } from './dom.js';
import { cssVar } from './chart.js';
import { axisScale, inBrushes } from './parcoords-scale.js';

const PAD = { top: 28, bottom: 22, left: 40, right: 40 };

export class ParallelCoords {
	/* onBrush(ids of the runs inside every brush, or null when nothing is brushed); noun: what a line is, for the hints */
	constructor(parent, { onBrush = () => {}, height = 260, noun = 'runs' } = {}) {
		this.onBrush = onBrush;
		this.noun = noun;
		this.height = height;
		this.canvas = h('canvas.parcoords-canvas', { role: 'img', 'aria-label': 'parallel coordinates of the selected runs' });
		this.note = h('p.muted.small');
		this.root = h('div.parcoords', this.canvas, this.note);
		parent.append(this.root);
		this.runs = [];
		this.dims = [];
		this.scales = {};
		this.brushes = {};
		this.colorOf = () => '#888';
		this.drag = null;
		this.canvas.addEventListener('mousedown', (e) => this.#down(e));
		this.canvas.addEventListener('dblclick', (e) => this.#clear(e));
		this.onMove = (e) => this.#move(e);
		this.onUp = () => this.#up();
		window.addEventListener('mousemove', this.onMove);
		window.addEventListener('mouseup', this.onUp);
		this.ro = new ResizeObserver(() => this.draw());
		this.ro.observe(this.root);
	}

	destroy() {
		window.removeEventListener('mousemove', this.onMove);
		window.removeEventListener('mouseup', this.onUp);
		this.ro.disconnect();
		this.root.remove();
	}

	/* dims: [{id, label, get(run)}]; colorOf(run) → CSS colour. */
	update(runs, dims, colorOf) {
		this.runs = runs;
		this.dims = dims;
		this.colorOf = colorOf;
		this.scales = {};
		for (const d of dims) this.scales[d.id] = axisScale(runs.map((r) => d.get(r)), { key: d.key || d.label });
		for (const id of Object.keys(this.brushes)) if (!this.scales[id]) delete this.brushes[id];
		this.note.textContent = runs.length < 2 || dims.length < 2
			? `Select two or more ${this.noun} with settings that differ to compare them here.`
			: `Drag along an axis to keep only the ${this.noun} in that range; double-click the axis to clear it.`;
		this.draw();
	}

	/* ids inside every brush, or null when there is no brush */
	brushed() {
		if (!Object.keys(this.brushes).length) return null;
		return this.runs.filter((r) => inBrushes(r, this.dims, this.scales, this.brushes)).map((r) => r.id);
	}

	#axisX(i, width) {
		const n = this.dims.length;
		return n < 2 ? width / 2 : PAD.left + (i * (width - PAD.left - PAD.right)) / (n - 1);
	}

	#unitY(u) {
		return PAD.top + (1 - u) * (this.height - PAD.top - PAD.bottom);
	}

	draw() {
		const width = this.root.clientWidth;
		if (width <= 0) return;
		const dpr = window.devicePixelRatio || 1;
		this.canvas.width = Math.round(width * dpr);
		this.canvas.height = Math.round(this.height * dpr);
		this.canvas.style.width = width + 'px';
		this.canvas.style.height = this.height + 'px';
		const ctx = this.canvas.getContext('2d');
		ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
		ctx.clearRect(0, 0, width, this.height);
		if (this.runs.length < 1 || this.dims.length < 1) return;
		const axis = cssVar('--chart-axis', '#666');
		const brushed = this.brushed();
		const keep = brushed ? new Set(brushed) : null;
		/* lines first, the kept ones on top */
		for (const pass of [false, true]) {
			for (const r of this.runs) {
				const inside = !keep || keep.has(r.id);
				if (inside !== pass) continue;
				ctx.strokeStyle = inside ? this.colorOf(r) : '#9993';
				ctx.lineWidth = inside ? 1.75 : 1;
				ctx.beginPath();
				let pen = false;
				this.dims.forEach((d, i) => {
					const u = this.scales[d.id].unit(d.get(r));
					if (u === null) {
						pen = false;
						return;
					}
					const x = this.#axisX(i, width);
					const y = this.#unitY(u);
					if (pen) ctx.lineTo(x, y);
					else ctx.moveTo(x, y);
					pen = true;
				});
				ctx.stroke();
			}
		}
		ctx.font = '11px system-ui, sans-serif';
		this.dims.forEach((d, i) => {
			const x = this.#axisX(i, width);
			ctx.strokeStyle = axis;
			ctx.lineWidth = 1;
			ctx.beginPath();
			ctx.moveTo(x, PAD.top);
			ctx.lineTo(x, this.height - PAD.bottom);
			ctx.stroke();
			ctx.fillStyle = axis;
			const s = this.scales[d.id];
			ctx.textAlign = i === 0 ? 'left' : i === this.dims.length - 1 ? 'right' : 'center';
			ctx.fillText(d.label + (s.kind === 'log' ? ' (log)' : ''), x, 14);
			ctx.textAlign = 'left';
			for (const t of s.ticks) {
				if (t.u === null) continue;
				const y = this.#unitY(t.u);
				ctx.beginPath();
				ctx.moveTo(x - 3, y);
				ctx.lineTo(x + 3, y);
				ctx.stroke();
				const right = i === this.dims.length - 1;
				ctx.textAlign = right ? 'right' : 'left';
				ctx.fillText(t.label, right ? x - 5 : x + 5, y + 4);
			}
			const b = this.brushes[d.id];
			if (b) {
				ctx.fillStyle = '#1f77b433';
				ctx.strokeStyle = '#1f77b4';
				const y0 = this.#unitY(Math.max(b[0], b[1]));
				const y1 = this.#unitY(Math.min(b[0], b[1]));
				ctx.fillRect(x - 7, y0, 14, y1 - y0);
				ctx.strokeRect(x - 7, y0, 14, y1 - y0);
			}
		});
	}

	/* the axis under a mouse event, and the unit value there */
	#hit(e) {
		const rect = this.canvas.getBoundingClientRect();
		const x = e.clientX - rect.left;
		const y = e.clientY - rect.top;
		let best = -1;
		let dist = 14;
		this.dims.forEach((d, i) => {
			const dx = Math.abs(this.#axisX(i, rect.width) - x);
			if (dx < dist) {
				dist = dx;
				best = i;
			}
		});
		const u = Math.min(1, Math.max(0, 1 - (y - PAD.top) / (this.height - PAD.top - PAD.bottom)));
		return best < 0 ? null : { dim: this.dims[best], u };
	}

	#down(e) {
		const hit = this.#hit(e);
		if (!hit) return;
		e.preventDefault();
		this.drag = { id: hit.dim.id, u0: hit.u };
		this.brushes[hit.dim.id] = [hit.u, hit.u];
		this.draw();
	}

	#move(e) {
		if (!this.drag) return;
		const rect = this.canvas.getBoundingClientRect();
		const u = Math.min(1, Math.max(0, 1 - (e.clientY - rect.top - PAD.top) / (this.height - PAD.top - PAD.bottom)));
		this.brushes[this.drag.id] = [this.drag.u0, u];
		this.draw();
	}

	#up() {
		if (!this.drag) return;
		const b = this.brushes[this.drag.id];
		if (b && Math.abs(b[0] - b[1]) < 0.01) delete this.brushes[this.drag.id]; /* a click, not a drag */
		this.drag = null;
		this.draw();
		this.onBrush(this.brushed());
	}

	#clear(e) {
		const hit = this.#hit(e);
		if (!hit || !this.brushes[hit.dim.id]) return;
		delete this.brushes[hit.dim.id];
		this.draw();
		this.onBrush(this.brushed());
	}

	/* Brush an axis from code (tests, and restoring a view): unit range [u0, u1]. */
	setBrush(id, range) {
		if (range) this.brushes[id] = range;
		else delete this.brushes[id];
		this.draw();
		this.onBrush(this.brushed());
	}
}

