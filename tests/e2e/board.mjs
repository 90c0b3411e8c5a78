// tests/e2e/board.mjs — the instructor board (#/board) in a real browser
// (issue 14): a classroom server (--accounts) with two CPU slots and three
// students, each running the bench's stand-in worker (loss and accuracy 10
// times a second, stamped with the time they were made). The instructor's
// board must show all three runs and keep them live: steps and sparklines
// move, the third run waits with its place and reason, filters and sorts
// work, a row opens the run's own view, and stop, extend and kill act on the
// run; the limits panel sets a student's override and a lab session.
// Screenshots go to tests/e2e/screenshots/board-*.png. One PASS/FAIL
// line per case; any Content-Security-Policy violation fails its case.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, BIN, SHOTS, e2ePlaces, failureShot, cleanUp, freePort, waitFor, sleep, launchChromium, startServer, runSuite, noPageErrorsCase } from './lib.mjs';

const { work, workspace, serverLog } = e2ePlaces('board');
const STUDENTS = ['s1', 's2', 's3'];
const PASSWORD = 'board-prof-secret';
/* 6000 events at 10 a second: each run trains ten minutes unless stopped. */
const SPEC = '# bench: events=6000 rate=10 delay=0\n' +
	'data: {dataset: synthetic, shape: [1,4,4], classes: 2, train_size: 64, test_size: 16, batch_size: 8}\n' +
	'model: [flatten, {linear: 8}, relu, {linear: 2}]\ntrain: {epochs: 2, device: cpu}\n';

const S = { csp: [], pageErrors: [], runs: {}, tokens: {} };
let ctx = null;
let server = null;

function assert(cond, msg) {
	if (!cond) throw new Error(msg);
}

const users = (...args) => execFileSync(BIN, ['users', ...args, '--workspace', workspace], { encoding: 'utf8' }).trim();

async function api(token, method, path, body) {
	const init = { method, headers: { Authorization: 'token ' + token } };
	if (body !== undefined) {
		init.headers['Content-Type'] = 'application/json';
		init.body = JSON.stringify(body);
	}
	const r = await fetch(S.base + path, init);
	const text = await r.text();
	if (!r.ok) throw new Error(`${method} ${path}: HTTP ${r.status} ${text.slice(0, 200)}`);
	return text ? JSON.parse(text) : null;
}

/* The board's row of run `id`: its cells' text. */
function rowText(page, id) {
	return page.evaluate((rid) => {
		const tr = document.querySelector(`table.board tr[data-run="${rid}"]`);
		if (!tr) return null;
		const cells = [...tr.children].map((td) => td.innerText.trim());
		return { student: cells[0], run: cells[1], status: cells[3], progress: cells[4], loss: cells[5], acc: cells[6], time: cells[9] };
	}, id);
}

const shownRuns = (page) => page.$$eval('table.board tbody tr', (trs) => trs.map((tr) => tr.dataset.run));

const cases = [
	{
		name: 'server starts with three students and an instructor',
		fn: async () => {
			const port = await freePort();
			S.base = `http://127.0.0.1:${port}/`;
			users('add', 'prof', '--instructor');
			execFileSync(BIN, ['users', 'password', 'prof', '--workspace', workspace], { input: PASSWORD + '\n' });
			for (const s of STUDENTS) {
				users('add', s);
				S.tokens[s] = users('token', s);
			}
			S.tokens.prof = users('token', 'prof');
			const conf = join(work, 'trainbook.conf');
			writeFileSync(conf, 'quota-student-max-run-seconds = 10m\n');
			server = await startServer({ bin: BIN, port, workspace, logPath: serverLog, probeToken: S.tokens.prof,
				args: ['--accounts', '--cpu-runs', '2', '--config', conf], env: { TRAINBOOK_WORKER_CMD: join(ROOT, 'tests/bench/bench_worker.py') } });
		},
	},
	{
		name: 'the instructor opens the board: every student\'s run, live, the third one queued with its reason',
		needs: ['server starts with three students and an instructor'],
		fn: async () => {
			for (const s of STUDENTS) {
				S.runs[s] = (await api(S.tokens[s], 'POST', 'api/runs', { spec: SPEC, name: `${s}-mlp` })).run.id;
				await sleep(300); /* in this order: two start, the third waits */
			}
			const login = await fetch(S.base + 'api/login', { method: 'POST', headers: { 'Content-Type': 'application/json' },
				body: JSON.stringify({ name: 'prof', password: PASSWORD }) });
			assert(login.ok, `login: HTTP ${login.status}`);
			const [name, value] = login.headers.get('set-cookie').split(';')[0].split('=');
			ctx = await launchChromium(join(work, 'profile'));
			await ctx.addCookies([{ name, value, domain: '127.0.0.1', path: '/', httpOnly: true, sameSite: 'Strict' }]);
			const page = ctx.pages()[0] || (await ctx.newPage());
			S.page = page;
			page.on('pageerror', (e) => S.pageErrors.push(e.message));
			ctx.on('console', (m) => {
				if (/Content[ -]Security[ -]Policy/i.test(m.text())) S.csp.push(m.text().slice(0, 300));
			});
			await page.goto(S.base + '#/board');
			await page.locator('nav a[data-route=board]:not([hidden])').waitFor({ timeout: 15000 });
			for (const s of STUDENTS) await page.locator(`table.board tr[data-run="${S.runs[s]}"]`).waitFor({ timeout: 15000 });
			const rows = await Promise.all(STUDENTS.map((s) => rowText(page, S.runs[s])));
			rows.forEach((r, i) => assert(r.student.startsWith(STUDENTS[i]), `row of ${S.runs[STUDENTS[i]]} names ${r.student}`));
			const queued = await waitFor(async () => {
				const r = await rowText(page, S.runs.s3);
				return /queued/.test(r.status) && /#1/.test(r.status) ? r : false;
			}, { timeout: 15000, what: 'the third run queued with its place' });
			assert(/next in line; the CPU runs 2 of 2 at once/.test(queued.status), `reason: ${queued.status}`);
			// Live: each running row's step and loss move, several times, without a reload.
			const first = await Promise.all(['s1', 's2'].map((s) => rowText(page, S.runs[s])));
			await sleep(3000);
			const later = await Promise.all(['s1', 's2'].map((s) => rowText(page, S.runs[s])));
			for (let i = 0; i < 2; i++) {
				assert(later[i].loss !== first[i].loss && later[i].acc !== first[i].acc, `row ${i} did not update: ${JSON.stringify([first[i], later[i]])}`);
				assert(/running/.test(later[i].status), `status ${later[i].status}`);
			}
			const sparks = await page.$$eval(`table.board tr[data-run="${S.runs.s1}"] canvas.spark`, (cs) => cs.length);
			assert(sparks === 2, `${sparks} sparklines in a row`);
			const lag = await page.evaluate(() => window.trainbook.debug.boardLag.slice());
			assert(lag.length >= 4, `only ${lag.length} drawn updates with points`);
			await page.screenshot({ path: join(SHOTS, 'board-live.png'), fullPage: true });
		},
	},
	{
		name: 'filter by student or notebook, sort by progress, open a run\'s own page (owner, place in line, kill)',
		needs: ['the instructor opens the board: every student\'s run, live, the third one queued with its reason'],
		fn: async () => {
			const page = S.page;
			await page.fill('.board-controls input[type=search]', 's2');
			await waitFor(async () => (await shownRuns(page)).join() === S.runs.s2, { what: 'only s2\'s run' });
			await page.fill('.board-controls input[type=search]', '');
			await page.selectOption('.board-controls select[aria-label="sort by"]', 'progress');
			await waitFor(async () => (await shownRuns(page)).at(-1) === S.runs.s3, { what: 'the queued run last by progress' });
			await page.click(`table.board tr[data-run="${S.runs.s1}"] a`);
			await page.waitForURL(new RegExp(`#/run/${S.runs.s1}$`));
			await page.locator(`.run-view[data-run="${S.runs.s1}"] .badge.status-running`).waitFor({ timeout: 15000 });
			await page.locator('.run-meta .run-owner', { hasText: 'owner s1' }).waitFor({ timeout: 15000 });
			await page.locator(`.run-meta button[aria-label="kill ${S.runs.s1}"]`).waitFor();
			await page.goBack();
			await page.locator('table.board').waitFor();
			// The queued run's own page: its place in line and why it waits, and Kill.
			await page.click(`table.board tr[data-run="${S.runs.s3}"] a`);
			await page.waitForURL(new RegExp(`#/run/${S.runs.s3}$`));
			const wait = page.locator(`.run-view[data-run="${S.runs.s3}"] .run-message.queue`);
			await wait.waitFor({ timeout: 15000 });
			const text = await wait.textContent();
			assert(/^Waiting: next in line; the CPU runs 2 of 2 at once/.test(text), `wait message: ${text}`);
			// Its place is said once, in the progress line, not again in the message.
			const progress = await page.locator(`.run-view[data-run="${S.runs.s3}"] .progress-text`).textContent();
			assert(!/place \d+ in line/.test(text) && /next to start|ahead of it/.test(progress), `progress: ${progress}, message: ${text}`);
			await page.locator(`.run-meta button[aria-label="kill ${S.runs.s3}"]`).waitFor();
			await page.goBack();
			await page.locator('table.board').waitFor();
		},
	},
	{
		name: 'stop from the board starts the queued run; extend raises a limit; kill ends a run without a checkpoint',
		needs: ['filter by student or notebook, sort by progress, open a run\'s own page (owner, place in line, kill)'],
		fn: async () => {
			const page = S.page;
			await page.click(`table.board tr[data-run="${S.runs.s1}"] button[aria-label="stop ${S.runs.s1}"]`);
			await waitFor(async () => /stopped/.test((await rowText(page, S.runs.s1)).status), { timeout: 30000, what: 'the stopped row' });
			await waitFor(async () => /running/.test((await rowText(page, S.runs.s3)).status), { timeout: 30000, what: 'the queued run to start' });
			// Extend s2's run by 30 minutes (the dialog's default).
			await page.click(`table.board tr[data-run="${S.runs.s2}"] button[aria-label="extend ${S.runs.s2}"]`);
			await page.locator('dialog.modal button[value=ok]').click();
			await waitFor(async () => (await api(S.tokens.prof, 'GET', `api/runs/${S.runs.s2}`)).run.duration_limit === 2400,
				{ what: 'the new limit' });
			await waitFor(async () => /\/ 40:00/.test((await rowText(page, S.runs.s2)).time), { what: 'the row to show 40 min' });
			// Kill s3's run: confirm, then it is stopped, saying who ended it.
			await page.click(`table.board tr[data-run="${S.runs.s3}"] button[aria-label="kill ${S.runs.s3}"]`);
			await page.locator('dialog.modal button[value=ok]').click();
			const r = await waitFor(async () => {
				const run = (await api(S.tokens.prof, 'GET', `api/runs/${S.runs.s3}`)).run;
				return run.status === 'stopped' ? run : false;
			}, { timeout: 30000, what: 'the killed run' });
			assert(r.reason === 'killed by prof (no checkpoint was written)', `reason: ${r.reason}`);
			await waitFor(async () => /killed by prof/.test((await rowText(page, S.runs.s3)).status), { what: 'the reason on the board' });
			await page.screenshot({ path: join(SHOTS, 'board-after.png'), fullPage: true });
		},
	},
	{
		name: 'limits and lab sessions from the board: a user\'s override refuses their next run; a session is saved',
		needs: ['the instructor opens the board: every student\'s run, live, the third one queued with its reason'],
		fn: async () => {
			const page = S.page;
			await page.click('details.limits summary');
			await page.selectOption('details.limits select[aria-label="limits of"]', 'user:s2');
			// A bad value is named in the panel and nothing is sent.
			await page.fill('details.limits input[name=queued_runs]', 'lots');
			await page.click('details.limits button:has-text("Save limits")');
			await page.getByText('runs waiting: expected a number of runs or "none", got "lots"').waitFor({ timeout: 5000 });
			assert(Object.keys((await api(S.tokens.prof, 'GET', 'api/quotas')).users.find((u) => u.user === 's2').override).length === 0,
				'a bad form changed the override');
			await page.fill('details.limits input[name=queued_runs]', '0');
			await page.fill('details.limits input[name=max_run_seconds]', '1h30m');
			await page.click('details.limits button:has-text("Save limits")');
			await waitFor(async () => {
				const u = (await api(S.tokens.prof, 'GET', 'api/quotas')).users.find((x) => x.user === 's2');
				return u.override.queued_runs === 0 && u.limits.max_run_seconds === 5400;
			}, { what: 's2\'s override stored' });
			const refused = await fetch(S.base + 'api/runs', { method: 'POST', headers: { Authorization: 'token ' + S.tokens.s2, 'Content-Type': 'application/json' },
				body: JSON.stringify({ spec: SPEC }) });
			const body = await refused.json();
			assert(refused.status === 429 && body.error === 'quota' && /queued runs/.test(body.message), `s2's run: ${refused.status} ${JSON.stringify(body)}`);
			// Cleared again: an all-blank form.
			await page.fill('details.limits input[name=queued_runs]', '');
			await page.fill('details.limits input[name=max_run_seconds]', '');
			await page.click('details.limits button:has-text("Save limits")');
			await waitFor(async () => Object.keys((await api(S.tokens.prof, 'GET', 'api/quotas')).users.find((u) => u.user === 's2').override).length === 0,
				{ what: 's2\'s override cleared' });
			// A lab session: added, saved, read back by the API.
			await page.click('details.limits button:has-text("Add a session")');
			const row = page.locator('details.limits tr.session').last();
			await row.locator('select[aria-label=day]').selectOption('thu');
			await row.locator('input[aria-label=from]').fill('09:00');
			await row.locator('input[aria-label=to]').fill('11:00');
			await row.locator('select[aria-label=mode]').selectOption('exclusive');
			await row.locator('input[aria-label=students]').fill('s1, s3');
			await page.click('details.limits button:has-text("Save sessions")');
			await waitFor(async () => {
				const l = await api(S.tokens.prof, 'GET', 'api/lab-sessions');
				return l.sessions.some((x) => x.day === 'thu' && x.start === '09:00' && x.end === '11:00' && x.mode === 'exclusive' &&
					x.users.join() === 's1,s3' && x.source === 'instructor');
			}, { what: 'the lab session stored' });
			await page.screenshot({ path: join(SHOTS, 'board-limits.png'), fullPage: true });
		},
	},
	noPageErrorsCase('the page raised no uncaught errors', S, ['server starts with three students and an instructor']),
];

await runSuite(cases, {
	S, serverLog, live: () => ctx,
	onFail: (c) => failureShot(S.page, 'board-failed-', c.name),
	cleanup: () => cleanUp(ctx, server, work),
});
