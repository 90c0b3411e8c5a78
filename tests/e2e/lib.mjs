// tests/e2e/lib.mjs — helpers for the end-to-end suite: a free port, the real
// `trainbook serve` as a child process, API calls with the token, polling,
// and a tiny sequential case runner printing PASS/FAIL lines.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep, waitFor as waitForEvery } from '../lib/wait.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = join(ROOT, 'build/trainbook');
export const SHOTS = join(ROOT, 'tests/e2e/screenshots');

/*
 * Where one e2e file works: a fresh temporary folder `work` with the
 * server's workspace in it, the screenshot folder, and the server log
 * build/test-logs/e2e-<name>-server.log (e2e-server.log without a name).
 */
export function e2ePlaces(name) {
	const work = mkdtempSync(join(tmpdir(), name ? `tb-e2e-${name}-` : 'tb-e2e-'));
	const workspace = join(work, 'ws');
	mkdirSync(workspace);
	mkdirSync(SHOTS, { recursive: true });
	mkdirSync(join(ROOT, 'build/test-logs'), { recursive: true });
	return { work, workspace, serverLog: join(ROOT, `build/test-logs/e2e${name ? '-' + name : ''}-server.log`) };
}

/* A single-user token no other run of the suite shares. */
export function randomToken() {
	return 'e2e' + Math.random().toString(16).slice(2) + Date.now().toString(16);
}

/* A failed case's screenshot: SHOTS/<prefix><the case name as a file name>.png (a page that is gone is skipped). */
export async function failureShot(page, prefix, caseName) {
	if (page) await page.screenshot({ path: join(SHOTS, prefix + caseName.replace(/[^a-z0-9]+/gi, '-').slice(0, 60) + '.png'), fullPage: true }).catch(() => {});
}

/* The end of every e2e file: the browser (or context) closed, the server stopped, `work` removed. */
export async function cleanUp(browser, server, work) {
	if (browser) await browser.close().catch(() => {});
	if (server) await stopServer(server);
	rmSync(work, { recursive: true, force: true });
}

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/*
 * Debian's headless chromium through playwright-core (web/node_modules),
 * with the flags this machine needs, as a persistent context in `profile`.
 * `args` adds flags (e.g. --host-resolver-rules), `options` adds context
 * options (e.g. ignoreHTTPSErrors for a self-signed certificate).
 */
export async function launchChromium(profile, { args = [], options = {} } = {}) {
	const { chromium } = await import(join(ROOT, 'web/node_modules/playwright-core/index.mjs'));
	return chromium.launchPersistentContext(profile, {
		executablePath: '/usr/bin/chromium',
		headless: true,
		viewport: { width: 1360, height: 900 },
		args: [...CHROMIUM_ARGS, ...args],
		...options,
	});
}

/*
 * The same chromium as one browser for several people: each
 * browser.newContext() has its own cookies (one session per person).
 */
export async function launchBrowser() {
	const { chromium } = await import(join(ROOT, 'web/node_modules/playwright-core/index.mjs'));
	return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
}

export function freePort() {
	return new Promise((resolve, reject) => {
		const s = createServer();
		s.once('error', reject);
		s.listen(0, '127.0.0.1', () => {
			const { port } = s.address();
			s.close(() => resolve(port));
		});
	});
}

export { sleep };

/* Poll fn() until it returns a truthy value (every 250 ms unless told). */
export const waitFor = (fn, opts = {}) => waitForEvery(fn, { interval: 250, ...opts });

/*
 * Start `trainbook serve`; resolves {proc, base, logPath} once /api/status
 * answers. Accounts mode: no `token`, `args` ['--accounts'], and an API
 * token of a user as `probeToken`. `env`: variables added to the server's.
 */
export async function startServer({ bin, port, workspace, token, logPath, baseUrl = '/', args: more = [], probeToken = token, env = {} }) {
	const out = openSync(logPath, 'w');
	const args = ['serve', '--port', String(port), '--workspace', workspace, ...(token ? ['--token', token] : []), ...more];
	if (baseUrl !== '/') args.push('--base-url', baseUrl);
	const proc = spawn(bin, args, { stdio: ['ignore', out, out], env: { ...process.env, ...env } });
	let exited = null;
	proc.on('exit', (code, sig) => (exited = `exited with ${code ?? sig}`));
	const base = `http://127.0.0.1:${port}${baseUrl}`;
	await waitFor(async () => {
		if (exited) throw new Error(`server ${exited}: ${readFileSync(logPath, 'utf8').slice(-800)}`);
		const r = await fetch(base + 'api/status', { headers: { Authorization: 'token ' + probeToken } });
		return r.ok;
	}, { timeout: 30000, what: 'the server to answer GET api/status' }).catch((e) => {
		if (exited) throw new Error(`server ${exited}: ${readFileSync(logPath, 'utf8').slice(-800)}`);
		throw e;
	});
	return { proc, base, exitedRef: () => exited };
}

/* Stop a server from startServer: SIGTERM (running workers checkpoint), SIGKILL after 10 s. */
export async function stopServer(server) {
	server.proc.kill('SIGTERM');
	await Promise.race([new Promise((r) => server.proc.once('exit', r)), sleep(10000)]);
	if (!server.exitedRef()) server.proc.kill('SIGKILL');
}

/*
 * runCases' `check` for a browser suite: after each case a moment for late
 * reports (while `live()` says a browser is open), then any
 * Content-Security-Policy violation the case caused (collected into
 * S.csp by the suite's console listener) fails it, unless the case is
 * marked cspExpected.
 */
export function cspCheck(S, live) {
	return async (c) => {
		if (live()) await sleep(200);
		const seen = S.csp.splice(0);
		if (seen.length && !c.cspExpected) throw new Error(`Content-Security-Policy violations: ${seen.slice(0, 3).join(' | ')}`);
	};
}

/* The last case of a browser suite: the page(s) threw nothing uncaught (S.pageErrors, filled by the suite). */
export function noPageErrorsCase(name, S, needs) {
	return {
		name, needs,
		fn: async () => {
			if (S.pageErrors.length) throw new Error(`uncaught errors: ${S.pageErrors.slice(0, 3).join(' | ')}`);
		},
	};
}

/*
 * Run a browser suite and end the process: its cases (runCases with
 * cspCheck after each, onFail on a failure), then cleanup() whatever
 * happened, the server log's tail when a case failed, the "N passed, N
 * failed" line and the exit status.
 */
export async function runSuite(cases, { S, live, onFail, cleanup, serverLog }) {
	let result = { pass: 0, fail: 1 };
	try {
		result = await runCases(cases, { check: cspCheck(S, live), onFail });
	} finally {
		await cleanup();
		if (result.fail) console.error(logTail(serverLog));
	}
	console.log(`${result.pass} passed, ${result.fail} failed`);
	process.exit(result.fail ? 1 : 0);
}

/* A failed suite's epilogue: where the server log is, and its last lines. */
export function logTail(logPath, lines = 15) {
	return 'server log: ' + logPath + '\n' + (existsSync(logPath) ? readFileSync(logPath, 'utf8').split('\n').slice(-lines).join('\n') : '');
}

export function apiClient(base, token) {
	async function call(method, path, body, headers = {}) {
		const init = { method, headers: { Authorization: 'token ' + token, ...headers } };
		if (body !== undefined) {
			init.headers['Content-Type'] = 'application/json';
			init.body = JSON.stringify(body);
		}
		const r = await fetch(base + path, init);
		const text = await r.text();
		let data = null;
		try {
			data = text ? JSON.parse(text) : null;
		} catch {
			data = text;
		}
		if (!r.ok) throw new Error(`${method} ${path}: HTTP ${r.status} ${typeof data === 'string' ? data.slice(0, 200) : JSON.stringify(data)}`);
		return { data, res: r };
	}
	return {
		get: async (p) => (await call('GET', p)).data,
		raw: (p) => fetch(base + p, { headers: { Authorization: 'token ' + token } }),
		post: async (p, b) => (await call('POST', p, b)).data,
		put: async (p, b, h) => (await call('PUT', p, b, h)).data,
		call,
	};
}

/* Every event of a run from GET api/runs/<id>/events, following pages. */
export async function allEvents(api, runId, upTo = Infinity) {
	const out = [];
	let since = 0;
	for (let guard = 0; guard < 1000; guard++) {
		const r = await api.get(`api/runs/${encodeURIComponent(runId)}/events?since=${since}&limit=5000`);
		const evs = r.events || [];
		for (const e of evs) if (e.seq <= upTo) out.push(e);
		if (!evs.length) break;
		since = evs[evs.length - 1].seq;
		if (since >= upTo || since >= r.last_seq) break;
	}
	return out;
}

/*
 * Run named cases in order. A case may name others it needs; when one of
 * those failed it FAILs too (never skips), saying why. `check`, when
 * given, runs after each case and may throw to fail it (the suite uses it
 * for Content-Security-Policy violations the case caused).
 */
export async function runCases(cases, { onFail, check } = {}) {
	const failed = new Set();
	let pass = 0;
	let fail = 0;
	for (const c of cases) {
		const missing = (c.needs || []).filter((n) => failed.has(n));
		if (missing.length) {
			console.log(`FAIL ${c.name}: not run because ${missing.join(', ')} failed`);
			failed.add(c.name);
			fail++;
			continue;
		}
		const t0 = Date.now();
		try {
			try {
				await c.fn();
			} finally {
				if (check) await check(c);
			}
			console.log(`PASS ${c.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
			pass++;
		} catch (e) {
			console.log(`FAIL ${c.name}: ${String(e && e.message ? e.message : e).split('\n')[0]}`);
			if (e && e.stack) console.error(e.stack.split('\n').slice(0, 6).join('\n'));
			failed.add(c.name);
			fail++;
			if (onFail) await onFail(c, e).catch(() => {});
		}
	}
	return { pass, fail };
}
