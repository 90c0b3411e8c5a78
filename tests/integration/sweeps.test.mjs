// tests/integration/sweeps.test.mjs — sweeps on the server (issue 17): a run
// spec with a sweep: section becomes a sweep whose trials are queued as
// ordinary runs, `parallel` at a time; the server stops the bad trials with
// ASHA from their evaluation events; the sweep and its decisions survive a
// restart; stopping it stops its trials; a bad trial value is a 400 with the
// swept key's line and column.
//
//   node --test tests/integration/sweeps.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, tempDir, waitFor, waitStatus } from './fixture.mjs';
import { sweepSpec } from '../lib/sweep-spec.mjs';

const SWEEP = sweepSpec({ lrs: ['0.5', '1.0e-7'], seeds: 3 });

const sweepOf = async (h, id) => (await h.api('GET', `api/sweeps/${id}`)).sweep;
const ended = (s) => s.status !== 'running';

test('a sweep queues its trials as runs, parallel at a time, and ASHA stops the bad learning rates', async (t) => {
	const h = await startServer(t, { args: ['--cpu-runs', '2'] });
	const created = await h.api('POST', 'api/runs', { spec: SWEEP, name: 'lr-sweep' });
	assert.ok(created.sweep, JSON.stringify(created));
	const id = created.sweep.id;
	assert.match(id, /^s\d+$/);
	assert.equal(created.sweep.trials, 6);
	assert.deepEqual(created.sweep.params, ['optimizer.lr', 'train.seed']);
	assert.deepEqual(created.sweep.rungs, [1, 3]);
	// Two trials queued at once, the rest pending.
	const first = created.sweep.trial_list;
	assert.equal(first.filter((x) => x.run).length, 2, JSON.stringify(first));
	assert.deepEqual(first[0].values, ['0.5', '0']);
	let most = 0;
	const done = await waitFor(async () => {
		const s = await sweepOf(h, id);
		most = Math.max(most, s.trial_list.filter((x) => ['queued', 'running'].includes(x.status)).length);
		return ended(s) && s;
	}, { timeout: 240000, what: 'the sweep to end' });
	assert.equal(done.status, 'completed');
	assert.ok(most <= 2, `at most parallel=2 trials live at once, saw ${most}`);
	const trials = done.trial_list;
	// Every trial ran as an ordinary run of the same owner, named after the sweep.
	for (const tr of trials) {
		const run = (await h.api('GET', `api/runs/${tr.run}`)).run;
		assert.equal(run.name, `lr-sweep #${tr.trial}`);
		assert.ok(['completed', 'stopped'].includes(run.status), `${tr.run}: ${run.status} ${run.reason}`);
	}
	for (const tr of trials.filter((x) => x.values[0] === '1.0e-7'))
		assert.equal(tr.asha_stopped_at, 1, `bad trial ${tr.trial} should stop at the first rung: ${JSON.stringify(tr)}`);
	// Trials 1 and 2 run side by side, so either may reach a rung first and lose it to the other;
	// a good rate always goes the distance.
	const finished = trials.filter((x) => x.values[0] === '0.5' && !x.asha_stopped_at);
	assert.ok(finished.length >= 1 && finished.every((x) => x.status === 'completed' && x.epochs === 4), JSON.stringify(trials));
	assert.equal(done.best.values[0], '0.5');
	assert.ok(done.best.value > 0.8, JSON.stringify(done.best));
	assert.ok(done.rung_values.filter((v) => v.epoch === 1).length >= 6, JSON.stringify(done.rung_values));
	// The list shows it with its best trial.
	const list = (await h.api('GET', 'api/sweeps')).sweeps;
	assert.equal(list[0].id, id);
	assert.equal(list[0].done, 6);
	assert.equal(list[0].best.trial, done.best.trial);
});

test('a sweep survives a restart and goes on; stopping it stops its trials', async (t) => {
	const slow = sweepSpec({ lrs: ['0.5', '1.0e-7'], seeds: 3, trainSize: 65536, epochs: 50, parallel: 1 });
	const h = await startServer(t, { args: ['--cpu-runs', '2'] });
	const id = (await h.api('POST', 'api/runs', { spec: slow, name: 'long' })).sweep.id;
	const firstRun = (await sweepOf(h, id)).trial_list[0].run;
	await waitStatus(h, firstRun, 'running', 60000);
	await h.kill('SIGTERM');
	const h2 = await startServer(t, { workspace: h.workspace, token: h.token, args: ['--cpu-runs', '2'] });
	// The sweep is still there, running; the interrupted trial's place goes to the next one.
	const s = await sweepOf(h2, id);
	assert.equal(s.status, 'running');
	assert.equal(s.trials, 6);
	const next = await waitFor(async () => {
		const x = await sweepOf(h2, id);
		const live = x.trial_list.find((tr) => tr.trial === 2 && tr.run);
		return live && x;
	}, { timeout: 30000, what: 'the second trial to be queued after the restart' });
	assert.notEqual(next.trial_list[0].status, 'running');
	const live = next.trial_list[1].run;
	await waitStatus(h2, live, 'running', 60000);
	const stopped = await h2.api('POST', `api/sweeps/${id}/stop`, {});
	assert.equal(stopped.sweep.status, 'stopped');
	await waitStatus(h2, live, ['stopped', 'completed'], 60000);
	await new Promise((r) => setTimeout(r, 2500)); // two ticks: nothing more is queued
	const after = await sweepOf(h2, id);
	assert.equal(after.status, 'stopped');
	assert.deepEqual(after.trial_list.slice(2).map((x) => x.run), [null, null, null, null]);
	const again = await h2.req('POST', `api/sweeps/${id}/stop`, { json: {} });
	assert.equal(again.status, 409);
});

test('a trial value the spec refuses is a 400 naming the swept key; unknown sweeps are 404', async (t) => {
	const h = await startServer(t);
	const bad = SWEEP.replace('[0.5, 1.0e-7]', '[0.5, -1]');
	const r = await h.req('POST', 'api/runs', { json: { spec: bad } });
	assert.equal(r.status, 400, r.text);
	assert.equal(r.json.error, 'invalid_spec');
	const e = r.json.errors[0];
	assert.equal(e.line, 9);
	assert.equal(e.column, 5);
	assert.match(e.message, /sweep\.params\.optimizer\.lr: trial 4 sets -1: optimizer\.lr: expected a positive number/);
	// A bad sweep section is caught by the checker with its line:column too.
	const r2 = await h.req('POST', 'api/runs', { json: { spec: SWEEP.replace('method: grid', 'method: bayes') } });
	assert.equal(r2.status, 400);
	assert.match(r2.text, /unknown method 'bayes'/);
	assert.equal((await h.api('GET', 'api/sweeps')).sweeps.length, 0);
	assert.equal((await h.req('GET', 'api/sweeps/s99')).status, 404);
	assert.equal((await h.req('GET', 'api/sweeps/x')).status, 404);
	assert.equal((await h.req('POST', 'api/sweeps/s99/stop', { json: {} })).status, 404);
});

test('a sweep its owner\'s quota holds back says why, and goes on once the quota allows', async (t) => {
	const conf = join(tempDir(t, 'tb-conf-'), 'trainbook.conf');
	writeFileSync(conf, 'cpu-runs = 0\nquota-instructor-queued-runs = 1\n'); // nothing starts; one run may wait
	const h = await startServer(t, { args: ['--config', conf] });
	const created = await h.api('POST', 'api/runs', { spec: SWEEP, name: 'held' });
	const id = created.sweep.id;
	assert.equal(created.sweep.trial_list.filter((x) => x.run).length, 1, 'the quota lets one trial in');
	const held = await waitFor(async () => {
		const s = await sweepOf(h, id);
		return s.waiting && s;
	}, { timeout: 10000, what: 'the sweep to say why it waits' });
	assert.equal(held.status, 'running');
	assert.equal(held.waiting, 'quota queued runs: you have 1 run waiting, the limit is 1 (stop one, or wait until one starts)');
	// The owner (single-user mode: an instructor) lifts the limit: the next tick queues the second trial.
	const put = await h.req('PUT', 'api/quotas', { json: { roles: { instructor: { queued_runs: 5 } } } });
	assert.equal(put.status, 200, put.text);
	const freed = await waitFor(async () => {
		const s = await sweepOf(h, id);
		return s.trial_list.filter((x) => x.run).length === 2 && s;
	}, { timeout: 10000, what: 'the second trial to be queued' });
	assert.equal(freed.waiting, undefined, 'still says it waits');
	// A stopped sweep waits for nothing.
	assert.equal((await h.req('POST', `api/sweeps/${id}/stop`, { json: {} })).status, 202);
	assert.equal((await sweepOf(h, id)).waiting, undefined);
});
