// tests/integration/deploy.test.mjs — docs/server.md's "Behind nginx, under
// systemd", step by step, with Debian's nginx (issue 20).
//
// The set-up (`before`) follows the numbered steps of the recipe in a
// temporary tree: `make install DESTDIR=…`, the token file, the settings,
// the unit's ExecStart line, nginx-light, a self-signed certificate, the
// site enabled and checked with `nginx -t`, nginx started. Only what a test
// must change is changed, each change asserted to match the shipped text:
// paths live under the temporary tree, the ports are free ones (the TLS
// port is not 443, which is what item 1 was about), and the host name
// trainbook.example.org is kept and resolved to 127.0.0.1 by each client
// (curl-style: Node's `lookup`, Chromium's --host-resolver-rules), so no
// /etc/hosts edit is needed. What a test cannot do (useradd, systemctl) is
// noted at its step. When nginx cannot be installed or started every case
// FAILs with the reason.
//
// The cases then do what a person and a browser do through the proxy: the
// start-up lines, Host and Origin, the Secure cookie, a live run over wss://
// and its checkpoint downloaded, a notebook save with an image, the page in
// Chromium, and a second server on a busy port.
//
//   node --test tests/integration/deploy.test.mjs
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, SPECS, sleep, tempDir, waitFor } from './fixture.mjs';
import { freePort, httpsRequest, makeInstall, openWss, safetensorsHeader, spawnLogged } from './deploylib.mjs';
import { launchChromium } from '../e2e/lib.mjs';

const NAME = 'trainbook.example.org';
const PREFIX = '/usr/local';
const T = { timeout: 120000 };

/* The shared set-up, filled by `before`. */
const S = {};
/* `before` runs outside any test: its clean-ups are collected here for `after`. */
const cleanups = [];
const ctx = { after: (fn) => cleanups.push(fn) };

/* Replace each `from` in `text` by `to`, asserting it occurs `count` times: a changed shipped file fails loudly. */
function edit(text, what, changes) {
	for (const [from, to, count = 1] of changes) {
		const n = typeof from === 'string' ? text.split(from).length - 1 : (text.match(from) || []).length;
		assert.equal(n, count, `${what}: expected ${count} × ${from}, found ${n}`);
		text = typeof from === 'string' ? text.split(from).join(to) : text.replace(from, to);
	}
	return text;
}

/* Step 6: nginx-light, installed with the other test packages when missing. */
function ensureNginx() {
	if (!existsSync('/usr/sbin/nginx')) {
		const r = spawnSync('sh', [join(ROOT, 'tests/deps.sh'), 'test'], { encoding: 'utf8' });
		if (!existsSync('/usr/sbin/nginx'))
			throw new Error(`nginx is not installed and tests/deps.sh test could not install nginx-light: ${(r.stderr || r.stdout || '').slice(-400)}`);
	}
	return '/usr/sbin/nginx';
}

before(async () => {
	// Step 1: make && sudo make install (make has run; DESTDIR stands for /).
	const D = makeInstall(ctx);
	S.D = D;
	const etc = join(D, 'etc/trainbook');
	// Step 2 (useradd) is skipped: the test runs as whoever runs it.
	// Step 3: the token file.
	execFileSync('sh', ['-c', `umask 027; openssl rand -hex 24 > ${etc}/token`]);
	S.token = readFileSync(join(etc, 'token'), 'utf8').trim();
	assert.match(S.token, /^[0-9a-f]{48}$/);
	// Step 4: the settings. The name stays; the test moves paths into D and picks free ports.
	S.appPort = await freePort();
	S.tlsPort = await freePort();
	S.httpPort = await freePort();
	S.public = `https://${NAME}:${S.tlsPort}/trainbook/`;
	const confPath = join(etc, 'trainbook.conf');
	writeFileSync(confPath, edit(readFileSync(confPath, 'utf8'), 'trainbook.conf', [
		['\nport = 8888\n', `\nport = ${S.appPort}\n`],
		['workspace = /var/lib/trainbook/notebooks', `workspace = ${D}/var/lib/trainbook/notebooks`],
		['token-file = /etc/trainbook/token', `token-file = ${etc}/token`],
		[`public-url = https://${NAME}/trainbook/`, `public-url = ${S.public}`],
	]));
	// Step 5: systemctl enable --now trainbook. No systemd here: run the unit's
	// ExecStart in its WorkingDirectory, after making its StateDirectory.
	const unit = readFileSync(join(D, PREFIX, 'lib/systemd/system/trainbook.service'), 'utf8');
	const exec = /^ExecStart=(.*)$/m.exec(unit)[1].split(' ').map((w) => (w.startsWith('/') ? D + w : w));
	const state = D + /^WorkingDirectory=(.*)$/m.exec(unit)[1];
	assert.equal(/^StateDirectory=(.*)$/m.exec(unit)[1], 'trainbook');
	mkdirSync(state, { recursive: true, mode: 0o750 });
	S.exec = exec;
	S.state = state;
	S.app = spawnLogged(ctx, exec[0], exec.slice(1), { cwd: state });
	await S.app.line(/^trainbook serve: open .*$/m, 'the start-up line (journalctl -u trainbook)');

	// Step 6: apt install nginx-light.
	const nginx = ensureNginx();
	// Step 7: a certificate; the recipe's self-signed pair, for a test.
	S.crt = join(D, 'etc/ssl/certs/trainbook.crt');
	const key = join(D, 'etc/ssl/private/trainbook.key');
	mkdirSync(join(D, 'etc/ssl/certs'), { recursive: true });
	mkdirSync(join(D, 'etc/ssl/private'), { recursive: true, mode: 0o700 });
	execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30', '-subj', `/CN=${NAME}`,
		'-addext', `subjectAltName=DNS:${NAME}`, '-keyout', key, '-out', S.crt], { stdio: 'pipe' });
	S.ca = readFileSync(S.crt);
	// Step 8: the site, enabled, checked, loaded. The test also changes the listen
	// ports (free ones, not 443/80) and proxy_pass's port to the server's.
	const ng = join(D, 'etc/nginx');
	mkdirSync(join(ng, 'sites-available'), { recursive: true });
	mkdirSync(join(ng, 'sites-enabled'), { recursive: true });
	const site = edit(readFileSync(join(ROOT, 'config/nginx-trainbook.conf'), 'utf8'), 'nginx-trainbook.conf', [
		[`ssl_certificate     /etc/letsencrypt/live/${NAME}/fullchain.pem;`, `ssl_certificate     ${S.crt};`],
		[`ssl_certificate_key /etc/letsencrypt/live/${NAME}/privkey.pem;`, `ssl_certificate_key ${key};`],
		[/^(\tlisten (?:\[::\]:)?)443\b/gm, `$1${S.tlsPort}`, 4],
		[/^(\tlisten (?:\[::\]:)?)80;/gm, `$1${S.httpPort};`, 2],
		['proxy_pass http://127.0.0.1:8888;', `proxy_pass http://127.0.0.1:${S.appPort};`, 2],
	]);
	writeFileSync(join(ng, 'sites-available/trainbook'), site);
	symlinkSync('../sites-available/trainbook', join(ng, 'sites-enabled/trainbook'));
	// Debian's /etc/nginx/nginx.conf, reduced to what matters, with its files in D.
	// error_log at warn: nginx says there when it buffers a request body to disk.
	const run = join(D, 'run/nginx');
	mkdirSync(run, { recursive: true });
	S.nginxLog = join(run, 'error.log');
	const main = join(ng, 'nginx.conf');
	writeFileSync(main, `pid ${run}/nginx.pid;\nerror_log ${S.nginxLog} warn;\nevents { worker_connections 256; }\n` +
		`http {\n\taccess_log ${run}/access.log;\n\tclient_body_temp_path ${run}/body;\n\tproxy_temp_path ${run}/proxy;\n` +
		`\tssl_protocols TLSv1.2 TLSv1.3;\n\tinclude ${ng}/sites-enabled/*;\n}\n`);
	const check = spawnSync(nginx, ['-t', '-p', run, '-c', main], { encoding: 'utf8' });
	S.nginxCheck = check.stderr;
	if (check.status !== 0) throw new Error(`nginx -t refuses the shipped site: ${check.stderr.trim()}`);
	S.nginx = spawnLogged(ctx, nginx, ['-p', run, '-c', main, '-g', 'daemon off;']);
	await waitFor(async () => {
		if (S.nginx.exited()) throw new Error(`nginx ${S.nginx.exited()}: ${S.nginx.log()} ${readFileSync(S.nginxLog, 'utf8').slice(-600)}`);
		try {
			return (await proxied('GET', 'api/status')).status === 200;
		} catch {
			return false;
		}
	}, { timeout: 20000, what: `nginx to answer on port ${S.tlsPort}` });
}, { timeout: 180000 });

after(async () => {
	if (S.nginx) await S.nginx.kill('SIGTERM');
	for (const fn of cleanups.reverse()) await fn();
});

/* A request through nginx as the page would send it (its own Origin, the token). */
function proxied(method, path, { headers = {}, body, token = true } = {}) {
	const h = { ...headers };
	if (token) h.Authorization = `token ${S.token}`;
	return httpsRequest({ name: NAME, port: S.tlsPort, path: '/trainbook/' + path, method, headers: h, body, ca: S.ca });
}
const ORIGIN = () => `https://${NAME}:${S.tlsPort}`;

test('step 8: nginx -t accepts the shipped site with a test certificate', T, () => {
	assert.match(S.nginxCheck, /syntax is ok/);
	assert.match(S.nginxCheck, /test is successful/);
});

test('step 5: the start-up lines name the public URL and the proxy\'s address, not the token (item 3, 9)', T, () => {
	const log = S.app.log();
	assert.match(log, new RegExp(`^trainbook serve: listening on http://127\\.0\\.0\\.1:${S.appPort}/trainbook/ \\(for the proxy\\)$`, 'm'));
	assert.match(log, new RegExp(`^trainbook serve: open ${S.public.replace(/\./g, '\\.')} with the token in ${S.D}/etc/trainbook/token$`, 'm'));
	assert.ok(!log.includes(S.token), 'the token is in the journal');
	assert.match(log, /made the workspace .*\/var\/lib\/trainbook\/notebooks/);
});

test('Host and Origin through the proxy: the page\'s own origin on a port other than 443 is accepted (item 1)', T, async () => {
	assert.equal((await proxied('GET', 'api/status')).status, 200);
	assert.equal((await proxied('GET', 'api/status', { token: false })).status, 401);
	// What the page sends: its Origin carries the port, so Host must too ($http_host).
	const v = await proxied('POST', 'api/validate', {
		headers: { Origin: ORIGIN(), 'Sec-Fetch-Site': 'same-origin', 'Content-Type': 'application/json' },
		body: JSON.stringify({ spec: SPECS.small }),
	});
	assert.equal(v.status, 200, `POST api/validate with the page's Origin: HTTP ${v.status} ${v.text.slice(0, 200)}`);
	const ws = await openWss({ name: NAME, port: S.tlsPort, path: '/trainbook/ws', origin: ORIGIN(), ca: S.ca, headers: { Authorization: `token ${S.token}` } });
	ws.close();
});

test('Host and Origin through the proxy: other sites and other names are refused', T, async () => {
	// Another site, and our name on another port (443: what `Host $host` made of every request).
	for (const origin of ['https://evil.example', `https://${NAME}`, `https://${NAME}:${S.httpPort}`]) {
		const r = await proxied('POST', 'api/validate', { headers: { Origin: origin, 'Content-Type': 'application/json' }, body: JSON.stringify({ spec: SPECS.small }) });
		assert.equal(r.status, 403, `Origin ${origin}: HTTP ${r.status}`);
		assert.equal(JSON.parse(r.text).error, 'forbidden');
		await assert.rejects(openWss({ name: NAME, port: S.tlsPort, path: '/trainbook/ws', origin, ca: S.ca, headers: { Authorization: `token ${S.token}` } }),
			/refused: HTTP 403/, `a WebSocket with Origin ${origin} was accepted`);
	}
	// Another Host (DNS rebinding) over our TLS name: the default_server closes it unanswered (444).
	await assert.rejects(proxied('GET', 'api/status', { headers: { Host: `evil.example:${S.tlsPort}` } }), /socket hang up|ECONNRESET/);
	// Another TLS name: the handshake itself is refused (ssl_reject_handshake).
	await assert.rejects(httpsRequest({ name: NAME, servername: 'evil.example', port: S.tlsPort, path: '/trainbook/api/status', ca: S.ca, headers: { Host: 'evil.example' } }),
		/alert|handshake|ECONNRESET|socket hang up/i);
});

test('the cookie is Secure behind https: X-Forwarded-Proto from the trusted proxy (item 8)', T, async () => {
	const r = await proxied('GET', `?token=${S.token}`, { token: false });
	assert.equal(r.status, 302);
	const c = r.headers['set-cookie'].join('\n');
	assert.match(c, /;\s*Secure(;|$)/i, c);
	assert.match(c, /HttpOnly/);
	assert.match(c, /Path=\/trainbook\//);
});

test('a live run over wss:// through the proxy, and its checkpoint downloaded', T, async () => {
	const spec = SPECS.small + 'checkpoint: {every: epoch, keep: 2}\n';
	const run = await proxied('POST', 'api/runs', { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ spec }) });
	assert.equal(run.status, 201, `POST api/runs: HTTP ${run.status} ${run.text.slice(0, 200)}`);
	const id = (JSON.parse(run.text).run || JSON.parse(run.text)).id;
	const ws = await openWss({ name: NAME, port: S.tlsPort, path: '/trainbook/ws', origin: ORIGIN(), ca: S.ca, headers: { Authorization: `token ${S.token}` } });
	const events = [];
	await new Promise((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error(`no completed status over wss in 60 s (${events.length} events)`)), 60000);
		ws.on('message', (data) => {
			const m = JSON.parse(data.toString());
			if (m.type !== 'event' || m.run !== id) return;
			events.push(m);
			if (m.event.type === 'status' && ['completed', 'failed'].includes(m.event.status)) {
				clearTimeout(timer);
				resolve();
			}
		});
		ws.on('error', reject);
		ws.send(JSON.stringify({ type: 'subscribe', run: id, since: 0 }));
	});
	ws.close();
	assert.equal(events.at(-1).event.status, 'completed', JSON.stringify(events.at(-1)));
	events.forEach((e, i) => assert.equal(e.seq, i + 1, `event ${i} has seq ${e.seq}`));
	assert.ok(events.some((e) => e.event.type === 'metric'), 'no metric event came over wss');
	S.runId = id;

	const list = JSON.parse((await proxied('GET', `api/runs/${id}/checkpoints`)).text);
	assert.ok(list.checkpoints.length > 0, `no checkpoints: ${JSON.stringify(list)}`);
	const ck = list.checkpoints.at(-1);
	const dl = await proxied('GET', `api/runs/${id}/checkpoints/${encodeURIComponent(ck.file)}`);
	assert.equal(dl.status, 200);
	assert.match(dl.headers['content-disposition'] || '', /attachment/);
	if (ck.bytes) assert.equal(dl.body.length, ck.bytes);
	const header = safetensorsHeader(dl.body);
	assert.ok(Object.keys(header).some((k) => k !== '__metadata__'), 'the checkpoint holds no tensors');
});

test('a notebook save with an image stays in nginx\'s memory, not in a temporary file (item 10)', T, async () => {
	// A 3 MB PNG's worth of base64, as a saved run cell's plot would be.
	const png = Buffer.alloc(3 << 20, 7).toString('base64');
	const nb = { cells: [{ cell_type: 'code', id: 'c1', metadata: {}, execution_count: null, source: 'x',
		outputs: [{ output_type: 'display_data', metadata: {}, data: { 'image/png': png, 'text/plain': 'plot' } }] }],
	metadata: {}, nbformat: 4, nbformat_minor: 5 };
	const r = await proxied('PUT', 'api/notebooks/with-image.ipynb', {
		headers: { Origin: ORIGIN(), 'Sec-Fetch-Site': 'same-origin', 'Content-Type': 'application/json' }, body: JSON.stringify(nb),
	});
	assert.ok(r.status === 200 || r.status === 201, `PUT a 4 MB notebook: HTTP ${r.status} ${r.text.slice(0, 200)}`);
	assert.ok(existsSync(join(S.state, 'notebooks/with-image.ipynb')));
	await sleep(200);
	assert.doesNotMatch(readFileSync(S.nginxLog, 'utf8'), /buffered to a temporary file/);
});

test('the page in Chromium through nginx: log in with the URL, the feed over wss://, a run followed live', T, async (t) => {
	const profile = tempDir(t, 'tb-chromium-');
	const browser = await launchChromium(profile, {
		args: [`--host-resolver-rules=MAP ${NAME} 127.0.0.1`],
		options: { ignoreHTTPSErrors: true },
	});
	t.after(() => browser.close());
	const page = browser.pages()[0] || (await browser.newPage());
	const problems = [];
	page.on('pageerror', (e) => problems.push(e.message));
	browser.on('console', (m) => {
		if (/Content[ -]Security[ -]Policy/i.test(m.text())) problems.push(m.text().slice(0, 200));
	});
	await page.goto(`${S.public}?token=${S.token}`);
	await page.waitForSelector('tr[data-path="examples/fashion-mnist.ipynb"]', { timeout: 20000 });
	assert.ok(!page.url().includes('token='), `the token stays in the address bar: ${page.url()}`);
	// With `Host $host` the feed never opened here: "disconnected — retrying".
	await page.waitForSelector('.conn[data-state=open]', { timeout: 20000 });
	const cookies = await browser.cookies(S.public);
	assert.ok(cookies.length > 0 && cookies.every((c) => c.secure && c.httpOnly), `cookies: ${JSON.stringify(cookies)}`);
	// A run started now reaches the page through the feed, to its end.
	await page.goto(S.public + '#/runs');
	await page.waitForSelector('h1:has-text("Runs")');
	const r = await proxied('POST', 'api/runs', { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ spec: SPECS.small }) });
	const id = (JSON.parse(r.text).run || JSON.parse(r.text)).id;
	await page.waitForSelector(`table.hparams tr[data-run="${id}"] .status-completed`, { timeout: 60000 });
	assert.deepEqual(problems, []);
});

test('port-retries = 0: a second server on the installed config fails on the busy port instead of moving (item 4)', T, async (t) => {
	const second = spawnLogged(t, S.exec[0], S.exec.slice(1), { cwd: S.state });
	const { code } = await second.exit();
	assert.notEqual(code, 0);
	assert.match(second.log(), new RegExp(`cannot listen on 127\\.0\\.0\\.1 port ${S.appPort}: Address already in use`));
	// nginx still reaches the first one.
	assert.equal((await proxied('GET', 'api/status')).status, 200);
});
