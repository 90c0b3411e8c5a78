/*
 * run-curves.js — the curves of one or more runs, kept current: read as
 * downsampled series (GET api/series: one request per split and metric
 * for all the runs, never a replay of every event), then followed on the
 * live feed from the series' last seq, a metric event's values appended
 * to their curves. Zooming in fetches the visible range at full
 * resolution (or finer buckets) and splices it in; a long live tail is
 * folded back into buckets by fetching again.
 *
 * Every run's buckets are sized for the same span of steps, so they share
 * one grid and a chart overlays them on common x values.
 *
 * What it is not: drawing (chart.js) or smoothing (curves.js). The api and
 * feed are injected, so node tests drive it with fakes.
 *
 * Threads: the page's main thread.
 */

import { Curve } from './curves.js';

/* [split, metric] pairs the views draw. */
export const CURVE_KEYS = [
	['train', 'loss'], ['validation', 'loss'], ['test', 'loss'],
	['train', 'accuracy'], ['validation', 'accuracy'], ['test', 'accuracy'],
	['train', 'lr'], ['train', 'images_per_sec'],
];

export const POINTS = 2000;
const REFETCH_LIVE = 4 * POINTS; /* live points past the answer before folding them into buckets */

export class RunCurves {
	/*
	 * runs: [{id, last_seq, progress}] (summaries); onChange() after curves
	 * changed; onEvents(runId, items) gets every live event of a run that
	 * is not a metric (status, checkpoint, evaluation, log, …) and the
	 * metric ones too, after the curves took them.
	 */
	constructor({ api, feed, keys = CURVE_KEYS, points = POINTS, onChange = () => {}, onEvents = null }) {
		this.api = api;
		this.feed = feed;
		this.keys = keys;
		this.points = points;
		this.onChange = onChange;
		this.onEvents = onEvents;
		this.runs = new Map();   /* id → {base: Map key→Curve, view: Map key→Curve, off, since} */
		this.span = 0;           /* steps the base curves' buckets are sized for (0: each run its own) */
		this.zoom = null;        /* [min, max] steps while zoomed */
		this.generation = 0;     /* drops zoom answers that arrive after another zoom */
		this.pending = Promise.resolve();
		this.destroyed = false;
	}

	ids() {
		return [...this.runs.keys()];
	}

	/* The curve of run `id` for "split/metric" as drawn now (zoom detail included), or null. */
	get(id, key) {
		const r = this.runs.get(id);
		return r ? r.view.get(key) || null : null;
	}

	/* Every "split/metric" any run has points for. */
	present() {
		const out = new Set();
		for (const r of this.runs.values()) for (const [k, c] of r.view) if (c.length) out.add(k);
		return out;
	}

	/*
	 * Load the curves of these runs (summaries) and follow them live. Runs
	 * already loaded are kept; runs not in the list are dropped.
	 */
	async load(runs) {
		const want = new Map(runs.map((r) => [r.id, r]));
		for (const id of [...this.runs.keys()]) if (!want.has(id)) this.#drop(id);
		const fresh = runs.filter((r) => !this.runs.has(r.id));
		if (!fresh.length) {
			this.onChange();
			return;
		}
		for (const r of fresh) this.runs.set(r.id, { base: new Map(), view: new Map(), off: null, since: r.last_seq || 0, buffer: [] });
		/* follow first, so nothing that happens while the series load is missed; buffer until they are in */
		for (const r of fresh) this.#follow(r.id);
		this.span = Math.max(0, ...runs.map((r) => (r.progress && r.progress.step) || 0)) + 1;
		await this.#fetchBase(fresh.map((r) => r.id));
		for (const r of fresh) this.#drain(r.id);
		this.onChange();
	}

	destroy() {
		this.destroyed = true;
		for (const id of [...this.runs.keys()]) this.#drop(id);
	}

	#drop(id) {
		const r = this.runs.get(id);
		if (r && r.off) r.off();
		this.runs.delete(id);
	}

	/* range: {from, to} for a zoom, or {span} for whole curves on a shared grid */
	#query(ids, split, metric, range, points) {
		let q = `api/series?runs=${ids.map(encodeURIComponent).join(',')}&split=${split}&metric=${encodeURIComponent(metric)}&points=${points}`;
		if (range && range.span > 1) q += `&span=${Math.ceil(range.span)}`;
		if (range && range.to !== undefined) q += `&from=${Math.max(0, Math.floor(range.from))}&to=${Math.max(0, Math.ceil(range.to))}`;
		return this.api.get(q);
	}

	/* Base curves of runs `ids` for every key, in one request per key. */
	async #fetchBase(ids) {
		const answers = await Promise.all(this.keys.map(([split, metric]) =>
			this.#query(ids, split, metric, { span: this.span }, this.points).catch(() => ({ series: [] }))));
		if (this.destroyed) return;
		answers.forEach((a, k) => {
			const key = this.keys[k].join('/');
			for (const s of a.series || []) {
				const r = this.runs.get(s.run);
				if (!r || s.error) continue;
				const c = new Curve(s);
				r.base.set(key, c);
				r.view.set(key, c);
			}
		});
	}

	#follow(id) {
		const r = this.runs.get(id);
		r.off = this.feed.subscribeRun(id, (items) => {
			if (r.buffer) r.buffer.push(...items);
			else this.#apply(id, items);
		}, { since: r.since });
	}

	/* Live events that arrived while the series loaded, then live from now on. */
	#drain(id) {
		const r = this.runs.get(id);
		if (!r || !r.buffer) return;
		const items = r.buffer;
		r.buffer = null;
		if (items.length) this.#apply(id, items);
	}

	#apply(id, items) {
		const r = this.runs.get(id);
		if (!r) return;
		let changed = false;
		let long = false;
		for (const { seq, event } of items) {
			if (!event || event.type !== 'metric' || !event.values) continue;
			const split = event.split || 'train';
			for (const [name, value] of Object.entries(event.values)) {
				const key = `${split}/${name}`;
				let base = r.base.get(key);
				if (!base) {
					base = new Curve();
					r.base.set(key, base);
					r.view.set(key, base);
				}
				if (seq <= base.lastSeq) continue; /* the series had it */
				const v = Number(value);
				base.push(event.step, v, event.time, event.thinned, name);
				const view = r.view.get(key);
				if (view !== base) view.push(event.step, v, event.time, event.thinned, name);
				changed = true;
				long = long || base.live > REFETCH_LIVE;
			}
		}
		if (this.onEvents) this.onEvents(id, items);
		if (changed) this.onChange();
		if (long && !this.refetching) this.#refetch();
	}

	/* Fold a long live tail into buckets: fetch the base curves again over the grown range. */
	async #refetch() {
		this.refetching = true;
		try {
			let maxStep = 0;
			for (const r of this.runs.values()) for (const c of r.base.values()) maxStep = Math.max(maxStep, c.lastStep || 0);
			this.span = maxStep + 1;
			await this.#fetchBase(this.ids());
			if (this.zoom) await this.#fetchZoom(this.zoom, this.generation);
			this.onChange();
		} finally {
			this.refetching = false;
		}
	}

	/*
	 * Zoom to steps [min, max] (null: zoom out). The curves drawn until the
	 * finer ones arrive are the coarse ones, so the chart redraws at once;
	 * settled() resolves when the finer points are in.
	 */
	zoomTo(range) {
		const gen = ++this.generation;
		this.zoom = range;
		if (!range) {
			for (const r of this.runs.values()) r.view = new Map(r.base);
			this.pending = Promise.resolve();
			this.onChange();
			return this.pending;
		}
		this.pending = this.#fetchZoom(range, gen).then(() => {
			if (gen === this.generation) this.onChange();
		});
		return this.pending;
	}

	settled() {
		return this.pending;
	}

	async #fetchZoom(range, gen) {
		const ids = this.ids();
		if (!ids.length) return;
		const from = Math.max(0, Math.floor(range[0]));
		const to = Math.max(from, Math.ceil(range[1]));
		const keys = this.keys.filter(([split, metric]) => [...this.runs.values()].some((r) => (r.base.get(`${split}/${metric}`) || { length: 0 }).length));
		const answers = await Promise.all(keys.map(([split, metric]) =>
			this.#query(ids, split, metric, { from, to }, this.points).catch(() => ({ series: [] }))));
		if (gen !== this.generation || this.destroyed) return;
		answers.forEach((a, k) => {
			const key = keys[k].join('/');
			for (const s of a.series || []) {
				const r = this.runs.get(s.run);
				const base = r && r.base.get(key);
				if (!base || s.error) continue;
				r.view.set(key, base.withDetail(s));
			}
		});
	}
}
