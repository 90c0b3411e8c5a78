// tests/integration/install.test.mjs — `make install` (issue 20, item 5):
// the installed binary finds its page, its examples and the CUDA module in
// the installed tree (not in the repository it was built in), an edited
// config survives a reinstall, and the installed systemd unit passes
// `systemd-analyze verify` with an exposure of at most 3.5 (item 9).
//
//   node --test tests/integration/install.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, startServer, tempDir } from './fixture.mjs';
import { makeInstall } from './deploylib.mjs';

const T = { timeout: 120000 };
const PREFIX = 'usr/local';

test('make install DESTDIR: the installed binary serves the installed page and seeds the installed examples', T, async (t) => {
	const dest = makeInstall(t);
	const bin = join(dest, PREFIX, 'bin/trainbook');
	const share = join(dest, PREFIX, 'share/trainbook');
	for (const f of ['bin/trainbook', 'bin/trainbook-engine', 'share/trainbook/static/index.html',
		'share/trainbook/static/app/app.js', 'share/trainbook/examples/fashion-mnist.ipynb', 'lib/systemd/system/trainbook.service'])
		assert.ok(existsSync(join(dest, PREFIX, f)), `make install did not install ${PREFIX}/${f}`);
	assert.equal(readFileSync(join(dest, 'etc/trainbook/trainbook.conf'), 'utf8'), readFileSync(join(ROOT, 'config/trainbook-server.conf'), 'utf8'));

	// The settings in effect name the installed tree, not the repository.
	const ws = tempDir(t, 'tb-ws-');
	const conf = execFileSync(bin, ['serve', '--workspace', ws, '--print-config'], { encoding: 'utf8' });
	assert.match(conf, new RegExp(`^static = ${share}/static$`, 'm'));
	assert.match(conf, new RegExp(`^examples = ${share}/examples$`, 'm'));

	// Mark the installed page so an answer from the repository's copy cannot pass.
	writeFileSync(join(share, 'static/index.html'), readFileSync(join(share, 'static/index.html'), 'utf8').replace('</head>', '<meta name="installed-copy" content="yes"></head>'));
	const h = await startServer(t, { bin, workspace: ws });
	const login = await h.req('GET', `?token=${h.token}`);
	assert.equal(login.status, 302, `GET /?token=: HTTP ${login.status}`);
	const cookie = login.headers.get('set-cookie').split(';')[0];
	const index = await h.req('GET', '', { token: false, headers: { Cookie: cookie } });
	assert.equal(index.status, 200);
	assert.match(index.text, /name="installed-copy"/, 'the page did not come from the installed share/trainbook/static');
	const js = await h.req('GET', 'app/app.js', { token: false });
	assert.equal(js.status, 200);
	assert.equal(js.text, readFileSync(join(share, 'static/app/app.js'), 'utf8'));
	// A new workspace gets the installed examples.
	assert.ok(existsSync(join(ws, 'examples/fashion-mnist.ipynb')), 'the new workspace got no examples/fashion-mnist.ipynb');
	const list = await h.api('GET', 'api/notebooks');
	assert.ok(JSON.stringify(list).includes('examples/fashion-mnist.ipynb'), `api/notebooks: ${JSON.stringify(list).slice(0, 300)}`);
});

test('make install: the installed engine loads the CUDA module from lib/trainbook/', T, async (t) => {
	const built = existsSync(join(ROOT, 'build/libtrainbook-cuda.so'));
	const dest = makeInstall(t);
	const lib = join(dest, PREFIX, 'lib/trainbook/libtrainbook-cuda.so');
	assert.equal(existsSync(lib), built, built ? 'build/libtrainbook-cuda.so was not installed' : 'a CUDA module was installed without one being built');
	const dir = tempDir(t, 'tb-cuda-');
	const spec = join(dir, 'cuda.yaml');
	writeFileSync(spec, 'data: {dataset: synthetic, shape: [1,8,8], classes: 4, train_size: 64, test_size: 16, batch_size: 16}\n' +
		'model: [flatten, {linear: 4}]\ntrain: {epochs: 1, device: cuda}\n');
	const engine = join(dest, PREFIX, 'bin/trainbook-engine');
	const env = { ...process.env };
	delete env.TRAINBOOK_CUDA_LIB;
	const train = () => {
		const r = spawnSync(engine, ['train', spec, '--out', join(dir, 'out')], { encoding: 'utf8', env, timeout: 60000 });
		return r.stdout + r.stderr;
	};
	if (built) {
		// Loaded: what is left is the module's own word about this machine's GPU (or a run).
		const out = train();
		assert.doesNotMatch(out, /libtrainbook-cuda\.so not found/, out);
		rmSync(lib);
	}
	// Without the module the engine says where it looked.
	const out = train();
	assert.match(out, /libtrainbook-cuda\.so not found beside .*bin\/trainbook-engine or in \.\.\/lib\/trainbook\//, out);
});

test('make install keeps an edited /etc/trainbook/trainbook.conf and puts the new one beside it', T, async (t) => {
	const dest = makeInstall(t);
	const conf = join(dest, 'etc/trainbook/trainbook.conf');
	writeFileSync(conf, readFileSync(conf, 'utf8').replace('trainbook.example.org', 'nb.lab.example'));
	const edited = readFileSync(conf, 'utf8');
	execFileSync('make', ['-s', '-C', ROOT, 'install', `DESTDIR=${dest}`], { stdio: 'pipe' });
	assert.equal(readFileSync(conf, 'utf8'), edited, 'the reinstall overwrote the edited config');
	assert.equal(readFileSync(conf + '.new', 'utf8'), readFileSync(join(ROOT, 'config/trainbook-server.conf'), 'utf8'));
});

test('the installed systemd unit passes systemd-analyze verify and rates at most 3.5 (OK)', T, async (t) => {
	const which = spawnSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' });
	assert.equal(which.status, 0, 'systemd-analyze is not installed (Debian package systemd; make deps-test)');
	// PREFIX into a temporary folder (not DESTDIR), so ExecStart names a binary that
	// exists and `verify` can check it, as it would on the installed machine.
	const dest = makeInstall(t, { PREFIX: (d) => join(d, 'usr'), SYSCONFDIR: (d) => join(d, 'etc') });
	const unit = join(dest, 'usr/lib/systemd/system/trainbook.service');
	const text = readFileSync(unit, 'utf8');
	assert.match(text, new RegExp(`^ExecStart=${dest}/usr/bin/trainbook serve --config ${dest}/etc/trainbook/trainbook.conf$`, 'm'));
	const verify = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
	assert.equal(verify.status, 0, `systemd-analyze verify: ${verify.stderr}`);
	assert.equal(verify.stderr.trim(), '', `systemd-analyze verify complains: ${verify.stderr}`);
	const sec = spawnSync('systemd-analyze', ['security', '--offline=true', unit], { encoding: 'utf8' });
	const m = /Overall exposure level for trainbook\.service: ([\d.]+) (\w+)/.exec(sec.stdout);
	assert.ok(m, `no exposure level in: ${(sec.stdout + sec.stderr).slice(-400)}`);
	assert.ok(Number(m[1]) <= 3.5, `exposure ${m[1]} ${m[2]} (at most 3.5 wanted)`);
	assert.equal(m[2], 'OK');
});
