// tests/integration/runs.test.mjs — runs over the API with the real worker:
// validation, the run record, checkpoints, metrics export, runs from notebook
// cells, stop/resume/delete, and the CPU slot queue. Each case starts its own
// server (fixture.mjs).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FAKE_WORKER, SPECS, allEvents, fakeSpec, startServer, submitRun, waitFor, waitStatus } from './fixture.mjs';

const T = { timeout: 120000 };
const BAD_SPEC = 'data: {dataset: synthetic}\nmodel: [flatten, {lineer: 4}]\n';

/* A server with one small run completed on the real worker; resolves {h, id, run}. */
async function completedRun(t) {
	const h = await startServer(t);
	const id = await submitRun(h, SPECS.small);
	const run = await waitStatus(h, id, 'completed', 60000);
	return { h, id, run };
}

test('validate_spec: api/validate infers shapes of a good spec and places errors of a bad one', T, async (t) => {
	const h = await startServer(t);
	const good = await h.req('POST', 'api/validate', { json: { spec: SPECS.small } });
	assert.equal(good.status, 200, good.text);
	assert.equal(good.json.ok, true, good.text);
	assert.equal(good.json.total_params, 1108);
	assert.equal(good.json.layers.length, 4);
	const bad = await h.req('POST', 'api/validate', { json: { spec: BAD_SPEC } });
	assert.equal(bad.status, 200, bad.text);
	assert.equal(bad.json.ok, false);
	assert.equal(bad.json.errors[0].line, 2, bad.text);
	assert.ok(bad.json.errors[0].column > 0, bad.text);
});

test('run_invalid_spec_400: queueing a bad spec is 400 invalid_spec with the line', T, async (t) => {
	const h = await startServer(t);
	const r = await h.req('POST', 'api/runs', { json: { spec: BAD_SPEC } });
	assert.equal(r.status, 400, r.text);
	assert.equal(r.json.error, 'invalid_spec');
	assert.equal(r.json.errors[0].line, 2, r.text);
});

test('run_record: a completed run records device, progress, owner and times', T, async (t) => {
	const { run } = await completedRun(t);
	assert.equal(run.device, 'cpu');
	assert.ok(run.progress.total_steps > 0, JSON.stringify(run.progress));
	assert.equal(run.progress.step, run.progress.total_steps);
	assert.ok(run.owner, 'no owner');
	assert.ok(run.started > 0, `started ${run.started}`);
	assert.ok(run.ended >= run.started, `ended ${run.ended} before started ${run.started}`);
});

/* The tensors of a safetensors file, each checked to lie inside the file with a known dtype. */
function safetensorsTensors(buf) {
	const n = Number(buf.readBigUInt64LE(0));
	const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
	const tensors = Object.entries(header).filter(([k]) => k !== '__metadata__');
	for (const [name, v] of tensors) {
		const [s, e] = v.data_offsets;
		assert.ok(s >= 0 && s <= e && e <= buf.length - 8 - n, `${name}: offsets ${s}..${e} outside the file`);
		assert.ok(['F32', 'F16', 'BF16', 'I64', 'I32', 'U8'].includes(v.dtype), `${name}: dtype ${v.dtype}`);
	}
	return tensors;
}

test('checkpoint_download_safetensors: a listed checkpoint downloads as a valid safetensors file', T, async (t) => {
	const { h, id } = await completedRun(t);
	const list = await h.api('GET', `api/runs/${id}/checkpoints`);
	const file = list.checkpoints.at(-1)?.file;
	assert.ok(file, `no checkpoint listed: ${JSON.stringify(list)}`);
	const r = await h.req('GET', `api/runs/${id}/checkpoints/${file}`);
	assert.equal(r.status, 200);
	assert.ok(safetensorsTensors(r.body).length > 0, 'no tensors');
});

test('checkpoint_only_recorded: only recorded checkpoint files download, nothing else of the run', T, async (t) => {
	const { h, id } = await completedRun(t);
	assert.equal((await h.req('GET', `api/runs/${id}/checkpoints/..%2F..%2Ftrainbook.db`)).status, 404);
	assert.equal((await h.req('GET', `api/runs/${id}/checkpoints/spec.yaml`)).status, 404);
});

test('metrics_export: metrics.csv and metrics.json have one row per metric event', T, async (t) => {
	const { h, id } = await completedRun(t);
	const metricEvents = (await allEvents(h, id)).filter((e) => e.event.type === 'metric').length;
	assert.ok(metricEvents > 0, 'no metric events');
	const csv = await h.req('GET', `api/runs/${id}/metrics.csv`);
	assert.equal(csv.status, 200);
	assert.match(csv.text.split('\n')[0], /^step,epoch,split,time,loss/);
	assert.equal((csv.headers.get('content-type') || '').split(';')[0], 'text/csv');
	assert.equal(csv.text.trimEnd().split('\n').length - 1, metricEvents, 'CSV rows');
	const json = await h.req('GET', `api/runs/${id}/metrics.json`);
	assert.equal(json.status, 200);
	assert.equal(json.json.metrics.length, metricEvents, 'JSON rows');
});

test('run_from_notebook_cell: a run queued from a notebook cell records where it came from and completes', T, async (t) => {
	const h = await startServer(t);
	mkdirSync(join(h.workspace, 'work'));
	const nb = {
		cells: [{ cell_type: 'code', id: 'c1', metadata: { trainbook: { kind: 'run' } }, execution_count: null, outputs: [], source: SPECS.small }],
		metadata: {}, nbformat: 4, nbformat_minor: 5,
	};
	await h.api('POST', 'api/notebooks', { path: 'work/renamed.ipynb', content: nb });
	const r = await h.req('POST', 'api/runs', { json: { notebook: 'work/renamed.ipynb', cell: 'c1', name: 'from cell' } });
	assert.equal(r.status, 201, r.text);
	assert.equal(r.json.run.notebook, 'work/renamed.ipynb');
	assert.equal(r.json.run.cell, 'c1');
	assert.equal(r.json.run.name, 'from cell');
	await waitStatus(h, r.json.run.id, 'completed', 60000);
});

/* The highest step of run `id`'s checkpoint events so far. */
async function lastCheckpointStep(h, id) {
	const steps = (await allEvents(h, id)).filter((e) => e.event.type === 'checkpoint').map((e) => e.event.step);
	return steps.length ? Math.max(...steps) : null;
}

test('stop_then_resume: stop checkpoints the run; resume continues from that checkpoint to the end', T, async (t) => {
	const h = await startServer(t);
	const r = await h.req('POST', 'api/runs', { json: { spec: SPECS.long } });
	assert.equal(r.status, 201, r.text);
	const id = r.json.run.id;
	await waitStatus(h, id, 'running', 30000);
	// A first checkpoint, so that stop has something to resume from.
	await waitFor(async () => (await h.api('GET', `api/runs/${id}/checkpoints`)).checkpoints.length > 0,
		{ timeout: 30000, what: 'a first checkpoint' });
	const stop = await h.req('POST', `api/runs/${id}/stop`);
	assert.equal(stop.status, 202, stop.text);
	await waitStatus(h, id, 'stopped', 60000);
	const stopStep = await lastCheckpointStep(h, id);
	const resume = await h.req('POST', `api/runs/${id}/resume`);
	assert.equal(resume.status, 201, resume.text);
	await waitStatus(h, id, 'completed', 120000);
	const starts = (await allEvents(h, id)).filter((e) => e.event.status === 'running').map((e) => e.event.start_step);
	assert.equal(starts.at(-1), stopStep, `resumed at step ${starts.at(-1)}, last checkpoint at ${stopStep}`);
});

test('stop_finished_run_409: stopping a run that has ended is 409', T, async (t) => {
	const { h, id } = await completedRun(t);
	assert.equal((await h.req('POST', `api/runs/${id}/stop`)).status, 409);
});

test('delete_run: DELETE removes the run and its files', T, async (t) => {
	const { h, id } = await completedRun(t);
	assert.equal((await h.req('DELETE', `api/runs/${id}`)).status, 204);
	assert.equal((await h.req('GET', `api/runs/${id}`)).status, 404);
	// A worker still exiting after its final event has its folder removed when
	// the server reaps it (runq_delete), which may be a moment after the 204.
	await waitFor(() => !existsSync(join(h.workspace, '.trainbook/runs', id)), { timeout: 10000, what: 'the run folder to go' });
});

test('queue_one_cpu_slot: with one CPU slot the second run waits in the queue, then both complete', T, async (t) => {
	const h = await startServer(t, { args: ['--cpu-runs', '1'], env: { TRAINBOOK_WORKER_CMD: FAKE_WORKER, FAKE_STEPS: '15' } });
	const q1 = await submitRun(h, fakeSpec('sleep'));
	const q2 = await submitRun(h, fakeSpec('sleep'));
	await waitStatus(h, q1, 'running', 20000);
	const second = (await h.api('GET', `api/runs/${q2}`)).run;
	assert.equal(second.status, 'queued', 'the second run while the first ran');
	await waitStatus(h, q1, 'completed', 30000);
	await waitStatus(h, q2, 'completed', 30000);
});
