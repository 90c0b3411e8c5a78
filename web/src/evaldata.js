/*
 * evaldata.js — the numbers behind the evaluation view: a confusion matrix's
 * totals and row-normalised shares, and sample pictures decoded from the
 * evaluation event's base64 uint8 pixels (shape [C,H,W], CHW planar, C = 1
 * or 3) into RGBA for a canvas.
 *
 * What it is: pure functions (unit-tested). What it is not: drawing
 * (evaluation.js).
 *
 * Threads: pure.
 */

export function confusionStats(matrix) {
	const n = matrix.length;
	let total = 0;
	let correct = 0;
	const rowTotals = matrix.map((row) => row.reduce((a, b) => a + b, 0));
	for (let i = 0; i < n; i++) {
		total += rowTotals[i];
		correct += matrix[i][i] || 0;
	}
	const share = matrix.map((row, i) => row.map((v) => (rowTotals[i] ? v / rowTotals[i] : 0)));
	return { total, correct, accuracy: total ? correct / total : null, rowTotals, share };
}

function b64bytes(b64) {
	const bin = atob(b64);
	const out = new Uint8Array(bin.length);
	for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
	return out;
}

/* RGBA bytes (length H*W*4) of one sample, or null when the pixels do not match the shape. */
export function sampleRGBA(b64, shape) {
	if (!Array.isArray(shape) || shape.length !== 3) return null;
	const [c, hgt, w] = shape;
	if (c !== 1 && c !== 3) return null;
	let px;
	try {
		px = b64bytes(b64);
	} catch {
		return null;
	}
	const plane = hgt * w;
	if (px.length !== c * plane) return null;
	const out = new Uint8ClampedArray(plane * 4);
	for (let i = 0; i < plane; i++) {
		out[i * 4] = px[i];
		out[i * 4 + 1] = c === 3 ? px[plane + i] : px[i];
		out[i * 4 + 2] = c === 3 ? px[2 * plane + i] : px[i];
		out[i * 4 + 3] = 255;
	}
	return out;
}
