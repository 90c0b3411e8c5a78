// tests/e2e/sweep.mjs — a sweep in a real browser (issue 17): a notebook's run
// cell with a sweep: section of 4 trials is run from the page; the cell links
// to the sweep view, which fills as the trials run — the trials table gets
// runs, statuses and metric values, the best-so-far line appears, the ASHA
// rung chart gets a point per trial and marks the stopped ones — and ends
// showing what GET /api/sweeps/<id> says. One PASS/FAIL line per case.
import { join } from 'node:path';
import { BIN, SHOTS, e2ePlaces, randomToken, failureShot, cleanUp, freePort, startServer, apiClient, waitFor, runCases, sleep, launchChromium, logTail } from './lib.mjs';
import { sweepSpec } from '../lib/sweep-spec.mjs';

const TOKEN = randomToken();
const { work, workspace, serverLog } = e2ePlaces('sweep');
const NB = 'sweep.ipynb';

// Two good learning rates first, then two that learn nothing: ASHA stops those at epoch 1.
// 64k samples: each trial trains for seconds, so the view is seen with live trials even on a fast machine.
const SPEC = sweepSpec({ lrs: ['0.5', '0.3', '1.0e-7', '2.0e-7'], trainSize: 65536 });
const notebook = JSON.stringify({
	cells: [{ id: 'sweep', cell_type: 'code', metadata: { trainbook: { kind: 'run' } }, source: SPEC, outputs: [], execution_count: null }],
	metadata: {}, nbformat: 4, nbformat_minor: 5,
});

const S = { pageErrors: [] };
let ctx = null;
let server = null;

function assert(cond, msg) {
	if (!cond) throw new Error(msg);
}

/* What the sweep view shows: the table's rows, the best line, the chart's points. */
const viewed = (page) => page.evaluate(() => ({
	rows: [...document.querySelectorAll('table.sweep-trials tbody tr')].map((tr) => [...tr.children].map((td) => td.textContent.trim())),
	best: document.querySelector('.sweep-best')?.textContent || '',
	points: document.querySelectorAll('svg.rung-chart circle.rung-point').length,
	stopped: [...document.querySelectorAll('svg.rung-chart circle.rung-point.stopped')].map((c) => Number(c.dataset.trial)),
	status: document.querySelector('section[aria-label=sweep] .badge')?.textContent || '',
}));

const cases = [
	{
		name: 'server starts and the page opens',
		fn: async () => {
			const port = await freePort();
			server = await startServer({ bin: BIN, port, workspace, token: TOKEN, logPath: serverLog, args: ['--cpu-runs', '2'] });
			S.base = server.base;
			S.api = apiClient(S.base, TOKEN);
			await S.api.post('api/notebooks', { path: NB, content: notebook });
			ctx = await launchChromium(join(work, 'chromium-profile'));
			S.page = ctx.pages()[0] || (await ctx.newPage());
			S.page.on('pageerror', (e) => S.pageErrors.push(e.message));
			S.page.on('dialog', (d) => (d.type() === 'beforeunload' ? d.accept() : d.dismiss()));
			await S.page.goto(S.base + '?token=' + TOKEN);
			await S.page.waitForSelector(`tr[data-path="${NB}"]`, { timeout: 15000 });
		},
	},
	{
		name: 'running a cell with a sweep: section starts a sweep and links to its view',
		needs: ['server starts and the page opens'],
		fn: async () => {
			const page = S.page;
			await page.locator(`tr[data-path="${NB}"] a.nb-link`).click();
			await page.waitForSelector('.run-cell');
			await page.locator('.run-cell button', { hasText: 'Run' }).first().click();
			const link = page.locator('.run-cell p.sweep-link a');
			await link.waitFor({ timeout: 15000 });
			S.sweep = (await link.textContent()).trim();
			assert(/^s\d+$/.test(S.sweep), `link text ${S.sweep}`);
			await link.click();
			await page.waitForSelector('table.sweep-trials tbody tr', { timeout: 15000 });
			const v = await viewed(page);
			S.seen = new Set(v.rows.map((r) => r[3]));
			assert(v.rows.length === 4, `${v.rows.length} trial rows`);
			assert(v.rows.map((r) => r[1]).join() === '0.5,0.3,1.0e-7,2.0e-7', `values ${v.rows.map((r) => r[1])}`);
		},
	},
	{
		name: 'the sweep view fills as the trials run: statuses, metrics, best so far, rung chart',
		needs: ['running a cell with a sweep: section starts a sweep and links to its view'],
		fn: async () => {
			const page = S.page;
			const seen = S.seen;
			// Part way: a trial with a metric and a best-so-far line before the sweep has ended.
			await waitFor(async () => {
				const v = await viewed(page);
				for (const r of v.rows) seen.add(r[3]);
				return v.best.startsWith('best validation.accuracy') && v.status === 'running';
			}, { timeout: 120000, what: 'a best-so-far line while the sweep runs' }).catch(() => {}); // a fast machine may finish first
			const done = await waitFor(async () => {
				const v = await viewed(page);
				for (const r of v.rows) seen.add(r[3]);
				return v.status === 'completed' && v.points >= 4 && v;
			}, { timeout: 240000, what: 'the sweep to complete in the view' });
			assert(seen.has('running') || seen.has('queued'), `the view never showed a live trial: ${[...seen]}`);
			const api = (await S.api.get(`api/sweeps/${S.sweep}`)).sweep;
			// The page shows what the server says, trial by trial.
			for (const t of api.trial_list) {
				const row = done.rows[t.trial - 1];
				assert(row[2] === t.run && row[3] === t.status, `trial ${t.trial}: page ${row}, api ${t.run} ${t.status}`);
				assert(row[6] === (t.asha_stopped_at ? `stopped at epoch ${t.asha_stopped_at}` : ''), `trial ${t.trial} ASHA: ${row[6]}`);
			}
			// The rung chart marks exactly the trials the server stopped: the two bad rates at least
			// (the two good ones run side by side, and one may lose the rung to the other: that is
			// ASHA), never both good ones.
			const stopped = api.trial_list.filter((t) => t.asha_stopped_at).map((t) => t.trial).join();
			assert(done.stopped.sort().join() === stopped, `stopped points ${done.stopped}, the server stopped ${stopped}`);
			assert(/3,4$/.test(stopped) && !stopped.startsWith('1,2'), `the server stopped trials ${stopped}`);
			assert(done.best.includes(`trial ${api.best.trial}: optimizer.lr=${api.best.values[0]}`), `best line ${done.best}`);
			// The trials' parallel coordinates: brushing the metric axis's top keeps the best trials' rows.
			const box = await page.locator('section[aria-label=trials] canvas.parcoords-canvas').boundingBox();
			assert(box && box.width > 100, 'no parallel coordinates of the trials');
			const kept = await page.evaluate(() => {
				window.trainbook.page.pc.setBrush('metric', [0.5, 1]); // the upper half of the metric's axis
				return [...document.querySelectorAll('table.sweep-trials tbody tr')].filter((tr) => !tr.hidden).map((tr) => tr.dataset.trial);
			});
			assert(kept.length >= 1 && kept.length < 4 && kept.includes(String(api.best.trial)), `rows kept by the brush: ${kept}`);
			await page.evaluate(() => window.scrollTo(0, 0));
			await page.screenshot({ path: join(SHOTS, 'sweep.png'), fullPage: true });
		},
	},
	{
		name: 'the sweeps list shows the sweep with its best trial',
		needs: ['the sweep view fills as the trials run: statuses, metrics, best so far, rung chart'],
		fn: async () => {
			const page = S.page;
			await page.locator('nav a', { hasText: 'Sweeps' }).click();
			const row = page.locator('table.list tbody tr', { hasText: S.sweep });
			await row.waitFor({ timeout: 10000 });
			const text = await row.innerText();
			assert(/completed/.test(text) && /4 \/ 4/.test(text) && /trial [12]\)/.test(text), `row: ${text}`);
		},
	},
	{
		name: 'back in the notebook, after a reload too, the cell still links to its sweep and says how it ended',
		needs: ['the sweeps list shows the sweep with its best trial'],
		fn: async () => {
			const page = S.page;
			for (const reload of [false, true]) {
				await page.goto(`${S.base}#/nb/${NB}`);
				if (reload) await page.reload();
				const line = page.locator('.run-cell p.sweep-link');
				await waitFor(async () => /completed, 4 of 4 trials done/.test((await line.textContent().catch(() => '')) || ''),
					{ timeout: 15000, what: `the cell's sweep line${reload ? ' after a reload' : ''}` });
				assert((await line.locator('a').textContent()).trim() === S.sweep, `the link names ${await line.locator('a').textContent()}`);
			}
			const nb = await S.api.get(`api/notebooks/${NB}`);
			const meta = (nb.content || nb).cells[0].metadata.trainbook;
			assert(meta.sweep_id === S.sweep && !meta.run_id, `saved metadata ${JSON.stringify(meta)}`);
		},
	},
	{
		name: 'the page raised no uncaught errors',
		needs: ['server starts and the page opens'],
		fn: async () => {
			assert(S.pageErrors.length === 0, `uncaught errors: ${S.pageErrors.slice(0, 3).join(' | ')}`);
		},
	},
];

let result = { pass: 0, fail: 1 };
try {
	result = await runCases(cases, {
		onFail: (c) => failureShot(S.page, 'failed-', c.name),
	});
} finally {
	if (result.fail) console.error(logTail(serverLog));
	await cleanUp(ctx, server, work);
}
await sleep(0);
console.log(`${result.pass} passed, ${result.fail} failed`);
process.exit(result.fail ? 1 : 0);
