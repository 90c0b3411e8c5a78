/*
 * parcoords-scale.js — the axes of parallel coordinates (parcoords.js):
 * which values get a log axis (rates such as lr and weight decay, and
 * positive values spanning two decades or more), a linear one, or evenly
 * spread categories (text values such as a model), and whether a run lies
 * inside every brushed range.
 *
 * Threads: pure.
 */

import { fmtAxis } from './format.js';
import { cellText } from './hparams.js';

/* Spec keys that are rates: a log axis reads them best. */
export function isRateKey(key) {
	return /(^|[._])(lr|learning_rate|weight_decay|wd|eps|epsilon)$/.test(String(key));
}

/*
 * The scale of one axis for these values: {kind: "log" | "linear" |
 * "category", unit(v) → 0..1 (null for a value it cannot place), ticks:
 * [{v, u, label}]}.
 */
export function axisScale(values, { key = '', log = null } = {}) {
	const present = values.filter((v) => v !== null && v !== undefined && v !== '');
	const nums = present.filter((v) => typeof v === 'number' && Number.isFinite(v));
	if (present.length && nums.length === present.length) {
		let lo = Math.min(...nums);
		let hi = Math.max(...nums);
		const positive = lo > 0;
		const wantLog = log === null ? positive && (isRateKey(key) || hi / lo >= 100) : log && positive;
		if (wantLog) {
			let a = Math.log10(lo);
			let b = Math.log10(hi);
			if (a === b) {
				a -= 0.5;
				b += 0.5;
			}
			const unit = (v) => (typeof v === 'number' && v > 0 ? (Math.log10(v) - a) / (b - a) : null);
			const ticks = [];
			for (let e = Math.ceil(a); e <= Math.floor(b); e++) ticks.push({ v: 10 ** e, u: unit(10 ** e), label: fmtAxis(10 ** e) });
			if (ticks.length < 2) for (const v of [lo, hi]) ticks.push({ v, u: unit(v), label: fmtAxis(v) });
			return { kind: 'log', unit, ticks };
		}
		if (lo === hi) {
			lo -= Math.abs(lo) * 0.5 || 0.5;
			hi += Math.abs(hi) * 0.5 || 0.5;
		}
		const unit = (v) => (typeof v === 'number' && Number.isFinite(v) ? (v - lo) / (hi - lo) : null);
		const ticks = [0, 0.25, 0.5, 0.75, 1].map((u) => ({ v: lo + u * (hi - lo), u, label: fmtAxis(lo + u * (hi - lo)) }));
		return { kind: 'linear', unit, ticks };
	}
	const cats = [...new Set(present.map((v) => cellText(v)))].sort((x, y) => x.localeCompare(y, 'en', { numeric: true }));
	const pos = new Map(cats.map((c, i) => [c, cats.length === 1 ? 0.5 : i / (cats.length - 1)]));
	const unit = (v) => (v === null || v === undefined || v === '' ? null : pos.get(cellText(v)) ?? null);
	return { kind: 'category', unit, ticks: cats.map((c) => ({ v: c, u: pos.get(c), label: c.length > 18 ? c.slice(0, 17) + '…' : c })) };
}

/* True when every brushed axis holds the run's value inside its brush ([u0, u1] in 0..1). */
export function inBrushes(run, dims, scales, brushes) {
	for (const d of dims) {
		const b = brushes[d.id];
		if (!b) continue;
		const u = scales[d.id].unit(d.get(run));
		if (u === null || u < Math.min(b[0], b[1]) || u > Math.max(b[0], b[1])) return false;
	}
	return true;
}
