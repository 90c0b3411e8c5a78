// tests/integration/fixture.mjs — one real `trainbook serve` per test case.
//
// Each case gets its own temporary workspace, its own port (--port 0, read
// back from the start-up line, so cases may run in parallel without port
// races) and its own token, and the server is killed when the case ends
// (t.after). A case is runnable alone:
//
//   node --test tests/integration/auth.test.mjs
//   node --test --test-name-pattern='open redirect' tests/integration/*.test.mjs
//
// What it is not: a client library for the page (tests/e2e/lib.mjs drives
// the browser) — only what HTTP/WebSocket cases need.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = process.env.TRAINBOOK_BIN || join(ROOT, 'build/trainbook');
export const PY = '/usr/bin/python3';
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* Poll fn() until it returns a truthy value; throws naming `what` and the last value. */
export async function waitFor(fn, { timeout = 30000, interval = 100, what = 'condition' } = {}) {
	const end = Date.now() + timeout;
	let last;
	let lastErr;
	while (Date.now() < end) {
		try {
			last = await fn();
			if (last) return last;
		} catch (e) {
			lastErr = e;
		}
		await sleep(interval);
	}
	throw new Error(`timed out after ${timeout / 1000} s waiting for ${what}` +
		(lastErr ? ` (last error: ${lastErr.message})` : last !== undefined ? ` (last: ${JSON.stringify(last)})` : ''));
}

/* Servers still running: killed when this test process exits, whatever failed. */
const live = new Set();
process.on('exit', () => {
	for (const p of live) p.kill('SIGKILL');
});

/* A temporary folder removed when the case ends. */
export function tempDir(t, prefix = 'tb-itest-') {
	const dir = mkdtempSync(join(tmpdir(), prefix));
	if (t) t.after(() => {
		try {
			rmSync(dir, { recursive: true, force: true });
		} catch { /* a mount point still busy: the OS cleans /tmp */ }
	});
	return dir;
}

/* Small specs most cases use. */
export const SPECS = {
	small: 'data: {dataset: synthetic, shape: [1,8,8], classes: 4, train_size: 256, test_size: 64, batch_size: 32}\n' +
		'model: [flatten, {linear: 16}, relu, {linear: 4}]\ntrain: {epochs: 2}\n',
	long: 'data: {dataset: synthetic, shape: [1,8,8], classes: 4, train_size: 8192, test_size: 64, batch_size: 32}\n' +
		'model: [flatten, {linear: 64}, relu, {linear: 4}]\ntrain: {epochs: 120}\n' +
		'checkpoint: {every_steps: 200, keep: 2}\n',
};

/*
 * Start a server for test context `t`.
 *   args:      extra command-line arguments after `serve`
 *   env:       extra environment (merged over process.env)
 *   workspace: reuse a folder (restart cases); default a fresh temp one
 *   token:     default a fresh random one
 *   baseUrl:   '--base-url' (default '/')
 * Resolves to a handle:
 *   port, base ('http://127.0.0.1:P/…/'), token, workspace, proc
 *   req(method, path, {headers, body, json, token}) → {status, headers, text, json}
 *       path is relative to base (no leading slash) unless it starts with '/';
 *       token: true (default) sends 'Authorization: token …', false sends none,
 *       a string sends that token. `json` is sent as an application/json body.
 *   api(method, path, json) → json, throwing on a non-2xx answer
 *   log() → the server's output so far
 *   kill(signal) → resolves when the process has exited
 *   probeToken: the credential the readiness probe sends (accounts mode:
 *              an API token; default the server's token)
 */
export async function startServer(t, opts = {}) {
	const workspace = opts.workspace || tempDir(t, 'tb-ws-');
	mkdirSync(workspace, { recursive: true });
	const token = opts.token || 'itest-' + Math.random().toString(36).slice(2) + Date.now().toString(36);
	const logDir = tempDir(t, 'tb-log-');
	const logPath = join(logDir, 'server.log');
	const out = openSync(logPath, 'w');
	const args = ['serve', '--workspace', workspace, '--port', String(opts.port ?? 0), '--token', token];
	if (opts.baseUrl && opts.baseUrl !== '/') args.push('--base-url', opts.baseUrl);
	args.push(...(opts.args || []));
	const env = { ...process.env, ...(opts.env || {}) };
	// The server decides its workers' OpenMP threads itself (worker_cpu_share).
	if (!opts.env || !('OMP_NUM_THREADS' in opts.env)) delete env.OMP_NUM_THREADS;
	const proc = spawn(opts.bin || BIN, args, { stdio: ['ignore', out, out], env });
	live.add(proc);
	proc.on('exit', () => live.delete(proc));
	let exited = null;
	const exitPromise = new Promise((res) => proc.on('exit', (code, sig) => {
		exited = `exited with ${code ?? sig}`;
		res();
	}));
	const log = () => readFileSync(logPath, 'utf8');
	const h = { proc, token, workspace, logPath, log, exited: () => exited };
	h.kill = async (signal = 'SIGKILL') => {
		if (!exited) proc.kill(signal);
		await exitPromise;
	};
	if (t) t.after(() => h.kill('SIGKILL'));

	const port = await waitFor(() => {
		if (exited) throw new Error(`server ${exited}: ${log().slice(-800)}`);
		const m = /open http:\/\/[^ ]*?:(\d+)\//.exec(log());
		return m ? Number(m[1]) : 0;
	}, { timeout: 30000, what: 'the start-up line' }).catch((e) => {
		throw new Error(exited ? `server ${exited}: ${log().slice(-800)}` : e.message);
	});
	const prefix = opts.baseUrl && opts.baseUrl !== '/' ? opts.baseUrl : '/';
	h.port = port;
	h.origin = `http://127.0.0.1:${port}`;
	h.base = h.origin + prefix;

	h.req = async (method, path, { headers = {}, body, json, token: tok = true, redirect = 'manual' } = {}) => {
		const url = path.startsWith('/') ? h.origin + path : h.base + path;
		const hdrs = { ...headers };
		if (tok === true) hdrs.Authorization = 'token ' + token;
		else if (typeof tok === 'string') hdrs.Authorization = 'token ' + tok;
		let payload = body;
		if (json !== undefined) {
			hdrs['Content-Type'] = 'application/json';
			payload = JSON.stringify(json);
		}
		const r = await fetch(url, { method, headers: hdrs, body: payload, redirect });
		const text = await r.text();
		let parsed = null;
		try {
			parsed = text ? JSON.parse(text) : null;
		} catch {
			parsed = null;
		}
		return { status: r.status, headers: r.headers, text, json: parsed };
	};
	h.api = async (method, path, json) => {
		const r = await h.req(method, path, { json });
		if (r.status < 200 || r.status > 299)
			throw new Error(`${method} ${path}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
		return r.json;
	};
	// Wait for the API too: the start-up line is printed just before serving.
	await waitFor(async () => (await h.req('GET', 'api/status', { token: opts.probeToken ?? true })).status === 200,
		{ what: 'GET api/status' });
	return h;
}

/* `trainbook users ARGS… --workspace WS`: its standard output (throws with stderr on failure). */
export function usersCli(workspace, ...args) {
	try {
		return execFileSync(BIN, ['users', ...args, '--workspace', workspace], { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
	} catch (e) {
		throw new Error(`trainbook users ${args.join(' ')}: ${e.stderr || e.message}`);
	}
}

/*
 * A classroom server (--accounts) for test context `t`. `users` are
 * [name, role?] pairs (role 'instructor' or student by default), made with
 * `trainbook users add` before the server starts; each gets an API token.
 * Resolves to startServer's handle plus:
 *   tokens[name]                 the user's API token
 *   as(name).req/api(…)          h.req / h.api with that user's token
 *   login(name, password)        → {status, cookie ('name=value'), json} (POST api/login)
 */
export async function startClassroom(t, { users = [['prof', 'instructor'], ['alice'], ['bob']], args = [], env, workspace } = {}) {
	workspace = workspace || tempDir(t, 'tb-ws-');
	mkdirSync(workspace, { recursive: true });
	const tokens = {};
	for (const [name, role] of users) {
		usersCli(workspace, 'add', name, ...(role === 'instructor' ? ['--instructor'] : []));
		tokens[name] = usersCli(workspace, 'token', name).trim();
	}
	const first = users[0][0];
	const h = await startServer(t, { workspace, args: ['--accounts', ...args], env, probeToken: tokens[first] });
	h.tokens = tokens;
	h.as = (name) => ({
		req: (method, path, o = {}) => h.req(method, path, { ...o, token: name ? tokens[name] : false }),
		api: async (method, path, json) => {
			const r = await h.req(method, path, { json, token: tokens[name] });
			if (r.status < 200 || r.status > 299)
				throw new Error(`${name}: ${method} ${path}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
			return r.json;
		},
	});
	h.login = async (name, password, headers = {}) => {
		const r = await h.req('POST', 'api/login', { json: { name, password }, token: false, headers });
		const set = r.headers.get('set-cookie') || '';
		return { ...r, cookie: set.split(';')[0], setCookie: set };
	};
	return h;
}

/* Queue a run of `spec` (YAML text); resolves to its id ("r1"). */
export async function submitRun(h, spec, extra = {}) {
	const r = await h.api('POST', 'api/runs', { spec, ...extra });
	return r.run ? r.run.id : r.id;
}

/* Wait until run `id` has one of `statuses` (a string or an array); resolves to the run object. */
export async function waitStatus(h, id, statuses, timeout = 60000) {
	const want = [].concat(statuses);
	return waitFor(async () => {
		const r = await h.api('GET', `api/runs/${id}`);
		const run = r.run || r;
		return want.includes(run.status) ? run : false;
	}, { timeout, what: `run ${id} to be ${want.join('|')}` });
}

/* Every stored event of run `id`, following pages of GET …/events. */
export async function allEvents(h, id) {
	const out = [];
	let since = 0;
	for (let guard = 0; guard < 10000; guard++) {
		const r = await h.api('GET', `api/runs/${id}/events?since=${since}&limit=5000`);
		const evs = r.events || [];
		out.push(...evs);
		if (!evs.length) break;
		since = evs[evs.length - 1].seq;
		if (since >= r.last_seq) break;
	}
	return out;
}

/* Sequence numbers 1..n exactly once each, in order. */
export function assertGapless(events) {
	events.forEach((e, i) => {
		if (e.seq !== i + 1) throw new Error(`event ${i} has seq ${e.seq}, expected ${i + 1}`);
	});
}

/* Write a file under the workspace (creating folders). */
export function writeWorkspaceFile(h, rel, content) {
	const p = join(h.workspace, rel);
	mkdirSync(dirname(p), { recursive: true });
	writeFileSync(p, content);
	return p;
}
