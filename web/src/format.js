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

/* Axis ticks: short, so "100,000" does not overflow the axis (100k). */
export function fmtAxis(v) {
	if (v === null || v === undefined || !Number.isFinite(v)) return '';
	const a = Math.abs(v);
	if (a >= 1e9) return Number((v / 1e9).toPrecision(3)) + 'G';
	if (a >= 1e6) return Number((v / 1e6).toPrecision(3)) + 'M';
	if (a >= 1e4) return Number((v / 1e3).toPrecision(3)) + 'k';
	return fmtMetric(v);
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
