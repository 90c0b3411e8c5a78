/*
 * runs.js — the Runs page, a researcher's view of many runs: the table of
 * runs and their differing hyperparameters (runs-table.js), the curves of
 * the runs picked in it overlaid one chart per split and metric (one
 * colour and the run's name per run, or grouped by a tag, a spec key or
 * "same spec but seed" into a mean line with a mean ± std or min–max
 * band), and parallel coordinates of the picked runs against a chosen
 * metric whose brushes narrow the picked runs down.
 *
 * The picked runs live in the hash (#/runs?ids=r1,r2) so a comparison can
 * be bookmarked; an id there that is not a run the person may see says so.
 * Curves are read as downsampled series and followed live (run-curves.js);
 * zooming a chart zooms them all and fetches finer points. Instructors in
 * accounts mode see each run's owner (a table column, the legend) and can
 * filter the table by it.
 * What it is not: a single run's view (run-view.js, run-page.js).
 *
 * Threads: the page's main thread.
 */

import { h, clear, fill } from './dom.js';
import { LineChart, PALETTE } from './chart.js';
import { SPLITS } from './curves.js';
import { RunCurves } from './run-curves.js';
import { chartControls, curveLines, loadPrefs, savePrefs, stepRange, toChartData } from './run-charts.js';
import { RunsTable } from './runs-table.js';
import { ParallelCoords } from './parcoords.js';
import { aggregate, groupRuns } from './groups.js';
import { differingKeys, metricKeys, lowerIsBetter } from './hparams.js';
import { deleteRun, editRun, runLabel, setArchived } from './run-identity.js';
import { received } from './run-status.js';
import { fmtDuration } from './format.js';
import { showsOwners } from './owners.js';

const METRICS = ['loss', 'accuracy', 'lr', 'images_per_sec'];
const GROUP_KEY = 'trainbook.runsGroup';

/* "Your limits: 1 of 2 runs at once · GPU 12.5 of 120 min today": only the limits that are set. */
export function quotaText(q) {
	const l = q.limits || {};
	const u = q.use || {};
	const parts = [];
	if (l.concurrent_runs !== null && l.concurrent_runs !== undefined) parts.push(`${u.running} of ${l.concurrent_runs} runs at once`);
	if (l.queued_runs !== null && l.queued_runs !== undefined) parts.push(`${u.queued} of ${l.queued_runs} waiting`);
	for (const [kind, when] of [['gpu', 'day'], ['gpu', 'week'], ['cpu', 'day'], ['cpu', 'week']]) {
		const limit = l[`${kind}_minutes_per_${when}`];
		if (limit !== null && limit !== undefined)
			parts.push(`${kind.toUpperCase()} ${(u[`${kind}_minutes_per_${when}`] || 0).toFixed(1)} of ${limit} min ${when === 'day' ? 'today' : 'this week'}`);
	}
	if (l.max_run_seconds) parts.push(`runs stop after ${fmtDuration(l.max_run_seconds)}`);
	return parts.length ? 'Your limits: ' + parts.join(' · ') : '';
}

export class RunsPage {
	constructor(root, ctx, ids) {
		this.root = root;
		this.ctx = ctx;
		this.prefs = loadPrefs();
		this.runs = [];
		this.wanted = new Set(ids);       /* picked in the table: drawn on the charts */
		this.follow = new Map();          /* drawn run id → {color} (the brushes may leave some out) */
		this.charts = new Map();          /* "split/metric" → LineChart */
		this.brushed = null;              /* ids the parallel coordinates keep, or null */
		let saved = {};
		try {
			saved = JSON.parse(localStorage.getItem(GROUP_KEY) || '{}');
		} catch { /* defaults */ }
		this.group = { by: saved.by || '', band: saved.band === 'minmax' ? 'minmax' : 'std', metric: saved.metric || '' };
		/* Charts here are a third of the page wide: about one bucket per pixel of the
		   widest is plenty, and fifty overlaid runs then cost half the bytes. */
		const points = Math.min(2000, Math.max(500, Math.round((window.innerWidth || 1400) * 0.75)));
		this.curves = new RunCurves({ api: ctx.api, feed: ctx.feed, points, onChange: () => this.#schedule() });
		this.frame = 0;
		this.owners = showsOwners(ctx.me);

		this.table = new RunsTable(h('div'), {
			owners: this.owners,
			hooks: {
				onSelect: (list, on) => this.#select(list, on),
				onEdit: (r) => this.#edit(r),
				onArchive: (r, a) => this.#archive(r, a),
				onDelete: (r) => this.#delete(r),
			},
			isSelected: (id) => this.wanted.has(id),
			colorOf: (id) => (this.follow.get(id) || {}).color || null,
		});
		this.chartsEl = h('div.chart-grid.compare');
		this.legendEl = h('div.run-legend', { 'aria-label': 'legend' });
		this.quotaEl = h('p.muted.quota-line', { role: 'status' });
		this.groupSel = h('select', { 'aria-label': 'group runs by' });
		this.groupSel.addEventListener('change', () => this.#setGroup({ by: this.groupSel.value }));
		this.bandSel = h('select', { 'aria-label': 'group band' },
			h('option', { value: 'std', text: 'mean ± std' }), h('option', { value: 'minmax', text: 'min–max' }));
		this.bandSel.value = this.group.band;
		this.bandSel.addEventListener('change', () => this.#setGroup({ band: this.bandSel.value }));
		this.pcMetric = h('select', { 'aria-label': 'metric of the parallel coordinates' });
		this.pcMetric.addEventListener('change', () => this.#setGroup({ metric: this.pcMetric.value }));
		const pcBox = h('div');
		this.missingEl = h('div');
		fill(root,
			h('h1', { text: 'Runs' }),
			this.quotaEl,
			this.missingEl,
			this.table.root,
			h('section.panel.compare-main', { 'aria-label': 'overlaid curves' },
				chartControls(this.prefs, (p) => {
					savePrefs(p);
					this.#redraw();
				}, [h('label', h('span', { text: 'group by' }), this.groupSel), h('label', h('span', { text: 'band' }), this.bandSel)]),
				this.legendEl, this.chartsEl),
			h('section.panel.parcoords-panel', { 'aria-label': 'parallel coordinates' },
				h('div.panel-head', h('h2', { text: 'Parallel coordinates' }), h('label', h('span', { text: 'metric' }), this.pcMetric)),
				pcBox));
		this.pc = new ParallelCoords(pcBox, { onBrush: (ids) => this.#brush(ids) });
		document.title = 'Runs — trainbook';
		this.offRuns = ctx.feed.onRuns((run) => this.#runChanged(run));
		/* after a reconnect (not the first connect) the list may have missed changes */
		this.offOpen = ctx.feed.onOpen((feed) => {
			if (feed.opens > 1) this.#reload();
		});
		ctx.debug.page = this;
	}

	async load() {
		this.ctx.api.get('api/quota').then((q) => {
			this.quotaEl.textContent = quotaText(q);
		}).catch(() => {});
		if (!(await this.#reload(false))) return;
		const named = this.wanted.size > 0;
		await this.#findWanted();
		/* the newest three unarchived, unless the address named runs (then a missing one is not swapped for others) */
		if (!named) for (const r of this.runs.filter((x) => !x.archived).slice(0, 3)) this.wanted.add(r.id);
		await this.#apply();
	}

	destroy() {
		this.offRuns();
		this.offOpen();
		this.curves.destroy();
		this.pc.destroy();
		for (const c of this.charts.values()) c.destroy();
		if (this.frame) cancelAnimationFrame(this.frame);
		if (this.ctx.debug.page === this) this.ctx.debug.page = null;
	}

	/* The run list with each run's flattened spec and metric numbers; render: draw the table now. */
	async #reload(render = true) {
		try {
			const list = ((await this.ctx.api.get('api/runs?hparams=1')).runs || []).map((r) => received(r));
			/* picked runs past the list's page were fetched one by one (#findWanted): keep them */
			const older = this.runs.filter((r) => this.wanted.has(r.id) && !list.some((x) => x.id === r.id));
			this.runs = [...list, ...older];
		} catch (e) {
			if (e.status !== 401) this.table.root.append(h('p.error', { text: 'Cannot list runs: ' + e.message }));
			return false;
		}
		if (render) {
			this.#renderControls();
			this.table.setRuns(this.runs);
		}
		return true;
	}

	/* A summary from the feed: merge it (the list's hparams stay), or drop a deleted run. */
	#runChanged(run) {
		const i = this.runs.findIndex((r) => r.id === run.id);
		if (run.status === 'deleted') {
			if (i >= 0) this.runs.splice(i, 1);
			this.wanted.delete(run.id);
			this.#apply();
		} else if (i >= 0) this.runs[i] = { ...this.runs[i], ...received(run) };
		else this.#reload(); /* a new run: fetch its hparams */
		this.table.setRuns(this.runs);
		this.#schedule();
	}

	/*
	 * Ids from the address that the list lacks: an older run past the list's
	 * page is fetched; one that does not exist — or is someone else's, which
	 * the server answers the same way — is dropped with a note.
	 */
	async #findWanted() {
		const gone = [];
		for (const id of this.wanted) {
			if (this.runs.some((r) => r.id === id)) continue;
			try {
				this.runs.push(received((await this.ctx.api.get('api/runs/' + encodeURIComponent(id))).run));
			} catch (e) {
				if (e.status === 401) return;
				this.wanted.delete(id);
				gone.push(e.status === 404 ? id : `${id} (${e.message})`);
			}
		}
		clear(this.missingEl);
		if (gone.length) this.missingEl.append(h('div.banner.error.run-missing', { role: 'alert', text: `Not found: no run ${gone.join(', ')}` + (this.ctx.me && this.ctx.me.accounts ? ' (it does not exist, or it is not yours to see).' : '.') }));
	}

	#select(ids, on) {
		for (const id of ids) {
			if (on) this.wanted.add(id);
			else this.wanted.delete(id);
		}
		this.#apply();
	}

	/* Follow the picked runs (minus what the brushes leave out) and redraw everything. */
	async #apply() {
		history.replaceState(null, '', '#/runs?ids=' + [...this.wanted].map(encodeURIComponent).join(','));
		const drawn = [...this.wanted].filter((id) => !this.brushed || this.brushed.includes(id));
		const used = new Set();
		for (const id of [...this.follow.keys()]) if (!drawn.includes(id)) this.follow.delete(id);
		for (const f of this.follow.values()) used.add(f.color);
		for (const id of drawn) {
			if (this.follow.has(id)) continue;
			const color = PALETTE.find((c) => !used.has(c)) || PALETTE[this.follow.size % PALETTE.length];
			used.add(color);
			this.follow.set(id, { color });
		}
		/* the curves' requests go out first; the table and the axes are drawn while they travel */
		const summaries = drawn.map((id) => this.runs.find((r) => r.id === id) || { id });
		const loading = this.curves.load(summaries);
		this.table.setRuns(this.runs);
		this.#renderControls();
		this.#updateParcoords();
		await loading;
	}

	#brush(ids) {
		this.brushed = ids;
		this.table.setBrushed(ids);
		this.#apply();
	}

	#setGroup(change) {
		Object.assign(this.group, change);
		try {
			localStorage.setItem(GROUP_KEY, JSON.stringify(this.group));
		} catch { /* private mode */ }
		this.#updateParcoords();
		this.#redraw();
	}

	/* The group-by choices (tag, seed, the spec keys that differ) and the metric menu. */
	#renderControls() {
		const picked = this.runs.filter((r) => this.wanted.has(r.id));
		const keys = differingKeys(picked.length > 1 ? picked : this.runs);
		const opts = [['', 'nothing'], ['tag', 'tag'], ['seed', 'same spec but seed'], ...keys.map((k) => ['key:' + k, k])];
		if (this.group.by && !opts.some(([v]) => v === this.group.by)) opts.push([this.group.by, this.group.by.replace(/^key:/, '')]);
		fill(this.groupSel, ...opts.map(([v, t]) => h('option', { value: v, text: t, selected: v === this.group.by })));
		const metrics = metricKeys(this.runs);
		if (!this.group.metric || !metrics.includes(this.group.metric)) this.group.metric = metrics[0] || '';
		fill(this.pcMetric, ...metrics.map((m) => h('option', { value: m, text: m, selected: m === this.group.metric })));
	}

	#updateParcoords() {
		const picked = this.runs.filter((r) => this.wanted.has(r.id));
		const dims = differingKeys(picked).map((k) => ({ id: 'h:' + k, key: k, label: k, get: (r) => (r.hparams || {})[k] }));
		const m = this.group.metric;
		if (m) {
			const field = lowerIsBetter(m.split('/').pop()) ? 'min' : 'max';
			dims.push({ id: 'm:' + m, key: m, label: `${m} ${field}`, get: (r) => (r.metrics && r.metrics[m] ? r.metrics[m][field] : null) });
		}
		this.pc.update(picked, dims, (r) => (this.follow.get(r.id) || {}).color || '#888');
	}

	async #edit(run) {
		const r = await editRun(this.ctx.api, run);
		if (r) this.#runChanged(r);
	}

	async #archive(run, archived) {
		const r = await setArchived(this.ctx.api, run, archived);
		if (!r) return;
		if (archived) this.wanted.delete(r.id);
		this.#runChanged(r);
		this.#apply();
	}

	async #delete(run) {
		if (await deleteRun(this.ctx.api, run)) this.#runChanged({ id: run.id, status: 'deleted' });
	}

	#schedule() {
		if (!this.frame) this.frame = requestAnimationFrame(() => {
			this.frame = 0;
			this.#redraw();
		});
	}

	/* One chart zoomed: zoom the others, fetch finer points. */
	#zoom(from, range) {
		for (const c of this.charts.values()) if (c !== from) c.zoomTo(range);
		if (this.prefs.xMode === 'step') this.curves.zoomTo(range);
	}

	/* The benchmark and the tests wait for the finer points of a zoom. */
	zoomSettled() {
		return this.curves.settled();
	}

	/* Lines of one chart: a run each, or a group each (mean line in its band). */
	#lines(split, metric) {
		const key = `${split}/${metric}`;
		const smooth = metric !== 'lr';
		const ids = [...this.follow.keys()];
		const runOf = (id) => this.runs.find((r) => r.id === id) || { id };
		const xopts = (id) => ({ stepsPerEpoch: (runOf(id).progress || {}).steps_per_epoch || 0, t0: runOf(id).started || null });
		if (!this.group.by) {
			const lines = [];
			for (const id of ids) {
				const run = runOf(id);
				lines.push(...curveLines(this.curves.get(id, key), { label: run.name || id, title: runLabel(run), color: this.follow.get(id).color, prefs: this.prefs, smooth, band: ids.length <= 3, xopts: xopts(id) }));
			}
			return lines;
		}
		const lines = [];
		groupRuns(ids.map(runOf), this.group.by).forEach((g, i) => {
			const members = [];
			for (const r of g.runs) {
				const c = this.curves.get(r.id, key);
				if (!c || !c.length) continue;
				const ls = curveLines(c, { label: r.id, color: '#000', prefs: { ...this.prefs, log: false }, smooth, band: false, xopts: xopts(r.id) });
				const main = ls[ls.length - 1];
				members.push({ xs: main.xs, ys: main.ys });
			}
			if (!members.length) return;
			const agg = aggregate(members, this.group.band);
			const color = PALETTE[i % PALETTE.length];
			const keep = (a) => (this.prefs.log ? a.map((v) => (v > 0 ? v : null)) : a);
			lines.push({ label: `${g.label} (${g.runs.length} run${g.runs.length === 1 ? '' : 's'})`, title: g.runs.map((r) => runLabel(r)).join(', '), color, xs: agg.x, ys: keep(agg.mean), lo: keep(agg.lo), hi: keep(agg.hi), width: 2 });
		});
		return lines;
	}

	#redraw() {
		const ids = [...this.follow.keys()];
		clear(this.legendEl);
		if (!this.group.by) for (const id of ids) {
			const run = this.runs.find((r) => r.id === id) || { id };
			this.legendEl.append(h('span.legend-item', { title: runLabel(run) }, h('span.swatch', { style: `background:${this.follow.get(id).color}` }),
				h('span', { text: `${run.name ? `${run.name} · ${id}` : id}${this.owners && run.owner ? ' · ' + run.owner : ''}` })));
		}
		const present = new Set();
		const all = [];
		for (const id of ids) for (const split of SPLITS) for (const m of METRICS) all.push(this.curves.get(id, `${split}/${m}`));
		const range = stepRange(all);
		for (const split of SPLITS) for (const metric of METRICS) {
			const lines = this.#lines(split, metric);
			if (!lines.length) continue;
			const key = `${split}/${metric}`;
			present.add(key);
			let chart = this.charts.get(key);
			if (!chart) {
				chart = new LineChart(this.chartsEl, { title: `${split} ${metric.replace(/_/g, ' ')}`, syncKey: 'compare', name: key, onZoom: (r) => this.#zoom(chart, r) });
				chart.zoomSettled = () => this.zoomSettled();
				if (this.curves.zoom) chart.zoomTo(this.curves.zoom);
				this.charts.set(key, chart);
			}
			chart.update(toChartData(lines), { log: this.prefs.log, xMode: this.prefs.xMode, metric, xRange: this.prefs.xMode === 'step' ? range : null });
		}
		for (const [key, chart] of this.charts) if (!present.has(key)) {
			chart.destroy();
			this.charts.delete(key);
		}
		if (!ids.length) this.legendEl.append(h('p.muted', { text: 'Pick one or more runs in the table to see their curves.' }));
	}
}
