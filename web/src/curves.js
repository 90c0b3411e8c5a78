/*
 * curves.js — a metric's curve as the page holds it: the server's
 * downsampled series (GET api/series, docs/api.md) with the live points
 * that arrived after it, finer detail spliced in where the user zoomed,
 * smoothing that keeps its shape at every zoom, and charts' x values.
 *
 * A curve is a list of buckets in step order. A bucket stands for `count`
 * raw points: its last point (step, value, time), their mean, min and max.
 * The server's buckets are `bucket` steps wide on a grid shared by every
 * run asked over the same range, and each is drawn at its grid step (the
 * end of its window), so overlaid runs share x values; the last bucket, a
 * bucket of one point and a live point are drawn at their real step.
 *
 * Smoothing (smooth.js) takes each bucket's mean and count, so it is the
 * same curve at every zoom.
 *
 * What it is not: fetching (run-curves.js) or drawing (chart.js).
 *
 * Threads: pure.
 */

export const SPLITS = ['train', 'validation', 'test'];

const FIELDS = ['steps', 'grid', 'values', 'means', 'mins', 'maxs', 'counts', 'times'];

export class Curve {
	/* An answer of the series route, or nothing for an empty curve. */
	constructor(answer = null) {
		const a = answer || {};
		this.steps = (a.steps || []).slice();
		this.values = (a.values || []).slice();
		this.means = (a.means || this.values).slice();
		this.mins = (a.mins || this.values).slice();
		this.maxs = (a.maxs || this.values).slice();
		this.counts = (a.counts || this.values.map(() => 1)).slice();
		/* the server sends times as seconds after t0 (docs/api.md) */
		const t0 = a.t0 || 0;
		this.times = (a.times || this.values.map(() => null)).map((t) => (t === null ? null : t0 + t));
		this.bucket = a.bucket || 1;
		const w = this.bucket;
		const last = this.steps.length - 1;
		this.grid = this.steps.map((s, i) => (w > 1 && i < last && this.counts[i] > 1 ? Math.floor(s / w) * w + w - 1 : s));
		this.lastSeq = a.last_seq || 0; /* live points with a higher seq are not in the answer */
		this.live = 0;                  /* points pushed since the answer */
	}

	get length() {
		return this.steps.length;
	}

	get lastStep() {
		return this.steps.length ? this.steps[this.steps.length - 1] : null;
	}

	/*
	 * A live point (a metric event with seq > lastSeq). A step at or before
	 * the last one means a resumed run is training those steps again: the
	 * newer training replaces what is drawn from there on.
	 */
	push(step, value, time = null, thinned = null, key = null) {
		if (!Number.isFinite(step) || !Number.isFinite(value)) return;
		let n = this.steps.length;
		while (n > 0 && this.steps[n - 1] >= step) n--;
		if (n < this.steps.length) this.#truncate(n);
		const lo = thinned && key && thinned.min && Number.isFinite(thinned.min[key]) ? Math.min(value, thinned.min[key]) : value;
		const hi = thinned && key && thinned.max && Number.isFinite(thinned.max[key]) ? Math.max(value, thinned.max[key]) : value;
		this.steps.push(step);
		this.grid.push(step);
		this.values.push(value);
		this.means.push(value);
		this.mins.push(lo);
		this.maxs.push(hi);
		this.counts.push(thinned && thinned.events > 1 ? thinned.events : 1);
		this.times.push(Number.isFinite(time) ? time : null);
		this.live++;
	}

	#truncate(n) {
		for (const k of FIELDS) this[k].length = n;
	}

	/*
	 * This curve with the buckets of `detail` (a finer answer over
	 * [detail.from, detail.to]) in place of its own in that range.
	 */
	withDetail(detail) {
		const fine = new Curve(detail);
		if (detail.from === null || detail.from === undefined) return this;
		const out = new Curve();
		out.bucket = this.bucket;
		out.lastSeq = this.lastSeq; /* live points are told apart by the whole curve's answer */
		out.live = this.live;
		const copy = (src, i) => {
			for (const k of FIELDS) out[k].push(src[k][i]);
		};
		let i = 0;
		while (i < this.length && this.steps[i] < detail.from) copy(this, i++);
		for (let j = 0; j < fine.length; j++) copy(fine, j);
		const end = fine.length ? Math.max(detail.to, fine.lastStep) : detail.to;
		while (i < this.length && this.steps[i] <= end) i++;
		while (i < this.length) copy(this, i++);
		return out;
	}
}

/*
 * x of each bucket for an axis mode: "step" (the bucket's end on the shared
 * grid, the real step for the last bucket and at full resolution, so runs
 * overlay on common x values), "epoch" (step / steps per epoch, when known)
 * or "time" (seconds since t0). null where it cannot be told.
 */
export function curveXs(curve, mode, { stepsPerEpoch = 0, t0 = null } = {}) {
	const n = curve.length;
	const xs = new Array(n);
	for (let i = 0; i < n; i++) {
		const step = curve.grid[i];
		if (mode === 'time') xs[i] = curve.times[i] === null || t0 === null ? null : curve.times[i] - t0;
		else if (mode === 'epoch') xs[i] = stepsPerEpoch ? step / stepsPerEpoch : null;
		else xs[i] = step;
	}
	return xs;
}

/*
 * Several lines [{xs, ys, lo?, hi?}] on the sorted union of their x values,
 * the shape uPlot draws: {x, ys: [...], lo: [...], hi: [...]} with null
 * where a line has no point. A repeated x keeps the later value.
 */
export function alignLines(lines) {
	const set = new Set();
	for (const l of lines) for (const x of l.xs) if (x !== null && x !== undefined) set.add(x);
	const x = Float64Array.from(set).sort();
	const index = new Map();
	for (let i = 0; i < x.length; i++) index.set(x[i], i);
	const column = (l, key) => {
		const src = l[key];
		if (!src) return null;
		const col = new Array(x.length).fill(null);
		for (let i = 0; i < l.xs.length; i++) {
			const at = index.get(l.xs[i]);
			if (at !== undefined) col[at] = src[i];
		}
		return col;
	};
	return {
		x: Array.from(x),
		ys: lines.map((l) => column(l, 'ys')),
		lo: lines.map((l) => column(l, 'lo')),
		hi: lines.map((l) => column(l, 'hi')),
	};
}
