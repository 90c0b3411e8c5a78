/*
 * system.js — the machine's readings over time (GET /api/system, then the
 * feed's `system` messages every second) and the panel that draws them:
 * per GPU utilization, memory, temperature and power as sparklines, or CPU
 * and memory on a machine without a GPU, saying so plainly.
 *
 * What it is not: per-run metrics (run-view.js). Readings the server could
 * not take are null and shown as "n/a".
 *
 * Threads: the page's main thread.
 */

import { h, clear, fill } from './dom.js';
import { Sparkline } from './sparkline.js';
import { fmtBytes, fmtPercent } from './format.js';

const KEEP = 120; /* two minutes at one sample a second */

export class SystemMonitor {
	constructor(api, feed) {
		this.api = api;
		this.feed = feed;
		this.samples = [];
		this.listeners = new Set();
		this.started = false;
		this.error = null;
	}

	start() {
		if (this.started) return;
		this.started = true;
		this.api.get('api/system').then((s) => this.#push(s)).catch((e) => {
			this.error = e.message;
			this.#notify();
		});
		this.feed.onSystem((s) => this.#push(s));
	}

	on(fn) {
		this.start();
		this.listeners.add(fn);
		if (this.samples.length || this.error) fn(this);
		return () => this.listeners.delete(fn);
	}

	get latest() {
		return this.samples.length ? this.samples[this.samples.length - 1] : null;
	}

	/* One reading over the kept history, e.g. (s) => s.gpus[0]?.power */
	values(pick) {
		return this.samples.map((s) => {
			try {
				const v = pick(s);
				return v === undefined ? null : v;
			} catch {
				return null;
			}
		});
	}

	#push(s) {
		if (!s || typeof s !== 'object') return;
		this.error = null;
		this.samples.push(s);
		if (this.samples.length > KEEP) this.samples.splice(0, this.samples.length - KEEP);
		this.#notify();
	}

	#notify() {
		for (const fn of this.listeners) fn(this);
	}
}

const pct = (used, total) => (used === null || used === undefined || !total ? null : (100 * used) / total);

/*
 * A panel of sparklines. device: null (every GPU, or CPU when none),
 * "cpu", or "cuda:N" (that GPU only).
 */
export class SystemPanel {
	constructor(parent, monitor, { device = null, title = 'System' } = {}) {
		this.monitor = monitor;
		this.device = device;
		this.body = h('div.system-body');
		this.root = h('section.system-panel', { 'aria-label': title }, h('h3', { text: title }), this.body);
		parent.append(this.root);
		this.layout = '';
		this.lines = [];
		this.off = monitor.on(() => this.#render());
	}

	setDevice(device) {
		if (device === this.device) return;
		this.device = device;
		this.layout = '';
		this.#render();
	}

	destroy() {
		this.off();
		this.root.remove();
	}

	#render() {
		const m = this.monitor;
		const s = m.latest;
		if (!s) {
			fill(this.body, h('p.muted', { text: m.error ? 'System readings unavailable: ' + m.error : 'Waiting for readings…' }));
			this.layout = '';
			return;
		}
		const gpus = Array.isArray(s.gpus) ? s.gpus : [];
		let shown = [];
		const want = this.device && this.device.startsWith('cuda') ? Number(this.device.split(':')[1] || 0) : null;
		if (this.device !== 'cpu') shown = want === null ? gpus.map((g, i) => i) : gpus.map((g, i) => i).filter((i) => (gpus[i].index ?? i) === want);
		const layout = JSON.stringify([shown, shown.map((i) => gpus[i].name), !gpus.length && s.gpu_note]);
		if (layout !== this.layout) {
			this.layout = layout;
			this.#build(s, shown);
		}
		for (const line of this.lines) line.spark.set(m.values(line.pick));
	}

	#build(s, shown) {
		clear(this.body);
		this.lines = [];
		const row = (parent, label, pick, format, max) => {
			this.lines.push({ pick, spark: new Sparkline(parent, { label, format, max }) });
		};
		for (const i of shown) {
			const g = s.gpus[i];
			const box = h('div.gpu', { 'data-gpu': String(g.index ?? i) });
			box.append(h('h4', { text: `GPU ${g.index ?? i}${g.name ? ' · ' + g.name : ''}` }));
			const grid = h('div.spark-grid');
			box.append(grid);
			row(grid, 'utilization', (x) => x.gpus[i].utilization, fmtPercent, 100);
			row(grid, 'memory', (x) => pct(x.gpus[i].memory_used, x.gpus[i].memory_total), (v) => {
				const gi = this.monitor.latest.gpus[i];
				return `${fmtBytes(gi.memory_used)} / ${fmtBytes(gi.memory_total)}`;
			}, 100);
			row(grid, 'temperature', (x) => x.gpus[i].temperature, (v) => `${Math.round(v)} °C`, null);
			row(grid, 'power', (x) => x.gpus[i].power, (v) => `${Math.round(v)} W`, null);
			this.body.append(box);
		}
		if (!shown.length) {
			const gpus = s.gpus || [];
			let note;
			if (this.device === 'cpu') note = 'This run trains on the CPU.';
			else if (!gpus.length) note = 'No GPU on this machine' + (s.gpu_note ? `: ${s.gpu_note}` : '') + '. Showing CPU and memory.';
			else note = `GPU ${this.device} not found; showing CPU and memory.`;
			this.body.append(h('p.gpu-note', { text: note }));
			const grid = h('div.spark-grid');
			this.body.append(grid);
			row(grid, `CPU${s.cpu && s.cpu.cores ? ' (' + s.cpu.cores + ' cores)' : ''}`, (x) => x.cpu.utilization, fmtPercent, 100);
			row(grid, 'memory', (x) => pct(x.memory.used, x.memory.total), () => {
				const mem = this.monitor.latest.memory || {};
				return `${fmtBytes(mem.used)} / ${fmtBytes(mem.total)}`;
			}, 100);
		}
	}
}
