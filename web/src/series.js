/*
 * series.js — metric events turned into chart series.
 *
 * What it is: pure bookkeeping. RunSeries collects `metric` events of one
 * run by split (train/validation/test) and gives, per metric, the points
 * against the chosen x-axis: step, epoch (fractional when steps per epoch
 * is known) or wall time since the run's first point. alignSeries puts
 * several series on one shared, sorted x array with nulls where a series
 * has no point, which is the shape uPlot draws.
 * What it is not: drawing, smoothing (smooth.js).
 *
 * Threads: pure.
 */

export const SPLITS = ['train', 'validation', 'test'];

export class RunSeries {
	constructor() {
		this.points = { train: [], validation: [], test: [] }; /* [{step, epoch, time, values}] */
		this.stepsPerEpoch = 0;
		this.t0 = null;
		this.metrics = new Set(); /* every metric name seen, e.g. "loss", "lr" */
	}

	/* Feed one worker event; non-metric events only teach steps per epoch. */
	add(event) {
		if (!event) return false;
		if (event.type === 'status' && event.steps_per_epoch) this.stepsPerEpoch = event.steps_per_epoch;
		if (event.type !== 'metric' || !event.values) return false;
		const split = event.split || 'train';
		if (!this.points[split]) this.points[split] = [];
		const time = Number.isFinite(event.time) ? event.time : null;
		if (time !== null && (this.t0 === null || time < this.t0)) this.t0 = time;
		this.points[split].push({ step: event.step ?? 0, epoch: event.epoch ?? 0, time, values: event.values });
		for (const k of Object.keys(event.values)) this.metrics.add(k);
		return true;
	}

	x(p, mode) {
		if (mode === 'epoch') return this.stepsPerEpoch ? p.step / this.stepsPerEpoch : p.epoch;
		if (mode === 'time') return p.time === null || this.t0 === null ? null : p.time - this.t0;
		return p.step;
	}

	/* {xs, ys} of one split's metric; points without the metric are left out. */
	get(split, metric, mode = 'step') {
		const xs = [];
		const ys = [];
		for (const p of this.points[split] || []) {
			const y = p.values[metric];
			if (y === undefined) continue;
			const x = this.x(p, mode);
			if (x === null) continue;
			xs.push(x);
			ys.push(y === null ? null : Number(y));
		}
		return { xs, ys };
	}

	/* The latest value of split.metric, or undefined. */
	last(split, metric) {
		const pts = this.points[split] || [];
		for (let i = pts.length - 1; i >= 0; i--) if (pts[i].values[metric] !== undefined) return pts[i].values[metric];
		return undefined;
	}

	count(split = 'train') {
		return (this.points[split] || []).length;
	}
}

/*
 * Align series [{xs, ys}] on the sorted union of their x values.
 * Returns {x, ys:[…]}; a series gets null where it has no point. When one
 * series has the same x twice (a run resumed from an older checkpoint
 * repeats steps), the later value wins, as the newer training did.
 */
export function alignSeries(list) {
	const set = new Set();
	for (const s of list) for (const x of s.xs) set.add(x);
	const x = Array.from(set).sort((a, b) => a - b);
	const index = new Map(x.map((v, i) => [v, i]));
	const ys = list.map((s) => {
		const col = new Array(x.length).fill(null);
		for (let i = 0; i < s.xs.length; i++) col[index.get(s.xs[i])] = s.ys[i];
		return col;
	});
	return { x, ys };
}
