// tests/integration/faults.test.mjs — faults: a worker killed mid-run,
// misbehaving workers (tests/integration/fake_worker.sh), the server killed
// with -9 mid-run and restarted, and a graceful SIGTERM. Each case starts its
// own server (fixture.mjs); the restart cases start a second one on the same
// workspace.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import {
	FAKE_WORKER, SPECS, allEvents, assertGapless, fakeSpec, openFeed, sleep, startServer, submitRun, waitFor,
	waitStatus, workerPids,
} from './fixture.mjs';

const T = { timeout: 120000 };

test('worker_kill9_fails_run: a worker killed with -9 fails its run with the signal; the server carries on', T, async (t) => {
	const h = await startServer(t);
	const id = await submitRun(h, SPECS.long);
	await waitStatus(h, id, 'running', 30000);
	await sleep(500);
	const [pid] = workerPids(h, id);
	assert.ok(pid, 'no worker process found');
	process.kill(pid, 'SIGKILL');
	const run = await waitStatus(h, id, 'failed', 30000);
	assert.match(run.reason, /signal 9/);
	assert.equal((await h.req('GET', 'api/status')).status, 200);
});

/* A server whose workers are fake_worker.sh, silent-timeout 2 s, four CPU slots. */
const fakeServer = (t) => startServer(t, { args: ['--worker-timeout', '2', '--cpu-runs', '4'], env: { TRAINBOOK_WORKER_CMD: FAKE_WORKER } });

/* Each misbehaviour of fake_worker.sh and the words its run's failure reason must hold. */
const BAD_WORKERS = {
	garbage: 'not a JSON event',
	array: 'not a JSON event',
	huge: 'longer than 1 MiB',
	hang: 'no event for 2 s',
	exit3: 'exited with code 3',
	noreport: 'without reporting a final status',
};

for (const [mode, want] of Object.entries(BAD_WORKERS)) {
	test(`worker_${mode}: a worker that misbehaves (${mode}) fails its run with "${want}"`, T, async (t) => {
		const h = await fakeServer(t);
		const run = await waitStatus(h, await submitRun(h, fakeSpec(mode)), 'failed', 30000);
		assert.ok(run.reason.includes(want), `reason '${run.reason}'`);
	});
}

test('worker_log_in_reason: the failure reason carries the worker\'s stderr', T, async (t) => {
	const h = await fakeServer(t);
	const id = await submitRun(h, fakeSpec('exit3'));
	await waitStatus(h, id, 'failed', 30000);
	assert.ok((await h.req('GET', `api/runs/${id}`)).text.includes('something broke'), 'stderr not in the reason');
});

test('worker_cpu_share: with four CPU slots each worker gets a quarter of the cores as OpenMP threads', T, async (t) => {
	const h = await fakeServer(t);
	const cores = Number(execFileSync('getconf', ['_NPROCESSORS_ONLN'], { encoding: 'utf8' }));
	const share = Math.max(1, Math.floor(cores / 4));
	const run = await waitStatus(h, await submitRun(h, fakeSpec('threads')), 'failed', 30000);
	assert.match(run.reason, new RegExp(`OMP_NUM_THREADS=${share}\\b`));
});

test('server_survives_bad_workers: after every bad worker at once the server still answers', T, async (t) => {
	const h = await fakeServer(t);
	const ids = [];
	for (const mode of [...Object.keys(BAD_WORKERS), 'threads']) ids.push(await submitRun(h, fakeSpec(mode)));
	for (const id of ids) await waitStatus(h, id, 'failed', 30000);
	assert.equal((await h.req('GET', 'api/status')).status, 200);
});

// ---- the server killed with -9 mid-run, restarted ------------------------------------

/*
 * Start a long run with a feed client on it, kill -9 the server once the
 * feed has delivered a checkpoint, and restart on the same workspace.
 * Resolves {h2, id, delivered (the feed's events), orphans (workers still alive)}.
 */
async function crashMidRun(t) {
	const h = await startServer(t);
	const id = await submitRun(h, SPECS.long);
	const feed = await openFeed(t, h);
	feed.subscribe(id, 0);
	await feed.until((m) => m.type === 'event' && m.event.type === 'checkpoint', { timeout: 30000, what: 'a checkpoint on the feed' });
	await sleep(300);
	await h.kill('SIGKILL');
	await feed.closed;
	// The workers die with their server (PR_SET_PDEATHSIG), at once; look before a
	// new server could tidy up. Half a second: without the death signal a worker
	// lives on until a write to its dead server's pipe fails, about 2 s here.
	let orphans = [];
	await waitFor(() => (orphans = workerPids(h, id)).length === 0, { timeout: 500, interval: 50 }).catch(() => {});
	const h2 = await startServer(t, { workspace: h.workspace, token: h.token });
	return { h2, id, delivered: feed.events(id), orphans };
}

test('server_kill9_run_interrupted: after kill -9 and a restart the run is interrupted, every delivered event recorded, no orphan worker', T, async (t) => {
	const { h2, id, delivered, orphans } = await crashMidRun(t);
	assert.deepEqual(orphans, [], 'workers outlived their server');
	assert.equal((await h2.api('GET', `api/runs/${id}`)).run.status, 'interrupted');
	assert.ok(delivered.length > 0, 'the feed delivered nothing before the crash');
	const stored = new Map((await allEvents(h2, id)).map((e) => [e.seq, e.event]));
	const missing = delivered.filter((m) => JSON.stringify(stored.get(m.seq)) !== JSON.stringify(m.event)).map((m) => m.seq);
	assert.deepEqual(missing, [], 'delivered but not recorded');
});

test('restart_resume_completes: an interrupted run resumes after the restart and completes with gapless events', T, async (t) => {
	const { h2, id } = await crashMidRun(t);
	const r = await h2.req('POST', `api/runs/${id}/resume`);
	assert.equal(r.status, 201, r.text);
	await waitStatus(h2, id, 'completed', 120000);
	assertGapless(await allEvents(h2, id));
});

test('sigterm_graceful_shutdown: SIGTERM checkpoints and stops the running run and exits 0', T, async (t) => {
	const h = await startServer(t);
	const id = await submitRun(h, SPECS.long);
	await waitStatus(h, id, 'running', 30000);
	await sleep(1000);
	const late = new Promise((res) => setTimeout(res, 30000, { code: 'still running after 30 s' }).unref());
	const exit = await Promise.race([h.kill('SIGTERM'), late]);
	assert.equal(exit.code, 0, `exit ${JSON.stringify(exit)}`);
	const h2 = await startServer(t, { workspace: h.workspace, token: h.token });
	assert.equal((await h2.api('GET', `api/runs/${id}`)).run.status, 'stopped');
	const last = (await allEvents(h2, id)).slice(-4);
	assert.ok(last.some((e) => e.event.type === 'checkpoint'), `no checkpoint among the last events: ${JSON.stringify(last)}`);
});
