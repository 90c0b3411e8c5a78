// tests/integration/paths.test.mjs — paths never escape the workspace (.., its
// encodings, symlinks, the server's own folder) and request bodies are bounded.
// Each case starts its own server (fixture.mjs).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startServer, tempDir } from './fixture.mjs';

const T = { timeout: 60000 };
const NOTEBOOK = '{"cells":[],"metadata":{},"nbformat":4,"nbformat_minor":5}\n';

/* A server on <tmp>/ws, with <tmp>/outside/secret.ipynb beside it and links to both inside it. */
async function serverWithEscapes(t) {
	const dir = tempDir(t, 'tb-paths-');
	const outside = join(dir, 'outside');
	mkdirSync(outside);
	writeFileSync(join(outside, 'secret.ipynb'), NOTEBOOK);
	const h = await startServer(t, { workspace: join(dir, 'ws') });
	symlinkSync(join(outside, 'secret.ipynb'), join(h.workspace, 'link-out.ipynb'));
	symlinkSync(outside, join(h.workspace, 'dir-out'));
	return { h, outside };
}

const ESCAPES = ['../outside/secret.ipynb', '..%2Foutside%2Fsecret.ipynb', '%2E%2E/outside/secret.ipynb',
	'link-out.ipynb', 'dir-out/secret.ipynb', '.trainbook/x.ipynb', 'sub/../../outside/secret.ipynb'];

for (const p of ESCAPES) {
	test(`path_escapes_refused: GET api/notebooks/${p} is 400 or 404 and leaks nothing`, T, async (t) => {
		const { h } = await serverWithEscapes(t);
		const r = await h.req('GET', `api/notebooks/${p}`);
		assert.ok([400, 404].includes(r.status), `HTTP ${r.status}`);
		assert.ok(!r.text.includes('"cells"'), `leaked: ${r.text.slice(0, 200)}`);
	});
}

test('path_escapes_refused: PUT through a symlinked folder is 400 and writes nothing outside', T, async (t) => {
	const { h, outside } = await serverWithEscapes(t);
	const r = await h.req('PUT', 'api/notebooks/dir-out/new.ipynb', { body: NOTEBOOK });
	assert.equal(r.status, 400, r.text);
	assert.ok(!existsSync(join(outside, 'new.ipynb')), 'file written outside the workspace');
});

test('path_escapes_refused: renaming a notebook to ../ is 400', T, async (t) => {
	const { h } = await serverWithEscapes(t);
	await h.api('POST', 'api/notebooks', { path: 'same-origin.ipynb' });
	const r = await h.req('PATCH', 'api/notebooks/same-origin.ipynb', { json: { path: '../escaped.ipynb' } });
	assert.equal(r.status, 400, r.text);
	assert.ok(!existsSync(join(h.workspace, '..', 'escaped.ipynb')), 'renamed outside the workspace');
});

test('path_escapes_refused: static files do not serve ../../etc/passwd', T, async (t) => {
	const { h } = await serverWithEscapes(t);
	for (const p of ['/../../etc/passwd', '/%2E%2E/%2E%2E/etc/passwd', '/app/../../../etc/passwd']) {
		const r = await h.req('GET', p, { token: false });
		assert.ok(!r.text.includes('root:'), `${p} leaked /etc/passwd`);
	}
});

// ---- bounded bodies -------------------------------------------------------------

test('body_limits_413: a 3 MB spec to api/validate is 413', T, async (t) => {
	const h = await startServer(t);
	const r = await h.req('POST', 'api/validate', { body: 'a'.repeat(3000000) });
	assert.equal(r.status, 413);
});

test('body_limits_413: a 17 MB notebook is 413 and not written', T, async (t) => {
	const h = await startServer(t);
	const r = await h.req('PUT', 'api/notebooks/huge.ipynb', { body: ' '.repeat(17000000) });
	assert.equal(r.status, 413);
	assert.ok(!existsSync(join(h.workspace, 'huge.ipynb')), 'the huge notebook is on disk');
});

test('body_limits_413: a chunked 3 MB body (no Content-Length) is 413', T, async (t) => {
	const h = await startServer(t);
	const r = await h.req('POST', 'api/runs/r1/stop', { body: 'a'.repeat(3000000), chunked: true });
	assert.equal(r.status, 413);
});
