/*
 * runs.js — the runs page: pick runs and overlay their curves, one chart
 * per split and metric (train loss, test accuracy, …), one colour per run
 * with a legend, the same smoothing / log / x-axis controls as a run cell.
 *
 * The chosen runs live in the hash (#/runs?ids=r1,r2) so a comparison can
 * be bookmarked; an id there that is not a run the person may see says so.
 * Instructors in accounts mode see each run's owner and can filter by it.
 * What it is not: a single run's view (run-view.js).
 *
 * Threads: the page's main thread.
 */

import { h, clear, statusBadge } from './dom.js';
import { LineChart, PALETTE } from './chart.js';
import { RunSeries, SPLITS } from './series.js';
import { chartControls, loadPrefs, savePrefs, groupLines, toChartData } from './run-charts.js';
import { fmtDuration, fmtTime } from './format.js';
import { showsOwners } from './owners.js';
import { OwnerFilter } from './owner-filter.js';

const METRICS = ['loss', 'accuracy', 'lr', 'images_per_sec'];

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
		this.follow = new Map(); /* run id → {series, off, color} */
		this.charts = new Map(); /* "split/metric" → LineChart */
		this.wanted = new Set(ids);
		this.listEl = h('ul.run-picker', { 'aria-label': 'runs to compare' });
		this.chartsEl = h('div.chart-grid.compare');
		this.legendEl = h('div.run-legend', { 'aria-label': 'legend' });
		this.quotaEl = h('p.muted.quota-line', { role: 'status' });
		this.missingEl = h('div');
		this.owners = showsOwners(ctx.me);
		this.ownerFilter = new OwnerFilter('runs', () => this.#renderList());
		clear(root).append(
			h('h1', { text: 'Runs' }),
			this.quotaEl,
			this.missingEl,
			h('div.compare-layout',
				h('aside.panel', h('h2', { text: 'Pick runs' }), this.owners ? this.ownerFilter.el : null, this.listEl),
				h('section.panel.compare-main', { 'aria-label': 'overlaid curves' },
					chartControls(this.prefs, (p) => {
						savePrefs(p);
						this.#redraw();
					}),
					this.legendEl, this.chartsEl)));
		document.title = 'Runs — trainbook';
		this.offRuns = ctx.feed.onRuns((run) => {
			const i = this.runs.findIndex((r) => r.id === run.id);
			if (i >= 0) this.runs[i] = { ...this.runs[i], ...run };
			else this.runs.unshift(run);
			this.#renderList();
		});
		this.frame = 0;
		ctx.debug.page = this;
	}

	async load() {
		this.ctx.api.get('api/quota').then((q) => {
			this.quotaEl.textContent = quotaText(q);
		}).catch(() => {});
		try {
			this.runs = (await this.ctx.api.get('api/runs')).runs || [];
		} catch (e) {
			if (e.status !== 401) this.listEl.append(h('li.error', { text: 'Cannot list runs: ' + e.message }));
			return;
		}
		const named = this.wanted.size > 0;
		await this.#findWanted();
		/* the newest three, unless the address named runs (then a missing one is not swapped for others) */
		if (!named) for (const r of this.runs.slice(0, 3)) this.wanted.add(r.id);
		this.#renderList();
		for (const id of this.wanted) this.#follow(id);
		this.#redraw();
	}

	destroy() {
		this.offRuns();
		for (const f of this.follow.values()) f.off();
		for (const c of this.charts.values()) c.destroy();
		if (this.frame) cancelAnimationFrame(this.frame);
		if (this.ctx.debug.page === this) this.ctx.debug.page = null;
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
				this.runs.push((await this.ctx.api.get('api/runs/' + encodeURIComponent(id))).run);
			} catch (e) {
				if (e.status === 401) return;
				this.wanted.delete(id);
				gone.push(e.status === 404 ? id : `${id} (${e.message})`);
			}
		}
		clear(this.missingEl);
		if (gone.length) this.missingEl.append(h('div.banner.error.run-missing', { role: 'alert', text: `Not found: no run ${gone.join(', ')}` + (this.ctx.me && this.ctx.me.accounts ? ' (it does not exist, or it is not yours to see).' : '.') }));
	}

	#color(id) {
		const used = new Set([...this.follow.values()].map((f) => f.color));
		return PALETTE.find((c) => !used.has(c)) || PALETTE[this.follow.size % PALETTE.length];
	}

	#renderList() {
		clear(this.listEl);
		const runs = this.ownerFilter.update(this.runs);
		if (!runs.length) this.listEl.append(h('li.muted', { text: this.runs.length ? 'None of this owner.' : 'No runs yet.' }));
		for (const r of runs) {
			const f = this.follow.get(r.id);
			const box = h('input', { type: 'checkbox', checked: this.wanted.has(r.id), id: 'pick-' + r.id });
			box.addEventListener('change', () => this.#toggle(r.id, box.checked));
			this.listEl.append(h('li', { 'data-run': r.id },
				box,
				h('label', { for: 'pick-' + r.id },
					h('span.swatch', { style: f ? `background:${f.color}` : 'visibility:hidden' }),
					h('span.run-id', { text: r.id }), ' ', statusBadge(r.status),
					this.owners ? h('span.run-owner', { text: ' ' + (r.owner || '—') }) : null,
					h('span.muted.small', { text: ` ${r.notebook ? r.notebook.split('/').pop() + (r.cell ? '/' + r.cell : '') : r.name || ''} · ${fmtTime(r.created)}` }))));
		}
	}

	#toggle(id, on) {
		if (on) {
			this.wanted.add(id);
			this.#follow(id);
		} else {
			this.wanted.delete(id);
			const f = this.follow.get(id);
			if (f) f.off();
			this.follow.delete(id);
		}
		history.replaceState(null, '', '#/runs?ids=' + [...this.wanted].map(encodeURIComponent).join(','));
		this.#renderList();
		this.#redraw();
	}

	#follow(id) {
		if (this.follow.has(id)) return;
		const f = { series: new RunSeries(), color: this.#color(id), off: null };
		this.follow.set(id, f);
		f.off = this.ctx.feed.subscribeRun(id, (items) => {
			for (const it of items) f.series.add(it.event);
			this.#schedule();
		});
		this.#renderList();
	}

	#schedule() {
		if (!this.frame) this.frame = requestAnimationFrame(() => {
			this.frame = 0;
			this.#redraw();
		});
	}

	#redraw() {
		const ids = [...this.follow.keys()];
		clear(this.legendEl);
		for (const id of ids) {
			const run = this.runs.find((r) => r.id === id) || { id };
			this.legendEl.append(h('span.legend-item', h('span.swatch', { style: `background:${this.follow.get(id).color}` }),
				h('span', { text: `${id}${run.name ? ' · ' + run.name : ''}${this.owners && run.owner ? ' · ' + run.owner : ''}` })));
		}
		const present = new Set();
		for (const split of SPLITS) for (const metric of METRICS) {
			const lines = [];
			for (const id of ids) {
				const f = this.follow.get(id);
				lines.push(...groupLines(f.series, { metric, splits: [split], smooth: metric !== 'lr' }, this.prefs, { label: () => id, color: () => f.color }));
			}
			if (!lines.length) continue;
			const key = `${split}/${metric}`;
			present.add(key);
			let chart = this.charts.get(key);
			if (!chart) {
				chart = new LineChart(this.chartsEl, { title: `${split} ${metric.replace(/_/g, ' ')}`, syncKey: 'compare', name: key });
				this.charts.set(key, chart);
			}
			chart.update(toChartData(lines), { log: this.prefs.log, xMode: this.prefs.xMode });
		}
		for (const [key, chart] of this.charts) if (!present.has(key)) {
			chart.destroy();
			this.charts.delete(key);
		}
		if (!ids.length) this.legendEl.append(h('p.muted', { text: 'Pick one or more runs on the left.' }));
	}
}
