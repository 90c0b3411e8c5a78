/*
 * sparkline.js — a small live line of the last samples of one reading
 * (GPU utilization, memory, temperature, power; CPU and RAM) with its
 * current value in words. A reading the server could not take (null) is
 * shown as "n/a", never as zero.
 *
 * What it is not: the history (system.js keeps it).
 *
 * Threads: the page's main thread.
 */

import { h } from './dom.js';
import { cssVar } from './chart.js';

export class Sparkline {
	/*
	 * format(v) → text; max: fixed top of the scale (100 for %), or null to
	 * fit the data. size: {width, height} in CSS pixels when the canvas's
	 * size is fixed by the page (the board's 60+ rows): then drawing never
	 * asks the layout for it, which would make every row's redraw a reflow.
	 */
	constructor(parent, { label, format = String, max = null, min = 0, size = null }) {
		this.format = format;
		this.max = max;
		this.min = min;
		this.size = size;
		this.canvas = h('canvas.spark', { width: 120, height: 28, 'aria-hidden': 'true' });
		this.valueEl = h('span.spark-value', { text: '…' });
		this.root = h('div.spark-card', { role: 'group', 'aria-label': label },
			h('span.spark-label', { text: label }), this.canvas, this.valueEl);
		parent.append(this.root);
	}

	/* values: numbers or null, oldest first */
	set(values) {
		const last = values.length ? values[values.length - 1] : undefined;
		this.valueEl.textContent = last === null ? 'n/a' : last === undefined ? '…' : this.format(last);
		this.root.classList.toggle('unavailable', last === null);
		this.#draw(values);
	}

	#draw(values) {
		const c = this.canvas;
		const dpr = window.devicePixelRatio || 1;
		const w = this.size ? this.size.width : c.clientWidth || 120;
		const hgt = this.size ? this.size.height : c.clientHeight || 28;
		if (c.width !== Math.round(w * dpr)) {
			c.width = Math.round(w * dpr);
			c.height = Math.round(hgt * dpr);
		}
		const ctx = c.getContext('2d');
		ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
		ctx.clearRect(0, 0, w, hgt);
		const nums = values.filter((v) => v !== null && Number.isFinite(v));
		if (!nums.length) return;
		const top = this.max ?? (Math.max(...nums) * 1.1 || 1);
		const bottom = this.min;
		const n = Math.max(values.length, 2);
		ctx.strokeStyle = cssVar('--accent', '#1f77b4');
		ctx.lineWidth = 1.5;
		ctx.beginPath();
		let pen = false;
		values.forEach((v, i) => {
			if (v === null || !Number.isFinite(v)) {
				pen = false;
				return;
			}
			const x = (i / (n - 1)) * (w - 2) + 1;
			const y = hgt - 1 - ((v - bottom) / (top - bottom || 1)) * (hgt - 2);
			if (pen) ctx.lineTo(x, y);
			else ctx.moveTo(x, y);
			pen = true;
		});
		ctx.stroke();
	}
}
