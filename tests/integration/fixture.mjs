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
// the browser) — only what HTTP/WebSocket cases need. WebSocket clients use
// the npm `ws` package in tests/integration/node_modules (run.sh installs it
// with `npm ci`; do that once before running a file alone).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { sleep, waitFor as waitForEvery } from '../lib/wait.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = process.env.TRAINBOOK_BIN || join(ROOT, 'build/trainbook');
export const HERE = join(ROOT, 'tests/integration');
/* The test-only misbehaving worker (TRAINBOOK_WORKER_CMD); "# fake: MODE" in the spec picks what it does. */
export const FAKE_WORKER = join(HERE, 'fake_worker.sh');
export const PY = '/usr/bin/python3';
export { sleep };

/* Poll fn() until it returns a truthy value (every 100 ms unless told). */
export const waitFor = (fn, opts = {}) => waitForEvery(fn, { interval: 100, ...opts });

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
 *   tokenArg:  false: do not pass --token (the server takes it from --config;
 *              `token` is then the one the case expects it to use)
 *   port:      '--port' (default 0: a free one)
 *   baseUrl:   '--base-url' (default '/')
 * Resolves to a handle:
 *   port, origin ('http://127.0.0.1:P'), base (origin + base URL), token, workspace, proc
 *   req(method, path, {headers, body, json, token, chunked}) → {status, headers, text, json}
 *       path is relative to base (no leading slash) unless it starts with '/';
 *       it is sent exactly as written ('..' and '%2E' are not resolved), and a
 *       Host header in `headers` replaces the real one. Redirects are never followed.
 *       token: true (default) sends 'Authorization: token …', false sends none,
 *       a string sends that token. `json` is sent as an application/json body;
 *       chunked: true sends `body` with Transfer-Encoding: chunked.
 *       headers.get(name) reads the answer's headers (a fetch Headers object).
 *   api(method, path, json) → json, throwing on a non-2xx answer
 *   log() → the server's output so far
 *   kill(signal) → resolves to {code, signal} when the process has exited
 *   exited() → null while it runs, else a line saying how it ended
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
	const args = ['serve', '--workspace', workspace, '--port', String(opts.port ?? 0)];
	if (opts.tokenArg !== false) args.push('--token', token);
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
		res({ code, signal: sig });
	}));
	const log = () => readFileSync(logPath, 'utf8');
	const h = { proc, token, workspace, logPath, log, exited: () => exited };
	h.kill = async (signal = 'SIGKILL') => {
		if (!exited) proc.kill(signal);
		return exitPromise;
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

	h.req = async (method, path, { headers = {}, body, json, token: tok = true, chunked = false } = {}) => {
		const hdrs = { ...headers };
		if (tok === true) hdrs.Authorization = 'token ' + token;
		else if (typeof tok === 'string') hdrs.Authorization = 'token ' + tok;
		let payload = body;
		if (json !== undefined) {
			hdrs['Content-Type'] = 'application/json';
			payload = JSON.stringify(json);
		} else if (body instanceof FormData) {
			// multipart/form-data as a browser would send it (boundary from the encoder).
			const encoded = new Response(body);
			hdrs['Content-Type'] = encoded.headers.get('content-type');
			payload = Buffer.from(await encoded.arrayBuffer());
		}
		const fullPath = path.startsWith('/') ? path : prefix + path;
		const r = await rawRequest(port, method, fullPath, hdrs, payload, chunked);
		let parsed = null;
		try {
			parsed = r.text ? JSON.parse(r.text) : null;
		} catch {
			parsed = null;
		}
		return { ...r, json: parsed };
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

/*
 * One HTTP request with node:http rather than fetch: fetch resolves '..' and
 * '%2E%2E' in the path and will not send a foreign Host, and the path and
 * Host cases need exactly those bytes on the wire. A body over 1 MiB is
 * sent as curl sends it, after 'Expect: 100-continue' (or a second of
 * silence): a server refusing it (413) answers before reading it, where
 * writing it blindly would end in EPIPE before the answer is read. The
 * answer, once read, wins over a later write error.
 */
function rawRequest(port, method, path, headers, body, chunked) {
	return new Promise((resolvePromise, reject) => {
		const hdrs = { ...headers };
		if (body !== undefined && !chunked) hdrs['Content-Length'] = Buffer.byteLength(body);
		if (chunked) hdrs['Transfer-Encoding'] = 'chunked';
		const expect = body !== undefined && Buffer.byteLength(body) > 1 << 20;
		if (expect) hdrs.Expect = '100-continue';
		let answered = false;
		const rq = httpRequest({ host: '127.0.0.1', port, method, path, headers: hdrs, agent: false }, (res) => {
			answered = true;
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('error', reject);
			res.on('end', () => {
				const out = new Headers();
				for (const [k, v] of Object.entries(res.headers))
					for (const one of [].concat(v)) out.append(k, one);
				const buf = Buffer.concat(chunks);
				resolvePromise({ status: res.statusCode, headers: out, text: buf.toString('utf8'), body: buf });
				rq.destroy(); // a refused body may be unsent: do not leave the socket open
			});
		});
		rq.setTimeout(30000, () => rq.destroy(new Error(`${method} ${path}: no answer in 30 s`)));
		rq.on('error', (e) => {
			if (!answered) reject(e);
		});
		if (expect) {
			let sent = false;
			const send = () => {
				if (sent || answered) return;
				sent = true;
				rq.end(body);
			};
			rq.on('continue', send);
			rq.on('response', () => {
				sent = true;
			});
			setTimeout(send, 1000).unref();
			rq.flushHeaders();
		} else if (body !== undefined) rq.end(body);
		else rq.end();
	});
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

/* The spec `base` with a "# fake: MODE" line for FAKE_WORKER. */
export function fakeSpec(mode, base = SPECS.small) {
	return `# fake: ${mode}\n${base}`;
}

/* Pids of processes whose command line contains `needle` (a run's spec path finds its worker). */
export function pidsMatching(needle) {
	const pids = [];
	for (const name of readdirSync('/proc')) {
		if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
		try {
			if (readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').includes(needle)) pids.push(Number(name));
		} catch {
			// gone meanwhile
		}
	}
	return pids;
}

/* The worker process of run `id` on server `h` (its command line names the run's spec). */
export function workerPids(h, id) {
	return pidsMatching(join(h.workspace, '.trainbook/runs', id, 'spec.yaml'));
}

/*
 * A live-feed client (the npm `ws` package) on server `h`, closed when the case ends.
 *   token:  true (default) 'Authorization: token …'; false none; a string that token
 *   query:  appended to the URL ('?token=…')
 *   origin, host: the Origin and Host headers to send
 * Resolves once the upgrade succeeded to a feed:
 *   messages: every message received so far, parsed
 *   send(obj), subscribe(run, since), events(run) → that run's event messages
 *   until(pred, {timeout, what}) → the first message matching pred (already
 *       received or still to come)
 *   closed: a promise resolving when the connection ends
 * Rejects when the upgrade is refused, with err.status the HTTP status.
 */
export async function openFeed(t, h, { token = true, query = '', origin, host } = {}) {
	const headers = {};
	if (token === true) headers.Authorization = 'token ' + h.token;
	else if (typeof token === 'string') headers.Authorization = 'token ' + token;
	if (host) headers.Host = host;
	const url = h.base.replace(/^http/, 'ws') + 'ws' + query;
	const ws = new WebSocket(url, { headers, origin, handshakeTimeout: 10000 });
	if (t) t.after(() => ws.terminate());
	const feed = { ws, messages: [] };
	const waiters = new Set();
	ws.on('message', (data) => {
		const m = JSON.parse(data.toString());
		feed.messages.push(m);
		for (const w of waiters) w(m);
	});
	feed.closed = new Promise((res) => ws.on('close', res));
	await new Promise((res, rej) => {
		ws.once('open', res);
		ws.once('unexpected-response', (_req, r) => {
			ws.terminate();
			rej(Object.assign(new Error(`WebSocket upgrade refused: HTTP ${r.statusCode}`), { status: r.statusCode }));
		});
		ws.once('error', rej);
	});
	feed.send = (obj) => ws.send(JSON.stringify(obj));
	feed.subscribe = (run, since = 0) => feed.send({ type: 'subscribe', run, since });
	feed.events = (run) => feed.messages.filter((m) => m.type === 'event' && (!run || m.run === run));
	feed.until = (pred, { timeout = 60000, what = 'a feed message' } = {}) => {
		const found = feed.messages.find(pred);
		if (found) return Promise.resolve(found);
		return new Promise((res, rej) => {
			const timer = setTimeout(() => {
				waiters.delete(w);
				rej(new Error(`timed out after ${timeout / 1000} s waiting for ${what} (${feed.messages.length} messages)`));
			}, timeout);
			const w = (m) => {
				if (!pred(m)) return;
				clearTimeout(timer);
				waiters.delete(w);
				res(m);
			};
			waiters.add(w);
			feed.closed.then(() => {
				if (!waiters.has(w)) return;
				clearTimeout(timer);
				waiters.delete(w);
				rej(new Error(`the feed closed while waiting for ${what}`));
			});
		});
	};
	return feed;
}

/* A predicate for feed.until: run `id`'s status event `status`. */
export const statusEvent = (id, status) => (m) =>
	m.type === 'event' && m.run === id && m.event.type === 'status' && m.event.status === status;
