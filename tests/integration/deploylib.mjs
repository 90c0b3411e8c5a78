// tests/integration/deploylib.mjs — what the deployment cases (deploy,
// install, proxy, cookies .test.mjs) need beyond fixture.mjs: `make install`
// into a temporary tree, a process whose output is watched for a line, free
// ports, an https client that resolves the test host name to 127.0.0.1 and
// trusts the test certificate, and a WebSocket over it.
//
// What it is not: fixture.mjs's startServer, which reads the port from the
// plain start-up URL; servers here may print a public https URL instead.
import { execFileSync, spawn } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { ROOT, tempDir, waitFor } from './fixture.mjs';

const require = createRequire(join(ROOT, 'tests/integration/package.json'));

/* A port nobody listens on now (the kernel's pick, released again). */
export { freePort } from '../e2e/lib.mjs';

/* Processes still running: killed when this test process exits, whatever failed. */
const live = new Set();
process.on('exit', () => {
	for (const p of live) p.kill('SIGKILL');
});

/*
 * Start `cmd args` with stdout+stderr in a log file; resolves at once to
 *   proc, log() (the output so far), exited() (null or 'exited with …'),
 *   line(re, what) → the first match of re in the log, waiting for it (throws
 *       with the log's tail if the process exits first),
 *   exit() → resolves to {code, signal} when it has ended,
 *   kill(signal) → resolves when it has ended.
 * It is killed when test context t ends.
 */
export function spawnLogged(t, cmd, args, { env, cwd } = {}) {
	const logPath = join(tempDir(t, 'tb-log-'), 'out.log');
	const out = openSync(logPath, 'w');
	const proc = spawn(cmd, args, { stdio: ['ignore', out, out], env: env || process.env, cwd });
	live.add(proc);
	let exited = null;
	const ended = new Promise((res) => proc.on('exit', (code, signal) => {
		live.delete(proc);
		exited = `exited with ${code ?? signal}`;
		res({ code, signal });
	}));
	const log = () => readFileSync(logPath, 'utf8');
	const h = {
		proc, log, logPath, exited: () => exited, exit: () => ended,
		kill: async (signal = 'SIGKILL') => {
			if (!exited) proc.kill(signal);
			return ended;
		},
		line: (re, what, timeout = 30000) => waitFor(() => {
			const m = re.exec(log());
			if (m) return m;
			if (exited) throw new Error(`${cmd} ${exited} before ${what}: ${log().slice(-600)}`);
			return null;
		}, { timeout, what }).catch((e) => {
			throw new Error(exited ? `${cmd} ${exited} before ${what}: ${log().slice(-600)}` : e.message);
		}),
	};
	if (t) t.after(() => h.kill('SIGKILL'));
	return h;
}

/*
 * `make install` of this tree into a temporary folder; `vars` are more
 * make variables (PREFIX=…, SYSCONFDIR=…). Resolves to the folder.
 */
export function makeInstall(t, vars = {}) {
	const dest = tempDir(t, 'tb-install-');
	const args = ['-s', '-C', ROOT, 'install'];
	if (!('PREFIX' in vars)) args.push(`DESTDIR=${dest}`);
	for (const [k, v] of Object.entries(vars)) args.push(`${k}=${typeof v === 'function' ? v(dest) : v}`);
	try {
		execFileSync('make', args, { stdio: 'pipe', encoding: 'utf8' });
	} catch (e) {
		throw new Error(`make ${args.slice(3).join(' ')} failed: ${String(e.stderr || e.stdout || e.message).slice(-600)}`);
	}
	return dest;
}

/* Every name resolves to 127.0.0.1: the test host name without an /etc/hosts entry. */
export function lookupLocal(_host, opts, cb) {
	if (typeof opts === 'function') cb = opts;
	if (opts && opts.all) cb(null, [{ address: '127.0.0.1', family: 4 }]);
	else cb(null, '127.0.0.1', 4);
}

/*
 * One https request to https://<name>:<port><path> through the test
 * resolver, trusting `ca` (the self-signed certificate). `servername` sets
 * the TLS name (default `name`), headers.Host the Host header. Resolves to
 * {status, headers, body (Buffer), text}; rejects on a connection that
 * ends without an answer.
 */
export function httpsRequest({ name, port, path, method = 'GET', headers = {}, body, ca, servername }) {
	return new Promise((resolve, reject) => {
		const req = https.request({
			host: name, port, path, method, headers, ca, servername: servername || name,
			lookup: lookupLocal, agent: false, timeout: 20000,
		}, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => {
				const b = Buffer.concat(chunks);
				resolve({ status: res.statusCode, headers: res.headers, body: b, text: b.toString('utf8') });
			});
			res.on('error', reject);
		});
		req.on('timeout', () => req.destroy(new Error('no answer in 20 s')));
		req.on('error', reject);
		if (body !== undefined) req.write(body);
		req.end();
	});
}

/*
 * A WebSocket to wss://<name>:<port><path> the same way. Resolves to the
 * open socket, or rejects with 'refused: HTTP <status>' (an upgrade
 * answered with an error) or the connection's error.
 */
export function openWss({ name, port, path, headers = {}, origin, ca }) {
	const WebSocket = require('ws');
	return new Promise((resolve, reject) => {
		const ws = new WebSocket(`wss://${name}:${port}${path}`, { headers, origin, ca, lookup: lookupLocal, handshakeTimeout: 15000 });
		ws.once('open', () => resolve(ws));
		ws.once('unexpected-response', (_req, res) => reject(new Error(`refused: HTTP ${res.statusCode}`)));
		ws.once('error', reject);
	});
}

/* The JSON header of a .safetensors file; throws if the layout is broken. */
export function safetensorsHeader(buf) {
	const n = Number(buf.readBigUInt64LE(0));
	const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
	const data = buf.length - 8 - n;
	for (const [k, v] of Object.entries(header)) {
		if (k === '__metadata__') continue;
		const [s, e] = v.data_offsets;
		if (!(s >= 0 && s <= e && e <= data)) throw new Error(`tensor ${k}: data_offsets ${s}..${e} outside ${data} bytes`);
	}
	return header;
}
