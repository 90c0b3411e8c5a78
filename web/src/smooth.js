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
 * It is applied per raw point even where the page holds downsampled
 * buckets: with `counts`, value i is the mean of counts[i] raw points and
 * moves the average as that many points would (last·wⁿ + (1−wⁿ)·mean). At
 * full resolution that is the per-point average exactly; zoomed out it is
 * the same curve rather than an average of whichever points were sampled,
 * so zooming does not change its shape (tensorboard#6829).
 *
 * Threads: pure.
 */

export function emaSmooth(values, weight, counts = null) {
	if (!(weight > 0)) return values.slice();
	const lw = Math.log(Math.min(weight, 0.999));
	const out = new Array(values.length);
	let last = 0;
	let total = 0;
	for (let i = 0; i < values.length; i++) {
		const y = values[i];
		if (y === null || y === undefined || !Number.isFinite(y)) {
			out[i] = y === undefined ? null : y;
			continue;
		}
		const n = counts && counts[i] > 0 ? counts[i] : 1;
		const wn = Math.exp(lw * n);
		last = last * wn + (1 - wn) * y;
		total += n;
		out[i] = last / (1 - Math.exp(lw * total));
	}
	return out;
}

/* On a log axis zero and negatives cannot be drawn: make them gaps. */
export function logSafe(values) {
	return values.map((y) => (y !== null && Number.isFinite(y) && y > 0 ? y : null));
}
