// tests/integration/auth.test.mjs — the token, the cookie, the login form,
// and the Host/Origin checks (DNS rebinding, CSRF) on HTTP and WebSocket.
// Each case starts its own server (fixture.mjs).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { BIN, openFeed, startServer } from './fixture.mjs';

const T = { timeout: 60000 };

test('startup_url: the start-up lines name the workspace and the URL with the token', T, async (t) => {
	const h = await startServer(t);
	assert.match(h.log(), new RegExp(`workspace ${h.workspace}\\b`));
	assert.ok(h.log().includes(`?token=${h.token}`), h.log().slice(0, 400));
});

test('status_with_token: GET api/status with the token', T, async (t) => {
	const h = await startServer(t);
	const r = await h.req('GET', 'api/status');
	assert.equal(r.status, 200, r.text);
	assert.equal(r.json.workspace, h.workspace);
	assert.ok('queued' in r.json.runs, r.text);
	assert.ok('running' in r.json.runs, r.text);
	assert.ok(r.json.version, r.text);
});

test('wrong_token_401: a wrong token gets 401 unauthorized', T, async (t) => {
	const h = await startServer(t);
	const r = await h.req('GET', 'api/status', { token: 'wrong-' + h.token });
	assert.equal(r.status, 401);
	assert.equal(r.json.error, 'unauthorized');
});

/* `serve --list-routes`: one route a line, "METHOD PATTERN ACCESS summary…". */
function listedRoutes() {
	return execFileSync(BIN, ['serve', '--list-routes'], { encoding: 'utf8' })
		.split('\n').filter((l) => l.trim()).map((l) => l.split(/\s+/).slice(0, 3));
}

test('every_token_route_401: every route the table marks "token" refuses a request without it', T, async (t) => {
	const h = await startServer(t);
	const routes = listedRoutes().filter(([, , access]) => access === 'token');
	assert.ok(routes.length >= 20, `only ${routes.length} token routes listed`);
	const bad = [];
	for (const [method, pattern] of routes) {
		const path = pattern.replace(/\{[a-z]*\*\}/g, 'x/y.ipynb').replace(/\{[a-z]*\}/g, 'r1');
		const opts = method === 'GET' ? { token: false } : { token: false, json: {} };
		const r = await h.req(method, path, opts);
		if (r.status !== 401) bad.push(`${method} ${path} -> ${r.status}`);
	}
	assert.deepEqual(bad, []);
});

test('route_table_listed: GET api/routes is the table --list-routes prints', T, async (t) => {
	const h = await startServer(t);
	const api = (await h.api('GET', 'api/routes')).routes.map((r) => [r.method, r.path, r.access].join(' ')).sort();
	const cli = listedRoutes().map((r) => r.join(' ')).sort();
	assert.deepEqual(api, cli);
});

test('unknown_api_path_401: an unknown API path without the token is 401, not 404', T, async (t) => {
	const h = await startServer(t);
	assert.equal((await h.req('GET', 'api/nonexistent', { token: false })).status, 401);
});

test('token_visit_sets_cookie: ?token= sets an HttpOnly SameSite=Strict cookie and redirects to the clean URL', T, async (t) => {
	const h = await startServer(t);
	const r = await h.req('GET', `?token=${h.token}`, { token: false });
	assert.equal(r.status, 302);
	const cookie = r.headers.get('set-cookie') || '';
	// Named by the port (two servers on one host keep separate logins); its
	// value is derived from the token, never the token itself.
	const m = new RegExp(`^trainbook_token_${h.port}=([0-9a-f]{64});`).exec(cookie);
	assert.ok(m, cookie);
	assert.ok(!cookie.includes(h.token), 'the cookie holds the token itself');
	assert.ok(cookie.includes('HttpOnly'), cookie);
	assert.ok(cookie.includes('SameSite=Strict'), cookie);
	assert.equal(r.headers.get('location'), '/');
	const again = await h.req('GET', 'api/status', { token: false, headers: { Cookie: `trainbook_token_${h.port}=${m[1]}` } });
	assert.equal(again.status, 200, 'the cookie is accepted');
});

test('login_page: GET / without a token shows the form; POST /login checks the token', T, async (t) => {
	const h = await startServer(t);
	const page = await h.req('GET', '', { token: false });
	assert.equal(page.status, 200);
	assert.ok(page.text.includes('name="token"'), 'no token field');
	assert.ok(page.text.includes('action="/login"'), 'no form posting to /login');
	const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
	const wrong = await h.req('POST', 'login', { token: false, headers: form, body: 'token=nope' });
	assert.equal(wrong.status, 401, 'wrong token');
	const right = await h.req('POST', 'login', { token: false, headers: form, body: 'token=' + encodeURIComponent(h.token) });
	assert.equal(right.status, 303, 'right token');
	assert.match(right.headers.get('set-cookie') || '', new RegExp(`^trainbook_token_${h.port}=[0-9a-f]{64};`), 'no cookie after login');
});

test('foreign_host_403: a foreign Host header is refused even with the token (DNS rebinding)', T, async (t) => {
	const h = await startServer(t);
	const r = await h.req('GET', 'api/status', { headers: { Host: `evil.example:${h.port}` } });
	assert.equal(r.status, 403);
});

test('foreign_origin_403: a foreign Origin cannot change anything (CSRF); the same origin can', T, async (t) => {
	const h = await startServer(t);
	const foreign = await h.req('POST', 'api/notebooks', { headers: { Origin: 'http://evil.example' }, json: { path: 'csrf.ipynb' } });
	assert.equal(foreign.status, 403, 'foreign Origin');
	const same = await h.req('POST', 'api/notebooks', { headers: { Origin: h.origin }, json: { path: 'same-origin.ipynb' } });
	assert.equal(same.status, 201, 'same Origin');
	assert.ok(!existsSync(join(h.workspace, 'csrf.ipynb')), 'the foreign request created a notebook');
});

test('ws_foreign_origin_refused: a WebSocket upgrade from a foreign Origin is refused', T, async (t) => {
	const h = await startServer(t);
	await assert.rejects(openFeed(t, h, { origin: 'http://evil.example' }), { status: 403 });
});

test('ws_foreign_host_refused: a WebSocket upgrade with a foreign Host is refused', T, async (t) => {
	const h = await startServer(t);
	await assert.rejects(openFeed(t, h, { host: `evil.example:${h.port}` }), { status: 403 });
});

test('ws_without_token_refused: a WebSocket upgrade without the token is refused', T, async (t) => {
	const h = await startServer(t);
	await assert.rejects(openFeed(t, h, { token: false }), { status: 403 });
});
