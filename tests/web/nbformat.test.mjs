// Unit tests for web/src/nbformat.js: nbformat 4 round-trip, run cell metadata, display_data outputs,
// checked against Debian's python3-nbformat validator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
	parseNotebook, serializeNotebook, splitSource, joinSource, runOutput, newCell, emptyNotebook, storedSummary,
} from '../../web/src/nbformat.js';

const here = dirname(fileURLToPath(import.meta.url));
const PNG_1x1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

/* Validate with python3-nbformat; returns '' when valid, else the validator's message. */
function nbformatValidate(obj) {
	const dir = mkdtempSync(join(tmpdir(), 'tb-nb-'));
	const f = join(dir, 'x.ipynb');
	writeFileSync(f, JSON.stringify(obj, null, 1));
	try {
		execFileSync('/usr/bin/python3', ['-c', 'import sys, nbformat; nbformat.validate(nbformat.read(sys.argv[1], 4))', f], { stdio: 'pipe' });
		return '';
	} catch (e) {
		return String(e.stderr || e.message).trim().split('\n').slice(-3).join(' ');
	}
}

test('source lines split and join back exactly', () => {
	for (const s of ['', 'a', 'a\n', 'a\nb', 'a\nb\n', '\n\nx\n']) assert.equal(joinSource(splitSource(s)), s);
	assert.deepEqual(splitSource('a\nb\n'), ['a\n', 'b\n']);
	assert.deepEqual(splitSource('a\nb'), ['a\n', 'b']);
	assert.equal(joinSource(['x\n', 'y']), 'x\ny');
	assert.equal(joinSource('x'), 'x');
});

test('a Jupyter notebook without cell ids (4.4) is upgraded and validates', () => {
	const nb = {
		nbformat: 4, nbformat_minor: 4, metadata: { custom: { a: 1 } },
		cells: [
			{ cell_type: 'markdown', metadata: {}, source: ['# Title\n', 'text'], attachments: {} },
			{ cell_type: 'code', metadata: { trainbook: { kind: 'run', run_id: 'r3' }, collapsed: false }, source: 'data: {dataset: mnist}\n', execution_count: null, outputs: [] },
			{ cell_type: 'code', metadata: {}, source: 'print(1)', execution_count: 4, outputs: [{ output_type: 'stream', name: 'stdout', text: ['1\n'] }] },
			{ cell_type: 'raw', metadata: {}, source: 'raw text' },
		],
	};
	const model = parseNotebook(JSON.stringify(nb));
	assert.deepEqual(model.cells.map((c) => c.kind), ['markdown', 'run', 'code', 'raw']);
	assert.equal(model.cells[1].runId, 'r3');
	assert.equal(model.cells[0].source, '# Title\ntext');
	const ids = new Set(model.cells.map((c) => c.id));
	assert.equal(ids.size, 4);
	const out = serializeNotebook(model);
	assert.equal(out.nbformat_minor, 5);
	assert.equal(out.metadata.custom.a, 1, 'unknown notebook metadata is kept');
	assert.equal(out.cells[1].metadata.collapsed, false, 'unknown cell metadata is kept');
	assert.deepEqual(out.cells[2].outputs, nb.cells[2].outputs, 'plain code cell outputs are kept');
	assert.equal(out.cells[2].execution_count, 4);
	assert.ok('attachments' in out.cells[0]);
	assert.equal(nbformatValidate(out), '');
});

test('parse → serialise → parse is stable', () => {
	const model = parseNotebook(readFileSync(join(here, '../../examples/fashion-mnist.ipynb'), 'utf8'));
	const once = serializeNotebook(model);
	const twice = serializeNotebook(parseNotebook(JSON.stringify(once)));
	assert.deepEqual(twice, once);
	assert.equal(nbformatValidate(once), '');
});

test('a run cell is saved with trainbook metadata, run_id and a display_data output', () => {
	const model = emptyNotebook();
	const md = newCell('markdown', '# hello');
	const run = newCell('run', 'data: {dataset: fashion-mnist}\nmodel: mlp\n');
	run.runId = 'r12';
	model.cells.push(md, run);
	const out = serializeNotebook(model, (c) => (c.id === run.id ? [runOutput('data:image/png;base64,' + PNG_1x1, 'run r12 completed\ntest.accuracy 0.88')] : null));
	const cell = out.cells[1];
	assert.equal(cell.cell_type, 'code');
	assert.deepEqual(cell.metadata.trainbook, { kind: 'run', run_id: 'r12' });
	assert.equal(cell.outputs.length, 1);
	assert.equal(cell.outputs[0].output_type, 'display_data');
	assert.equal(cell.outputs[0].data['image/png'], PNG_1x1, 'the data: prefix is stripped');
	assert.deepEqual(cell.outputs[0].data['text/plain'], ['run r12 completed\n', 'test.accuracy 0.88']);
	assert.equal(cell.execution_count, null);
	assert.equal(nbformatValidate(out), '');
	const back = parseNotebook(out);
	assert.equal(back.cells[1].runId, 'r12');
	assert.match(storedSummary(back.cells[1]), /test.accuracy 0.88/);
});

test('clearing a run id removes it from the metadata', () => {
	const model = emptyNotebook();
	const run = newCell('run', 'x: 1');
	run.metadata = { trainbook: { kind: 'run', run_id: 'old' } };
	model.cells.push(run);
	const out = serializeNotebook(model);
	assert.deepEqual(out.cells[0].metadata.trainbook, { kind: 'run' });
});

test('a cell that started a sweep keeps its sweep id through a save and a reload, and a run replaces it', () => {
	const model = emptyNotebook();
	const run = newCell('run', 'sweep: {params: {optimizer.lr: [0.1, 0.01]}}');
	run.sweepId = 's4';
	model.cells.push(run);
	const out = serializeNotebook(model);
	assert.deepEqual(out.cells[0].metadata.trainbook, { kind: 'run', sweep_id: 's4' });
	assert.equal(nbformatValidate(out), '');
	const back = parseNotebook(JSON.stringify(out));
	assert.equal(back.cells[0].sweepId, 's4');
	assert.equal(back.cells[0].runId, null);
	// A later run of the cell is what it shows: the sweep id goes.
	back.cells[0].runId = 'r9';
	assert.deepEqual(serializeNotebook(back).cells[0].metadata.trainbook, { kind: 'run', run_id: 'r9' });
	// Both in a file written by hand: the run wins, as the page shows it.
	const both = parseNotebook({ nbformat: 4, nbformat_minor: 5, metadata: {},
		cells: [{ cell_type: 'code', id: 'c1', metadata: { trainbook: { kind: 'run', run_id: 'r1', sweep_id: 's1' } }, source: '', outputs: [], execution_count: null }] });
	assert.equal(both.cells[0].runId, 'r1');
	assert.equal(both.cells[0].sweepId, null);
	// Only run cells carry one.
	const md = parseNotebook({ nbformat: 4, nbformat_minor: 5, metadata: {},
		cells: [{ cell_type: 'markdown', id: 'm1', metadata: { trainbook: { sweep_id: 's1' } }, source: '' }] });
	assert.equal(md.cells[0].sweepId, null);
});

test('the validator rejects a broken notebook (so the checks above can fail)', () => {
	const bad = serializeNotebook(parseNotebook({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] }));
	bad.cells.push({ cell_type: 'code', source: 'x' }); // no metadata, outputs, id
	assert.notEqual(nbformatValidate(bad), '');
});

test('non-notebooks are refused', () => {
	assert.throws(() => parseNotebook('{"a":1}'), /no cells/);
	assert.throws(() => parseNotebook({ nbformat: 3, cells: [] }), /nbformat 3/);
});

test('duplicate or invalid cell ids are replaced', () => {
	const model = parseNotebook({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [
		{ cell_type: 'markdown', id: 'same', metadata: {}, source: 'a' },
		{ cell_type: 'markdown', id: 'same', metadata: {}, source: 'b' },
		{ cell_type: 'markdown', id: 'bad id!', metadata: {}, source: 'c' },
	] });
	const ids = model.cells.map((c) => c.id);
	assert.equal(ids[0], 'same');
	assert.notEqual(ids[1], 'same');
	assert.match(ids[2], /^[a-z0-9]+$/);
});
