/*
 * snapshot.js — a PNG of a run's curves for the notebook file, so Jupyter
 * and GitHub show the result of a run cell without trainbook.
 *
 * What it is: a plain canvas drawing, always on a white background with
 * fixed colours (a file should not depend on the viewer's theme): loss and
 * accuracy side by side, each split a line, axis ranges labelled, a title.
 * Returns canvas.toDataURL('image/png'). What it is not: the live charts.
 *
 * Threads: the page's main thread.
 */

import { SPLITS } from './curves.js';
import { SPLIT_COLORS } from './chart.js';
import { fmtMetric } from './format.js';

const W = 840;
const H = 300;

/* series.get(split, metric) → {xs, ys}: the curve's steps and values */
export function snapshotPng(series, title) {
	const canvas = document.createElement('canvas');
	canvas.width = W;
	canvas.height = H;
	const ctx = canvas.getContext('2d');
	ctx.fillStyle = '#ffffff';
	ctx.fillRect(0, 0, W, H);
	ctx.fillStyle = '#222';
	ctx.font = '14px sans-serif';
	ctx.fillText(title, 12, 20);
	panel(ctx, series, 'loss', 10, 34, W / 2 - 15, H - 44);
	panel(ctx, series, 'accuracy', W / 2 + 5, 34, W / 2 - 15, H - 44);
	return canvas.toDataURL('image/png');
}

function panel(ctx, series, metric, x0, y0, w, hgt) {
	const lines = SPLITS.map((split) => ({ split, ...series.get(split, metric, 'step') })).filter((l) => l.xs.length);
	ctx.strokeStyle = '#ccc';
	ctx.strokeRect(x0, y0, w, hgt);
	ctx.fillStyle = '#444';
	ctx.font = '12px sans-serif';
	ctx.fillText(metric, x0 + 6, y0 + 14);
	if (!lines.length) {
		ctx.fillText('no points', x0 + w / 2 - 25, y0 + hgt / 2);
		return;
	}
	let xmin = Infinity, xmax = -Infinity, ymin = Infinity, ymax = -Infinity;
	for (const l of lines) {
		for (const x of l.xs) {
			xmin = Math.min(xmin, x);
			xmax = Math.max(xmax, x);
		}
		for (const y of l.ys) if (Number.isFinite(y)) {
			ymin = Math.min(ymin, y);
			ymax = Math.max(ymax, y);
		}
	}
	if (!Number.isFinite(ymin)) return;
	if (ymax === ymin) ymax = ymin + 1;
	if (xmax === xmin) xmax = xmin + 1;
	const pad = { l: 52, r: 8, t: 22, b: 22 };
	const px = (x) => x0 + pad.l + ((x - xmin) / (xmax - xmin)) * (w - pad.l - pad.r);
	const py = (y) => y0 + hgt - pad.b - ((y - ymin) / (ymax - ymin)) * (hgt - pad.t - pad.b);
	ctx.fillStyle = '#666';
	ctx.fillText(fmtMetric(ymax), x0 + 4, py(ymax) + 4);
	ctx.fillText(fmtMetric(ymin), x0 + 4, py(ymin));
	ctx.fillText(`step ${Math.round(xmin)}`, px(xmin), y0 + hgt - 6);
	const right = `step ${Math.round(xmax)}`;
	ctx.fillText(right, px(xmax) - ctx.measureText(right).width, y0 + hgt - 6);
	let lx = x0 + w - 8;
	for (const l of lines.slice().reverse()) {
		const tw = ctx.measureText(l.split).width;
		lx -= tw;
		ctx.fillStyle = SPLIT_COLORS[l.split] || '#333';
		ctx.fillText(l.split, lx, y0 + 14);
		lx -= 12;
	}
	for (const l of lines) {
		ctx.strokeStyle = SPLIT_COLORS[l.split] || '#333';
		ctx.fillStyle = ctx.strokeStyle;
		ctx.lineWidth = 1.5;
		ctx.beginPath();
		let pen = false;
		l.xs.forEach((x, i) => {
			const y = l.ys[i];
			if (!Number.isFinite(y)) {
				pen = false;
				return;
			}
			if (pen) ctx.lineTo(px(x), py(y));
			else ctx.moveTo(px(x), py(y));
			pen = true;
		});
		ctx.stroke();
		if (l.xs.length < 30) l.xs.forEach((x, i) => {
			if (Number.isFinite(l.ys[i])) ctx.fillRect(px(x) - 2, py(l.ys[i]) - 2, 4, 4);
		});
	}
}
