// tests/onnx/onnx.mjs — `trainbook export` checked by the two references
// that matter: onnx.checker (Debian python3-onnx, full_check) accepts each
// exported file, and ONNX Runtime (npm onnxruntime-node, CPU) computes the
// logits trainbook computes, within 1e-4 relative, on real images run
// through `trainbook predict --json` (whose "seen" pixels / 255 are the
// ONNX input). Models: the MLP, CNN, LeNet-5 and ResNet-18 presets, and a
// layer list with every other layer kind, each trained a few steps so batch
// norm's running statistics are not the identity. Then `trainbook predict`
// itself: the class the evaluation event gave each test sample, and clear
// refusals of bad images. One PASS/FAIL line per case (numbers in the line).
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { runCases } from '../e2e/lib.mjs';
import { bombPng, chwToHwc, encodePng, fashionTestImages, truncatedJpeg, encodeJpegGray } from '../integration/images.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = join(ROOT, 'build/trainbook');
const ort = (await import(join(ROOT, 'tests/onnx/node_modules/onnxruntime-node/dist/index.js'))).default;
const work = mkdtempSync(join(tmpdir(), 'tb-onnx-'));
const RESULTS = join(ROOT, 'build/test-logs/onnx-parity.md');
const TOLERANCE = 1e-4;

/* Small RGB image folder for ResNet-18: three classes of coloured noise, train/ and test/. */
function rgbFolder(root) {
	let seed = 12345;
	const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
	const pngs = [];
	for (const split of ['train', 'test'])
		for (const [k, cls] of ['red', 'green', 'blue'].entries()) {
			mkdirSync(join(root, split, cls), { recursive: true });
			for (let i = 0; i < (split === 'train' ? 8 : 3); i++) {
				const px = new Uint8Array(32 * 32 * 3);
				for (let p = 0; p < 32 * 32; p++) for (let c = 0; c < 3; c++) px[p * 3 + c] = Math.floor(255 * (c === k ? 0.4 + 0.6 * rand() : 0.5 * rand()));
				const png = encodePng(32, 32, 3, px);
				const file = join(root, split, cls, `${i}.png`);
				writeFileSync(file, png);
				if (split === 'test') pngs.push(file);
			}
		}
	return pngs;
}

const fashion = (normalize, extra = '') =>
	`data: {dataset: fashion-mnist, batch_size: 32, augment: [${normalize}]}\n${extra}train: {epochs: 1, max_steps: 8, seed: 0}\n`;
const EVERY_LAYER = `model:
  - {conv2d: {out: 8, kernel: 3, stride: 2, padding: 1}}
  - batchnorm
  - {leaky_relu: 0.1}
  - {conv2d: {out: 8, kernel: 3, padding: 2, dilation: 2, bias: false}}
  - batchnorm2d
  - gelu
  - {avgpool2d: {kernel: 3, stride: 2, padding: 1}}
  - {basic_block: {out: 16, stride: 2}}
  - {basic_block: {out: 16}}
  - {maxpool2d: 2}
  - adaptive_avgpool
  - flatten
  - {linear: {out: 32, bias: false}}
  - batchnorm1d
  - tanh
  - {dropout: 0.3}
  - {linear: 16}
  - sigmoid
  - {linear: 10}
`;

const MODELS = {
	mlp: { spec: fashion('normalize', 'model: mlp\n') },
	cnn: { spec: fashion('normalize', 'model: cnn\n') },
	lenet5: { spec: fashion('{normalize: {mean: [0.5], std: [0.25]}}', 'model: lenet5\n') },
	resnet18: { spec: null, rgb: true },
	'every-layer': { spec: fashion('{normalize: {mean: [0.5], std: [0.25]}}', EVERY_LAYER) },
};

function run(args, input) {
	const r = spawnSync(BIN, args, { encoding: 'utf8', input, maxBuffer: 1 << 28, env: { ...process.env, OMP_NUM_THREADS: '2' } });
	if (r.error) throw r.error;
	return r;
}

function mustRun(args) {
	const r = run(args);
	if (r.status !== 0) throw new Error(`trainbook ${args.join(' ')} exited ${r.status ?? r.signal}: ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}`);
	return r.stdout;
}

function assert(cond, msg) {
	if (!cond) throw new Error(msg);
}

const S = { images: fashionTestImages(8), results: [] };
const grayPngs = S.images.map((img, i) => {
	const file = join(work, `fashion-${i}.png`);
	writeFileSync(file, img.png);
	return file;
});

const cases = [];
for (const [name, m] of Object.entries(MODELS)) {
	cases.push({
		name: `${name}: trains a few steps and exports`,
		fn: async () => {
			const dir = join(work, name);
			mkdirSync(dir);
			let spec = m.spec;
			if (m.rgb) {
				m.images = rgbFolder(join(dir, 'data'));
				spec = `data: {dataset: image-folder, path: ${join(dir, 'data')}, batch_size: 8, augment: [normalize]}\nmodel: resnet18\ntrain: {epochs: 1, max_steps: 3, seed: 0}\n`;
			} else m.images = grayPngs;
			writeFileSync(join(dir, 'spec.yaml'), spec);
			mustRun(['train', join(dir, 'spec.yaml'), '--out', join(dir, 'out')]);
			m.ckpt = join(dir, 'out/best.safetensors');
			m.onnx = join(dir, `${name}.onnx`);
			const said = mustRun(['export', m.ckpt, '--onnx', m.onnx]);
			assert(/ONNX opset 17/.test(said), `export said: ${said}`);
		},
	});
	cases.push({
		name: `${name}: onnx.checker (full_check) accepts the file`,
		needs: [`${name}: trains a few steps and exports`],
		fn: async () => {
			const py = spawnSync('/usr/bin/python3', ['-c', 'import onnx, sys\nm = onnx.load(sys.argv[1])\nonnx.checker.check_model(m, full_check=True)\nprint(m.opset_import[0].version, len(m.graph.node))', m.onnx], { encoding: 'utf8' });
			assert(py.status === 0, `onnx.checker: ${(py.stderr || '').trim().split('\n').slice(-2).join(' | ')}`);
			const [opset, nodes] = py.stdout.trim().split(' ').map(Number);
			assert(opset === 17, `opset ${opset}`);
			m.nodes = nodes;
		},
	});
	cases.push({
		name: `${name}: ONNX Runtime gives trainbook's logits (<= ${TOLERANCE} relative)`,
		needs: [`${name}: trains a few steps and exports`],
		fn: async () => {
			const lines = mustRun(['predict', m.ckpt, ...m.images, '--json', '--top', '1']).trim().split('\n').map((l) => JSON.parse(l));
			assert(lines.length === m.images.length && lines.every((l) => l.logits), `predict answered ${lines.length} lines for ${m.images.length} images: ${JSON.stringify(lines[0]).slice(0, 200)}`);
			const [c, h, w] = lines[0].seen.shape;
			const x = new Float32Array(lines.length * c * h * w);
			lines.forEach((l, i) => Buffer.from(l.seen.pixels, 'base64').forEach((v, k) => (x[i * c * h * w + k] = v / 255)));
			const session = await ort.InferenceSession.create(m.onnx);
			const out = await session.run({ input: new ort.Tensor('float32', x, [lines.length, c, h, w]) });
			const got = out.logits.data;
			const classes = lines[0].logits.length;
			assert(got.length === lines.length * classes, `ORT gave ${got.length} logits for ${lines.length} x ${classes}`);
			let maxRel = 0;
			let maxAbs = 0;
			lines.forEach((l, i) => {
				const scale = Math.max(...l.logits.map(Math.abs), 1e-6);
				l.logits.forEach((v, k) => {
					const d = Math.abs(got[i * classes + k] - v);
					maxAbs = Math.max(maxAbs, d);
					maxRel = Math.max(maxRel, d / scale);
				});
			});
			S.results.push({ name, images: lines.length, maxAbs, maxRel, nodes: m.nodes, bytes: readFileSync(m.onnx).length });
			assert(maxRel <= TOLERANCE, `max relative difference ${maxRel.toExponential(2)} (abs ${maxAbs.toExponential(2)}) over ${lines.length} images`);
			console.log(`   ${name}: max relative ${maxRel.toExponential(2)}, max absolute ${maxAbs.toExponential(2)} over ${lines.length} images x ${classes} logits`);
		},
	});
}

cases.push({
	name: 'predict gives each test sample the class its evaluation event gave it',
	fn: async () => {
		const dir = join(work, 'eval');
		mkdirSync(dir);
		writeFileSync(join(dir, 'spec.yaml'), fashion('normalize', 'model: mlp\n').replace('max_steps: 8', 'max_steps: 40'));
		const events = mustRun(['worker', join(dir, 'spec.yaml'), '--out', join(dir, 'out')]).trim().split('\n').map((l) => JSON.parse(l));
		const ev = events.filter((e) => e.type === 'evaluation').pop();
		assert(ev && ev.samples.length >= 8, 'no evaluation event with samples');
		const files = ev.samples.map((s, i) => {
			const [c, h, w] = s.shape;
			const file = join(dir, `sample-${i}.png`);
			writeFileSync(file, encodePng(w, h, c, chwToHwc(Buffer.from(s.pixels, 'base64'), c, h, w)));
			return file;
		});
		const ckpt = events.filter((e) => e.type === 'checkpoint').pop().path;
		const got = mustRun(['predict', ckpt, ...files, '--json', '--top', '1']).trim().split('\n').map((l) => JSON.parse(l));
		const wrong = ev.samples.filter((s, i) => got[i].top[0].index !== s.predicted);
		assert(wrong.length === 0, `${wrong.length} of ${ev.samples.length} differ, e.g. sample ${wrong[0] && wrong[0].index}: evaluation ${wrong[0] && wrong[0].predicted}`);
		assert(got.some((g, i) => g.top[0].index !== ev.samples[i].label), 'no misclassified sample among them: the test would pass on labels alone');
		console.log(`   ${ev.samples.length} samples agree, ${ev.samples.filter((s) => s.label !== s.predicted).length} of them misclassified by both`);
	},
});

cases.push({
	name: 'predict refuses a non-image, a 20000 x 20000 PNG and a truncated JPEG (exit 3), and reads a real JPEG',
	needs: ['mlp: trains a few steps and exports'],
	fn: async () => {
		const img = S.images[0];
		const bad = { 'text.png': Buffer.from('hello, not an image'), 'bomb.png': bombPng(), 'cut.jpg': truncatedJpeg(28, 28, img.pixels) };
		const want = { 'text.png': /not a PNG or JPEG/, 'bomb.png': /20000 x 20000 pixels/, 'cut.jpg': /corrupt or truncated JPEG|bad JPEG/ };
		for (const [file, bytes] of Object.entries(bad)) {
			writeFileSync(join(work, file), bytes);
			const r = run(['predict', MODELS.mlp.ckpt, join(work, file), '--json']);
			assert(r.status === 3, `${file}: exit ${r.status ?? r.signal} (want 3): ${r.stderr}`);
			const line = JSON.parse(r.stdout.trim());
			assert(line.error === 'bad_image' && want[file].test(line.message), `${file}: ${r.stdout}`);
		}
		writeFileSync(join(work, 'good.jpg'), encodeJpegGray(28, 28, img.pixels));
		const pngTop = JSON.parse(mustRun(['predict', MODELS.mlp.ckpt, grayPngs[0], '--json'])).top[0].index;
		const jpgTop = JSON.parse(mustRun(['predict', MODELS.mlp.ckpt, join(work, 'good.jpg'), '--json'])).top[0].index;
		assert(pngTop === jpgTop, `the JPEG (quality 95) of test image 0 got class ${jpgTop}, its PNG ${pngTop}`);
	},
});

let result = { pass: 0, fail: 1 };
try {
	result = await runCases(cases);
} finally {
	mkdirSync(dirname(RESULTS), { recursive: true });
	writeFileSync(RESULTS, ['| model | images | max abs | max rel | nodes | bytes |', '|---|---|---|---|---|---|',
		...S.results.map((r) => `| ${r.name} | ${r.images} | ${r.maxAbs.toExponential(2)} | ${r.maxRel.toExponential(2)} | ${r.nodes ?? '?'} | ${r.bytes} |`)].join('\n') + '\n');
	rmSync(work, { recursive: true, force: true });
}
console.log(`${result.pass} passed, ${result.fail} failed`);
process.exit(result.fail ? 1 : 0);
