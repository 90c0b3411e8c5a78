// tests/bench/curves_bench.mjs — how long the Runs page takes to draw long
// runs, and what it costs the page (issue 16, "curves that scale").
//
//   node tests/bench/curves_bench.mjs [--runs 50] [--points 1000000] [--events]
//        [--bin build/trainbook] [--label after] [--out FILE] [--keep DIR]
//
// The runs are written straight into a store (no workers): the server is
// started once on an empty workspace to create and migrate its database,
// stopped, and the sqlite3 CLI fills it with `--runs` completed runs of
// `--points` train-loss points each (steps 1..N, a decaying curve with
// noise) plus ten test evaluations. With --events the event rows are
// written too, as a real worker's run has them (the page before issue 16
// replayed them over the WebSocket); without it only the metric rows, which
// is all the series route reads. The server is started on that workspace
// once to build the curve summaries of runs it has not seen (timed:
// "summaries_s"), then again for the measurement, and headless chromium
// opens #/runs?ids=<all runs>; "drawn" is the first animation frame in
// which every run's train-loss curve reaches its last step. Then the x axis
// is zoomed to the middle tenth: "zoom redraw" is the frame that shows the
// zoomed range from the points already loaded, "zoom refined" the frame
// after the finer series arrived (only pages that refine report it).
// The page's JS heap (after a forced GC) and the server's RSS are reported.
//
// A benchmark, not a test: it prints a markdown table row per scenario and
// appends it to --out.
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ROOT, startServer, sleep } from '../integration/fixture.mjs';
import { option, context } from './lib.mjs';

const argv = process.argv.slice(2);
const RUNS = Number(option('runs', 50));
const POINTS = Number(option('points', 1000000));
const EVENTS = argv.includes('--events');
const BIN = resolve(option('bin', join(ROOT, 'build/trainbook')));
const LABEL = option('label', BIN);
const OUT = option('out', '');
const KEEP = option('keep', '');
const TESTS = 10; /* test evaluations per run */
const { chromium } = await import(join(ROOT, 'web/node_modules/playwright-core/index.mjs'));

const SPEC = (r) => `data: {dataset: synthetic, shape: [1,8,8], classes: 4, train_size: 256, batch_size: 32}
model: [flatten, {linear: ${16 << (r % 3)}}, relu, {linear: 4}]
optimizer: {name: adam, lr: ${[1e-3, 3e-4, 1e-4][r % 3]}}
train: {epochs: 1, seed: ${r % 5}}
`;

/*
 * SQL that writes run r: the run row, N train points (seq 2..N+1), TESTS
 * test evaluations, the metric names, and with --events the event rows.
 * Values: loss = 2/(1 + step/50000) + 0.3 * noise, noise from an integer
 * hash so every run is different and the SQL needs no math functions.
 */
function runSql(r, n) {
	const t0 = 1780000000;
	const q = (s) => `'${s.replace(/'/g, "''")}'`;
	const noise = `(((i * 1103515245 + ${12345 * r}) % 2147483648) / 2147483648.0)`;
	const loss = `printf('%.6f', 2.0 / (1 + i / 50000.0) + 0.3 * ${noise})`;
	const every = Math.max(1, Math.floor(n / TESTS));
	const last = n + TESTS + 2;
	const sql = [];
	sql.push(`INSERT INTO runs(id, name, status, spec, created, started, ended, owner, last_seq, step, total_steps, epoch, epochs, params, device)
 VALUES(${r}, ${q('bench ' + r)}, 'completed', ${q(SPEC(r))}, ${t0}, ${t0}, ${t0 + Math.round(n * 0.05)}, 'bench', ${last}, ${n}, ${n}, 1, 1,
 ${q(JSON.stringify({ 'optimizer.lr': [1e-3, 3e-4, 1e-4][r % 3], 'train.seed': r % 5 }))}, 'cpu');`);
	sql.push(`WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ${n})
 INSERT INTO metrics(run, seq, step, epoch, split, time, vals)
 SELECT ${r}, i + 1, i, i / ${every}, 'train', ${t0} + i * 0.05, '{"loss":' || ${loss} || '}' FROM c;`);
	sql.push(`WITH RECURSIVE c(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM c WHERE k < ${TESTS})
 INSERT INTO metrics(run, seq, step, epoch, split, time, vals)
 SELECT ${r}, ${n + 1} + k, k * ${every}, k, 'test', ${t0} + k * ${every} * 0.05,
 '{"loss":' || printf('%.6f', 1.5 / (1 + k)) || ',"accuracy":' || printf('%.4f', 0.5 + 0.04 * k) || '}' FROM c;`);
	sql.push(`INSERT INTO metric_names(run, name, ord) VALUES(${r}, 'loss', 128), (${r}, 'accuracy', ${(n + 2) * 64 + 1});`);
	if (EVENTS) {
		sql.push(`INSERT INTO events(run, seq, type, json) VALUES(${r}, 1, 'status', '{"type":"status","status":"running","device":"cpu","steps_per_epoch":${every},"total_steps":${n},"epochs":${TESTS}}');`);
		sql.push(`INSERT INTO events(run, seq, type, json) SELECT run, seq, 'metric',
 json_object('type', 'metric', 'split', split, 'step', step, 'epoch', epoch, 'time', time, 'values', json(vals))
 FROM metrics WHERE run = ${r};`);
		sql.push(`INSERT INTO events(run, seq, type, json) VALUES(${r}, ${last}, 'status', '{"type":"status","status":"completed"}');`);
	} else {
		sql.push(`UPDATE runs SET last_seq = ${n + TESTS + 1} WHERE id = ${r};`);
	}
	return sql.join('\n');
}

async function makeWorkspace(dir) {
	const stamp = join(dir, '.bench-params');
	const want = JSON.stringify({ RUNS, POINTS, EVENTS, bin: BIN });
	if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return null;
	if (existsSync(stamp + '.data') && readFileSync(stamp + '.data', 'utf8') === want) {
		/* the rows are written; the first start (the summaries) is still to do */
		const summaries = await firstStart(dir);
		writeFileSync(stamp, want);
		return { generated: NaN, summaries };
	}
	rmSync(dir, { recursive: true, force: true });
	mkdirSync(dir, { recursive: true });
	const t = context();
	const h = await startServer(t, { bin: BIN, workspace: dir });
	await h.kill('SIGTERM');
	await t.done();
	const db = join(dir, '.trainbook/trainbook.db');
	const t0 = Date.now();
	for (let r = 1; r <= RUNS; r++) {
		const res = spawnSync('sqlite3', [db], { input: `PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; BEGIN;\n${runSql(r, POINTS)}\nCOMMIT; PRAGMA wal_checkpoint(TRUNCATE);\n`, maxBuffer: 1 << 26 });
		if (res.status !== 0) throw new Error(`sqlite3: ${res.stderr.toString().slice(0, 500)}`);
		process.stderr.write(`\rwrote run ${r}/${RUNS}`);
	}
	process.stderr.write('\n');
	const generated = (Date.now() - t0) / 1000;
	writeFileSync(stamp + '.data', want);
	const summaries = await firstStart(dir);
	writeFileSync(stamp, want);
	return { generated, summaries };
}

/* Start the server until it serves (it builds the summaries of new runs first), then stop it; seconds taken. */
async function firstStart(dir) {
	const t0 = Date.now();
	const proc = spawn(BIN, ['serve', '--workspace', dir, '--port', '0', '--token', 'bench'], { stdio: ['ignore', 'pipe', 'pipe'] });
	let out = '';
	const exited = new Promise((r) => proc.on('exit', r));
	await new Promise((resolve, reject) => {
		const seen = (d) => {
			out += d;
			if (/open http/.test(out)) resolve();
		};
		proc.stdout.on('data', seen);
		proc.stderr.on('data', seen);
		exited.then((code) => reject(new Error(`server exited with ${code}: ${out.slice(-500)}`)));
	});
	const seconds = (Date.now() - t0) / 1000;
	proc.kill('SIGTERM');
	await exited;
	return seconds;
}

const mib = (b) => (b / 1048576).toFixed(1);

function rssOf(pid) {
	const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
	return m ? Number(m[1]) * 1024 : NaN;
}

/* In the page: the first frame in which every run's train/loss curve reaches step `last`. */
const DRAWN = (last) => {
	const p = window.trainbook && window.trainbook.page;
	const chart = p && p.charts && p.charts.get('train/loss');
	if (!chart || !chart.u || !chart.data || !chart.data.x.length) return false;
	if (chart.data.x[chart.data.x.length - 1] < last) return false;
	const want = p.follow ? p.follow.size : 1;
	const drawn = chart.data.series.filter((s) => !s.faint && !s.band && s.values[s.values.length - 1] !== null).length;
	return drawn >= want && performance.now();
};

async function measure(base, token, ids) {
	const profile = mkdtempSync(join(tmpdir(), 'tb-bench-chromium-'));
	const ctx = await chromium.launchPersistentContext(profile, {
		executablePath: '/usr/bin/chromium', headless: true, viewport: { width: 1360, height: 900 },
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update'],
	});
	try {
		const page = ctx.pages()[0] || (await ctx.newPage());
		await page.goto(base + '?token=' + token);
		await page.waitForSelector('h1');
		await page.goto('about:blank');
		const t0 = Date.now();
		await page.goto(base + '#/runs?ids=' + ids.join(','));
		const drawnAt = await page.waitForFunction(DRAWN, POINTS, { polling: 'raf', timeout: 600000 });
		const drawnMs = await drawnAt.jsonValue();
		const wall = (Date.now() - t0) / 1000;
		/* Zoom the x axis to the middle tenth of the steps. */
		const zoom = await page.evaluate(async (last) => {
			const chart = window.trainbook.page.charts.get('train/loss');
			const frame = () => new Promise((r) => requestAnimationFrame(() => r(performance.now())));
			const min = last * 0.45;
			const max = last * 0.55;
			await frame();
			const t = performance.now();
			if (chart.onZoom && chart.zoomTo) {
				/* what dragging across the chart does: zoom it, tell the page (the others follow, finer points come) */
				chart.zoomTo([min, max]);
				chart.onZoom([min, max]);
			} else {
				chart.u.setScale('x', { min, max });
			}
			await frame();
			const redraw = performance.now() - t;
			let refined = null;
			if (typeof chart.zoomSettled === 'function') {
				await chart.zoomSettled();
				await frame();
				await frame();
				refined = performance.now() - t;
			}
			return { redraw, refined };
		}, POINTS);
		const cdp = await ctx.newCDPSession(page);
		await cdp.send('HeapProfiler.collectGarbage');
		await cdp.send('Performance.enable');
		const { metrics } = await cdp.send('Performance.getMetrics');
		const heap = metrics.find((m) => m.name === 'JSHeapUsedSize').value;
		const nav = await page.evaluate(() => performance.getEntriesByType('navigation')[0].startTime);
		return { drawn: (drawnMs - nav) / 1000, wall, zoom, heap };
	} finally {
		await ctx.close();
		rmSync(profile, { recursive: true, force: true });
	}
}

const dir = KEEP || mkdtempSync(join(tmpdir(), 'tb-curves-'));
const made = await makeWorkspace(dir);
const dbBytes = statSync(join(dir, '.trainbook/trainbook.db')).size;
const t = context();
let row;
try {
	const s0 = Date.now();
	const h = await startServer(t, { bin: BIN, workspace: dir });
	const startSeconds = (Date.now() - s0) / 1000;
	const ids = Array.from({ length: RUNS }, (_, i) => 'r' + (i + 1));
	const m = await measure(h.base, h.token, ids);
	row = {
		label: LABEL, runs: RUNS, points: POINTS, events: EVENTS ? 'yes' : 'no',
		db_mib: mib(dbBytes), generate_s: made && Number.isFinite(made.generated) ? made.generated.toFixed(0) : 'cached',
		summaries_s: made ? made.summaries.toFixed(0) : 'cached', server_start_s: startSeconds.toFixed(1),
		drawn_s: m.drawn.toFixed(2), zoom_redraw_ms: m.zoom.redraw.toFixed(0), zoom_refined_ms: m.zoom.refined === null ? '-' : m.zoom.refined.toFixed(0),
		page_heap_mib: mib(m.heap), server_rss_mib: mib(rssOf(h.proc.pid)),
	};
	await h.kill('SIGTERM');
} finally {
	await t.done();
	if (!KEEP) rmSync(dir, { recursive: true, force: true });
}
const cols = Object.keys(row);
const line = '| ' + cols.map((c) => row[c]).join(' | ') + ' |';
console.log('| ' + cols.join(' | ') + ' |\n|' + cols.map(() => '---').join('|') + '|\n' + line);
if (OUT) {
	if (!existsSync(OUT)) appendFileSync(OUT, '| ' + cols.join(' | ') + ' |\n|' + cols.map(() => '---').join('|') + '|\n');
	appendFileSync(OUT, line + '\n');
}
