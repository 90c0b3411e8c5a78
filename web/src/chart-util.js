/*
 * chart-util.js — the arithmetic of chart.js that needs no browser: the
 * point of a line nearest to the cursor when the line has none at the
 * cursor's x (an overlaid run logged at other steps), and how wide the y
 * axis must be for its labels.
 *
 * Threads: pure.
 */

/*
 * The index of the point of `values` nearest (in x) to index `idx` of the
 * shared x array; `idx` itself when it has a value, null when the line is
 * empty.
 */
export function nearestIndex(x, values, idx) {
	const has = (i) => values[i] !== null && values[i] !== undefined && Number.isFinite(values[i]);
	if (idx === null || idx === undefined || idx < 0 || idx >= x.length) return null;
	if (has(idx)) return idx;
	let best = null;
	for (let l = idx - 1; l >= 0; l--) if (has(l)) {
		best = l;
		break;
	}
	for (let r = idx + 1; r < x.length; r++) if (has(r)) {
		if (best === null || Math.abs(x[r] - x[idx]) < Math.abs(x[idx] - x[best])) best = r;
		break;
	}
	return best;
}

/* Pixels for a y axis showing `labels`: the widest label, tick and padding, at least 40. */
export function axisWidth(labels, measure) {
	let w = 0;
	for (const l of labels || []) if (l) w = Math.max(w, measure(String(l)));
	return Math.max(40, Math.ceil(w) + 18);
}
