/*
 * smooth.js — TensorBoard-style smoothing and log-scale helpers for curves.
 *
 * What it is: pure functions over arrays of numbers (null = no point).
 * What it is not: drawing (chart.js).
 *
 * The smoothing is an exponential moving average debiased the way
 * TensorBoard does it: early points are divided by (1 - w^n), so the curve
 * starts at the first value instead of creeping up from zero. Non-finite
 * values (null, NaN, ±Infinity) pass through unchanged and do not disturb
 * the average, so a diverged step stays visible.
 *
 * Threads: pure.
 */

export function emaSmooth(values, weight) {
	if (!(weight > 0)) return values.slice();
	const w = Math.min(weight, 0.999);
	const out = new Array(values.length);
	let last = 0;
	let n = 0;
	for (let i = 0; i < values.length; i++) {
		const y = values[i];
		if (y === null || y === undefined || !Number.isFinite(y)) {
			out[i] = y === undefined ? null : y;
			continue;
		}
		last = last * w + (1 - w) * y;
		n++;
		out[i] = last / (1 - Math.pow(w, n));
	}
	return out;
}

/* On a log axis zero and negatives cannot be drawn: make them gaps. */
export function logSafe(values) {
	return values.map((y) => (y !== null && Number.isFinite(y) && y > 0 ? y : null));
}
