// tests/integration/accounts.test.mjs — classroom accounts (issue 13) with
// real clients: password and one-time-link logins, the session cookie
// (per-port name, HttpOnly, SameSite=Strict, rotation, logout, idle and
// absolute expiry), the login throttle per account and per address, API
// tokens, roster import, what instructors do to accounts, course copies,
// where a spec's data may come from, and the worker sandbox.
//
// The route-by-route isolation sweep is tests/integration/isolation.test.mjs.
//
//   node --test tests/integration/accounts.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, ROOT, PY, SPECS, startClassroom, startServer, submitRun, tempDir, usersCli, waitStatus, sleep } from './fixture.mjs';
import { rawRequest } from './rawhttp.mjs';
import WebSocket from 'ws';

/* Open /ws with these headers; resolves to {closed: Promise of the close code} once open. */
function openFeed(h, headers) {
	return new Promise((resolve, reject) => {
		const ws = new WebSocket(`ws://127.0.0.1:${h.port}/ws`, { headers });
		const closed = new Promise((r) => ws.on('close', (code) => r(code)));
		ws.on('open', () => resolve({ ws, closed }));
		ws.on('unexpected-response', (req, res) => reject(new Error(`refused: ${res.statusCode}`)));
		ws.on('error', reject);
	});
}

const NB = (marker) => JSON.stringify({ cells: [{ id: 'c1', cell_type: 'code', metadata: { trainbook: { kind: 'run' } }, source: SPECS.small, outputs: [], execution_count: null }], metadata: { marker }, nbformat: 4, nbformat_minor: 5 });

function setPassword(h, name, password) {
	execFileSync(BIN, ['users', 'password', name, '--workspace', h.workspace], { input: password + '\n', stdio: ['pipe', 'pipe', 'pipe'] });
}

/* A request with a cookie and no token. */
const withCookie = (h, method, path, cookie, o = {}) => h.req(method, path, { ...o, token: false, headers: { ...(o.headers || {}), Cookie: cookie } });

test('password login: per-port HttpOnly SameSite=Strict cookie, rotation on login, logout revokes', async (t) => {
	const h = await startClassroom(t);
	setPassword(h, 'alice', 'alice-password');
	const a = await h.login('alice', 'alice-password');
	assert.equal(a.status, 200, a.text);
	assert.equal(a.json.user.name, 'alice');
	assert.equal(a.json.user.role, 'student');
	assert.match(a.setCookie, new RegExp(`^trainbook_token_${h.port}=[0-9a-f]{64}; Path=/; HttpOnly; SameSite=Strict; Max-Age=\\d+$`));
	assert.doesNotMatch(a.setCookie, /Secure/, 'Secure without https or --secure-cookies');
	const me = await withCookie(h, 'GET', 'api/me', a.cookie);
	assert.equal(me.status, 200);
	assert.equal(me.json.name, 'alice');
	assert.equal(me.json.via, 'session');
	assert.equal(me.json.login, 'password');
	// Rotation: logging in again from a browser that has a session ends that one.
	const b = await h.login('alice', 'alice-password', { Cookie: a.cookie });
	assert.equal(b.status, 200);
	assert.notEqual(b.cookie, a.cookie);
	assert.equal((await withCookie(h, 'GET', 'api/me', a.cookie)).status, 401, 'the old session survived a new login');
	assert.equal((await withCookie(h, 'GET', 'api/me', b.cookie)).status, 200);
	// Logout ends it on the server, not only in the browser.
	const out = await withCookie(h, 'POST', 'api/logout', b.cookie);
	assert.equal(out.status, 204);
	assert.match(out.headers.get('set-cookie'), new RegExp(`^trainbook_token_${h.port}=; .*Max-Age=0`));
	assert.equal((await withCookie(h, 'GET', 'api/me', b.cookie)).status, 401, 'the session outlived logout');
	// The HTML form logs in too, and its logout as well.
	const form = await rawRequest(h.port, 'POST', '/login', { headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'name=Alice&password=alice-password' });
	assert.equal(form.status, 303, form.text);
	const fc = form.headers['set-cookie'].split(';')[0];
	assert.equal((await withCookie(h, 'GET', 'api/me', fc)).status, 200);
	const fo = await rawRequest(h.port, 'POST', '/logout', { headers: { Cookie: fc, 'Content-Type': 'application/x-www-form-urlencoded' }, body: '' });
	assert.equal(fo.status, 303);
	assert.equal((await withCookie(h, 'GET', 'api/me', fc)).status, 401);
	// Wrong password: 401 with the same words for an unknown name; --secure-cookies marks Secure.
	const wrong = await h.login('alice', 'nope-nope');
	const nobody = await h.login('nobody', 'nope-nope');
	assert.equal(wrong.status, 401);
	assert.equal(nobody.status, 401);
	assert.equal(wrong.json.message, nobody.json.message);
	// Served over https (a TLS proxy in front: the browser's Origin says so): Secure.
	const https = await h.login('alice', 'alice-password', { Origin: h.origin.replace('http:', 'https:') });
	assert.equal(https.status, 200, https.text);
	assert.match(https.setCookie, /; Secure$/);
});

test('--secure-cookies marks the cookie Secure', async (t) => {
	const h = await startClassroom(t, { args: ['--secure-cookies'] });
	setPassword(h, 'alice', 'alice-password');
	const a = await h.login('alice', 'alice-password');
	assert.match(a.setCookie, /; Secure$/);
});

test('logging out, a revoke and a role change close the live feed of that session or user', async (t) => {
	const h = await startClassroom(t);
	setPassword(h, 'alice', 'alice-password');
	const a = await h.login('alice', 'alice-password');
	const other = await h.login('alice', 'alice-password'); // a second browser of alice's
	const f1 = await openFeed(h, { Cookie: a.cookie });
	const f2 = await openFeed(h, { Cookie: other.cookie });
	const fb = await openFeed(h, { Authorization: `token ${h.tokens.bob}` });
	assert.equal((await withCookie(h, 'POST', 'api/logout', a.cookie)).status, 204);
	await f1.closed; // this session's feed ends…
	const still = await Promise.race([f2.closed.then(() => 'closed'), sleep(1000).then(() => 'open')]);
	assert.equal(still, 'open', "logging out one browser closed alice's other one");
	// A revoked API token: its script's feed ends, the browser's stays.
	const tok = (await withCookie(h, 'POST', 'api/me/tokens', other.cookie, { json: { name: 'feed' } })).json;
	const f3 = await openFeed(h, { Authorization: `token ${tok.token}` });
	assert.equal((await withCookie(h, 'DELETE', `api/me/tokens/${tok.id}`, other.cookie)).status, 204);
	await f3.closed;
	assert.equal(await Promise.race([f2.closed.then(() => 'closed'), sleep(500).then(() => 'open')]), 'open');
	// …an instructor's revoke ends every feed of the user, API tokens' too.
	await h.as('prof').api('POST', 'api/users/alice/revoke', {});
	await f2.closed;
	await h.as('prof').api('PATCH', 'api/users/bob', { role: 'instructor' });
	await fb.closed;
	// A session that ended cannot open a feed again.
	await assert.rejects(openFeed(h, { Cookie: a.cookie }), /refused: 40[13]/);
});

test('sessions end after the idle time and after the absolute time', async (t) => {
	const h = await startClassroom(t, { args: ['--session-idle', '2', '--session-max', '5'] });
	setPassword(h, 'alice', 'alice-password');
	// Idle: unused for 3 s > 2 s.
	const a = await h.login('alice', 'alice-password');
	assert.equal((await withCookie(h, 'GET', 'api/me', a.cookie)).status, 200);
	await sleep(3200);
	assert.equal((await withCookie(h, 'GET', 'api/me', a.cookie)).status, 401, 'an idle session lived on');
	// Absolute: used every second, still ends after 5 s.
	const b = await h.login('alice', 'alice-password');
	const t0 = Date.now();
	let ended = 0;
	while (Date.now() - t0 < 9000) {
		const r = await withCookie(h, 'GET', 'api/me', b.cookie);
		if (r.status === 401) {
			ended = Date.now() - t0;
			break;
		}
		await sleep(800);
	}
	assert.ok(ended >= 3500 && ended <= 7500, `a session in use ended after ${ended} ms (expected about 5 s)`);
});

test('wrong passwords are throttled per account and per address (429 + Retry-After)', async (t) => {
	const h = await startClassroom(t);
	setPassword(h, 'alice', 'alice-password');
	setPassword(h, 'bob', 'bob-password');
	const login = (name, password, from) => rawRequest(h.port, 'POST', '/api/login', {
		localAddress: from, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name, password }) });
	// Ten wrong passwords for alice, each from another address: the account's budget.
	for (let i = 0; i < 10; i++) assert.equal((await login('alice', 'wrong', `127.0.1.${i + 1}`)).status, 401);
	const locked = await login('alice', 'alice-password', '127.0.2.1');
	assert.equal(locked.status, 429, 'the account was not throttled across addresses');
	assert.ok(Number(locked.headers['retry-after']) >= 1);
	assert.match(JSON.parse(locked.text).message, /for this account/);
	// Bob, from a fresh address, is not affected.
	assert.equal((await login('bob', 'bob-password', '127.0.2.2')).status, 200);
	// One address guessing at many accounts: its own budget, ten and one more every 2 s. Guesses
	// go on until refused: on a loaded machine ten argon2 checks take over 2 s, and the budget
	// has grown by then.
	const t0 = Date.now();
	let guesses = 0;
	let refused;
	while (guesses < 40) {
		const r = await login(`guess${guesses % 10}`, 'wrong', '127.0.3.1');
		if (r.status === 429) {
			refused = r;
			break;
		}
		assert.equal(r.status, 401);
		guesses++;
	}
	assert.ok(refused, 'the address was not throttled');
	assert.ok(guesses >= 10 && guesses <= 10 + Math.ceil((Date.now() - t0) / 2000),
		`${guesses} wrong passwords in ${Date.now() - t0} ms before the address was throttled`);
	assert.match(JSON.parse(refused.text).message, /from your address/);
	// Once throttled, the address is refused before any password is compared, the right one too.
	const addr = await login('bob', 'bob-password', '127.0.3.1');
	assert.equal(addr.status, 429, 'the right password from a throttled address was let in');
	// A wrong API token counts for the address too, as the single-user token does.
	for (let i = 0; i < 10; i++)
		assert.equal((await rawRequest(h.port, 'GET', '/api/me', { localAddress: '127.0.4.1', headers: { Authorization: `token ${'0'.repeat(64)}` } })).status, 401);
	assert.equal((await rawRequest(h.port, 'GET', '/api/me', { localAddress: '127.0.4.1', headers: { Authorization: `token ${h.tokens.bob}` } })).status, 429);
});

test('one-time login links: opening one does not use it, it works once, and expires', async (t) => {
	const h = await startClassroom(t, { args: ['--link-expiry', '2'] });
	const out = usersCli(h.workspace, 'link', 'alice', '--public-url', `http://127.0.0.1:${h.port}/`);
	const link = out.trim();
	assert.match(link, new RegExp(`^http://127\\.0\\.0\\.1:${h.port}/login\\?link=[0-9a-f]{64}$`));
	const path = link.slice(h.origin.length);
	// A mail scanner or chat preview fetching the link: a page with a button, nothing used.
	const page = await rawRequest(h.port, 'GET', path);
	assert.equal(page.status, 200);
	assert.match(page.text, /name="link" value="[0-9a-f]{64}"/);
	// It names whose link it is, and looking twice uses nothing.
	assert.match(page.text, /login link of <strong>alice<\/strong>/);
	assert.match((await rawRequest(h.port, 'GET', path)).text, /<button type="submit">Log in as alice<\/button>/);
	const first = await h.req('POST', 'api/login', { json: { link }, token: false });
	assert.equal(first.status, 200, first.text);
	assert.equal(first.json.user.name, 'alice');
	const me = await withCookie(h, 'GET', 'api/me', first.headers.get('set-cookie').split(';')[0]);
	assert.equal(me.json.login, 'link');
	const second = await h.req('POST', 'api/login', { json: { link }, token: false });
	assert.equal(second.status, 401, 'a link worked twice');
	assert.match(second.json.message, /used already, expired or replaced/);
	// Opened again, the used link says so at once and offers the password form instead.
	const used = await rawRequest(h.port, 'GET', path);
	assert.match(used.text, /<p class="err">This login link does not work \(used already/);
	assert.doesNotMatch(used.text, /name="link"|alice/);
	assert.match(used.text, /name="password"/);
	// Expiry: a fresh link, used after its 2 s.
	const late = (await h.as('prof').api('POST', 'api/users/bob/link', {})).link;
	await sleep(2500);
	assert.equal((await h.req('POST', 'api/login', { json: { link: late }, token: false })).status, 401, 'an expired link worked');
	// The form's button posts the link the same way.
	const form = (await h.as('prof').api('POST', 'api/users/bob/link', {})).link;
	const secret = form.split('link=')[1];
	const f = await rawRequest(h.port, 'POST', '/login', { headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: `link=${secret}` });
	assert.equal(f.status, 303, f.text);
});

test('a dead link opened counts as a wrong one for the address; while throttled, links are not looked up', async (t) => {
	const h = await startClassroom(t);
	const link = (await h.as('prof').api('POST', 'api/users/alice/link', {})).link; // before: a throttled address shows no token either
	const dead = `/login?link=${'0'.repeat(64)}`;
	for (let i = 0; i < 10; i++) assert.match((await rawRequest(h.port, 'GET', dead)).text, /does not work/);
	const refused = await h.req('POST', 'api/login', { json: { link }, token: false });
	assert.equal(refused.status, 429, refused.text);
	assert.ok(Number(refused.headers.get('retry-after')) > 0, 'no Retry-After');
	const page = await rawRequest(h.port, 'GET', link.slice(h.origin.length));
	assert.match(page.text, /This is your personal login link\. It works once\./);
	assert.doesNotMatch(page.text, /alice/, 'a throttled address learnt whose link it is');
});

test('a student sets a password after a link login; scripts use API tokens, not passwords', async (t) => {
	const h = await startClassroom(t);
	const link = (await h.as('prof').api('POST', 'api/users/alice/link', {})).link;
	const l = await h.req('POST', 'api/login', { json: { link }, token: false });
	const cookie = l.headers.get('set-cookie').split(';')[0];
	assert.equal((await withCookie(h, 'POST', 'api/me/password', cookie, { json: { password: 'short' } })).status, 400);
	assert.equal((await withCookie(h, 'POST', 'api/me/password', cookie, { json: { password: 'first-password' } })).status, 204);
	assert.equal((await h.login('alice', 'first-password')).status, 200);
	// A password session must show the current password to change it.
	const s = (await h.login('alice', 'first-password')).cookie;
	assert.equal((await withCookie(h, 'POST', 'api/me/password', s, { json: { password: 'second-password' } })).status, 403);
	assert.equal((await withCookie(h, 'POST', 'api/me/password', s, { json: { password: 'second-password', current: 'first-password' } })).status, 204);
	// API tokens: made with a session, used by a script, revoked.
	const made = await withCookie(h, 'POST', 'api/me/tokens', s, { json: { name: 'laptop' } });
	assert.equal(made.status, 201);
	assert.match(made.json.token, /^[0-9a-f]{64}$/);
	const script = await h.req('GET', 'api/me', { token: made.json.token });
	assert.equal(script.json.name, 'alice');
	assert.equal(script.json.via, 'token');
	const list = await withCookie(h, 'GET', 'api/me/tokens', s);
	assert.ok(list.json.tokens.some((x) => x.name === 'laptop' && x.last_used));
	assert.ok(!list.text.includes(made.json.token), 'the token list shows a secret');
	// Bob cannot revoke alice's token (404), alice can.
	assert.equal((await h.as('bob').req('DELETE', `api/me/tokens/${made.json.id}`)).status, 404);
	assert.equal((await withCookie(h, 'DELETE', `api/me/tokens/${made.json.id}`, s)).status, 204);
	assert.equal((await h.req('GET', 'api/me', { token: made.json.token })).status, 401);
	// Passwords never work as a token.
	assert.equal((await h.req('GET', 'api/me', { token: 'second-password' })).status, 401);
	// The store holds an argon2id hash with its parameters, not the password.
	const hash = execFileSync(PY, ['-c', 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select password from users where name=\'alice\'").fetchone()[0])',
		join(h.workspace, '.trainbook/trainbook.db')], { encoding: 'utf8' }).trim();
	assert.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
});

test('roster import: 60 rows over the API, CSV links out, errors name lines and add nobody', async (t) => {
	const h = await startClassroom(t, { users: [['prof', 'instructor']] });
	const prof = h.as('prof');
	let csv = 'name,email,role\n';
	for (let i = 0; i < 60; i++) csv += `Student${String(i).padStart(2, '0')},s${i}@uni.example,student\n`;
	const r = await prof.req('POST', 'api/users/import', { body: csv, headers: { 'Content-Type': 'text/csv' } });
	assert.equal(r.status, 201, r.text);
	assert.equal(r.json.users.length, 60);
	assert.equal(r.json.users[7].name, 'student07');
	const links = r.json.users.map((u) => u.link);
	assert.equal(new Set(links).size, 60);
	// Each link logs its own student in, once.
	for (const [i, link] of links.entries()) {
		const l = await h.req('POST', 'api/login', { json: { link }, token: false });
		assert.equal(l.status, 200, `link ${i}: ${l.text}`);
		assert.equal(l.json.user.name, `student${String(i).padStart(2, '0')}`);
	}
	// Homes exist; the list has them all.
	assert.ok(existsSync(join(h.workspace, 'users/student59')));
	const list = await prof.api('GET', 'api/users');
	assert.equal(list.users.length, 61);
	// ?format=csv answers the links as a CSV attachment.
	const c = await prof.req('POST', 'api/users/import?format=csv', { body: 'x1\nx2,x2@uni.example\n', headers: { 'Content-Type': 'text/csv' } });
	assert.equal(c.status, 201);
	assert.match(c.headers.get('content-type'), /^text\/csv/);
	assert.match(c.text, /^name,email,role,link\nx1,,student,http:\/\/127\.0\.0\.1:\d+\/login\?link=[0-9a-f]{64}\nx2,x2@uni\.example,student,/);
	// Bad rows: 400 with every line, nobody added; a taken name: 409, nobody added.
	const bad = await prof.req('POST', 'api/users/import', { body: 'ok1\nnot valid\nok2,bad-email\nok1\n', headers: { 'Content-Type': 'text/csv' } });
	assert.equal(bad.status, 400);
	assert.equal(bad.json.error, 'invalid_roster');
	assert.deepEqual(bad.json.errors.map((e) => e.line), [2, 3, 4]);
	const taken = await prof.req('POST', 'api/users/import', { body: 'ok3\nstudent01\n', headers: { 'Content-Type': 'text/csv' } });
	assert.equal(taken.status, 409);
	assert.match(taken.json.message, /line 2/);
	assert.equal((await prof.req('GET', 'api/users/ok1')).status, 404);
	assert.equal((await prof.req('GET', 'api/users/ok3')).status, 404);
	// Students may not import (403), nor list users.
	const st = await prof.api('POST', 'api/users', { name: 'Stu', email: 'stu@uni.example' });
	assert.equal(st.user.name, 'stu');
	assert.match(st.link, /login\?link=[0-9a-f]{64}$/);
	const stuToken = usersCli(h.workspace, 'token', 'stu').trim();
	assert.equal((await h.req('POST', 'api/users/import', { body: 'z\n', token: stuToken })).status, 403);
	assert.equal((await h.req('GET', 'api/users', { token: stuToken })).status, 403);
});

test('the CLI imports a roster and prints one link per user as CSV', async (t) => {
	const ws = tempDir(t, 'tb-ws-');
	const roster = join(ws, 'roster.csv');
	writeFileSync(roster, 'ann\nben,ben@uni.example\ncat,,instructor\n');
	const out = usersCli(ws, 'import', roster, '--public-url', 'https://lab.example/tb/', '--base-url', '/tb/');
	const lines = out.trim().split('\n');
	assert.equal(lines[0], 'name,email,role,link');
	assert.match(lines[3], /^cat,,instructor,https:\/\/lab\.example\/tb\/login\?link=[0-9a-f]{64}$/);
	const file = join(ws, 'links.csv');
	usersCli(ws, 'import', writeRoster(ws, 'dan\n'), '--out', file);
	assert.match(readFileSync(file, 'utf8'), /^name,email,role,link\ndan,,student,http:\/\/127\.0\.0\.1:8888\/login\?link=/);
	assert.match(usersCli(ws, 'list'), /cat\s+instructor/);
	assert.throws(() => usersCli(ws, 'import', writeRoster(ws, 'eve\nann\n')), /taken/);
	assert.doesNotMatch(usersCli(ws, 'list'), /\beve\b/);
});

function writeRoster(dir, text) {
	const p = join(dir, `r${Math.random().toString(36).slice(2)}.csv`);
	writeFileSync(p, text);
	return p;
}

test('instructors reset logins, revoke sessions, change roles and archive users', async (t) => {
	const h = await startClassroom(t, { users: [['prof', 'instructor'], ['alice'], ['bob']] });
	const prof = h.as('prof');
	setPassword(h, 'alice', 'alice-password');
	const s = (await h.login('alice', 'alice-password')).cookie;
	// Revoke: sessions end (tokens too with {"tokens":true}).
	const rv = await prof.api('POST', 'api/users/alice/revoke', { tokens: true });
	assert.equal(rv.sessions, 1);
	assert.equal(rv.tokens, 1);
	assert.equal((await withCookie(h, 'GET', 'api/me', s)).status, 401);
	assert.equal((await h.as('alice').req('GET', 'api/me')).status, 401, 'a revoked API token still works');
	// Reset: the password goes, a new link comes.
	const reset = await prof.api('POST', 'api/users/alice/reset', {});
	assert.equal((await h.login('alice', 'alice-password')).status, 401);
	assert.equal((await h.req('POST', 'api/login', { json: { link: reset.link }, token: false })).status, 200);
	// Role: bob becomes an instructor and sees the users; the last instructor cannot step down.
	const bobToken = usersCli(h.workspace, 'token', 'bob').trim();
	assert.equal((await h.req('GET', 'api/users', { token: bobToken })).status, 403);
	assert.equal((await prof.api('PATCH', 'api/users/bob', { role: 'instructor' })).user.role, 'instructor');
	assert.equal((await h.req('GET', 'api/users', { token: bobToken })).status, 200);
	assert.equal((await prof.api('PATCH', 'api/users/bob', { role: 'student' })).user.role, 'student');
	assert.equal((await prof.req('PATCH', 'api/users/prof', { json: { role: 'student' } })).status, 409);
	// Archive (DELETE): logins end, the home moves to archive/, runs keep their owner, the name stays taken.
	assert.equal((await h.req('POST', 'api/notebooks', { json: { path: 'users/bob/mine.ipynb', content: NB('bob') }, token: bobToken })).status, 201);
	const queued = await h.req('POST', 'api/runs', { json: { spec: SPECS.small }, token: bobToken });
	assert.equal(queued.status, 201, queued.text);
	const run = queued.json.run.id;
	assert.equal((await prof.req('DELETE', 'api/users/bob')).status, 204);
	assert.equal((await h.req('GET', 'api/me', { token: bobToken })).status, 401);
	assert.ok(existsSync(join(h.workspace, 'archive/bob/mine.ipynb')), 'the home was not archived');
	assert.ok(!existsSync(join(h.workspace, 'users/bob')));
	const users = (await prof.api('GET', 'api/users')).users;
	assert.ok(users.find((u) => u.name === 'bob').archived);
	assert.equal((await prof.req('POST', 'api/users', { json: { name: 'bob' } })).status, 409);
	assert.equal((await prof.api('GET', `api/runs/${run}`)).run.owner, 'bob');
	// Archived notebooks are the instructors' to read.
	assert.equal((await prof.req('GET', 'api/notebooks/archive/bob/mine.ipynb')).status, 200);
});

test('course material: students read course/, copy into their home (origin recorded), list only their places', async (t) => {
	const h = await startClassroom(t);
	const prof = h.as('prof');
	await prof.api('POST', 'api/notebooks', { path: 'users/prof/week1.ipynb', content: NB('week1') });
	// Publishing is a copy into course/.
	const pub = await prof.api('POST', 'api/notebooks/copy', { from: 'users/prof/week1.ipynb', to: 'course/week1.ipynb' });
	assert.equal(pub.path, 'course/week1.ipynb');
	// Students cannot publish.
	assert.equal((await h.as('alice').req('POST', 'api/notebooks', { json: { path: 'course/x.ipynb' } })).status, 404);
	assert.equal((await h.as('alice').req('PUT', 'api/notebooks/course/week1.ipynb', { body: NB('x') })).status, 404);
	// Alice reads it and makes a copy: into her home by default.
	assert.equal((await h.as('alice').req('GET', 'api/notebooks/course/week1.ipynb')).status, 200);
	const copy = await h.as('alice').api('POST', 'api/notebooks/copy', { from: 'course/week1.ipynb' });
	assert.equal(copy.path, 'users/alice/week1.ipynb');
	const nb = await h.as('alice').api('GET', 'api/notebooks/users/alice/week1.ipynb');
	assert.equal(nb.metadata.trainbook.copied_from.path, 'course/week1.ipynb');
	assert.match(nb.metadata.trainbook.copied_from.etag, /^"[0-9a-f]{16}"$/);
	assert.equal((await h.as('alice').req('POST', 'api/notebooks/copy', { json: { from: 'course/week1.ipynb' } })).status, 409);
	// Listings: alice sees course/ and her home; the instructor sees all, with owners.
	const mine = (await h.as('alice').api('GET', 'api/notebooks')).notebooks.map((n) => n.path);
	assert.ok(mine.includes('users/alice/week1.ipynb') && mine.includes('course/week1.ipynb'));
	assert.ok(mine.every((p) => p.startsWith('users/alice/') || p.startsWith('course/')), mine.join(','));
	const all = (await prof.api('GET', 'api/notebooks')).notebooks;
	assert.equal(all.find((n) => n.path === 'users/alice/week1.ipynb').owner, 'alice');
	assert.equal(all.find((n) => n.path === 'course/week1.ipynb').owner, 'prof');
	assert.ok(!(await h.as('bob').api('GET', 'api/notebooks')).notebooks.some((n) => n.path.includes('alice')));
});

test('data paths: only the home, course/ and data roots; refused files are never read into errors', async (t) => {
	const table = 'a,b,label\n' + Array.from({ length: 20 }, (_, i) => `${i},${i % 3},${i % 2}`).join('\n') + '\n';
	const data = tempDir(t, 'tb-data-');
	writeFileSync(join(data, 'iris.csv'), table);
	const outside = tempDir(t, 'tb-outside-');
	writeFileSync(join(outside, 'secret.csv'), 'TOPSECRET-LINE,b\n1,2\n');
	const h = await startClassroom(t, { args: ['--data-root', data] });
	const alice = h.as('alice');
	const spec = (path) => `data: {dataset: csv, path: "${path}", batch_size: 2}\nmodel: [{linear: 2}]\ntrain: {epochs: 1}\n`;
	const validate = (who, path) => h.as(who).api('POST', 'api/validate', { spec: spec(path) });
	// The leak this closes: a CSV error used to quote the first line of any file.
	for (const path of ['/etc/passwd', join(outside, 'secret.csv'), 'users/bob/x.csv', '.trainbook/trainbook.db', '../x.csv']) {
		const v = await validate('alice', path);
		assert.equal(v.ok, false, path);
		assert.match(v.errors[0].message, /outside the folders your runs may read/, path);
		assert.equal(v.errors[0].line, 1);
		assert.doesNotMatch(JSON.stringify(v), /root:|TOPSECRET|SQLite/, path);
		const run = await alice.req('POST', 'api/runs', { json: { spec: spec(path) } });
		assert.equal(run.status, 400, path);
		assert.equal(run.json.error, 'invalid_spec');
	}
	// A symlink planted in a home that leads out is judged by its target.
	symlinkSync(join(outside, 'secret.csv'), join(h.workspace, 'users/alice/sneaky.csv'));
	const s = await validate('alice', 'users/alice/sneaky.csv');
	assert.equal(s.ok, false);
	assert.doesNotMatch(JSON.stringify(s), /TOPSECRET/);
	// Allowed: a data root, course/, the home (relative paths are relative to the workspace).
	assert.equal((await validate('alice', join(data, 'iris.csv'))).ok, true);
	writeFileSync(join(h.workspace, 'course/c.csv'), table);
	writeFileSync(join(h.workspace, 'users/alice/mine.csv'), table);
	assert.equal((await validate('alice', 'course/c.csv')).ok, true);
	assert.equal((await validate('alice', 'users/alice/mine.csv')).ok, true);
	// Instructors: the whole workspace, still not /etc.
	assert.equal((await validate('prof', 'users/alice/mine.csv')).ok, true);
	assert.equal((await validate('prof', '/etc/passwd')).ok, false);
	// And a run that reads allowed data trains.
	const id = (await alice.api('POST', 'api/runs', { spec: spec('users/alice/mine.csv') })).run.id;
	const run = await waitStatus({ api: (m, p) => alice.api(m, p) }, id, ['completed', 'failed'], 120000);
	assert.equal(run.status, 'completed', run.reason);
	assert.equal(run.owner, 'alice');
});

test('two servers on two ports keep separate logins (single-user and accounts)', async (t) => {
	const a = await startServer(t, { token: 'same-token-for-both' });
	const b = await startServer(t, { token: 'same-token-for-both' });
	const ca = (await rawRequest(a.port, 'GET', '/?token=same-token-for-both')).headers['set-cookie'].split(';')[0];
	const cb = (await rawRequest(b.port, 'GET', '/?token=same-token-for-both')).headers['set-cookie'].split(';')[0];
	assert.equal(ca.split('=')[0], `trainbook_token_${a.port}`);
	assert.equal(cb.split('=')[0], `trainbook_token_${b.port}`);
	// A browser sends both cookies to both (cookies ignore ports); each server takes its own.
	const both = `${ca}; ${cb}`;
	assert.equal((await withCookie(a, 'GET', 'api/status', both)).status, 200);
	assert.equal((await withCookie(b, 'GET', 'api/status', both)).status, 200);
	// Under the old single name the second login overwrote the first: a's cookie alone is not b's.
	assert.equal((await withCookie(b, 'GET', 'api/status', ca)).status, 401);
	// Accounts mode names its session cookie by port as well.
	const c = await startClassroom(t);
	setPassword(c, 'alice', 'alice-password');
	const l = await c.login('alice', 'alice-password');
	assert.equal(l.cookie.split('=')[0], `trainbook_token_${c.port}`);
});

test('single-user mode: /api/me names the OS user as instructor; /api/login takes the token', async (t) => {
	const h = await startServer(t);
	const me = await h.api('GET', 'api/me');
	assert.equal(me.accounts, false);
	assert.equal(me.role, 'instructor');
	const l = await h.req('POST', 'api/login', { json: { token: h.token }, token: false });
	assert.equal(l.status, 200);
	assert.match(l.headers.get('set-cookie'), new RegExp(`^trainbook_token_${h.port}=`));
	assert.equal((await h.req('POST', 'api/login', { json: { token: 'wrong' }, token: false })).status, 401);
	// Users and passwords are an accounts-mode thing.
	assert.equal((await h.req('GET', 'api/users')).status, 400);
	assert.equal((await h.req('POST', 'api/me/password', { json: { password: 'whatever-1' } })).status, 400);
	// ?token= means nothing to an accounts server.
	const c = await startClassroom(t);
	const r = await rawRequest(c.port, 'GET', `/?token=${c.token}`);
	assert.equal(r.status, 200);
	assert.equal(r.headers['set-cookie'], undefined);
	assert.match(r.text, /name="password"/);
});

test('--user-separation: a worker writes in its run directory and private TMPDIR, nowhere else', async (t) => {
	const outsideDir = tempDir(t, 'tb-escape-');
	const worker = join(ROOT, 'tests/integration/fake_worker.sh');
	const check = async (args) => {
		const h = await startServer(t, { args, env: { TRAINBOOK_WORKER_CMD: worker, ESCAPE_TARGET: outsideDir } });
		const id = await submitRun(h, '# fake: escape\n' + SPECS.small);
		await waitStatus(h, id, ['completed', 'failed'], 60000);
		const ev = await h.api('GET', `api/runs/${id}/events?since=0`);
		const log = ev.events.map((e) => e.event).find((e) => e.type === 'log');
		assert.ok(log, `no report from the worker: ${JSON.stringify(ev.events.map((e) => e.event))}`);
		return { report: log.message, h, id };
	};
	const free = await check([]);
	// Without separation the same worker writes outside: the check below can fail.
	assert.match(free.report, /inside=yes outside=yes/);
	const boxed = await check(['--user-separation']);
	assert.match(boxed.report, /inside=yes outside=no tmp=yes tmpdir=\/\S+\/tmp workspace=no/, boxed.report);
	const tmpdir = /tmpdir=(\S+)/.exec(boxed.report)[1];
	assert.ok(tmpdir.includes(`.trainbook/runs/${boxed.id}/tmp`), tmpdir);
	assert.ok(existsSync(join(boxed.h.workspace, `.trainbook/runs/${boxed.id}/inside.txt`)));
	// The real worker trains and checkpoints inside the sandbox.
	const real = await startServer(t, { args: ['--user-separation'] });
	const id = await submitRun(real, SPECS.small);
	const run = await waitStatus(real, id, ['completed', 'failed'], 120000);
	assert.equal(run.status, 'completed', run.reason);
	assert.ok((await real.api('GET', `api/runs/${id}/checkpoints`)).checkpoints.length > 0);
});
