// tests/integration/sched.test.mjs — the scheduler on a classroom server
// (issue 14): quota refusals over the API (429 "quota" naming the quota, the
// use and the limit) and instructors changing limits, a waiting run's
// position and reason in GET /api/runs/<id> and in the feed's run messages
// as they change, a duration limit stopping a run after a checkpoint and an
// instructor extending it, lab sessions, the board feed at most once a
// second per run, and GPU packing and MIG instances through the stand-in
// NVML (fake_nvml.c).
//
//   node --test tests/integration/sched.test.mjs
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { FAKE_WORKER, HERE, SPECS, fakeSpec, openFeed, sleep, startClassroom, tempDir, waitFor, waitStatus, workerPids } from './fixture.mjs';

const T = { timeout: 180000 };
const CPU = SPECS.small.replace('train: {epochs: 2}', 'train: {epochs: 2, device: cpu}');
const SLOW = fakeSpec('sleep', CPU); // the fake worker: a metric every 0.2 s, FAKE_STEPS of them
/* The real worker, training for minutes (SPECS.long takes ~8 s here), checkpointing every 200 steps. */
const LONGER = SPECS.long.replace('epochs: 120', 'epochs: 5000');

/* A config file of `lines` for test context t. */
function config(t, lines) {
	const file = join(tempDir(t, 'tb-conf-'), 'trainbook.conf');
	writeFileSync(file, lines.join('\n') + '\n');
	return file;
}

/* The run object of GET api/runs/<id> as `who` sees it. */
const getRun = async (who, id) => (await who.api('GET', `api/runs/${id}`)).run;

/* The queue of run `id` once the scheduler has placed it and `pred` holds. */
async function queueOf(who, id, pred = () => true, what = `the queue place of ${id}`) {
	return waitFor(async () => {
		const run = await getRun(who, id);
		return run.queue && pred(run.queue) ? run.queue : false;
	}, { timeout: 20000, what });
}

test('quota errors: 429 names the quota, the use and the limit; instructors change limits per user and role', T, async (t) => {
	const h = await startClassroom(t, {
		args: ['--config', config(t, ['cpu-runs = 0', 'quota-student-queued-runs = 2', 'quota-student-gpu-minutes-per-day = 0'])],
	});
	const alice = h.as('alice'), bob = h.as('bob'), prof = h.as('prof');
	await alice.api('POST', 'api/runs', { spec: CPU });
	await alice.api('POST', 'api/runs', { spec: CPU });
	// At the limit (2 waiting of 2): the third is refused, and says why in numbers.
	const third = await alice.req('POST', 'api/runs', { json: { spec: CPU } });
	assert.equal(third.status, 429, third.text);
	assert.equal(third.json.error, 'quota');
	assert.equal(third.json.message, 'quota queued runs: you have 2 runs waiting, the limit is 2 (stop one, or wait until one starts)');
	// Bob is under his own limit; a GPU run of his asks for GPU minutes he has none of.
	assert.equal((await bob.req('POST', 'api/runs', { json: { spec: CPU } })).status, 201);
	const mine = await alice.api('GET', 'api/quota');
	assert.equal(mine.user, 'alice');
	assert.equal(mine.limits.queued_runs, 2);
	assert.equal(mine.limits.gpu_minutes_per_day, 0);
	assert.equal(mine.use.queued, 2);
	// Students may not set limits; an instructor raises alice's alone.
	assert.equal((await alice.req('PUT', 'api/quotas', { json: { users: { alice: { queued_runs: 5 } } } })).status, 403);
	assert.equal((await alice.req('GET', 'api/quotas')).status, 403);
	const bad = await prof.req('PUT', 'api/quotas', { json: { users: { alice: { queued_runs: -1 } } } });
	assert.equal(bad.status, 400, bad.text);
	assert.equal((await prof.req('PUT', 'api/quotas', { json: { users: { nobody: {} } } })).status, 400);
	const set = await prof.api('PUT', 'api/quotas', { users: { alice: { queued_runs: 3 } } });
	assert.deepEqual(set.users.find((u) => u.user === 'alice').override, { queued_runs: 3 });
	assert.equal(set.users.find((u) => u.user === 'bob').limits.queued_runs, 2);
	assert.equal((await alice.req('POST', 'api/runs', { json: { spec: CPU } })).status, 201);
	const fourth = await alice.req('POST', 'api/runs', { json: { spec: CPU } });
	assert.equal(fourth.status, 429);
	assert.match(fourth.json.message, /you have 3 runs waiting, the limit is 3/);
	// A role's override: no limit for students (null), alice's own 3 still wins for her.
	await prof.api('PUT', 'api/quotas', { roles: { student: { queued_runs: null } } });
	assert.equal((await bob.req('POST', 'api/runs', { json: { spec: CPU } })).status, 201);
	assert.equal((await bob.req('POST', 'api/runs', { json: { spec: CPU } })).status, 201);
	assert.equal((await alice.req('POST', 'api/runs', { json: { spec: CPU } })).status, 429);
	const all = await prof.api('GET', 'api/quotas');
	assert.equal(all.roles.student.config.queued_runs, 2);
	assert.equal(all.roles.student.limits.queued_runs, null);
	assert.deepEqual(all.users.map((u) => u.user).sort(), ['alice', 'bob', 'prof']);
	// Clearing alice's override ({}) leaves her with the role's (none).
	await prof.api('PUT', 'api/quotas', { users: { alice: {} } });
	assert.equal((await alice.req('POST', 'api/runs', { json: { spec: CPU } })).status, 201);
});

test('queue position and reason in GET /api/runs/<id> and in the feed, updated when they change', T, async (t) => {
	const h = await startClassroom(t, {
		args: ['--cpu-runs', '1'],
		env: { TRAINBOOK_WORKER_CMD: FAKE_WORKER, FAKE_STEPS: '400' },
	});
	const alice = h.as('alice'), bob = h.as('bob'), prof = h.as('prof');
	const feed = await openFeed(t, h, { token: h.tokens.alice });
	feed.send({ type: 'subscribe_runs' });
	const a1 = (await alice.api('POST', 'api/runs', { spec: SLOW })).run.id;
	await waitStatus(alice, a1, 'running', 20000);
	const a2 = (await alice.api('POST', 'api/runs', { spec: SLOW })).run.id;
	const b1 = (await bob.api('POST', 'api/runs', { spec: SLOW })).run.id;
	// Bob has used nothing yet and alice has a run going: his goes first, hers waits behind it.
	const qb = await queueOf(bob, b1, (q) => q.position === 1);
	assert.equal(qb.reason, `next in line; the CPU runs 1 of 1 at once (${a1})`);
	const qa = await queueOf(alice, a2, (q) => q.position === 2);
	assert.equal(qa.reason, `1 ahead of you; the CPU runs 1 of 1 at once (${a1})`);
	// Lists carry it too (prof sees both).
	const list = (await prof.api('GET', 'api/runs')).runs;
	assert.equal(list.find((r) => r.id === a2).queue.position, 2);
	// The feed told alice where her run stands, and nothing of bob's.
	await feed.until((m) => m.type === 'run' && m.run.id === a2 && m.run.queue?.position === 2, { what: `a run message with ${a2} at 2` });
	// When alice's first run ends, bob's starts and alice's moves up: a new run message says so.
	const from = feed.messages.length;
	await alice.api('POST', `api/runs/${a1}/stop`, {});
	await waitStatus(bob, b1, 'running', 20000);
	const moved = await feed.until((m) => feed.messages.indexOf(m) >= from && m.type === 'run' && m.run.id === a2 &&
		m.run.queue?.position === 1, { what: `a run message with ${a2} at 1` });
	assert.equal(moved.run.queue.reason, `next in line; the CPU runs 1 of 1 at once (${b1})`);
	assert.ok(!feed.messages.some((m) => m.type === 'run' && m.run.id === b1), 'alice was told about bob\'s run');
	// Once it runs, a run has no queue place.
	await bob.api('POST', `api/runs/${b1}/stop`, {});
	await waitStatus(alice, a2, 'running', 20000);
	assert.equal((await getRun(alice, a2)).queue, null);
});

test('a duration limit checkpoints and stops a run with the reason; an instructor extends it', T, async (t) => {
	const h = await startClassroom(t, {
		args: ['--cpu-runs', '2', '--config', config(t, ['quota-student-max-run-seconds = 4'])],
	});
	const alice = h.as('alice'), prof = h.as('prof');
	const id = (await alice.api('POST', 'api/runs', { spec: LONGER })).run.id;
	await waitStatus(alice, id, 'running', 60000);
	const run = await waitStatus(alice, id, ['stopped', 'failed', 'completed'], 60000);
	assert.equal(run.status, 'stopped', run.reason);
	assert.equal(run.reason, 'stopped at its duration limit of 4 s (an instructor can extend it); resume it to go on from its last checkpoint');
	// It stopped as a stop does: a checkpoint was written on the way out.
	const cks = (await alice.api('GET', `api/runs/${id}/checkpoints`)).checkpoints;
	assert.ok(cks.length > 0, 'no checkpoint');
	assert.ok(run.compute_seconds >= 3, `compute_seconds ${run.compute_seconds}`);
	// Students cannot extend; an instructor gives it a minute more, and the resumed run goes past 4 s.
	assert.equal((await alice.req('POST', `api/runs/${id}/extend`, { json: { seconds: 60 } })).status, 403);
	assert.equal((await prof.req('POST', `api/runs/${id}/extend`, { json: {} })).status, 400);
	const ext = await prof.api('POST', `api/runs/${id}/extend`, { seconds: 60 });
	assert.equal(ext.run.duration_limit, 64);
	await alice.api('POST', `api/runs/${id}/resume`, {});
	await waitStatus(alice, id, 'running', 60000);
	await sleep(7000);
	assert.equal((await getRun(alice, id)).status, 'running', 'the extended run stopped early');
	await alice.api('POST', `api/runs/${id}/stop`, {});
	const after = await waitStatus(alice, id, ['stopped', 'completed'], 60000);
	assert.doesNotMatch(after.reason || '', /duration limit/);
	// Device time was counted for alice.
	const q = await alice.api('GET', 'api/quota');
	assert.ok(q.use.cpu_minutes_per_day > 0.1, JSON.stringify(q.use));
});

test('lab sessions: an exclusive session holds others\' runs with the reason, then lets them go', T, async (t) => {
	const h = await startClassroom(t, {
		args: ['--cpu-runs', '4'],
		env: { TRAINBOOK_WORKER_CMD: FAKE_WORKER, FAKE_STEPS: '400' },
	});
	const alice = h.as('alice'), bob = h.as('bob'), prof = h.as('prof');
	const day = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'][new Date().getDay()];
	assert.equal((await alice.req('PUT', 'api/lab-sessions', { json: { sessions: [] } })).status, 403);
	const badLab = await prof.req('PUT', 'api/lab-sessions', { json: { sessions: [{ day, start: '16:00', end: '14:00' }] } });
	assert.equal(badLab.status, 400, badLab.text);
	const set = await prof.api('PUT', 'api/lab-sessions', { sessions: [{ day, start: '00:00', end: '24:00', mode: 'exclusive', users: ['alice'] }] });
	assert.equal(set.active, 0);
	const seen = await bob.api('GET', 'api/lab-sessions');
	assert.equal(seen.sessions[0].mode, 'exclusive');
	const b1 = (await bob.api('POST', 'api/runs', { spec: SLOW })).run.id;
	const a1 = (await alice.api('POST', 'api/runs', { spec: SLOW })).run.id;
	await waitStatus(alice, a1, 'running', 20000);
	const q = await queueOf(bob, b1);
	assert.match(q.reason, /^lab session \w{3} 00:00–24:00: only its students' runs start until 24:00$/);
	// The session is removed: bob's run starts at the next pass.
	await prof.api('PUT', 'api/lab-sessions', { sessions: [] });
	await waitStatus(bob, b1, 'running', 20000);
});

test('the board feed: instructors only, a snapshot then at most one update a second per run', T, async (t) => {
	const h = await startClassroom(t, {
		args: ['--cpu-runs', '2'],
		env: { TRAINBOOK_WORKER_CMD: FAKE_WORKER, FAKE_STEPS: '60' },
	});
	const alice = h.as('alice');
	const board = await openFeed(t, h, { token: h.tokens.prof });
	const student = await openFeed(t, h, { token: h.tokens.bob });
	student.send({ type: 'subscribe_board' });
	const err = await student.until((m) => m.type === 'error', { what: 'bob\'s error' });
	assert.equal(err.message, 'only instructors may send "subscribe_board"');
	const id = (await alice.api('POST', 'api/runs', { spec: SLOW })).run.id;
	board.send({ type: 'subscribe_board' });
	const snap = await board.until((m) => m.type === 'board' && m.full, { what: 'the snapshot' });
	assert.ok(snap.runs.some((r) => r.id === id), 'the snapshot lacks the run');
	// The fake worker sends 5 metrics a second for 12 s; count the board's updates of the run over 4 s.
	await board.until((m) => m.type === 'board' && !m.full && m.runs.some((r) => r.id === id && r.points?.loss), { what: 'a first point' });
	const from = board.messages.length;
	await sleep(4000);
	const updates = board.messages.slice(from).filter((m) => m.type === 'board' && m.runs.some((r) => r.id === id && r.points));
	assert.ok(updates.length >= 3 && updates.length <= 5, `${updates.length} updates in 4 s`);
	assert.ok(updates.every((m) => m.tick > snap.tick), 'an update older than the snapshot');
	assert.ok(!student.messages.some((m) => m.type === 'board'), 'a student got board messages');
});

test('GPU packing through NVML: runs share a GPU by its slots and by the engine\'s memory estimate, told their limit; MIG instances are places of their own', T, async (t) => {
	const dir = tempDir(t, 'tb-nvml-');
	execFileSync('cc', ['-shared', '-fPIC', '-O1', '-o', join(dir, 'libnvidia-ml.so.1'), join(HERE, 'fake_nvml.c')]);
	const pidsFile = join(dir, 'pids');
	writeFileSync(pidsFile, '');
	const GPU = fakeSpec('sleep', SPECS.small); // device auto: the GPU
	const envOf = (h, id) => Object.fromEntries(readFileSync(`/proc/${workerPids(h, id)[0]}/environ`, 'utf8').split('\0')
		.filter(Boolean).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
	const base = { TRAINBOOK_WORKER_CMD: FAKE_WORKER, FAKE_STEPS: '400', LD_LIBRARY_PATH: dir, FAKE_NVML_PIDS: pidsFile };
	/* Three GPU runs of one user: the first two start; the third's place in the queue. */
	const threeRuns = async (who) => {
		const ids = [];
		for (let i = 0; i < 3; i++) ids.push((await who.api('POST', 'api/runs', { spec: GPU })).run.id);
		await waitStatus(who, ids[0], 'running', 20000);
		await waitStatus(who, ids[1], 'running', 20000);
		return { ids, q: await queueOf(who, ids[2]) };
	};
	// One 80 GiB GPU, two runs at once: both on GPU 0, each told its share; a third waits.
	const h = await startClassroom(t, { args: ['--gpu-runs', '2'], env: base });
	const alice = h.as('alice');
	const { ids, q } = await threeRuns(alice);
	assert.equal(q.reason, `next in line; GPU 0 runs 2 of 2 at once (${ids[0]} and ${ids[1]})`);
	const env = await waitFor(() => workerPids(h, ids[1]).length && envOf(h, ids[1]), { what: 'the worker environment' });
	assert.equal(env.CUDA_VISIBLE_DEVICES, '0');
	// Placed with the engine's estimate: what /api/validate answers for one GPU, recorded on the run.
	const est = (await alice.api('POST', 'api/validate', { spec: GPU })).memory;
	assert.equal(est.device, 'cuda');
	assert.ok(est.device_bytes > 100 * 2 ** 20, `device_bytes ${est.device_bytes}`);
	assert.equal((await alice.api('GET', `api/runs/${ids[1]}`)).run.estimated_bytes, est.device_bytes);
	assert.equal(Number(env.TRAINBOOK_GPU_MEMORY_LIMIT), est.device_bytes);
	await h.kill();
	// Packing by that estimate: a GPU with room for two of these runs (beside NVML's 1 GiB in use
	// and the 512 MiB margin) takes two though it has four slots; the third waits, saying why.
	const mib = Math.ceil(1536 + (2.5 * est.device_bytes) / 2 ** 20);
	const p = await startClassroom(t, { args: ['--gpu-runs', '4'], env: { ...base, FAKE_NVML_MEMORY_MIB: String(mib) } });
	const { ids: packed, q: qp } = await threeRuns(p.as('alice'));
	assert.match(qp.reason, new RegExp(`^next in line; GPU 0 shared by ${packed[0]} and ${packed[1]}, [0-9.]+ MiB free, yours needs [0-9.]+ MiB$`));
	await p.kill();
	// MIG: the GPU cut in two instances; two runs go one to each, named by UUID.
	const m = await startClassroom(t, { args: ['--gpu-runs', '1'], env: { ...base, FAKE_NVML_MIG: '2' } });
	const bob = m.as('bob');
	const r1 = (await bob.api('POST', 'api/runs', { spec: GPU })).run.id;
	const r2 = (await bob.api('POST', 'api/runs', { spec: GPU })).run.id;
	await waitStatus(bob, r1, 'running', 20000);
	await waitStatus(bob, r2, 'running', 20000);
	const seen = [r1, r2].map((id) => envOf(m, id).CUDA_VISIBLE_DEVICES).sort();
	assert.deepEqual(seen, ['MIG-fake-0', 'MIG-fake-1']);
	assert.equal(Number(envOf(m, r1).TRAINBOOK_GPU_MEMORY_LIMIT), est.device_bytes);
	const r3 = (await bob.api('POST', 'api/runs', { spec: GPU })).run.id;
	const q3 = await queueOf(bob, r3);
	assert.equal(q3.reason, 'next in line; all 2 GPUs are full');
});
