// tests/integration/notebooks.test.mjs — the notebook API: create, list, read,
// save with If-Match, conflicts, validation, download, rename, delete; what
// lands on disk. Each case starts its own server (fixture.mjs).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startServer } from './fixture.mjs';

const T = { timeout: 60000 };
const PATH = 'work/first.ipynb';

/* A notebook with a markdown cell and a run cell, as the page writes it. */
const FIRST_NOTEBOOK = {
	cells: [
		{ cell_type: 'markdown', id: 'm1', metadata: {}, source: '# hello' },
		{
			cell_type: 'code', id: 'c1', metadata: { trainbook: { kind: 'run' } }, execution_count: null, outputs: [],
			source: ['data: {dataset: synthetic, shape: [1,8,8], classes: 4, train_size: 256, test_size: 64, batch_size: 32}\n',
				'model: [flatten, {linear: 16}, relu, {linear: 4}]\n', 'train: {epochs: 1}\n'],
		},
	],
	metadata: { kernelspec: { name: 'trainbook' } }, nbformat: 4, nbformat_minor: 5,
};

/* A server with work/first.ipynb created through the API; resolves {h, etag, created}. */
async function withFirst(t) {
	const h = await startServer(t);
	mkdirSync(join(h.workspace, 'work')); // the API creates notebooks, not folders
	const created = await h.req('POST', 'api/notebooks', { json: { path: PATH, content: FIRST_NOTEBOOK } });
	assert.equal(created.status, 201, created.text);
	return { h, etag: created.headers.get('etag'), created };
}

/* Save an edited first cell with If-Match `etag`; resolves the answer. */
async function saveEdit(h, etag, text = '# edited') {
	const nb = structuredClone(FIRST_NOTEBOOK);
	nb.cells[0].source = text;
	return h.req('PUT', `api/notebooks/${PATH}`, { headers: { 'If-Match': etag }, json: nb });
}

test('notebooks_create: POST creates (201 with an ETag), a second POST is 409, the list has it once', T, async (t) => {
	const { h, etag } = await withFirst(t);
	assert.ok(etag, 'no ETag on create');
	const again = await h.req('POST', 'api/notebooks', { json: { path: PATH, content: FIRST_NOTEBOOK } });
	assert.equal(again.status, 409, 'create again');
	const list = await h.api('GET', 'api/notebooks');
	assert.equal(list.notebooks.filter((n) => n.path === PATH).length, 1, JSON.stringify(list));
});

test('notebooks_read: GET returns the notebook with the ETag of its creation', T, async (t) => {
	const { h, etag } = await withFirst(t);
	const r = await h.req('GET', `api/notebooks/${PATH}`);
	assert.equal(r.status, 200);
	assert.equal(r.headers.get('etag'), etag);
	assert.equal(r.json.cells[1].metadata.trainbook.kind, 'run');
});

test('notebooks_save_if_match: PUT with the current ETag saves, returns a new ETag, leaves no temp file', T, async (t) => {
	const { h, etag } = await withFirst(t);
	const r = await saveEdit(h, etag);
	assert.equal(r.status, 200, r.text);
	const etag2 = r.headers.get('etag');
	assert.notEqual(etag2, etag, 'the ETag did not change');
	assert.equal(r.json.etag, etag2, 'the body and header ETags differ');
	assert.ok(readFileSync(join(h.workspace, PATH), 'utf8').includes('# edited'), 'the edit is not on disk');
	const temps = readdirSync(join(h.workspace, 'work'), { withFileTypes: true }).map((d) => d.name).filter((n) => n.includes('tmp'));
	assert.deepEqual(temps, [], 'temporary files left');
});

test('notebooks_stale_if_match_412: PUT with an old ETag is 412 conflict', T, async (t) => {
	const { h, etag } = await withFirst(t);
	assert.equal((await saveEdit(h, etag)).status, 200);
	const r = await saveEdit(h, etag, '# lost update');
	assert.equal(r.status, 412);
	assert.equal(r.json.error, 'conflict');
	assert.ok(!readFileSync(join(h.workspace, PATH), 'utf8').includes('# lost update'), 'the stale save was written');
});

test('notebooks_invalid_nbformat_400: saving nbformat 3 is 400 and keeps what was on disk', T, async (t) => {
	const { h, etag } = await withFirst(t);
	assert.equal((await saveEdit(h, etag)).status, 200);
	const r = await h.req('PUT', `api/notebooks/${PATH}`, { json: { nbformat: 3, cells: [] } });
	assert.equal(r.status, 400, r.text);
	assert.ok(readFileSync(join(h.workspace, PATH), 'utf8').includes('# edited'), 'the saved edit was lost');
});

test('notebooks_download: ?download=1 answers as an attachment named after the file', T, async (t) => {
	const { h } = await withFirst(t);
	const r = await h.req('GET', `api/notebooks/${PATH}?download=1`);
	assert.equal(r.status, 200);
	assert.ok((r.headers.get('content-disposition') || '').includes('attachment; filename="first.ipynb"'),
		`Content-Disposition: ${r.headers.get('content-disposition')}`);
});

test('notebooks_rename: PATCH moves the file', T, async (t) => {
	const { h } = await withFirst(t);
	const r = await h.req('PATCH', `api/notebooks/${PATH}`, { json: { path: 'work/renamed.ipynb' } });
	assert.equal(r.status, 200, r.text);
	assert.ok(existsSync(join(h.workspace, 'work/renamed.ipynb')), 'the new name is missing');
	assert.ok(!existsSync(join(h.workspace, PATH)), 'the old name is still there');
});

test('notebooks_rename_onto_existing_409: renaming onto another notebook is 409', T, async (t) => {
	const { h } = await withFirst(t);
	assert.equal((await h.req('POST', 'api/notebooks', { json: { path: 'work/other.ipynb' } })).status, 201);
	const r = await h.req('PATCH', `api/notebooks/${PATH}`, { json: { path: 'work/other.ipynb' } });
	assert.equal(r.status, 409, r.text);
	assert.ok(existsSync(join(h.workspace, PATH)), 'the renamed notebook is gone');
});

test('notebooks_delete: DELETE removes the file; reading it afterwards is 404', T, async (t) => {
	const { h } = await withFirst(t);
	assert.equal((await h.req('POST', 'api/notebooks', { json: { path: 'work/other.ipynb' } })).status, 201);
	assert.equal((await h.req('DELETE', 'api/notebooks/work/other.ipynb')).status, 204);
	assert.ok(!existsSync(join(h.workspace, 'work/other.ipynb')), 'the file is still on disk');
	assert.equal((await h.req('GET', 'api/notebooks/work/other.ipynb')).status, 404);
});
