// tests/integration/system.test.mjs — machine monitoring (api/system, the
// system feed), NVML through dlopen with a stand-in libnvidia-ml.so.1 and the
// GPU slots it drives, and a clean SIGINT exit. Each case starts its own
// server (fixture.mjs).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { FAKE_WORKER, HERE, fakeSpec, openFeed, startServer, submitRun, tempDir, waitFor, waitStatus, workerPids } from './fixture.mjs';

const T = { timeout: 60000 };

test('ws_system_feed: subscribe_system sends the machine\'s GPUs, memory and cores', T, async (t) => {
	const h = await startServer(t);
	const feed = await openFeed(t, h, { token: false, query: `?token=${h.token}`, origin: h.origin });
	feed.send({ type: 'subscribe_system' });
	const m = await feed.until(() => true, { timeout: 10000, what: 'a first message' });
	assert.equal(m.type, 'system', JSON.stringify(m));
	const s = m.system;
	assert.ok(Array.isArray(s.gpus), 'gpus is not a list');
	assert.ok(s.memory.total > 0, 'memory.total');
	assert.ok(s.cpu.cores > 0, 'cpu.cores');
	assert.ok(s.gpus.length > 0 || s.gpu_note, 'neither GPUs nor a note saying why not');
});

test('system_stats: api/system has the time, memory use and GPUs (or why there are none)', T, async (t) => {
	const h = await startServer(t);
	const r = await h.req('GET', 'api/system');
	assert.equal(r.status, 200);
	const s = r.json;
	assert.ok(Number.isInteger(s.time), `time ${s.time}`);
	assert.ok(s.memory.used > 0, 'memory.used');
	assert.ok(s.gpus.length > 0 || s.gpu_note.includes('NVIDIA'), JSON.stringify(s).slice(0, 300));
});

test('nvml_gpu_slots: a stand-in NVML is read through dlopen; a GPU run and a CPU run share the machine', T, async (t) => {
	const dir = tempDir(t, 'tb-nvml-');
	await promisify(execFile)('cc', ['-shared', '-fPIC', '-O1', '-o', join(dir, 'libnvidia-ml.so.1'), join(HERE, 'fake_nvml.c')]);
	const pidsFile = join(dir, 'pids');
	writeFileSync(pidsFile, '');
	const h = await startServer(t, {
		args: ['--cpu-runs', '1'],
		env: { FAKE_NVML_PIDS: pidsFile, LD_LIBRARY_PATH: dir, FAKE_STEPS: '100', TRAINBOOK_WORKER_CMD: FAKE_WORKER },
	});
	const gpuRun = await submitRun(h, fakeSpec('sleep')); // device auto → the GPU
	const cpuRun = await submitRun(h, fakeSpec('sleep').replace('train: {epochs: 2}', 'train: {epochs: 2, device: cpu}'));
	await waitStatus(h, gpuRun, 'running', 20000);
	await waitStatus(h, cpuRun, 'running', 20000); // the GPU run does not hold the one CPU slot
	const [pid] = workerPids(h, gpuRun);
	assert.ok(pid, 'no worker process for the GPU run');
	const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
	assert.ok(env.includes('CUDA_VISIBLE_DEVICES=0'), `CUDA_VISIBLE_DEVICES: ${env.filter((e) => e.startsWith('CUDA_')).join(' ') || 'unset'}`);
	writeFileSync(pidsFile, `${pid}\n`);
	// The monitor samples every second or so: wait for the process to show.
	const s = await waitFor(async () => {
		const sys = await h.api('GET', 'api/system');
		return sys.gpus[0]?.processes?.length ? sys : false;
	}, { timeout: 15000, what: 'the GPU process in api/system' });
	const g = s.gpus[0];
	assert.equal(s.gpu_note, null);
	assert.equal(g.name, 'Fake NVML GPU');
	assert.equal(g.utilization, 42);
	assert.equal(g.memory_used, 2 ** 30);
	assert.equal(g.memory_total, 80 * 2 ** 30);
	assert.equal(g.temperature, null, 'an unreadable temperature must be null');
	assert.ok(Math.abs(g.power - 250) < 0.01, `power ${g.power}`);
	assert.deepEqual(g.processes.map((p) => p.run), [gpuRun]);
	const r = await h.req('POST', 'api/runs', { json: { spec: 'data: {dataset: synthetic}\nmodel: [flatten, {linear: 4}]\ntrain: {device: "cuda:3"}\n' } });
	assert.equal(r.status, 400, `cuda:3 on a one-GPU machine: ${r.text}`);
});

test('sigint_exit_0: SIGINT stops the server cleanly with exit code 0', T, async (t) => {
	const h = await startServer(t);
	const late = new Promise((res) => setTimeout(res, 10000, { code: 'still running after 10 s' }).unref());
	const exit = await Promise.race([h.kill('SIGINT'), late]);
	assert.equal(exit.code, 0, `exit ${JSON.stringify(exit)}`);
	assert.match(h.log(), /stopped/);
});
