/*
 * sweep.js — the sweeps pages: #/sweeps lists the caller's sweeps (their
 * best trial so far), #/sweeps/<id> shows one: the best so far, the
 * trials' parallel coordinates (the runs page's, parcoords.js: an axis per
 * swept key and one for the metric; brushing an axis keeps those trials in
 * the table), the trials table (one column per swept key, the run's status
 * and the metric, which trials ASHA stopped and where), the ASHA rung chart
 * (each trial's value at each rung, stopped ones marked) and a Stop button.
 *
 * The view asks GET /api/sweeps/<id> again whenever the feed says one of
 * its trials' runs changed, and once a second while the sweep runs (a
 * pending trial has no run yet for the feed to name). What it is not: a
 * run's view (run-view.js); each trial links to its run's page (#/run/<id>).
 *
 * Threads: the page's main thread.
 */

import { h, clear, statusBadge, toast } from './dom.js';
import { fmtMetric, fmtTime } from './format.js';
import { PALETTE } from './chart.js';
import { ParallelCoords } from './parcoords.js';
import { bestText, rungPoints, trialAxes } from './sweep-model.js';

const POLL_MS = 1000;
const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, ...children) {
	const el = document.createElementNS(SVG, tag);
	for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
	for (const c of children) if (c) el.append(c);
	return el;
}

function rungChart(sweep) {
	const points = rungPoints(sweep);
	const rungs = sweep.rungs || [];
	if (!rungs.length) return h('p.muted', { text: 'No ASHA rungs: every trial runs all its epochs.' });
	const W = 420, H = 220, L = 48, R = 12, T = 12, B = 30;
	const ys = points.map((p) => p.value);
	let lo = ys.length ? Math.min(...ys) : 0, hi = ys.length ? Math.max(...ys) : 1;
	if (hi - lo < 1e-9) { lo -= 0.5; hi += 0.5; }
	const PAD = 36; /* keeps the first and last rung's label and points off the axes */
	const x = (i) => L + PAD + (rungs.length === 1 ? (W - L - R - 2 * PAD) / 2 : (i * (W - L - R - 2 * PAD)) / (rungs.length - 1));
	const y = (v) => T + 8 + (1 - (v - lo) / (hi - lo)) * (H - T - B - 16);
	const el = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'rung-chart', role: 'img', 'aria-label': `ASHA rungs: ${sweep.metric} of each trial at epochs ${rungs.join(', ')}` });
	el.append(svg('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, class: 'axis' }), svg('line', { x1: L, y1: T, x2: L, y2: H - B, class: 'axis' }));
	for (const v of [lo, hi]) {
		const t = svg('text', { x: L - 4, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' });
		t.textContent = fmtMetric(v);
		el.append(t);
	}
	rungs.forEach((e, i) => {
		const t = svg('text', { x: x(i), y: H - 10, 'text-anchor': 'middle', class: 'tick' });
		t.textContent = `epoch ${e}`;
		el.append(t);
	});
	for (const p of points) {
		const c = svg('circle', { cx: x(p.rung), cy: y(p.value), r: 5, class: p.stopped ? 'rung-point stopped' : 'rung-point', 'data-trial': p.trial });
		const tip = svg('title');
		tip.textContent = `trial ${p.trial} at epoch ${p.epoch}: ${fmtMetric(p.value)}${p.stopped ? ' (stopped by ASHA)' : ''}`;
		c.append(tip);
		el.append(c);
	}
	return el;
}

/* A trial's line: its own colour, grey once ASHA stopped it. */
const trialColor = (l) => (l.trial.asha_stopped_at ? '#9a9a9a' : PALETTE[(l.trial.trial - 1) % PALETTE.length]);

function trialsTable(sweep) {
	const best = sweep.best ? sweep.best.trial : 0;
	return h('table.list.sweep-trials',
		h('thead', h('tr', ['trial', ...(sweep.params || []), 'run', 'status', 'epochs', sweep.metric, 'ASHA'].map((t) => h('th', { scope: 'col', text: t })))),
		h('tbody', (sweep.trial_list || []).map((t) => h('tr', { 'data-trial': t.trial, class: t.trial === best ? 'best' : '' },
			h('td', { text: String(t.trial) }),
			(t.values || []).map((v) => h('td.mono', { text: v })),
			h('td', t.run ? h('a', { href: `#/run/${t.run}`, text: t.run }) : '—'),
			h('td', statusBadge(t.status)),
			h('td', { text: t.epochs ? String(t.epochs) : '—' }),
			h('td.num', { text: fmtMetric(t.metric) }),
			h('td', { text: t.asha_stopped_at ? `stopped at epoch ${t.asha_stopped_at}` : '' })))));
}

export class SweepPage {
	constructor(root, ctx, id) {
		this.root = root;
		this.ctx = ctx;
		this.id = id;
		this.sweep = null;
		this.timer = 0;
		this.busy = false;
		this.headEl = h('div.panel-head');
		this.bestEl = h('p.sweep-best', { 'aria-live': 'polite' });
		this.tableEl = h('div');
		this.chartEl = h('div');
		const pcBox = h('div');
		clear(root).append(h('h1', { text: `Sweep ${id}` }),
			h('section.panel', { 'aria-label': 'sweep' }, this.headEl, this.bestEl),
			h('section.panel', { 'aria-label': 'trials' }, h('h2', { text: 'Trials' }), pcBox, this.tableEl),
			h('section.panel', { 'aria-label': 'ASHA rungs' }, h('h2', { text: 'ASHA rungs' }), this.chartEl));
		document.title = `Sweep ${id} — trainbook`;
		this.pc = new ParallelCoords(pcBox, { onBrush: (ids) => this.#brush(ids), noun: 'trials' });
		/* A trial's run changed: read the sweep again. */
		this.offRuns = ctx.feed.onRuns((run) => {
			if (this.sweep && (this.sweep.trial_list || []).some((t) => t.run === run.id)) this.refresh();
		});
		ctx.debug.page = this;
	}

	async load() {
		await this.refresh();
		this.timer = setInterval(() => {
			if (this.sweep && this.sweep.status === 'running') this.refresh();
		}, POLL_MS);
	}

	async refresh() {
		if (this.busy) return;
		this.busy = true;
		try {
			this.sweep = (await this.ctx.api.get(`api/sweeps/${encodeURIComponent(this.id)}`)).sweep;
			this.#render();
		} catch (e) {
			if (e.status !== 401) clear(this.tableEl).append(h('p.error', { text: `Cannot read sweep ${this.id}: ${e.message}` }));
		} finally {
			this.busy = false;
		}
	}

	#render() {
		const s = this.sweep;
		const stop = h('button', { type: 'button', text: 'Stop sweep', disabled: s.status !== 'running', onclick: () => this.#stop() });
		clear(this.headEl).append(
			h('div', h('strong', { text: s.name }), ' ', statusBadge(s.status),
				h('span.muted', { text: ` · ${s.done} of ${s.trials} trials done · ${s.parallel} at a time · ${s.metric} (${s.maximize ? 'max' : 'min'}) · ${fmtTime(s.created)}` }),
				s.waiting ? h('p.sweep-waiting', { text: `Waiting: ${s.waiting}` }) : null),
			stop);
		this.bestEl.textContent = bestText(s);
		const { lines, dims } = trialAxes(s);
		this.pc.update(lines, dims, trialColor);
		clear(this.tableEl).append(trialsTable(s));
		this.#brush(this.pc.brushed());
		clear(this.chartEl).append(rungChart(s));
	}

	/* Keep the table's rows of the trials inside every brushed range (all when nothing is brushed). */
	#brush(ids) {
		for (const tr of this.tableEl.querySelectorAll('tbody tr')) tr.hidden = !!ids && !ids.includes(`t${tr.dataset.trial}`);
	}

	async #stop() {
		try {
			this.sweep = (await this.ctx.api.post(`api/sweeps/${encodeURIComponent(this.id)}/stop`, {})).sweep;
			this.#render();
		} catch (e) {
			toast(`Cannot stop the sweep: ${e.message}`, 'error');
		}
	}

	destroy() {
		clearInterval(this.timer);
		this.offRuns();
		this.pc.destroy();
	}
}

export class SweepsPage {
	constructor(root, ctx) {
		this.ctx = ctx;
		this.listEl = h('div');
		clear(root).append(h('h1', { text: 'Sweeps' }), h('section.panel', this.listEl));
		document.title = 'Sweeps — trainbook';
		ctx.debug.page = this;
	}

	async load() {
		const sweeps = (await this.ctx.api.get('api/sweeps')).sweeps || [];
		if (!sweeps.length) {
			clear(this.listEl).append(h('p.muted', { text: 'No sweeps yet: add a sweep: section to a run cell and run it.' }));
			return;
		}
		clear(this.listEl).append(h('table.list',
			h('thead', h('tr', ['sweep', 'name', 'status', 'trials', 'best so far', 'started'].map((t) => h('th', { scope: 'col', text: t })))),
			h('tbody', sweeps.map((s) => h('tr',
				h('td', h('a', { href: `#/sweeps/${s.id}`, text: s.id })),
				h('td', { text: s.name }),
				h('td', statusBadge(s.status)),
				h('td', { text: `${s.done} / ${s.trials}` }),
				h('td', { text: s.best ? `${fmtMetric(s.best.value)} (trial ${s.best.trial})` : '—' }),
				h('td', { text: fmtTime(s.created) }))))));
	}

	destroy() {}
}
