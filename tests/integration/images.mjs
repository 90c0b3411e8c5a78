// tests/integration/images.mjs — test images without an image library: a
// small PNG encoder (zlib from Node, filter 0 rows), Fashion-MNIST test
// images read from Debian's dataset-fashion-mnist, and the broken files the
// predict tests send (a PNG whose header claims 20000 x 20000, a truncated
// JPEG). JPEGs come from Debian's cjpeg. Shared by tests/integration, tests/onnx and tests/e2e.
import { crc32, deflateSync, gunzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

export const FASHION_DIR = '/usr/share/datasets/fashion-mnist';

function chunk(type, data) {
	const len = Buffer.alloc(4);
	len.writeUInt32BE(data.length);
	const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
	const crc = Buffer.alloc(4);
	crc.writeUInt32BE(crc32(body) >>> 0);
	return Buffer.concat([len, body, crc]);
}

/* A PNG of w x h with `channels` 1 (gray) or 3 (RGB) from interleaved HWC bytes. */
export function encodePng(w, h, channels, hwc) {
	if (hwc.length !== w * h * channels) throw new Error(`encodePng: ${hwc.length} bytes for ${w}x${h}x${channels}`);
	const ihdr = Buffer.alloc(13);
	ihdr.writeUInt32BE(w, 0);
	ihdr.writeUInt32BE(h, 4);
	ihdr[8] = 8; // bit depth
	ihdr[9] = channels === 3 ? 2 : 0; // colour type: RGB or gray
	const stride = w * channels;
	const raw = Buffer.alloc(h * (stride + 1));
	for (let y = 0; y < h; y++) Buffer.from(hwc.buffer, hwc.byteOffset + y * stride, stride).copy(raw, y * (stride + 1) + 1);
	return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

/* CHW bytes (what evaluation events carry) to interleaved HWC. */
export function chwToHwc(chw, c, h, w) {
	const out = new Uint8Array(c * h * w);
	for (let ch = 0; ch < c; ch++) for (let i = 0; i < h * w; i++) out[i * c + ch] = chw[ch * h * w + i];
	return out;
}

/* The first n Fashion-MNIST test images: [{pixels (784 bytes), label, png}]. */
export function fashionTestImages(n) {
	const imgs = gunzipSync(readFileSync(`${FASHION_DIR}/t10k-images-idx3-ubyte.gz`));
	const labels = gunzipSync(readFileSync(`${FASHION_DIR}/t10k-labels-idx1-ubyte.gz`));
	const out = [];
	for (let i = 0; i < n; i++) {
		const pixels = new Uint8Array(imgs.subarray(16 + i * 784, 16 + (i + 1) * 784));
		out.push({ pixels, label: labels[8 + i], png: encodePng(28, 28, 1, pixels) });
	}
	return out;
}

/* A valid 1x1 PNG whose header then claims w x h: refused by size before any decoding. */
export function bombPng(w = 20000, h = 20000) {
	const png = encodePng(1, 1, 1, new Uint8Array([0]));
	png.writeUInt32BE(w, 16);
	png.writeUInt32BE(h, 20);
	png.writeUInt32BE(crc32(png.subarray(12, 29)) >>> 0, 29); // IHDR's CRC, so only the size is wrong
	return png;
}

/* A JPEG of gray w x h bytes, made by Debian's cjpeg (libjpeg-turbo-progs). */
export function encodeJpegGray(w, h, pixels) {
	const pgm = Buffer.concat([Buffer.from(`P5\n${w} ${h}\n255\n`), Buffer.from(pixels)]);
	return execFileSync('cjpeg', ['-quality', '95'], { input: pgm });
}

/* A real JPEG cut in half: its header reads, its data runs out. */
export function truncatedJpeg(w, h, pixels) {
	const jpg = encodeJpegGray(w, h, pixels);
	return jpg.subarray(0, Math.floor(jpg.length / 2));
}
