/*
 * predict.js — using a run's checkpoints from its run view: a Predict
 * panel (drop or choose a PNG/JPEG, or pick one of the evaluation's test
 * samples; see the top-5 classes as bars and the image as the model saw
 * it) and an ONNX download beside every checkpoint.
 *
 * What it is: the page side of POST api/runs/<id>/predict and
 * GET api/runs/<id>/checkpoints/<file>/model.onnx (docs/api.md). Uploads
 * go as JSON base64; an evaluation sample (raw CHW bytes in its event) is
 * turned into a PNG on a canvas first, so the server only ever takes
 * PNG or JPEG. What it is not: the run view around it (run-view.js holds
 * one PredictPanel and asks it for each checkpoint's buttons).
 *
 * Threads: the page's main thread.
 */

import { h, clear, dropTarget } from './dom.js';
import { sampleRGBA } from './evaldata.js';

const TOP = 5;
const MAX_BYTES = 8 << 20;

function base64(buffer) {
	const bytes = new Uint8Array(buffer);
	let bin = '';
	for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
	return btoa(bin);
}

/* A canvas showing CHW bytes (1 or 3 channels), or null when they do not fit the shape. */
function pixelCanvas(pixels, shape, cls) {
	const rgba = sampleRGBA(pixels, shape);
	if (!rgba) return null;
	const canvas = h('canvas.' + cls);
	canvas.width = shape[2];
	canvas.height = shape[1];
	canvas.getContext('2d').putImageData(new ImageData(rgba, shape[2], shape[1]), 0, 0);
	return canvas;
}

export class PredictPanel {
	/* api: createApi(); getEvaluation(): the run's latest evaluation event or null. */
	constructor(api, runId, getEvaluation) {
		this.api = api;
		this.runId = runId;
		this.getEvaluation = getEvaluation;
		this.file = null;
		this.busy = false;
		this.root = h('section.predict', { 'aria-label': 'predict', hidden: true });
	}

	/* The buttons beside checkpoint `file`: ONNX download and Predict. */
	actions(file) {
		const base = `api/runs/${encodeURIComponent(this.runId)}/checkpoints/${encodeURIComponent(file)}`;
		const onnxName = `${this.runId}-${file.replace(/\.safetensors$/, '')}.onnx`;
		return [
			h('a.button', { href: this.api.url(`${base}/model.onnx`), download: onnxName, text: 'ONNX', 'aria-label': `download ${file} as ONNX`, title: 'This checkpoint as an ONNX model (opset 17), exported on the server' }),
			h('button', { type: 'button', text: 'Predict', 'aria-label': `predict with ${file}`, onclick: () => this.open(file) }),
		];
	}

	open(file) {
		this.file = file;
		this.root.hidden = false;
		this.fileInput = h('input', { type: 'file', accept: 'image/png,image/jpeg', 'aria-label': 'image to classify', onchange: () => this.#chosen(this.fileInput.files[0]) });
		const drop = h('label.predict-drop', { title: 'PNG or JPEG, up to 8 MiB' },
			h('span', { text: 'Drop a PNG or JPEG here, or choose one' }), this.fileInput);
		dropTarget(drop, (f) => this.#chosen(f));
		this.resultEl = h('div.predict-result', { role: 'status', 'aria-live': 'polite' });
		clear(this.root).append(
			h('div.predict-head',
				h('h4', { text: `Predict with ${file}` }),
				h('button.link', { type: 'button', text: 'Close', 'aria-label': 'close the predict panel', onclick: () => this.close() })),
			drop,
			this.#samplePicker(),
			this.resultEl);
		this.root.scrollIntoView({ block: 'nearest' });
	}

	close() {
		this.root.hidden = true;
		clear(this.root);
	}

	/* The evaluation's test samples as buttons: a click classifies that picture. */
	#samplePicker() {
		const ev = this.getEvaluation();
		const samples = (ev && ev.samples) || [];
		if (!samples.length) return null;
		const names = ev.classes || [];
		const row = h('div.predict-samples', { role: 'list', 'aria-label': 'test samples to classify' });
		for (const s of samples) {
			const canvas = pixelCanvas(s.pixels, s.shape, 'sample-img');
			if (!canvas) continue;
			row.append(h('button.predict-sample', {
				type: 'button', role: 'listitem', title: `test sample ${s.index}: ${names[s.label] ?? s.label}`,
				'aria-label': `classify test sample ${s.index} (${names[s.label] ?? s.label})`,
				onclick: () => canvas.toBlob((blob) => this.#chosen(blob, `test sample ${s.index}`), 'image/png'),
			}, canvas));
		}
		return h('div', h('p.muted', { text: 'Or pick a test sample from the evaluation:' }), row);
	}

	async #chosen(blob, label) {
		if (!blob || this.busy) return;
		if (blob.size > MAX_BYTES) {
			this.#error(`${blob.name || 'the file'} is ${(blob.size / 1048576).toFixed(1)} MiB; the limit is 8 MiB`);
			return;
		}
		this.busy = true;
		clear(this.resultEl).append(h('p.muted', { text: `Classifying ${label || blob.name || 'the image'}…` }));
		try {
			const image = base64(await blob.arrayBuffer());
			const r = await this.api.post(`api/runs/${encodeURIComponent(this.runId)}/predict`, { image, checkpoint: this.file, top: TOP });
			this.#render(r, label || blob.name || 'the image');
		} catch (e) {
			this.#error(e.message);
		} finally {
			this.busy = false;
			if (this.fileInput) this.fileInput.value = '';
		}
	}

	#error(message) {
		clear(this.resultEl).append(h('p.predict-error', { role: 'alert', text: message }));
	}

	#render(r, label) {
		const seen = r.seen && pixelCanvas(r.seen.pixels, r.seen.shape, 'predict-seen');
		const bars = h('ol.predict-bars', { 'aria-label': 'most probable classes' });
		for (const t of r.top || []) {
			const pct = 100 * t.p;
			const fill = h('span.predict-fill');
			fill.style.width = `${Math.max(0, Math.min(100, pct)).toFixed(1)}%`;
			bars.append(h('li.predict-bar', { 'data-class': t.class },
				h('span.predict-class', { text: t.class }),
				h('span.predict-track', fill),
				h('span.predict-p', { text: `${pct.toFixed(1)}%` })));
		}
		const src = r.source ? `${r.source.width}×${r.source.height}` : '';
		const shape = r.seen ? r.seen.shape : [];
		clear(this.resultEl).append(
			h('div.predict-out',
				seen ? h('figure.predict-figure', seen, h('figcaption.muted', { text: `as the model saw it: ${shape[2]}×${shape[1]} ${shape[0] === 3 ? 'RGB' : 'gray'}${src ? ` (from ${src})` : ''}` })) : null,
				h('div.predict-list',
					h('p', { text: `${label}: ${r.top && r.top[0] ? r.top[0].class : '?'}` }),
					bars,
					h('p.muted', { text: `${r.checkpoint} · model ${Number(r.model_ms).toFixed(1)} ms · worker ${r.worker_ms} ms` }))));
	}
}
