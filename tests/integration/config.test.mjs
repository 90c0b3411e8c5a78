// tests/integration/config.test.mjs — how the server is set up: --base-url
// behind a prefix, --static files with ETags, the config file against flags,
// the shipped config, and a busy port. Each case starts its own server
// (fixture.mjs).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BIN, ROOT, openFeed, startServer, tempDir } from './fixture.mjs';

const T = { timeout: 60000 };

/* A server under --base-url /tb/ serving a small --static folder. */
async function prefixedServer(t) {
	const dir = tempDir(t, 'tb-static-');
	mkdirSync(join(dir, 'app'));
	writeFileSync(join(dir, 'index.html'), '<!doctype html><title>tb test page</title>\n');
	writeFileSync(join(dir, 'app/main.js'), 'export const x = 1;\n');
	writeFileSync(join(dir, 'app/style.css'), 'body{}\n');
	return startServer(t, { baseUrl: '/tb/', args: ['--static', dir] });
}

test('base_url_prefix: under --base-url /tb/ the API, the token visit, the cookie and /ws all move under it', T, async (t) => {
	const h = await prefixedServer(t);
	assert.equal((await h.req('GET', '/tb/api/status')).status, 200, '/tb/api/status');
	assert.equal((await h.req('GET', '/api/status')).status, 404, '/api/status outside the prefix');
	const visit = await h.req('GET', `/tb/?token=${h.token}`, { token: false });
	assert.equal(visit.status, 302);
	assert.equal(visit.headers.get('location'), '/tb/');
	assert.ok((visit.headers.get('set-cookie') || '').includes('Path=/tb/'), visit.headers.get('set-cookie'));
	const feed = await openFeed(t, h); // ws://…/tb/ws
	feed.send({ type: 'subscribe_system' });
	await feed.until((m) => m.type === 'system', { timeout: 10000, what: 'a system message on /tb/ws' });
});

test('static_files_etag: --static files are served with their type and an ETag that revalidates to 304', T, async (t) => {
	const h = await prefixedServer(t);
	const js = await h.req('GET', 'app/main.js', { token: false });
	assert.equal(js.status, 200);
	assert.match(js.headers.get('content-type') || '', /^text\/javascript/);
	const etag = js.headers.get('etag');
	assert.ok(etag, 'no ETag');
	assert.equal((await h.req('GET', 'app/main.js', { token: false, headers: { 'If-None-Match': etag } })).status, 304);
	const css = await h.req('GET', 'app/style.css', { token: false });
	assert.equal(css.status, 200);
	assert.match(css.headers.get('content-type') || '', /^text\/css/);
	const visit = await h.req('GET', `?token=${h.token}`, { token: false });
	const cookie = (visit.headers.get('set-cookie') || '').split(';')[0];
	const index = await h.req('GET', '', { token: false, headers: { Cookie: cookie } });
	assert.equal(index.status, 200);
	assert.ok(index.text.includes('tb test page'), 'the index is not the --static one');
});

/* A config file setting port, token and cpu-runs; resolves its path. */
function testConfig(t) {
	const path = join(tempDir(t, 'tb-conf-'), 'tb.conf');
	writeFileSync(path, '# trainbook test config\nport = 0\ntoken = from-config-file\ncpu-runs = 3\n');
	return path;
}
const printConfig = (...args) => execFileSync(BIN, ['serve', ...args, '--print-config'], { encoding: 'utf8' });

test('config_file_and_flags: the config file sets options; a flag wins over it', T, async (t) => {
	const conf = testConfig(t);
	const ws = tempDir(t, 'tb-ws-');
	assert.match(printConfig('--config', conf, '--workspace', ws), /^cpu-runs = 3$/m);
	assert.match(printConfig('--cpu-runs', '2', '--config', conf, '--workspace', ws), /^cpu-runs = 2$/m);
});

test('shipped_config_is_defaults: config/trainbook.conf is valid and changes nothing', T, async (t) => {
	const ws = tempDir(t, 'tb-ws-');
	assert.equal(printConfig('--config', join(ROOT, 'config/trainbook.conf'), '--workspace', ws), printConfig('--workspace', ws));
});

test('config_file_token: the token comes from the config file', T, async (t) => {
	const h = await startServer(t, { tokenArg: false, token: 'from-config-file', args: ['--config', testConfig(t)] });
	assert.equal((await h.req('GET', 'api/status')).status, 200);
	assert.equal((await h.req('GET', 'api/status', { token: 'itest-not-the-config-token' })).status, 401);
});

test('busy_port_next: a busy port is reported and the next one used, as Jupyter does', T, async (t) => {
	const first = await startServer(t);
	const second = await startServer(t, { port: first.port });
	assert.notEqual(second.port, first.port);
	assert.equal((await second.req('GET', 'api/status')).status, 200);
	assert.match(second.log(), new RegExp(`port ${first.port} is busy`));
});
