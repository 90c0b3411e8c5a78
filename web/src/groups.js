/*
 * groups.js — runs grouped for comparison (by a tag, by a spec key, or
 * "same spec but seed") and a group's curves reduced to one line with a
 * band: mean ± standard deviation or min–max across its runs.
 *
 * What it is: pure functions. Curves of different runs rarely share every
 * x; each run is read at every x of the group by linear interpolation
 * inside its own range (never extrapolated), so a run that stopped early
 * only counts where it has points. What it is not: drawing (runs.js,
 * chart.js).
 *
 * Threads: pure.
 */

/* The ways to group: "tag", "seed" (same spec but seed), or "key:<flattened spec key>". */
export function groupKeyOf(run, by) {
	if (by === 'tag') return (run.tags || [])[0] ?? '(no tag)';
	if (by === 'seed') {
		const rest = Object.entries(run.hparams || {}).filter(([k]) => !/(^|\.)seed$/.test(k)).sort(([a], [b]) => a.localeCompare(b));
		return JSON.stringify(rest);
	}
	if (by && by.startsWith('key:')) {
		const v = (run.hparams || {})[by.slice(4)];
		return v === undefined ? '(not set)' : JSON.stringify(v);
	}
	return run.id;
}

/*
 * [{key, label, runs}] in the order their first run appears. A "seed"
 * group's runs differ only in their seeds: it is labelled with the spec
 * values that tell it from the other groups ("optimizer.lr=0.01"), or its
 * first run's name when nothing does.
 */
export function groupRuns(runs, by) {
	const groups = new Map();
	for (const r of runs) {
		const key = groupKeyOf(r, by);
		if (!groups.has(key)) groups.set(key, { key, runs: [] });
		groups.get(key).runs.push(r);
	}
	return [...groups.values()].map((g) => {
		let label = g.key;
		if (by === 'seed') label = seedGroupLabel(g, [...groups.values()]);
		else if (by && by.startsWith('key:')) label = `${by.slice(4)} = ${g.key === '(not set)' ? g.key : JSON.parse(g.key)}`;
		return { ...g, label: String(label) };
	});
}

function seedGroupLabel(g, all) {
	const hp = (r) => r.hparams || {};
	const keys = new Set();
	for (const other of all) for (const k of Object.keys({ ...hp(other.runs[0]), ...hp(g.runs[0]) })) keys.add(k);
	const differ = [...keys].filter((k) => !/(^|\.)seed$/.test(k) && all.some((o) => JSON.stringify(hp(o.runs[0])[k]) !== JSON.stringify(hp(g.runs[0])[k]))).sort();
	if (!differ.length) return g.runs[0].name || g.runs[0].id;
	const shown = differ.slice(0, 3).map((k) => `${k}=${hp(g.runs[0])[k] ?? '—'}`).join(', ');
	return differ.length > 3 ? shown + ', …' : shown;
}

/* y of a line (sorted xs) at x, interpolated; null outside its range or next to a gap. */
export function valueAt(xs, ys, x) {
	if (!xs.length || x < xs[0] || x > xs[xs.length - 1]) return null;
	let lo = 0;
	let hi = xs.length - 1;
	while (hi - lo > 1) {
		const mid = (lo + hi) >> 1;
		if (xs[mid] <= x) lo = mid;
		else hi = mid;
	}
	if (xs[lo] === x) return ys[lo];
	if (xs[hi] === x) return ys[hi];
	const a = ys[lo];
	const b = ys[hi];
	if (!Number.isFinite(a) || !Number.isFinite(b)) return null;
	return a + ((b - a) * (x - xs[lo])) / (xs[hi] - xs[lo]);
}

/*
 * One group's lines [{xs, ys}] → {x, mean, lo, hi, n} on the union of
 * their x values; band "std" (mean ± one standard deviation, the
 * population's) or "minmax".
 */
export function aggregate(lines, band = 'std') {
	const set = new Set();
	for (const l of lines) for (const x of l.xs) if (Number.isFinite(x)) set.add(x);
	const x = [...set].sort((a, b) => a - b);
	const mean = [];
	const lo = [];
	const hi = [];
	const n = [];
	for (const at of x) {
		const vals = [];
		for (const l of lines) {
			const v = valueAt(l.xs, l.ys, at);
			if (Number.isFinite(v)) vals.push(v);
		}
		n.push(vals.length);
		if (!vals.length) {
			mean.push(null);
			lo.push(null);
			hi.push(null);
			continue;
		}
		const m = vals.reduce((a, b) => a + b, 0) / vals.length;
		mean.push(m);
		if (band === 'minmax') {
			lo.push(Math.min(...vals));
			hi.push(Math.max(...vals));
		} else {
			const sd = Math.sqrt(vals.reduce((a, v) => a + (v - m) * (v - m), 0) / vals.length);
			lo.push(m - sd);
			hi.push(m + sd);
		}
	}
	return { x, mean, lo, hi, n };
}
