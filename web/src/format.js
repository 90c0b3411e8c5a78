/*
 * format.js — numbers, sizes, durations and times as people read them.
 *
 * What it is: pure formatting helpers shared by every view. What it is not:
 * localisation; output is plain English with SI/binary units.
 *
 * Threads: pure.
 */

export function fmtBytes(n) {
	if (n === null || n === undefined || !Number.isFinite(n)) return '—';
	const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
	let i = 0;
	let v = n;
	while (Math.abs(v) >= 1024 && i < units.length - 1) {
		v /= 1024;
		i++;
	}
	return (i === 0 ? String(v) : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)) + ' ' + units[i];
}

/* Seconds as "1:02:03", "2:03" or "4.2 s". */
export function fmtDuration(seconds) {
	if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '—';
	if (seconds < 10) return seconds.toFixed(1) + ' s';
	const s = Math.round(seconds);
	const h = Math.floor(s / 3600);
	const m = Math.floor((s % 3600) / 60);
	const sec = s % 60;
	const pad = (x) => String(x).padStart(2, '0');
	return h > 0 ? `${h}:${pad(m)}:${pad(sec)}` : `${m}:${pad(sec)}`;
}

/* A unix time as local "YYYY-MM-DD HH:MM" (today: just "HH:MM:SS"). */
export function fmtTime(unix, now = Date.now() / 1000) {
	if (!unix) return '—';
	const d = new Date(unix * 1000);
	const pad = (x) => String(x).padStart(2, '0');
	const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
	const today = new Date(now * 1000);
	if (d.toDateString() === today.toDateString()) return `${hm}:${pad(d.getSeconds())}`;
	return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hm}`;
}

/* 101770 → "101,770" */
export function fmtInt(n) {
	if (n === null || n === undefined || !Number.isFinite(n)) return '—';
	return Math.round(n).toLocaleString('en-US');
}

/* A metric value: 4 significant digits, exponent for tiny/huge values. */
export function fmtMetric(v) {
	if (v === null || v === undefined || !Number.isFinite(v)) return '—';
	const a = Math.abs(v);
	if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(2);
	if (a >= 1000) return fmtInt(v);
	return String(Number(v.toPrecision(4)));
}

/*
 * Axis ticks, short whatever the size: 12k, 2.5M, 3G, then 1e12, 2.5e15
 * (SI letters stop where people stop reading them), and 1e-4 for tiny ones.
 */
export function fmtAxis(v) {
	if (v === null || v === undefined || !Number.isFinite(v)) return '';
	const a = Math.abs(v);
	const short = (x) => String(Number(x.toPrecision(3)));
	if (a >= 1e12) {
		const [m, e] = v.toExponential(2).split('e');
		return `${Number(m)}e${Number(e)}`;
	}
	if (a >= 1e9) return short(v / 1e9) + 'G';
	if (a >= 1e6) return short(v / 1e6) + 'M';
	if (a >= 1e4) return short(v / 1e3) + 'k';
	if (a !== 0 && a < 1e-3) {
		const [m, e] = v.toExponential(2).split('e');
		return `${Number(m)}e${Number(e)}`;
	}
	return String(Number(v.toPrecision(4)));
}

/*
 * The y range of a chart from its data's min and max: a little air around
 * the curve, a flat curve shown as a line in the middle rather than at the
 * edge of a made-up 0..2 (a constant accuracy of 1.0), and accuracies
 * within 0..1. On a log axis only positive bounds.
 */
export function yRange(min, max, { metric = '', log = false } = {}) {
	if (!Number.isFinite(min) || !Number.isFinite(max)) return log ? [0.1, 1] : [0, 1];
	if (log) {
		const lo = min > 0 ? min : 1e-9;
		const hi = max > lo ? max : lo * 10;
		return [lo / 1.2, hi * 1.2];
	}
	let lo = min;
	let hi = max;
	if (hi === lo) {
		const pad = Math.abs(lo) * 0.1 || 1;
		lo -= pad;
		hi += pad;
	} else {
		const pad = (hi - lo) * 0.05;
		lo -= pad;
		hi += pad;
	}
	if (/accuracy/.test(metric)) {
		lo = Math.max(0, lo);
		hi = Math.min(1, hi);
		if (hi <= lo) [lo, hi] = [Math.max(0, min - 0.05), Math.min(1, max + 0.05)];
	}
	return [lo, hi];
}

/*
 * Seconds a run has run: the sum of its running segments (docs/api.md
 * "seconds"), counting on from when the page received the answer while it
 * runs. The one duration every view shows.
 */
export function runSeconds(run, now = Date.now() / 1000) {
	if (!run || !Number.isFinite(run.seconds)) return null;
	const live = run.status === 'running' && Number.isFinite(run.running_since) && Number.isFinite(run.received);
	return run.seconds + (live ? Math.max(0, now - run.received) : 0);
}

/* An epoch count with its fraction when a run stops mid-epoch: 2, 0.06, 1.5. */
export function fmtEpochs(v) {
	if (v === null || v === undefined || !Number.isFinite(v)) return '—';
	if (Number.isInteger(v)) return String(v);
	return String(Number(v.toFixed(v < 1 ? 2 : 1)));
}

export function fmtPercent(v) {
	if (v === null || v === undefined || !Number.isFinite(v)) return '—';
	return v.toFixed(0) + '%';
}

/*
 * Estimated time left from progress samples [{step, time}] (time in
 * seconds), using the rate over the recent window so a slow start-up does
 * not skew it. Returns seconds or null when it cannot be told yet.
 */
export function estimateEta(samples, totalSteps, window = 30) {
	if (!totalSteps || samples.length < 2) return null;
	const last = samples[samples.length - 1];
	let first = samples[0];
	for (let i = samples.length - 2; i >= 0; i--) {
		first = samples[i];
		if (last.time - samples[i].time >= window) break;
	}
	const dt = last.time - first.time;
	const ds = last.step - first.step;
	if (dt <= 0 || ds <= 0) return null;
	return Math.max(0, (totalSteps - last.step) * (dt / ds));
}
