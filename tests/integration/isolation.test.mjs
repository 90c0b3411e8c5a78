// tests/integration/isolation.test.mjs — the isolation sweep (issue 13): built
// from the route table and the feed's message table the server reports
// (GET /api/routes: every route's access rule, every feed type's rule), it
// sends every route, as every role, at student alice's notebook, run,
// checkpoint, export, cell, token and account:
//
//   bob (another student)  → 404 for alice's things, 403 for instructor routes,
//                            and nothing of alice's in any answer;
//   alice (the owner)      → allowed;
//   prof (an instructor)   → allowed (API tokens excepted: they are personal);
//   anonymous              → 401.
//
// A route or feed type whose rule is missing ("none"), or a rule the sweep
// has no expectations for, fails it: a new route cannot skip ownership.
//
//   node --test tests/integration/isolation.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { ROOT, startClassroom, tempDir, waitFor, waitStatus, sleep } from './fixture.mjs';
import { rawWebSocket } from './rawhttp.mjs';

const CPU_SPEC = 'data: {dataset: synthetic, shape: [1,8,8], classes: 4, train_size: 256, test_size: 64, batch_size: 32}\n' +
	'model: [flatten, {linear: 16}, relu, {linear: 4}]\ntrain: {epochs: 2, device: cpu}\n';
const LONG_SPEC = CPU_SPEC.replace('train_size: 256', 'train_size: 8192').replace('epochs: 2', 'epochs: 100000');
const SECRET = 'alice-secret';
const notebook = (marker, spec = CPU_SPEC) => JSON.stringify({
	cells: [{ id: 'c1', cell_type: 'code', metadata: { trainbook: { kind: 'run' } }, source: `# ${marker}\n` + spec, outputs: [], execution_count: null }],
	metadata: { marker }, nbformat: 4, nbformat_minor: 5,
});

/* What each rule promises, per role: 'allowed' (not 401/403/404), a status, or 'any' (public routes). */
const EXPECT = {
	public: { bob: 'any', alice: 'any', prof: 'any', anonymous: 'public' },
	user: { bob: 'allowed', alice: 'allowed', prof: 'allowed', anonymous: 401 },
	instructor: { bob: 403, alice: 403, prof: 'allowed', anonymous: 401 },
	run: { bob: 404, alice: 'allowed', prof: 'allowed', anonymous: 401 },
	'notebook-read': { bob: 404, alice: 'allowed', prof: 'allowed', anonymous: 401 },
	'notebook-write': { bob: 404, alice: 'allowed', prof: 'allowed', anonymous: 401 },
	'notebook-move': { bob: 404, alice: 'allowed', prof: 'allowed', anonymous: 401 },
	'notebook-new': { bob: 404, alice: 'allowed', prof: 'allowed', anonymous: 401 },
	'notebook-copy': { bob: 404, alice: 'allowed', prof: 'allowed', anonymous: 401 },
	'run-new': { bob: 404, alice: 'allowed', prof: 'allowed', anonymous: 401 },
	'own-token': { bob: 404, alice: 'allowed', prof: 404, anonymous: 401 },
	// A cluster worker's route: only its run's secret counts, never a login, not even the owner's.
	'run-secret': { bob: 403, alice: 403, prof: 403, anonymous: 403 },
	sweep: { bob: 404, alice: 'allowed', prof: 'allowed', anonymous: 401 },
};
const FEED_EXPECT = ['any', 'run-owner', 'own-runs', 'redacted', 'instructor'];
const ROLES = ['bob', 'anonymous', 'alice', 'prof']; // refusals first: they change nothing

/* A WebSocket feed client with a token (or none). */
function feed(h, token) {
	return new Promise((resolve, reject) => {
		const ws = new WebSocket(`ws://127.0.0.1:${h.port}/ws`, { headers: token ? { Authorization: `token ${token}` } : {} });
		const messages = [];
		ws.on('message', (d) => messages.push(JSON.parse(d.toString())));
		ws.on('open', () => resolve({
			messages,
			send: (m) => ws.send(JSON.stringify(m)),
			until: (pred, what, timeout = 15000) => waitFor(() => messages.find(pred), { timeout, what }),
			close: () => ws.close(),
		}));
		ws.on('unexpected-response', (req, res) => reject(new Error(`refused: ${res.statusCode}`)));
		ws.on('error', reject);
	});
}

/* Build the fake NVML (one GPU whose processes are the pids in a file). */
function fakeNvml(t) {
	const dir = tempDir(t, 'tb-nvml-');
	execFileSync('cc', ['-shared', '-fPIC', '-O1', '-o', join(dir, 'libnvidia-ml.so.1'), join(ROOT, 'tests/integration/fake_nvml.c')]);
	writeFileSync(join(dir, 'pids'), '');
	return { dir, pids: join(dir, 'pids') };
}

/* The pid of the worker of run `id` in workspace `ws`. */
function workerPid(ws, id) {
	for (const p of readdirSync('/proc')) {
		if (!/^\d+$/.test(p)) continue;
		try {
			const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
			if (cmd.includes(join(ws, '.trainbook/runs', id, 'spec.yaml'))) return Number(p);
		} catch { /* gone */ }
	}
	return 0;
}

test('isolation sweep: every route and every feed message type, for every role', async (t) => {
	const nvml = fakeNvml(t);
	const h = await startClassroom(t, {
		users: [['prof', 'instructor'], ['alice'], ['bob'], ['carol']],
		env: { LD_LIBRARY_PATH: nvml.dir, FAKE_NVML_PIDS: nvml.pids },
		args: ['--cpu-runs', '2'],
	});
	const as = (role) => (role === 'anonymous' ? h.as(null) : h.as(role));
	const prof = h.as('prof');
	const alice = h.as('alice');
	const bob = h.as('bob');

	// ---- alice's things (and bob's own, so his lists are not empty) ---------------------------------
	writeFileSync(join(h.workspace, 'users/alice/data.csv'), `${SECRET},b,label\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n1,1,0\n2,2,1\n`);
	// Names of alice's things carry no marker (bob's 404s echo the paths he asked for); their contents do.
	await alice.api('POST', 'api/notebooks', { path: 'users/alice/work.ipynb', content: notebook(SECRET) });
	await bob.api('POST', 'api/notebooks', { path: 'users/bob/bobs.ipynb', content: notebook('bob') });
	const A = { nb: 'users/alice/work.ipynb' };
	A.run = (await alice.api('POST', 'api/runs', { notebook: A.nb, cell: 'c1', name: `${SECRET}-run` })).run.id;
	const bobRun = (await bob.api('POST', 'api/runs', { spec: CPU_SPEC, name: 'bobs-run' })).run.id;
	const sweepSpec = (marker) => `# ${marker}\n${CPU_SPEC}sweep: {params: {optimizer.lr: {choice: [0.01]}}}\n`;
	A.sweep = (await alice.api('POST', 'api/runs', { spec: sweepSpec(SECRET), name: `${SECRET}-sweep` })).sweep.id;
	const bobSweep = (await bob.api('POST', 'api/runs', { spec: sweepSpec('bob'), name: 'bobs-sweep' })).sweep.id;
	const done = await waitStatus({ api: (m, p) => alice.api(m, p) }, A.run, ['completed', 'failed'], 120000);
	assert.equal(done.status, 'completed', done.reason);
	A.checkpoint = (await alice.api('GET', `api/runs/${A.run}/checkpoints`)).checkpoints.at(-1).file; // the newest: kept
	A.token = (await alice.api('GET', 'api/me/tokens')).tokens[0].id;
	const leak = (text) => text.includes(SECRET) || text.includes(`"${A.run}"`) || text.includes(`/${A.run}/`) ||
		text.includes(`"${A.sweep}"`);
	const bad = [];

	// ---- the tables, as the server reports them ------------------------------------------------------
	const table = await prof.api('GET', 'api/routes');
	const ruleless = table.routes.filter((r) => !r.rule || r.rule === 'none').map((r) => `${r.method} ${r.path}`);
	assert.deepEqual(ruleless, [], 'routes without an ownership rule');
	const unknown = table.routes.filter((r) => !EXPECT[r.rule]).map((r) => `${r.method} ${r.path} (${r.rule})`);
	assert.deepEqual(unknown, [], 'rules the sweep has no expectations for: add them to EXPECT');
	assert.deepEqual(table.feed.filter((f) => !FEED_EXPECT.includes(f.rule)).map((f) => `${f.dir} ${f.type} (${f.rule})`), [],
		'feed message types without a rule the sweep knows');

	// Bob's lists hold his own things and nothing of alice's; prof's hold both, labelled.
	const bobRuns = (await bob.api('GET', 'api/runs')).runs;
	if (!bobRuns.some((x) => x.id === bobRun) || bobRuns.some((x) => x.owner !== 'bob')) bad.push(`bob's run list: ${bobRuns.map((x) => `${x.id}:${x.owner}`)}`);
	const profRuns = (await prof.api('GET', 'api/runs')).runs;
	if (!profRuns.some((x) => x.id === bobRun && x.owner === 'bob') || !profRuns.some((x) => x.owner === 'alice'))
		bad.push(`prof's run list lacks someone's runs: ${profRuns.map((x) => `${x.id}:${x.owner}`)}`);
	const bobSweeps = (await bob.api('GET', 'api/sweeps')).sweeps;
	if (bobSweeps.map((x) => x.id).join() !== bobSweep) bad.push(`bob's sweep list: ${bobSweeps.map((x) => `${x.id}:${x.owner}`)}`);
	const profSweeps = (await prof.api('GET', 'api/sweeps')).sweeps;
	if (!profSweeps.some((x) => x.id === A.sweep && x.owner === 'alice') || !profSweeps.some((x) => x.id === bobSweep))
		bad.push(`prof's sweep list lacks someone's sweeps: ${profSweeps.map((x) => `${x.id}:${x.owner}`)}`);

	// ---- one request per route and role -----------------------------------------------------------
	let scratch = 0;
	const fresh = async (base) => { // a notebook of alice's that a destructive request may consume
		const path = `users/alice/${base}-${++scratch}.ipynb`;
		await prof.api('POST', 'api/notebooks', { path, content: notebook('scratch') });
		return path;
	};
	const build = async (rt, role) => {
		const key = `${rt.method} ${rt.path}`;
		const home = role === 'bob' || role === 'prof' ? role : 'alice';
		let nb = A.nb;
		if (role === 'alice' || role === 'prof') {
			if (key === 'PATCH /api/notebooks/{path*}' || key === 'DELETE /api/notebooks/{path*}') nb = await fresh(`${role}-scratch`);
		}
		let run = A.run;
		if (key === 'DELETE /api/runs/{id}' && role === 'alice') run = A.ownRun; // made by her run-new check
		let token = A.token;
		if (key === 'DELETE /api/me/tokens/{id}' && role === 'alice')
			token = (await alice.api('POST', 'api/me/tokens', { name: 'to-revoke' })).id;
		let name = 'alice';
		if (rt.path.startsWith('/api/users/{name}') && role === 'prof' && ['DELETE', 'POST'].includes(rt.method)) name = 'carol';
		// Routes whose answer depends on the query: asked about alice's run (lists: filtered to it).
		const queries = {
			'GET /api/runs': `?hparams=1&notebook=${encodeURIComponent(A.nb)}&cell=c1`,
			'GET /api/series': `?runs=${run}&metric=loss`,
			'GET /api/runs/{id}/series': '?metric=loss',
		};
		const id = rt.path.startsWith('/api/me/tokens') ? String(token) : rt.path.startsWith('/api/sweeps') ? A.sweep : run;
		const path = rt.path.replace('{path*}', nb).replace('{id}', id)
			.replace('{file}', A.checkpoint).replace('{name}', name).replace('{file*}', 'favicon.svg') + (queries[key] || '');
		const bodies = {
			'POST /api/notebooks': { path: `users/alice/new-${role}.ipynb` },
			'POST /api/notebooks/copy': { from: A.nb, to: `users/${home}/copy-${role}.ipynb` },
			'PATCH /api/notebooks/{path*}': { path: `users/alice/moved-${role}.ipynb` },
			'POST /api/runs': { notebook: A.nb, cell: 'c1' },
			'POST /api/validate': { spec: 'data: {dataset: csv, path: users/alice/data.csv, batch_size: 2}\nmodel: [{linear: 2}]\n' },
			'POST /api/login': { name: 'alice', password: 'not-the-password' },
			'POST /api/me/password': { password: `sweep-password-${role}` },
			'POST /api/me/tokens': { name: `sweep-${role}` },
			'POST /api/users': { name: `made-by-${role}` },
			'PATCH /api/users/{name}': { email: 'alice@uni.example' },
			'PATCH /api/runs/{id}': { notes: `notes by ${role}`, tags: [role] },
		};
		if (key === 'PUT /api/notebooks/{path*}') return { path, body: notebook(SECRET) };
		if (key === 'POST /api/users/import') return { path, body: `imported-by-${role}\n`, headers: { 'Content-Type': 'text/csv' } };
		if (key === 'POST /login') return { path, body: 'name=alice&password=wrong', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } };
		if (key === 'POST /logout') return { path, body: '', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } };
		if (bodies[key]) return { path, json: bodies[key] };
		return rt.method === 'GET' || rt.method === 'DELETE' ? { path } : { path, json: {} };
	};

	let checked = 0;
	// Destructive requests (renames, deletions) go last, so every other check still finds alice's things.
	const order = [...table.routes].sort((x, y) => (x.method === 'DELETE') - (y.method === 'DELETE'));
	for (const role of ROLES) {
		for (const rt of order) {
			if (rt.path === '/api/logout' && role !== 'anonymous') continue; // checked below, last (it ends sessions)
			const want = EXPECT[rt.rule][role];
			const r0 = await build(rt, role);
			const r = await as(role).req(rt.method, r0.path.slice(1), { json: r0.json, body: r0.body, headers: r0.headers });
			checked++;
			const what = `${role}: ${rt.method} ${r0.path} [${rt.rule}] -> ${r.status} ${r.text.slice(0, 120)}`;
			if (want === 'allowed' && [401, 403, 404].includes(r.status)) bad.push(`${what} (expected to be allowed)`);
			else if (typeof want === 'number' && r.status !== want) bad.push(`${what} (expected ${want})`);
			else if (want === 'public' && r.status === 401 && /log in first/.test(r.text)) bad.push(`${what} (a public route asked for a login)`);
			const key = `${rt.method} ${rt.path}`;
			if (key === 'GET /api/series') {
				// Several runs in one answer: alice's run is answered, for bob, exactly as a run that does not exist.
				const missing = await as(role).req('GET', `api/series?runs=r99999&metric=loss`);
				const same = r.text.replaceAll(`"${A.run}"`, '"r99999"') === missing.text;
				if (role === 'bob' && !same) bad.push(`${what} (not answered as a missing run: ${missing.text.slice(0, 120)})`);
				if ((role === 'alice' || role === 'prof') && (same || !r.json?.series?.[0]?.values)) bad.push(`${what} (no series of alice's run)`);
			} else if (role === 'bob' && leak(r.text)) bad.push(`${what} (bob's answer shows alice's things)`);
			if (key === 'GET /api/runs' && (role === 'alice' || role === 'prof') && !r.json?.runs?.some((x) => x.id === A.run && x.hparams))
				bad.push(`${what} (alice's run with its hparams is not listed)`);
			if (role === 'alice' && rt.path === '/api/runs' && rt.method === 'POST' && r.json?.run) A.ownRun = r.json.run.id;
		}
	}
	// Logout, as each role, at the very end (bob and alice: API tokens, so nothing ends).
	for (const role of ['bob', 'alice', 'prof']) {
		const r = await as(role).req('POST', 'api/logout');
		checked++;
		if (r.status !== 204) bad.push(`${role}: POST /api/logout -> ${r.status}`);
	}
	// ---- the feed: every client message type, as every role -------------------------------------------
	const inTypes = table.feed.filter((f) => f.dir === 'in');
	const outTypes = table.feed.filter((f) => f.dir === 'out');
	// A long run of alice's, live, its worker listed as a GPU process by the stand-in NVML.
	const live = (await alice.api('POST', 'api/runs', { spec: LONG_SPEC, name: `${SECRET}-live` })).run.id;
	await waitStatus({ api: (m, p) => alice.api(m, p) }, live, 'running', 60000);
	const pid = await waitFor(() => workerPid(h.workspace, live), { what: 'the live worker pid' });
	writeFileSync(nvml.pids, `${pid}\n`);
	const clients = { bob: await feed(h, h.tokens.bob), alice: await feed(h, h.tokens.alice), prof: await feed(h, h.tokens.prof) };
	// Anonymous: no feed at all.
	const anon = await rawWebSocket(h.port, '/ws').then(() => 'opened', (e) => e.message);
	checked += inTypes.length;
	if (!/40[13]/.test(anon)) bad.push(`anonymous WebSocket: ${anon}`);
	const missing = 'r99999';
	for (const f of inTypes) {
		for (const role of ['bob', 'alice', 'prof']) {
			const c = clients[role];
			const before = c.messages.length;
			const msg = { type: f.type, run: live, since: 0 };
			c.send(msg);
			checked++;
			if (f.rule === 'run-owner') {
				if (role === 'bob') {
					const err = await c.until((m, i) => i >= before && m.type === 'error', `bob's error for ${f.type}`);
					c.send({ ...msg, run: missing });
					const err2 = await c.until((m, i) => i >= before && m.type === 'error' && m !== err, 'the error for a missing run');
					if (err.message.replace(live, missing) !== err2.message) bad.push(`bob: ${f.type} of alice's run says "${err.message}", of a missing one "${err2.message}"`);
				} else {
					await c.until((m) => m.type === 'event' && m.run === live, `${role}'s events of alice's live run`).catch((e) => bad.push(`${role}: ${f.type}: ${e.message}`));
				}
			} else if (f.rule === 'own-runs') {
				// A change to alice's run (a stop later) and to bob's (a new run): each sees what is theirs.
			} else if (f.rule === 'instructor') {
				// The board (every student's runs): an error for students, a snapshot naming alice's run for prof.
				if (role === 'prof') {
					const snap = await c.until((m, i) => i >= before && m.type === 'board' && m.full, `prof's ${f.type} snapshot`)
						.catch((e) => (bad.push(`prof: ${f.type}: ${e.message}`), null));
					if (snap && !snap.runs.some((r) => r.id === live && r.run?.owner === 'alice')) bad.push(`prof's board snapshot lacks alice's live run`);
				} else {
					const err = await c.until((m, i) => i >= before && m.type === 'error', `${role}'s error for ${f.type}`)
						.catch((e) => (bad.push(`${role}: ${f.type}: ${e.message}`), null));
					if (err && !/only instructors/.test(err.message)) bad.push(`${role}: ${f.type} answered "${err.message}"`);
				}
			} else if (f.rule === 'redacted') {
				const sys = await c.until((m, i) => i >= before && m.type === 'system' && m.system.gpus[0]?.processes?.length, `${role}'s system sample with the GPU process`)
					.catch((e) => (bad.push(`${role}: ${f.type}: ${e.message}`), null));
				const p = sys?.system.gpus[0].processes[0];
				if (p && role === 'bob' && (p.pid !== null || p.run !== null || p.owner !== null)) bad.push(`bob sees alice's GPU process: ${JSON.stringify(p)}`);
				if (p && role !== 'bob' && (p.run !== live || p.owner !== 'alice')) bad.push(`${role} does not see alice's GPU process named: ${JSON.stringify(p)}`);
			}
		}
	}
	// own-runs: bob starts a run, alice's live run is stopped; each subscriber hears of its own only.
	for (const c of Object.values(clients)) c.send({ type: 'subscribe_runs' }); // the loop ended with unsubscribe_runs
	await sleep(300);
	const bobLive = (await bob.api('POST', 'api/runs', { spec: CPU_SPEC, name: 'bobs-second' })).run.id;
	await alice.api('POST', `api/runs/${live}/stop`, {});
	await waitStatus({ api: (m, p) => alice.api(m, p) }, live, ['stopped', 'completed', 'failed'], 60000);
	await waitStatus({ api: (m, p) => bob.api(m, p) }, bobLive, ['completed', 'failed'], 120000);
	await sleep(500);
	const runMsgs = (role) => clients[role].messages.filter((m) => m.type === 'run').map((m) => m.run.id);
	const bobTrials = (await bob.api('GET', `api/sweeps/${bobSweep}`)).sweep.trial_list.map((x) => x.run); // his own runs too
	if (!runMsgs('bob').includes(bobLive) || runMsgs('bob').some((id) => id !== bobLive && id !== bobRun && !bobTrials.includes(id)))
		bad.push(`bob's run messages: ${runMsgs('bob')}`);
	if (!runMsgs('alice').includes(live) || runMsgs('alice').includes(bobLive)) bad.push(`alice's run messages: ${runMsgs('alice')}`);
	if (!runMsgs('prof').includes(live) || !runMsgs('prof').includes(bobLive)) bad.push(`prof's run messages: ${runMsgs('prof')}`);
	// Server → client types: bob got none of them about alice's runs.
	for (const f of outTypes) {
		checked++;
		const about = clients.bob.messages.filter((m) => m.type === f.type && leak(JSON.stringify(m)));
		if (about.length) bad.push(`bob received ${f.type} messages about alice's runs: ${JSON.stringify(about[0]).slice(0, 200)}`);
	}
	for (const c of Object.values(clients)) c.close();

	console.log(`isolation sweep: ${table.routes.length} routes x 4 roles and ${table.feed.length} feed message types: ${checked} checks`);
	assert.deepEqual(bad, []);
	assert.ok(checked >= table.routes.length * 4, `only ${checked} checks`);
});
