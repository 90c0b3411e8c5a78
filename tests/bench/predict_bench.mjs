// tests/bench/predict_bench.mjs — how long a prediction takes on this
// machine: POST /api/runs/<id>/predict (upload, a short-lived
// `trainbook predict` worker, the answer) for the Fashion-MNIST MLP and CNN
// presets, and the bare `trainbook predict` process for comparison, each
// the median and 95th percentile of --n requests one after another. Also
// how long GET …/model.onnx takes. Timing only (the goal is <= 200 ms for
// the MLP and CNN): a benchmark line, never a pass/fail test.
//
//   node tests/bench/predict_bench.mjs [--n 30] [--out tests/bench/results/predict-DATE.md]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, startServer, submitRun, waitStatus } from '../integration/fixture.mjs';
import { fashionTestImages } from '../integration/images.mjs';

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const N = Number(opt('--n', 30));
const OUT = opt('--out', `tests/bench/results/predict-${new Date().toISOString().slice(0, 10)}.md`);

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
const fmt = (xs) => `${pct(xs, 0.5).toFixed(0)} ms | ${pct(xs, 0.95).toFixed(0)} ms`;

const spec = (model) => `data: {dataset: fashion-mnist, batch_size: 64, augment: [normalize]}\nmodel: ${model}\n` +
	'train: {epochs: 1, max_steps: 20, seed: 0}\n';

const images = fashionTestImages(N);
const work = mkdtempSync(join(tmpdir(), 'tb-predict-bench-'));
const rows = [];
const t = { after: () => {} };
const h = await startServer(t);
try {
	for (const model of ['mlp', 'cnn']) {
		const id = await submitRun(h, spec(model));
		await waitStatus(h, id, 'completed', 600000);
		const http = [];
		const modelMs = [];
		for (const img of images) {
			const t0 = performance.now();
			const r = await h.req('POST', `api/runs/${id}/predict`, { json: { image: img.png.toString('base64') } });
			http.push(performance.now() - t0);
			if (r.status !== 200) throw new Error(`predict: HTTP ${r.status} ${r.text}`);
			modelMs.push(r.json.model_ms);
		}
		const file = join(work, 'x.png');
		writeFileSync(file, images[0].png);
		const ckpt = join(h.workspace, '.trainbook/runs', id, 'best.safetensors');
		const cli = [];
		for (let i = 0; i < N; i++) {
			const t0 = performance.now();
			const r = spawnSync(BIN, ['predict', ckpt, file, '--json'], { encoding: 'utf8' });
			cli.push(performance.now() - t0);
			if (r.status !== 0) throw new Error(`trainbook predict: ${r.stderr}`);
		}
		const t0 = performance.now();
		const onnx = await h.req('GET', `api/runs/${id}/checkpoints/best.safetensors/model.onnx`);
		const onnxMs = performance.now() - t0;
		if (onnx.status !== 200) throw new Error(`model.onnx: HTTP ${onnx.status}`);
		rows.push(`| ${model} | ${fmt(http)} | ${fmt(cli)} | ${pct(modelMs, 0.5).toFixed(2)} ms | ${onnxMs.toFixed(0)} ms |`);
		console.log(rows[rows.length - 1]);
	}
} finally {
	await h.kill();
	rmSync(work, { recursive: true, force: true });
}
const text = `# Predict latency, ${new Date().toISOString().slice(0, 10)}

\`node tests/bench/predict_bench.mjs --n ${N}\` on ${cpus().length} × ${cpus()[0].model}, a Fashion-MNIST
test image (28×28 PNG) per request, ${N} requests one after another. HTTP: POST /api/runs/<id>/predict
as JSON base64, answered by a short-lived \`trainbook predict\` worker on one CPU thread. Process:
\`trainbook predict CKPT image.png --json\` alone. Model: decode + forward inside the worker.
Goal: ≤ 200 ms for the MLP and CNN.

| model | HTTP p50 | HTTP p95 | process p50 | process p95 | model p50 | GET model.onnx |
|---|---|---|---|---|---|---|
${rows.join('\n')}
`;
writeFileSync(OUT, text);
console.log(`wrote ${OUT}`);
process.exit(0);
