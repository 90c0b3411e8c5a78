// tests/integration/predict.test.mjs — using a run's checkpoints over HTTP:
// POST /api/runs/<id>/predict gives each Fashion-MNIST test sample the
// class the run's evaluation event gave it (JSON base64 and multipart
// uploads, PNG and JPEG), bad uploads are clear 400s (413 past 8 MiB) that
// crash no worker and leave the server serving, and
// GET …/checkpoints/<file>/model.onnx answers an ONNX file onnx.checker
// accepts. The worker is the real engine (trainbook predict/export).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PY, startServer, submitRun, waitStatus, allEvents, tempDir } from './fixture.mjs';
import { bombPng, chwToHwc, encodeJpegGray, encodePng, fashionTestImages, truncatedJpeg } from './images.mjs';

const MLP = 'data: {dataset: fashion-mnist, batch_size: 64, augment: [normalize]}\nmodel: mlp\n' +
	'train: {epochs: 1, max_steps: 40, seed: 0}\n';

const predictJson = (h, id, bytes, extra = {}) =>
	h.req('POST', `api/runs/${id}/predict`, { json: { image: Buffer.from(bytes).toString('base64'), ...extra } });

function predictForm(h, id, bytes, name = 'image.png', fields = {}) {
	const form = new FormData();
	form.append('image', new Blob([bytes]), name);
	for (const [k, v] of Object.entries(fields)) form.append(k, v);
	return h.req('POST', `api/runs/${id}/predict`, { body: form });
}

test('predict over HTTP: the evaluation\'s classes, bad uploads refused, ONNX download', async (t) => {
	const h = await startServer(t);
	const id = await submitRun(h, MLP);
	await waitStatus(h, id, 'completed', 120000);
	const ev = (await allEvents(h, id)).map((e) => e.event).filter((e) => e.type === 'evaluation').pop();
	assert.ok(ev && ev.samples.length >= 8, 'the run has an evaluation with samples');

	await t.test('each evaluation sample gets the class the evaluation gave it, seen as it was', async () => {
		for (const s of ev.samples) {
			const [c, hh, w] = s.shape;
			const pixels = Buffer.from(s.pixels, 'base64');
			const r = await predictJson(h, id, encodePng(w, hh, c, chwToHwc(pixels, c, hh, w)));
			assert.equal(r.status, 200, r.text);
			assert.equal(r.json.top.length, 5);
			assert.equal(r.json.top[0].index, s.predicted, `sample ${s.index}: ${r.json.top[0].class}, evaluation ${ev.classes[s.predicted]}`);
			assert.equal(r.json.top[0].class, ev.classes[s.predicted]);
			assert.deepEqual(r.json.seen.shape, [c, hh, w]);
			assert.equal(r.json.seen.pixels, s.pixels, 'the image as the model saw it is the test sample');
			assert.equal(r.json.checkpoint, 'best.safetensors');
			const sum = r.json.top.reduce((a, x) => a + x.p, 0);
			assert.ok(sum > 0 && sum <= 1.0001 && r.json.top.every((x, i) => i === 0 || x.p <= r.json.top[i - 1].p));
		}
		assert.ok(ev.samples.some((s) => s.predicted !== s.label), 'a misclassified sample is among them');
	});

	await t.test('multipart uploads, a JPEG, a named checkpoint and top', async () => {
		const [img] = fashionTestImages(1);
		const png = await predictForm(h, id, img.png);
		assert.equal(png.status, 200, png.text);
		const jpg = await predictForm(h, id, encodeJpegGray(28, 28, img.pixels), 'shoe.jpg', { top: '3' });
		assert.equal(jpg.status, 200, jpg.text);
		assert.equal(jpg.json.top.length, 3);
		assert.equal(jpg.json.top[0].index, png.json.top[0].index);
		const list = (await h.api('GET', `api/runs/${id}/checkpoints`)).checkpoints;
		const named = await predictJson(h, id, img.png, { checkpoint: list[0].file });
		assert.equal(named.status, 200, named.text);
		assert.equal(named.json.checkpoint, list[0].file);
		const missing = await predictJson(h, id, img.png, { checkpoint: 'step-999.safetensors' });
		assert.equal(missing.status, 404);
		assert.equal((await predictJson(h, 'r999', img.png)).status, 404);
	});

	await t.test('bad uploads are clear 400s (413 past 8 MiB), and the server still predicts', async () => {
		const [img] = fashionTestImages(1);
		const cases = [
			['a non-image', Buffer.from('GIF89a not what we take'), 400, 'bad_request', /not a PNG or JPEG/],
			['a 20000 x 20000 PNG', bombPng(), 400, 'bad_image', /20000 x 20000 pixels/],
			['a truncated JPEG', truncatedJpeg(28, 28, img.pixels), 400, 'bad_image', /truncated JPEG|bad JPEG/],
			['an empty file', Buffer.alloc(0), 400, 'bad_request', /empty/],
		];
		for (const [what, bytes, status, code, message] of cases) {
			for (const r of [await predictJson(h, id, bytes), await predictForm(h, id, bytes)]) {
				assert.equal(r.status, status, `${what}: ${r.text}`);
				assert.equal(r.json.error, code, `${what}: ${r.text}`);
				assert.match(r.json.message, message);
				assert.doesNotMatch(r.json.message, /trainbook-job-/, 'the temporary path stays private');
			}
		}
		const big = Buffer.alloc((8 << 20) + 1, 0);
		img.png.copy(big);
		assert.equal((await predictForm(h, id, big)).status, 413);
		assert.equal((await predictJson(h, id, big)).status, 413);
		assert.equal((await h.req('POST', `api/runs/${id}/predict`, { json: { image: 'not base64!' } })).status, 400);
		assert.equal((await h.req('POST', `api/runs/${id}/predict`, { json: { picture: 'x' } })).status, 400);
		assert.equal((await predictJson(h, id, img.png, { top: 0 })).status, 400);
		const after = await predictJson(h, id, img.png);
		assert.equal(after.status, 200, 'the server predicts after the bad inputs');
		assert.doesNotMatch(h.log(), /ended by signal|worker_crashed/, 'no worker crashed');
	});

	await t.test('GET …/model.onnx downloads the checkpoint as ONNX that onnx.checker accepts', async () => {
		const r = await fetch(`${h.base}api/runs/${id}/checkpoints/best.safetensors/model.onnx`, { headers: { Authorization: 'token ' + h.token } });
		assert.equal(r.status, 200);
		assert.match(r.headers.get('content-disposition'), new RegExp(`filename="${id}-best.onnx"`));
		const file = join(tempDir(t), 'model.onnx');
		writeFileSync(file, Buffer.from(await r.arrayBuffer()));
		const out = execFileSync(PY, ['-c', 'import onnx, sys\nm = onnx.load(sys.argv[1])\nonnx.checker.check_model(m, full_check=True)\nprint(m.opset_import[0].version, [p.key for p in m.metadata_props])', file], { encoding: 'utf8' });
		assert.match(out, /^17 /);
		assert.match(out, /trainbook\.class_names/);
		assert.equal((await h.req('GET', `api/runs/${id}/checkpoints/nope.safetensors/model.onnx`)).status, 404);
		assert.equal((await h.req('GET', `api/runs/${id}/checkpoints/best.safetensors/model.onnx`, { token: false })).status, 401);
	});
});

test('predict on a run whose model takes features, not images, is a 422', async (t) => {
	const h = await startServer(t);
	const id = await submitRun(h, 'data: {dataset: synthetic, shape: [6, 1, 1], classes: 3, train_size: 64, test_size: 16, batch_size: 16}\n' +
		'model: [flatten, {linear: 3}]\ntrain: {epochs: 1}\n');
	await waitStatus(h, id, 'completed');
	const r = await predictJson(h, id, fashionTestImages(1)[0].png);
	assert.equal(r.status, 422, r.text);
	assert.equal(r.json.error, 'not_images');
	assert.match(r.json.message, /feature vectors/);
});
