// tests/bench/class_bench.mjs — a simulated class (issue 14): 60 students,
// each with an API token and one live-feed WebSocket (subscribe_runs), submit
// 3 short runs each at random times over 2 minutes (the same times for every
// mode: a seeded generator), while an instructor's board is open in headless
// Chromium. The runs are the bench's stand-in worker (bench_worker.py: a
// metric event every 0.1 s for 6 s, stamped with the time it was made), on
// `--slots` CPU places (default 6, standing in for a GPU box's places: the
// workers sleep between events, so the 2 cores are not what runs out).
// Then the same load with `sched = fifo`, to compare. Reported per mode:
//
//   start wait   time from submit to start of each student's first run
//                (median, max), as the student's feed client saw it;
//   Jain         Jain's fairness index (Σx)² / (n Σx²) of the run-seconds
//                each student got inside the 2-minute window (1 = equal);
//   board lag    from a worker's event to the board's row showing it
//                (the page's debug.boardLag: p50, p99, count);
//   server       CPU (% of one core, averaged) and peak RSS of the server.
//
//   node tests/bench/class_bench.mjs [--students 60] [--runs 3] [--window 120]
//        [--slots 6] [--run-seconds 6] [--modes fair,fifo] [--out FILE]
//
// A benchmark, not a test: it prints a table and writes it to --out.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../e2e/lib.mjs';
import { BIN, sleep, startClassroom, tempDir, waitFor } from '../integration/fixture.mjs';
import { option, percentile } from './lib.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const WebSocket = createRequire(join(ROOT, 'tests/integration/package.json'))('ws');
const N = Number(option('students', 60));
const RUNS = Number(option('runs', 3));
const WINDOW_S = Number(option('window', 120));
const SLOTS = Number(option('slots', 6));
const RUN_S = Number(option('run-seconds', 6));
const MODES = option('modes', 'fair,fifo').split(',');
const OUT = option('out', '');
const RATE = 10;
const SPEC = `# bench: events=${RUN_S * RATE} rate=${RATE} delay=0\n` +
	'data: {dataset: synthetic, shape: [1,4,4], classes: 2, train_size: 64, test_size: 16, batch_size: 8}\n' +
	'model: [flatten, {linear: 8}, relu, {linear: 2}]\ntrain: {epochs: 1, device: cpu}\n';
const PASSWORD = 'class-bench-prof';

/* A stand-in for node:test's context: collects clean-ups. */
function context() {
	const hooks = [];
	return {
		after: (fn) => hooks.push(fn),
		done: async () => {
			for (const fn of hooks.reverse()) {
				try {
					await fn();
				} catch { /* already gone */ }
			}
		},
	};
}

/* mulberry32: the same submit times for every mode. */
function rng(seed) {
	return () => {
		seed = (seed + 0x6d2b79f5) | 0;
		let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

const median = (xs) => percentile(xs, 50);
const jain = (xs) => {
	const sum = xs.reduce((a, b) => a + b, 0), sq = xs.reduce((a, b) => a + b * b, 0);
	return sq ? (sum * sum) / (xs.length * sq) : NaN;
};

/* CPU seconds (utime + stime) and RSS of a process. */
function procStat(pid) {
	const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
	const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
	const ticks = Number(f[11]) + Number(f[12]);
	const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
	return { cpu: ticks / 100, rss };
}

/* A student's feed: every run message with the time it came. */
function studentFeed(h, token) {
	return new Promise((res, rej) => {
		const ws = new WebSocket(h.base.replace(/^http/, 'ws') + 'ws', { headers: { Authorization: 'token ' + token } });
		const seen = [];
		ws.on('message', (d) => {
			const m = JSON.parse(d.toString());
			if (m.type === 'run') seen.push({ at: Date.now(), run: m.run });
		});
		ws.once('open', () => {
			ws.send(JSON.stringify({ type: 'subscribe_runs' }));
			res({ ws, seen });
		});
		ws.once('error', rej);
	});
}

async function oneMode(mode) {
	const t = context();
	const students = Array.from({ length: N }, (_, i) => `student${String(i).padStart(2, '0')}`);
	const workspace = tempDir(t, 'tb-class-');
	const conf = join(tempDir(t, 'tb-class-conf-'), 'class.conf');
	writeFileSync(conf, `sched = ${mode}\ncpu-runs = ${SLOTS}\nmax-queued = 10000\n`);
	const h = await startClassroom(t, {
		workspace, users: [['prof', 'instructor'], ...students.map((s) => [s])], args: ['--config', conf],
		env: { TRAINBOOK_WORKER_CMD: join(ROOT, 'tests/bench/bench_worker.py') },
	});
	try {
		execFileSync(BIN, ['users', 'password', 'prof', '--workspace', workspace], { input: PASSWORD + '\n' });
		// The instructor's board, open in Chromium for the whole run.
		const login = await fetch(h.base + 'api/login', { method: 'POST', headers: { 'Content-Type': 'application/json' },
			body: JSON.stringify({ name: 'prof', password: PASSWORD }) });
		const [cname, cvalue] = login.headers.get('set-cookie').split(';')[0].split('=');
		const browser = await launchChromium(tempDir(t, 'tb-class-chromium-'));
		t.after(() => browser.close());
		await browser.addCookies([{ name: cname, value: cvalue, domain: '127.0.0.1', path: '/', httpOnly: true, sameSite: 'Strict' }]);
		const page = browser.pages()[0] || (await browser.newPage());
		await page.goto(h.base + '#/board');
		await page.locator('table.board').waitFor({ timeout: 30000 });
		const feeds = {};
		for (const s of students) {
			feeds[s] = await studentFeed(h, h.tokens[s]);
			t.after(async () => feeds[s].ws.terminate());
		}
		// The same submit times in every mode.
		const rand = rng(14);
		const plan = students.flatMap((s) => Array.from({ length: RUNS }, () => ({ s, at: rand() * WINDOW_S * 1000 }))).sort((a, b) => a.at - b.at);
		const pid = h.proc.pid;
		const before = procStat(pid);
		let rssPeak = before.rss;
		const sampler = setInterval(() => {
			try {
				rssPeak = Math.max(rssPeak, procStat(pid).rss);
			} catch { /* gone */ }
		}, 1000);
		const t0 = Date.now();
		const runs = []; // {s, id, submitted}
		await Promise.all(plan.map(async (p) => {
			await sleep(p.at);
			const submitted = Date.now();
			const r = await h.as(p.s).api('POST', 'api/runs', { spec: SPEC, name: `${p.s}-${runs.length}` });
			runs.push({ s: p.s, id: r.run.id, submitted });
		}));
		// Let the queue drain; every run has ended once each student's feed said so.
		const ended = (r) => feeds[r.s].seen.some((m) => m.run.id === r.id && ['completed', 'failed', 'stopped'].includes(m.run.status));
		await waitFor(() => runs.every(ended), { timeout: (N * RUNS * RUN_S / SLOTS + 300) * 1000, interval: 1000, what: 'every run to end' });
		const wall = (Date.now() - t0) / 1000;
		clearInterval(sampler);
		const after = procStat(pid);
		const lag = await page.evaluate(() => window.trainbook.debug.boardLag.slice());
		const recvLag = await page.evaluate(() => window.trainbook.debug.boardRecvLag.slice());
		const sentLag = await page.evaluate(() => window.trainbook.debug.boardSentLag.slice());
		// Per run: when its student's feed saw it start and end.
		for (const r of runs) {
			const msgs = feeds[r.s].seen.filter((m) => m.run.id === r.id);
			r.start = msgs.find((m) => m.run.status === 'running')?.at ?? null;
			r.end = msgs.find((m) => ['completed', 'failed', 'stopped'].includes(m.run.status))?.at ?? null;
		}
		const firstWait = students.map((s) => {
			const first = runs.filter((r) => r.s === s).sort((a, b) => a.submitted - b.submitted)[0];
			return (first.start - first.submitted) / 1000;
		});
		const end = t0 + WINDOW_S * 1000;
		const inWindow = students.map((s) => runs.filter((r) => r.s === s && r.start !== null)
			.reduce((sum, r) => sum + Math.max(0, Math.min(r.end ?? end, end) - Math.max(r.start, t0)) / 1000, 0));
		const failed = runs.filter((r) => feeds[r.s].seen.some((m) => m.run.id === r.id && m.run.status === 'failed')).length;
		return {
			mode, runs: runs.length, failed, wall,
			waitMedian: median(firstWait), waitMax: Math.max(...firstWait),
			jain: jain(inWindow), served: inWindow.filter((x) => x > 0).length,
			lagP50: percentile(lag, 50), lagP99: percentile(lag, 99), lagN: lag.length,
			recvP50: percentile(recvLag, 50), recvP99: percentile(recvLag, 99), sentP50: percentile(sentLag, 50), sentP99: percentile(sentLag, 99),
			cpu: (100 * (after.cpu - before.cpu)) / wall, rss: rssPeak,
		};
	} finally {
		await t.done();
	}
}

const results = [];
for (const mode of MODES) {
	console.log(`== ${mode}: ${N} students x ${RUNS} runs over ${WINDOW_S} s, ${SLOTS} places, ${RUN_S} s runs`);
	const r = await oneMode(mode);
	console.log(JSON.stringify(r));
	results.push(r);
}
const f1 = (v) => (Number.isFinite(v) ? v.toFixed(1) : '—');
const rows = [
	['runs (failed)', (r) => `${r.runs} (${r.failed})`],
	['first run: submit → start, median', (r) => `${f1(r.waitMedian)} s`],
	['first run: submit → start, max', (r) => `${f1(r.waitMax)} s`],
	[`Jain's index of run-seconds per student, first ${WINDOW_S} s`, (r) => r.jain.toFixed(3)],
	[`students with any run time in the first ${WINDOW_S} s`, (r) => `${r.served} of ${N}`],
	['board lag, event → row drawn, p50', (r) => `${Math.round(r.lagP50)} ms`],
	['board lag, event → row drawn, p99', (r) => `${Math.round(r.lagP99)} ms`],
	['… until the server sent it, p50 / p99', (r) => `${Math.round(r.sentP50)} / ${Math.round(r.sentP99)} ms`],
	['… until the page took the message, p50 / p99', (r) => `${Math.round(r.recvP50)} / ${Math.round(r.recvP99)} ms`],
	['board updates measured', (r) => String(r.lagN)],
	['server CPU (one core = 100 %)', (r) => `${f1(r.cpu)} %`],
	['server peak RSS', (r) => `${f1(r.rss / 2 ** 20)} MiB`],
	['wall time until every run ended', (r) => `${f1(r.wall)} s`],
];
const table = [`| | ${results.map((r) => r.mode === 'fair' ? 'fair share' : 'FIFO').join(' | ')} |`, `|---|${results.map(() => '---').join('|')}|`,
	...rows.map(([name, fn]) => `| ${name} | ${results.map(fn).join(' | ')} |`)].join('\n');
console.log('\n' + table);
if (OUT) {
	const head = `# A simulated class: fair share beside FIFO (${new Date().toISOString().slice(0, 10)})\n\n` +
		`\`node tests/bench/class_bench.mjs --students ${N} --runs ${RUNS} --window ${WINDOW_S} --slots ${SLOTS} --run-seconds ${RUN_S}\` ` +
		`on this ${cpus().length}-core machine (load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} at the end, other work included). ` +
		`${N} students, each with an API token and one WebSocket (subscribe_runs), submit ${RUNS} runs each at random times over ` +
		`${WINDOW_S} s (seeded: the same times in both modes); each run is the stand-in worker (tests/bench/bench_worker.py, ` +
		`${RATE} metric events a second for ${RUN_S} s) on ${SLOTS} places (cpu-runs; the workers sleep between events, so the ` +
		`places, not the 2 cores, are what the class shares). The instructor's board is open in headless Chromium throughout.\n\n`;
	writeFileSync(OUT, head + table + '\n');
	console.log(`written to ${OUT}`);
}
process.exit(0);
