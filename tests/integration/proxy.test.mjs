// tests/integration/proxy.test.mjs — the settings a proxy or systemd set-up
// uses, checked without nginx (deploy.test.mjs runs the whole recipe with
// it): trusted-proxy and the Secure cookie (issue 20, item 8), public-url
// (item 3), token-file (item 9), a workspace that does not exist yet
// (item 5) and port-retries = 0 in the shipped server config (item 4).
//
//   node --test tests/integration/proxy.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ROOT, startServer, tempDir } from './fixture.mjs';
import { rawRequest } from './rawhttp.mjs';
import { spawnLogged } from './deploylib.mjs';

const T = { timeout: 60000 };

/* The Set-Cookie of trading the token for a cookie, with X-Forwarded-Proto `proto` (or none). */
async function loginCookie(h, proto) {
	const headers = proto ? { 'X-Forwarded-Proto': proto } : {};
	const r = await rawRequest(h.port, 'GET', `/?token=${encodeURIComponent(h.token)}`, { headers });
	assert.equal(r.status, 302, `GET /?token=: HTTP ${r.status}`);
	return r.headers['set-cookie'];
}

test('trusted-proxy: X-Forwarded-Proto https from the trusted address makes the cookie Secure', T, async (t) => {
	const h = await startServer(t, { args: ['--trusted-proxy', '127.0.0.1'] });
	assert.match(await loginCookie(h, 'https'), /;\s*Secure(;|$)/i);
	// What nginx sends for a plain-http visit, and no header at all: not Secure
	// (a browser on http:// would drop a Secure cookie and never log in).
	assert.doesNotMatch(await loginCookie(h, 'http'), /Secure/i);
	assert.doesNotMatch(await loginCookie(h, undefined), /Secure/i);
	// The login form sets the same cookie.
	const form = await rawRequest(h.port, 'POST', '/login', {
		headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'X-Forwarded-Proto': 'https' },
		body: `token=${encodeURIComponent(h.token)}`,
	});
	assert.equal(form.status, 303);
	assert.match(form.headers['set-cookie'], /;\s*Secure(;|$)/i);
});

test('trusted-proxy: X-Forwarded-Proto is never believed from anyone else', T, async (t) => {
	// No trusted proxy (the default), and a trusted proxy that is not this client.
	for (const args of [[], ['--trusted-proxy', '10.9.8.7', '--trusted-proxy', '::1']]) {
		const h = await startServer(t, { args });
		assert.doesNotMatch(await loginCookie(h, 'https'), /Secure/i, `with ${JSON.stringify(args)}`);
	}
	// A name is not an address: a clear error, exit status 2.
	const bad = spawnLogged(t, BIN, ['serve', '--workspace', tempDir(t), '--port', '0', '--trusted-proxy', 'nginx']);
	assert.equal((await bad.exit()).code, 2);
	assert.match(bad.log(), /trusted-proxy: expected the proxy's IP address, got 'nginx'/);
});

test('public-url: the start-up line names the public address (with the token) and the local one for the proxy', T, async (t) => {
	const token = 'proxy-test-token-1';
	const s = spawnLogged(t, BIN, ['serve', '--workspace', tempDir(t), '--port', '0', '--token', token,
		'--base-url', '/trainbook/', '--public-url', 'https://nb.example.org:18443/trainbook']);
	const open = await s.line(/^trainbook serve: open (\S+)$/m, 'the start-up URL');
	assert.equal(open[1], `https://nb.example.org:18443/trainbook/?token=${token}`);
	assert.match(s.log(), /^trainbook serve: listening on http:\/\/127\.0\.0\.1:\d+\/trainbook\/ \(for the proxy\)$/m);
	// A public path that is not base-url would print a URL leading nowhere: refused.
	const bad = spawnLogged(t, BIN, ['serve', '--workspace', tempDir(t), '--port', '0', '--base-url', '/tb/', '--public-url', 'https://nb.example.org/trainbook/']);
	assert.equal((await bad.exit()).code, 2);
	assert.match(bad.log(), /public-url https:\/\/nb\.example\.org\/trainbook\/: its path must be base-url \(\/tb\/\)/);
});

test('token-file: the token comes from the file and stays out of the start-up lines', T, async (t) => {
	const dir = tempDir(t);
	const file = join(dir, 'token');
	const token = 'from-a-file-' + Date.now().toString(36);
	writeFileSync(file, token + '\n', { mode: 0o600 });
	const s = spawnLogged(t, BIN, ['serve', '--workspace', tempDir(t), '--port', '0', '--token-file', file]);
	const m = await s.line(/^trainbook serve: open http:\/\/127\.0\.0\.1:(\d+)\/ with the token in (\S+)$/m, 'the start-up URL');
	assert.equal(m[2], file);
	assert.ok(!s.log().includes(token), 'the token is in the start-up lines (the journal, under systemd)');
	const port = Number(m[1]);
	const ok = await rawRequest(port, 'GET', '/api/status', { headers: { Authorization: `token ${token}` } });
	assert.equal(ok.status, 200);
	const wrong = await rawRequest(port, 'GET', '/api/status', { headers: { Authorization: 'token not-it' } });
	assert.equal(wrong.status, 401);
	// A token given twice is a mistake to point out, not a guess to make.
	const both = spawnLogged(t, BIN, ['serve', '--workspace', tempDir(t), '--port', '0', '--token-file', file, '--token', 'x']);
	assert.equal((await both.exit()).code, 2);
	assert.match(both.log(), /a token is set as well/);
});

test('a workspace that does not exist is made, one level only; deeper is a clear error with exit status 2', T, async (t) => {
	const dir = tempDir(t);
	const ws = join(dir, 'notebooks');
	const h = await startServer(t, { workspace: ws, args: [] }).catch((e) => {
		throw new Error(`the server did not start on a missing workspace: ${e.message}`);
	});
	assert.ok(statSync(ws).isDirectory());
	assert.ok(existsSync(join(ws, '.trainbook/trainbook.db')));
	await h.kill();
	const deep = join(dir, 'a/b/notebooks');
	const s = spawnLogged(t, BIN, ['serve', '--workspace', deep, '--port', '0']);
	assert.equal((await s.exit()).code, 2, 'exit status 2 (a setting to fix; the unit does not restart on it)');
	assert.match(s.log(), new RegExp(`workspace ${deep} does not exist and cannot be made: No such file or directory \\(its parent folder is missing too`));
	assert.ok(!existsSync(join(dir, 'a')), 'folders above the workspace were made');
});

test('port-retries = 0 (the shipped server config): a busy port is an error, never a move to the next one', T, async (t) => {
	const first = await startServer(t);
	const dir = tempDir(t);
	const tokenFile = join(dir, 'token');
	writeFileSync(tokenFile, 'second-server-token\n');
	// The shipped proxy/systemd config, with only the machine-specific paths and the port changed.
	const s = spawnLogged(t, BIN, ['serve', '--config', join(ROOT, 'config/trainbook-server.conf'),
		'--workspace', join(dir, 'ws'), '--token-file', tokenFile, '--port', String(first.port)]);
	const { code } = await s.exit();
	assert.notEqual(code, 0);
	assert.match(s.log(), new RegExp(`cannot listen on 127\\.0\\.0\\.1 port ${first.port}: Address already in use`));
	assert.doesNotMatch(s.log(), /is busy, using/);
});
