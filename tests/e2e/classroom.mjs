// tests/e2e/classroom.mjs — accounts mode (trainbook serve --accounts) in a
// real browser: an instructor and two students, each in a browser context of
// their own (their own cookies). The instructor, made on the command line,
// opens their one-time link, sets a password, imports a roster of the two
// students through the Users page (a bad one first), copies and downloads
// the links, and publishes a notebook by creating it in course/. Each
// student opens their link, finds course/ read-only, makes a copy (which
// says where it came from) and runs it; neither sees the other's run (the
// Runs page, the workspace, a direct URL); the instructor sees both,
// labelled and filtered by owner. Then API tokens, a reset, an edit, a
// revoke, a delete (archive), logging out and in, and the throttle on wrong
// passwords. Screenshots go to tests/e2e/screenshots/classroom-*.png.
// One PASS/FAIL line per case; any Content-Security-Policy violation fails
// the case that caused it.
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { BIN, SHOTS, e2ePlaces, failureShot, cleanUp, freePort, startServer, waitFor, launchBrowser, runSuite, noPageErrorsCase } from './lib.mjs';

const { work, workspace, serverLog } = e2ePlaces('classroom');

const COURSE_NB = 'course/week1.ipynb';
const SPEC = 'data: {dataset: synthetic, shape: [1,4,4], classes: 2, train_size: 64, test_size: 16, batch_size: 8}\nmodel: [flatten, {linear: 8}, relu, {linear: 2}]\ntrain: {epochs: 2, seed: 0}\n';
const ROSTER = 'name,email\nAlice,alice@uni.example\nbob,bob@uni.example\n';
const PASSWORDS = { prof: 'prof-secret-1', alice: 'alice-secret-1' };
const HEX64 = /login\?link=[0-9a-f]{64}$/;

const S = { csp: [], pageErrors: [], runs: {}, links: {} };
const people = {}; // name → {ctx, page}
let browser = null;
let server = null;

function assert(cond, msg) {
	if (!cond) throw new Error(msg);
}

function usersCli(...args) {
	return execFileSync(BIN, ['users', ...args, '--workspace', workspace, '--public-url', S.base], { encoding: 'utf8' });
}

/* A request as `name` (their API token, or none), the way a script would send it. */
async function apiAs(token, method, path, body) {
	const init = { method, headers: token ? { Authorization: 'token ' + token } : {} };
	if (body !== undefined) {
		init.headers['Content-Type'] = 'application/json';
		init.body = JSON.stringify(body);
	}
	const r = await fetch(S.base + path, init);
	const text = await r.text();
	return { status: r.status, json: text ? JSON.parse(text) : null };
}

async function shot(page, name) {
	await page.evaluate(() => window.scrollTo(0, 0));
	await page.mouse.move(0, 0);
	await page.screenshot({ path: join(SHOTS, `classroom-${name}.png`), fullPage: true });
}

async function newPerson(name) {
	const ctx = await browser.newContext({ viewport: { width: 1360, height: 900 }, acceptDownloads: true });
	ctx.on('console', (m) => {
		if (/Content[ -]Security[ -]Policy/i.test(m.text())) S.csp.push(`${name}: ${m.text().slice(0, 300)}`);
	});
	// the directive and sample of a violation, printed beside the FAIL to help find what caused it
	await ctx.addInitScript(() => document.addEventListener('securitypolicyviolation', (e) => console.log('csp-detail', e.violatedDirective, e.sourceFile, e.lineNumber, e.sample)));
	ctx.on('console', (m) => m.text().startsWith('csp-detail') && console.error(`${name}: ${m.text()}`));
	const page = await ctx.newPage();
	page.on('pageerror', (e) => S.pageErrors.push(`${name}: ${e.message}`));
	page.on('dialog', (d) => (d.type() === 'beforeunload' ? d.accept() : d.dismiss()));
	people[name] = { ctx, page };
	return people[name];
}

/* Open a one-time link: the server's page names the person; its button logs them in. */
async function openLink(page, link, name) {
	await page.goto(link);
	const button = page.locator('button[type=submit]');
	await button.waitFor({ timeout: 15000 });
	const label = (await button.textContent()).trim();
	assert(label === `Log in as ${name}`, `the link's page offers "${label}", not "Log in as ${name}"`);
	await Promise.all([page.waitForNavigation({ timeout: 15000 }), button.click()]);
	await page.waitForSelector('h1:has-text("Workspace")', { timeout: 15000 });
	const who = await page.locator('header .account-name').textContent();
	assert(who === name, `the header names ${who}, not ${name}`);
}

/* The dialog that is open now. */
const dialog = (page) => page.locator('dialog[open]');

async function waitNotebookState(page, state, what) {
	await waitFor(() => page.evaluate((s) => {
		const p = window.trainbook.page;
		return p && p.state === s && !p.dirty && !p.saving;
	}, state), { timeout: 20000, what });
}

/* Rows of the workspace's runs table: [{id, owner}]. */
function workspaceRuns(page) {
	return page.$$eval('table.runs tbody tr[data-run]', (trs) => trs.map((tr) => ({ id: tr.dataset.run, owner: tr.querySelector('td.owner') ? tr.querySelector('td.owner').textContent : null })));
}

const cases = [
	{
		name: 'classroom: server starts with an instructor made on the command line',
		fn: async () => {
			const port = await freePort();
			S.base = `http://127.0.0.1:${port}/`;
			const added = usersCli('add', 'prof', '--instructor', '--email', 'prof@uni.example');
			S.links.prof = (added.match(/https?:\S+/) || [])[0];
			assert(S.links.prof && HEX64.test(S.links.prof), `trainbook users add printed no link: ${added}`);
			S.profToken = usersCli('token', 'prof').trim();
			server = await startServer({ bin: BIN, port, workspace, logPath: serverLog, args: ['--accounts'], probeToken: S.profToken });
			browser = await launchBrowser();
			for (const name of ['prof', 'alice', 'bob']) await newPerson(name);
			await people.prof.ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: S.base.replace(/\/$/, '') });
		},
	},
	{
		name: 'classroom: the instructor\'s link says "Log in as prof", works once, and the header names them',
		needs: ['classroom: server starts with an instructor made on the command line'],
		fn: async () => {
			const { page, ctx } = people.prof;
			await page.goto(S.links.prof);
			await page.locator('button[type=submit]').waitFor();
			await shot(page, 'link');
			await openLink(page, S.links.prof, 'prof');
			assert((await page.locator('header .account .badge').textContent()) === 'instructor', 'the header does not say instructor');
			await page.locator('nav a[href="#/users"]').waitFor();
			await page.locator('.notice-bar:has-text("no password yet")').waitFor();
			// the link is used up: opening it again says so (in a page of its own)
			const again = await ctx.newPage();
			try {
				await again.goto(S.links.prof);
				await again.locator('p.err:has-text("does not work")').waitFor({ timeout: 10000 });
				assert((await again.locator('button:has-text("Log in as")').count()) === 0, 'a used link still offers to log in');
			} finally {
				await again.close();
			}
		},
	},
	{
		name: 'classroom: the instructor sets a password from the nudge',
		needs: ['classroom: the instructor\'s link says "Log in as prof", works once, and the header names them'],
		fn: async () => {
			const { page } = people.prof;
			await page.locator('.notice-bar button', { hasText: 'Set a password' }).click();
			const dlg = dialog(page);
			assert((await dlg.locator('input[name=current]').count()) === 0, 'a link session is asked for a current password');
			await dlg.locator('input[name=password]').fill(PASSWORDS.prof);
			await dlg.locator('input[name=again]').fill(PASSWORDS.prof + 'x');
			await dlg.locator('button', { hasText: 'Save password' }).click();
			await dlg.locator('.dialog-error:has-text("differ")').waitFor();
			await dlg.locator('input[name=again]').fill(PASSWORDS.prof);
			await dlg.locator('button', { hasText: 'Save password' }).click();
			await waitFor(async () => (await page.locator('dialog[open]').count()) === 0, { what: 'the dialog to close' });
			await waitFor(async () => (await page.locator('.notice-bar').count()) === 0, { what: 'the nudge to go' });
			const r = await apiAs(null, 'POST', 'api/login', { name: 'prof', password: PASSWORDS.prof });
			assert(r.status === 200, `logging in with the new password: HTTP ${r.status}`);
		},
	},
	{
		name: 'classroom: a roster with a bad row adds nobody and the preview shows why on its line',
		needs: ['classroom: the instructor\'s link says "Log in as prof", works once, and the header names them'],
		fn: async () => {
			const { page } = people.prof;
			await page.goto(S.base + '#/users');
			await page.locator('table.roster tr[data-user=prof]').waitFor();
			await page.locator('.roster-drop input[type=file]').setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from('name,email\nalice,alice@uni.example\nNot A Name!,x@uni.example\n') });
			await page.locator('.roster-preview tr[data-line="3"]').waitFor();
			await page.locator('.roster-preview button', { hasText: 'Import 2 users' }).click();
			const bad = page.locator('.roster-preview tr.bad[data-line="3"] td.error');
			await bad.waitFor({ timeout: 10000 });
			assert((await bad.textContent()).length > 5, 'the bad row carries no reason');
			await page.locator('.roster-preview p.error:has-text("nobody was added")').waitFor();
			const preview = await page.locator('.roster-preview').innerText();
			assert(!/\bnull\b|undefined/.test(preview), `the preview shows stray text: ${preview}`);
			const users = (await apiAs(S.profToken, 'GET', 'api/users')).json.users.map((u) => u.name);
			assert(JSON.stringify(users) === '["prof"]', `a refused roster added users: ${users}`);
			await shot(page, 'roster-error');
			await page.locator('.roster-preview button', { hasText: 'Cancel' }).click();
		},
	},
	{
		name: 'classroom: importing the roster through the page gives one link each, to copy and download',
		needs: ['classroom: a roster with a bad row adds nobody and the preview shows why on its line'],
		fn: async () => {
			const { page } = people.prof;
			await page.locator('.roster-drop input[type=file]').setInputFiles({ name: 'roster.csv', mimeType: 'text/csv', buffer: Buffer.from(ROSTER) });
			await page.locator('.roster-preview:has-text("2 students, 0 instructors")').waitFor();
			await page.locator('.roster-preview button', { hasText: 'Import 2 users' }).click();
			await page.locator('section.links tr[data-user=bob] input.link').waitFor({ timeout: 15000 });
			for (const name of ['alice', 'bob']) {
				S.links[name] = await page.locator(`section.links tr[data-user=${name}] input.link`).inputValue();
				assert(S.links[name].startsWith(S.base) && HEX64.test(S.links[name]), `${name}'s link: ${S.links[name]}`);
			}
			const csv = `name,email,role,link\nalice,alice@uni.example,student,${S.links.alice}\nbob,bob@uni.example,student,${S.links.bob}\n`;
			await page.locator('section.links button', { hasText: 'Copy all' }).click();
			const copied = await waitFor(() => page.evaluate(() => navigator.clipboard.readText()).then((t) => (t.includes('bob') ? t : null)), { timeout: 5000, what: 'the clipboard' });
			assert(copied === csv, `Copy all gave ${JSON.stringify(copied)}`);
			const [download] = await Promise.all([page.waitForEvent('download'), page.locator('section.links button', { hasText: 'Download CSV' }).click()]);
			assert(download.suggestedFilename() === 'login-links.csv', `download named ${download.suggestedFilename()}`);
			const file = join(work, 'links.csv');
			await download.saveAs(file);
			assert(readFileSync(file, 'utf8') === csv, `the downloaded CSV differs: ${readFileSync(file, 'utf8')}`);
			for (const name of ['alice', 'bob']) await page.locator(`table.roster tr[data-user=${name}] .state-invited`).waitFor({ timeout: 10000 });
			assert(existsSync(join(workspace, 'users/alice')) && existsSync(join(workspace, 'users/bob')), 'no home folders for the students');
			await shot(page, 'users');
		},
	},
	{
		name: 'classroom: the instructor publishes a notebook by creating it in course/',
		needs: ['classroom: the instructor\'s link says "Log in as prof", works once, and the header names them'],
		fn: async () => {
			const { page } = people.prof;
			await page.goto(S.base + '#/');
			await page.locator('button', { hasText: 'New notebook' }).click();
			await dialog(page).locator('input').fill(COURSE_NB);
			await dialog(page).locator('button', { hasText: 'OK' }).click();
			await page.waitForSelector(`h1.nb-title:has-text("${COURSE_NB}")`, { timeout: 15000 });
			await waitNotebookState(page, 'saved', 'the new notebook to open');
			await page.locator('.run-cell .cm-content').first().click();
			await page.keyboard.press('Control+a');
			await page.keyboard.press('Backspace'); // CodeMirror's own delete: a browser-edited selection would carry style="…"
			await page.keyboard.insertText(SPEC);
			await page.keyboard.press('Escape');
			await page.locator('.run-cell table.layers').first().waitFor({ timeout: 15000 });
			await waitNotebookState(page, 'saved', 'the spec to be saved');
			const nb = JSON.parse(readFileSync(join(workspace, COURSE_NB), 'utf8'));
			const cell = nb.cells.find((c) => c.metadata.trainbook && c.metadata.trainbook.kind === 'run');
			assert([].concat(cell.source).join('') === SPEC, `the saved spec is ${JSON.stringify(cell.source)}`);
		},
	},
	{
		name: 'classroom: each student opens their link and finds course/ read-only, with Make a copy',
		needs: ['classroom: importing the roster through the page gives one link each, to copy and download', 'classroom: the instructor publishes a notebook by creating it in course/'],
		fn: async () => {
			for (const name of ['alice', 'bob']) {
				const { page } = people[name];
				await openLink(page, S.links[name], name);
				assert((await page.locator('header .account .badge').textContent()) === 'student', `${name} is not shown as a student`);
				assert((await page.locator('nav a[href="#/users"]').count()) === 0, `${name} sees the Users page`);
				const row = page.locator(`tr[data-path="${COURSE_NB}"]`);
				await row.waitFor({ timeout: 15000 });
				await row.locator('.badge.read-only').waitFor();
				assert(await row.locator('button', { hasText: 'Make a copy' }).count() === 1, 'no Make a copy button');
				assert(await row.locator('button', { hasText: /Rename|Delete/ }).count() === 0, 'a student may rename or delete course material');
				assert(await page.locator('table.notebooks th', { hasText: 'owner' }).count() === 0, 'a student sees an owner column');
				const paths = await page.$$eval('table.notebooks tr[data-path]', (trs) => trs.map((t) => t.dataset.path));
				assert(paths.every((p) => p.startsWith('course/') || p.startsWith(`users/${name}/`)), `${name} lists ${paths}`);
			}
			await shot(people.alice.page, 'student-workspace');
		},
	},
	{
		name: 'classroom: a student opening course material gets it read-only',
		needs: ['classroom: each student opens their link and finds course/ read-only, with Make a copy'],
		fn: async () => {
			const { page } = people.alice;
			await page.locator(`tr[data-path="${COURSE_NB}"] a.nb-link`).click();
			await page.locator('.banner.read-only:has-text("Course material")').waitFor({ timeout: 15000 });
			await waitNotebookState(page, 'readonly', 'the notebook to open read-only');
			await page.locator('.run-cell button[aria-label="run this cell"]').first().click();
			await page.locator('.toast.error:has-text("make a copy")').waitFor({ timeout: 5000 });
			assert((await apiAs(S.profToken, 'GET', 'api/runs')).json.runs.length === 0, 'a read-only notebook started a run');
		},
	},
	{
		name: 'classroom: each student makes a copy, which says where it came from, and runs it',
		needs: ['classroom: each student opens their link and finds course/ read-only, with Make a copy'],
		fn: async () => {
			for (const name of ['alice', 'bob']) {
				const { page } = people[name];
				await page.goto(S.base + '#/');
				await page.locator(`tr[data-path="${COURSE_NB}"] button`, { hasText: 'Make a copy' }).click();
				const copy = `users/${name}/week1.ipynb`;
				await page.waitForSelector(`h1.nb-title:has-text("${copy}")`, { timeout: 15000 });
				await page.locator(`.copied-from:has-text("Copied from ${COURSE_NB}")`).waitFor();
				await waitNotebookState(page, 'saved', 'the copy to open');
				const meta = JSON.parse(readFileSync(join(workspace, copy), 'utf8')).metadata.trainbook;
				assert(meta && meta.copied_from && meta.copied_from.path === COURSE_NB, `the copy's metadata: ${JSON.stringify(meta)}`);
				await page.locator('.run-cell button[aria-label="run this cell"]').first().click();
				const view = page.locator('.run-cell .run-view');
				await view.waitFor({ timeout: 15000 });
				S.runs[name] = await view.getAttribute('data-run');
				await view.locator('.run-status .badge:has-text("completed")').waitFor({ timeout: 120000 });
				const run = (await apiAs(S.profToken, 'GET', `api/runs/${S.runs[name]}`)).json.run;
				assert(run.owner === name && run.notebook === copy, `${S.runs[name]}: owner ${run.owner}, notebook ${run.notebook}`);
			}
			await shot(people.bob.page, 'student-copy');
		},
	},
	{
		name: 'classroom: neither student sees the other\'s run, in lists or by its URL',
		needs: ['classroom: each student makes a copy, which says where it came from, and runs it'],
		fn: async () => {
			for (const [name, other] of [['alice', 'bob'], ['bob', 'alice']]) {
				const { page } = people[name];
				await page.goto(S.base + '#/');
				await page.locator(`table.runs tr[data-run="${S.runs[name]}"]`).waitFor({ timeout: 15000 });
				const rows = await workspaceRuns(page);
				assert(rows.length === 1 && rows[0].owner === null, `${name}'s workspace lists runs ${JSON.stringify(rows)}`);
				await page.goto(S.base + '#/runs');
				await page.locator(`table.hparams tr[data-run="${S.runs[name]}"]`).waitFor({ timeout: 15000 });
				assert(await page.locator(`table.hparams tr[data-run="${S.runs[other]}"]`).count() === 0, `${name}'s Runs page lists ${other}'s run`);
				await page.goto(S.base + '#/runs?ids=' + S.runs[other]);
				await page.locator(`.run-missing:has-text("no run ${S.runs[other]}")`).waitFor({ timeout: 15000 });
				const legend = await page.locator('.run-legend').textContent();
				assert(!legend.includes(S.runs[other]) && await page.locator('.run-legend .legend-item').count() === 0, `${name} charts runs: ${legend}`);
				// the run's own page says the same, and shows nothing of it
				await page.goto(S.base + '#/run/' + S.runs[other]);
				await page.locator(`.run-missing:has-text("no run ${S.runs[other]}")`).waitFor({ timeout: 15000 });
				assert(await page.locator('.run-view, .run-spec').count() === 0, `${name} sees parts of ${other}'s run page`);
				const status = await page.evaluate((id) => fetch('api/runs/' + id).then((r) => r.status), S.runs[other]);
				assert(status === 404, `${name} GET api/runs/${S.runs[other]}: HTTP ${status}`);
				if (name === 'alice') await shot(page, 'student-not-found');
			}
		},
	},
	{
		name: 'classroom: the instructor sees both runs labelled by owner, and filters by owner',
		needs: ['classroom: each student makes a copy, which says where it came from, and runs it'],
		fn: async () => {
			const { page } = people.prof;
			await page.goto(S.base + '#/');
			await page.locator(`table.runs tr[data-run="${S.runs.bob}"]`).waitFor({ timeout: 15000 });
			const rows = await workspaceRuns(page);
			const owners = Object.fromEntries(rows.map((r) => [r.id, r.owner]));
			assert(owners[S.runs.alice] === 'alice' && owners[S.runs.bob] === 'bob', `owners in the runs table: ${JSON.stringify(rows)}`);
			const nbOwner = await page.locator('tr[data-path="users/alice/week1.ipynb"] td.owner').textContent();
			assert(nbOwner === 'alice', `alice's copy is labelled ${nbOwner}`);
			await shot(page, 'instructor-workspace');
			await page.locator('select[aria-label="show the runs of"]').selectOption('alice');
			await waitFor(async () => {
				const r = await workspaceRuns(page);
				return r.length === 1 && r[0].id === S.runs.alice;
			}, { what: 'the runs table to show alice\'s run only' });
			await page.locator('select[aria-label="show the notebooks of"]').selectOption('bob');
			await waitFor(async () => {
				const paths = await page.$$eval('table.notebooks tr[data-path]', (trs) => trs.map((t) => t.dataset.path));
				return paths.length === 1 && paths[0] === 'users/bob/week1.ipynb';
			}, { what: 'the notebooks of bob only' });
			await page.goto(S.base + '#/runs?ids=' + S.runs.alice + ',' + S.runs.bob);
			for (const name of ['alice', 'bob']) {
				const owner = await page.locator(`table.hparams tr[data-run="${S.runs[name]}"] td.owner`).textContent({ timeout: 15000 });
				assert(owner.trim() === name, `the Runs page labels ${S.runs[name]} as ${owner}`);
			}
			for (const name of ['alice', 'bob']) await page.locator('.run-legend .legend-item', { hasText: `${S.runs[name]} · ${name}` }).waitFor({ timeout: 15000 });
			assert(await page.locator('.run-missing').count() === 0, 'the instructor is told a run is missing');
			await page.locator('.runs-table-panel select[aria-label="show the runs of"]').selectOption('bob');
			await waitFor(async () => {
				const ids = await page.$$eval('table.hparams tbody tr[data-run]', (trs) => trs.map((t) => t.dataset.run));
				return ids.length === 1 && ids[0] === S.runs.bob;
			}, { what: 'the Runs table to show bob\'s run only' });
			await shot(page, 'instructor-runs');
			// a student's run page, opened by the instructor, names its owner
			await page.goto(S.base + '#/run/' + S.runs.alice);
			await page.locator('.run-meta .run-owner:has-text("alice")').waitFor({ timeout: 15000 });
			await page.locator(`.run-view[data-run="${S.runs.alice}"]`).waitFor({ timeout: 15000 });
		},
	},
	{
		name: 'classroom: an API token is shown once with a copy button, listed, works, and is revoked',
		needs: ['classroom: each student opens their link and finds course/ read-only, with Make a copy'],
		fn: async () => {
			const { page } = people.alice;
			await page.goto(S.base + '#/');
			await page.locator('header .account-button').click();
			await page.locator('.menu button', { hasText: 'API tokens' }).click();
			const dlg = dialog(page);
			await dlg.locator('input[name=token-name]').fill('laptop');
			await dlg.locator('button', { hasText: 'New token' }).click();
			const secret = await dlg.locator('input.secret').inputValue({ timeout: 10000 });
			assert(/^[0-9a-f]{64}$/.test(secret), `the token shown: ${secret}`);
			await dlg.locator('.token-fresh button', { hasText: 'Copy' }).waitFor();
			await dlg.locator('tr[data-token] td', { hasText: 'laptop' }).waitFor();
			await shot(page, 'tokens');
			const me = await apiAs(secret, 'GET', 'api/me');
			assert(me.status === 200 && me.json.name === 'alice' && me.json.via === 'token', `GET api/me with the token: ${me.status} ${JSON.stringify(me.json)}`);
			await dlg.locator('button', { hasText: 'Revoke' }).click();
			await page.locator('dialog[open] button', { hasText: 'Revoke' }).last().click(); // the confirmation
			await dlg.locator('tr[data-token] td:has-text("revoked")').waitFor({ timeout: 10000 });
			assert((await apiAs(secret, 'GET', 'api/me')).status === 401, 'a revoked token still works');
			await dlg.locator('button', { hasText: 'Close' }).click();
		},
	},
	{
		name: 'classroom: a reset ends the student\'s session, the page asks to log in, the new link works',
		needs: ['classroom: importing the roster through the page gives one link each, to copy and download', 'classroom: each student opens their link and finds course/ read-only, with Make a copy'],
		fn: async () => {
			const prof = people.prof.page;
			await prof.goto(S.base + '#/users');
			await prof.locator('button[aria-label="reset the login of bob"]').click();
			await dialog(prof).locator('button', { hasText: 'Reset' }).click();
			const input = prof.locator('section.links tr[data-user=bob] input.link');
			await waitFor(async () => (await input.inputValue()) !== S.links.bob, { what: 'a new link for bob' });
			await prof.locator('section.links tr[data-user=bob] td', { hasText: 'reset' }).waitFor();
			const fresh = await input.inputValue();
			assert(HEX64.test(fresh), `bob's new link: ${fresh}`);
			const bob = people.bob.page;
			await bob.evaluate(() => (location.hash = '#/runs'));
			await bob.locator('.login.accounts .notice:has-text("session has ended")').waitFor({ timeout: 15000 });
			await openLink(bob, fresh, 'bob');
		},
	},
	{
		name: 'classroom: the instructor edits e-mail and role, ends sessions, and deletes (archives) a user',
		needs: ['classroom: a reset ends the student\'s session, the page asks to log in, the new link works'],
		fn: async () => {
			const prof = people.prof.page;
			await prof.locator('button[aria-label="edit bob"]').click();
			await dialog(prof).locator('input[name=email]').fill('robert@uni.example');
			await dialog(prof).locator('select[name=role]').selectOption('instructor');
			await dialog(prof).locator('button', { hasText: 'Save' }).click();
			await prof.locator('table.roster tr[data-user=bob] .badge.role-instructor').waitFor({ timeout: 10000 });
			await prof.locator('table.roster tr[data-user=bob] td', { hasText: 'robert@uni.example' }).waitFor();
			let bob = (await apiAs(S.profToken, 'GET', 'api/users/bob')).json.user;
			assert(bob.role === 'instructor' && bob.email === 'robert@uni.example', `bob after the edit: ${JSON.stringify(bob)}`);
			await prof.locator('button[aria-label="edit bob"]').click();
			await dialog(prof).locator('select[name=role]').selectOption('student');
			await dialog(prof).locator('button', { hasText: 'Save' }).click();
			await prof.locator('table.roster tr[data-user=bob] .badge.role-student').waitFor({ timeout: 10000 });
			// end alice's sessions: her page falls back to the login form at its next request
			await prof.locator('button[aria-label="end the sessions of alice"]').click();
			await dialog(prof).locator('button', { hasText: 'End sessions' }).click();
			await prof.locator('.toast:has-text("alice: 1 session ended")').waitFor({ timeout: 10000 });
			const alice = people.alice.page;
			await alice.evaluate(() => (location.hash = '#/runs'));
			await alice.locator('.login.accounts').waitFor({ timeout: 15000 });
			// delete bob: the confirmation says the account is archived
			await prof.locator('button[aria-label="delete bob"]').click();
			const text = await dialog(prof).locator('p').textContent();
			assert(/archived/.test(text) && text.includes('archive/bob/'), `the delete confirmation says: ${text}`);
			await shot(prof, 'delete-confirm');
			await dialog(prof).locator('button', { hasText: 'Delete (archive)' }).click();
			await waitFor(async () => (await prof.locator('table.roster tr[data-user=bob]').count()) === 0, { what: 'bob to leave the roster' });
			await prof.locator('label.check', { hasText: 'show archived' }).locator('input').check();
			await prof.locator('table.roster tr.archived[data-user=bob] .state-archived').waitFor();
			bob = (await apiAs(S.profToken, 'GET', 'api/users')).json.users.find((u) => u.name === 'bob');
			assert(bob.archived, 'bob is not archived');
			assert(existsSync(join(workspace, 'archive/bob/week1.ipynb')), 'bob\'s home did not move to archive/bob/');
		},
	},
	{
		name: 'classroom: the login form refuses a wrong password, logs in with the right one, and logs out',
		needs: ['classroom: the instructor edits e-mail and role, ends sessions, and deletes (archives) a user'],
		fn: async () => {
			const { page } = people.alice;
			// alice has no password yet and her sessions were ended: a new link (here from the shell) lets her set one
			const link = usersCli('link', 'alice').match(/https?:\S+/)[0];
			await openLink(page, link, 'alice');
			await page.locator('.notice-bar button', { hasText: 'Set a password' }).click();
			await dialog(page).locator('input[name=password]').fill(PASSWORDS.alice);
			await dialog(page).locator('input[name=again]').fill(PASSWORDS.alice);
			await dialog(page).locator('button', { hasText: 'Save password' }).click();
			await waitFor(async () => (await page.locator('.notice-bar').count()) === 0, { what: 'the nudge to go' });
			await page.locator('header .account-button').click();
			await page.locator('.menu button', { hasText: 'Log out' }).click();
			await page.locator('.login.accounts .notice:has-text("logged out")').waitFor({ timeout: 10000 });
			await page.locator('#login-name').fill('alice');
			await page.locator('#login-password').fill('not-her-password');
			await page.locator('#login-password').press('Enter');
			await page.locator('.login .error:has-text("Wrong name or password")').waitFor({ timeout: 10000 });
			await shot(page, 'login-wrong');
			await page.locator('#login-password').fill(PASSWORDS.alice);
			await Promise.all([page.waitForNavigation({ timeout: 15000 }), page.locator('#login-password').press('Enter')]);
			await page.waitForSelector('h1:has-text("Workspace")', { timeout: 15000 });
			assert((await page.locator('header .account-name').textContent()) === 'alice', 'not logged in as alice');
			// a password login is no link login: changing the password asks for the current one
			await page.locator('header .account-button').click();
			await page.locator('.menu button', { hasText: 'Change password' }).click();
			await dialog(page).locator('input[name=current]').waitFor();
			await dialog(page).locator('button', { hasText: 'Cancel' }).click();
		},
	},
	{
		name: 'classroom: wrong passwords are throttled: the form says how long to wait, then lets her in',
		needs: ['classroom: the login form refuses a wrong password, logs in with the right one, and logs out'],
		fn: async () => {
			const { page } = people.alice;
			await page.locator('header .account-button').click();
			await page.locator('.menu button', { hasText: 'Log out' }).click();
			await page.locator('#login-name').fill('alice');
			const err = page.locator('.login .error');
			let said = '';
			for (let i = 0; i < 15 && !/too many/i.test(said); i++) {
				await page.locator('#login-password').fill('wrong-' + i);
				await page.locator('.login button[type=submit]').click();
				await waitFor(async () => ((said = await err.textContent()) ? said : null), { timeout: 10000, what: 'an answer' });
				if (!/too many/i.test(said)) await err.evaluate((el) => (el.textContent = ''));
			}
			assert(/^Too many wrong passwords (for this account|from your address): try again in \d+ s\.$/.test(said), `the throttle says: ${said}`);
			const button = page.locator('.login button[type=submit]');
			assert(await button.isDisabled(), 'the button stays on while throttled');
			assert(/wait \d+ s/.test(await button.textContent()), `the button says ${await button.textContent()}`);
			await shot(page, 'login-throttled');
			await waitFor(() => button.isEnabled(), { timeout: 30000, what: 'the wait to pass' });
			await page.locator('#login-password').fill(PASSWORDS.alice);
			await Promise.all([page.waitForNavigation({ timeout: 15000 }), button.click()]);
			await page.waitForSelector('header .account-name:has-text("alice")', { timeout: 15000 });
		},
	},
	noPageErrorsCase('classroom: the pages raised no uncaught errors', S, ['classroom: server starts with an instructor made on the command line']),
];

await runSuite(cases, {
	S, serverLog, live: () => browser,
	onFail: async (c) => {
		for (const [name, p] of Object.entries(people))
			await failureShot(p.page, `failed-classroom-${name}-`, c.name.replace(/^classroom: /, ''));
	},
	cleanup: () => cleanUp(browser, server, work),
});
