/*
 * board.js — the instructor board (#/board): every student's current and
 * recent runs on one page — student, run, notebook, status and place in
 * the queue, progress, live loss and accuracy sparklines, best metric,
 * device, time used against the limits — filtered by student or notebook,
 * sorted by progress or metric, each row opening the run's view
 * (#/run/<id>) and offering stop, kill and extend; above it, the limits
 * and lab sessions an instructor sets (limits.js).
 *
 * It follows the feed's board subscription (instructors only): a snapshot,
 * then at most one update a second per run (server/board.c); rows are
 * redrawn once per animation frame for the runs that changed. Each user's
 * minutes against their quota come from GET /api/quotas, every 10 s.
 *
 * window.trainbook.debug.boardLag holds, per drawn update with a new
 * point, how long after the worker made its event the row showed it (ms),
 * boardRecvLag how long until the message arrived, and boardSentLag how
 * long until the server sent it: the simulated-class benchmark reads them.
 *
 * Threads: the page's main thread.
 */

import { h, clear, statusBadge, toast, promptDialog } from './dom.js';
import { Sparkline } from './sparkline.js';
import { BoardModel, SORT_NAMES, ACTIVE, progressOf } from './board-model.js';
import { fmtDuration, fmtMetric, fmtTime } from './format.js';
import { LimitsPanel } from './limits.js';
import { killRun } from './run-identity.js';

const QUOTA_EVERY_MS = 10000;
const SPARK = { width: 120, height: 28 }; /* table.board canvas.spark in style.css */
const LAG_KEEP = 20000;

/* "12.5 / 120 GPU min today" from a user's quota entry. */
function minutesText(q) {
	if (!q) return '';
	const parts = [];
	for (const kind of ['gpu', 'cpu']) {
		const used = q.use[`${kind}_minutes_per_day`];
		const limit = q.limits[`${kind}_minutes_per_day`];
		if (limit === null && !(used > 0.05)) continue;
		parts.push(`${kind.toUpperCase()} ${used.toFixed(1)}${limit === null ? '' : ' / ' + limit} min today`);
	}
	return parts.join(' · ');
}

export class BoardPage {
	constructor(root, ctx) {
		this.root = root;
		this.ctx = ctx;
		this.model = new BoardModel();
		this.rows = new Map(); /* id → {tr, cells…, loss: Sparkline, acc: Sparkline} */
		this.quotas = new Map(); /* user → {limits, use} */
		this.dirty = new Set();
		this.lagWanted = new Map(); /* id → event_ms of an update waiting to be drawn */
		this.frame = 0;
		this.prefs = { filter: '', status: 'all', sort: 'newest' };
		this.countsEl = h('p.muted.board-counts', { role: 'status' });
		const filter = h('input', { type: 'search', placeholder: 'student, notebook or run', 'aria-label': 'filter by student or notebook' });
		filter.addEventListener('input', () => this.#setPref('filter', filter.value));
		const status = h('select', { 'aria-label': 'status' }, ['all', 'active', 'queued', 'running', 'ended'].map((s) => h('option', { value: s, text: s })));
		status.addEventListener('change', () => this.#setPref('status', status.value));
		const sort = h('select', { 'aria-label': 'sort by' }, SORT_NAMES.map((s) => h('option', { value: s, text: 'sort: ' + s })));
		sort.addEventListener('change', () => this.#setPref('sort', sort.value));
		this.body = h('tbody');
		this.empty = h('p.muted', { text: 'No runs yet.' });
		this.limits = new LimitsPanel(ctx, () => this.#fetchQuotas());
		clear(root).append(
			h('h1', { text: 'Board' }),
			this.limits.el,
			h('div.board-controls', filter, status, sort, this.countsEl),
			h('table.list.board', { 'aria-label': 'every student\'s runs' },
				h('thead', h('tr', ['Student', 'Run', 'Notebook', 'Status', 'Progress', 'Loss', 'Accuracy', 'Best', 'Device', 'Time', ''].map((t) => h('th', { scope: 'col', text: t })))),
				this.body),
			this.empty);
		document.title = 'Board — trainbook';
		ctx.debug.page = this;
		ctx.debug.boardLag = ctx.debug.boardLag || [];
		ctx.debug.boardRecvLag = ctx.debug.boardRecvLag || [];
		ctx.debug.boardSentLag = ctx.debug.boardSentLag || [];
		this.off = ctx.feed.onBoard((msg) => this.#onMessage(msg));
	}

	async load() {
		await this.#fetchQuotas();
		await this.limits.load();
		this.quotaTimer = setInterval(() => this.#fetchQuotas(), QUOTA_EVERY_MS);
	}

	destroy() {
		this.off();
		clearInterval(this.quotaTimer);
		if (this.frame) cancelAnimationFrame(this.frame);
		if (this.ctx.debug.page === this) this.ctx.debug.page = null;
	}

	async #fetchQuotas() {
		try {
			const q = await this.ctx.api.get('api/quotas');
			this.quotas = new Map(q.users.map((u) => [u.user, u]));
			for (const id of this.rows.keys()) this.dirty.add(id);
			this.#schedule();
		} catch (e) {
			if (e.status === 403) this.countsEl.textContent = 'The board is for instructors.';
		}
	}

	#setPref(key, value) {
		this.prefs[key] = value;
		for (const id of this.model.runs.keys()) this.dirty.add(id);
		this.#schedule();
	}

	#onMessage(msg) {
		const changed = this.model.apply(msg);
		if (changed === null) {
			for (const id of this.rows.keys()) this.dirty.add(id);
			for (const id of this.model.runs.keys()) this.dirty.add(id);
		} else {
			const now = performance.timeOrigin + performance.now();
			const { boardRecvLag: recv, boardSentLag: sent } = this.ctx.debug;
			for (const [id, c] of changed) {
				this.dirty.add(id);
				if (c.points && c.eventMs) {
					this.lagWanted.set(id, c.eventMs);
					recv.push(now - c.eventMs);
					if (msg.sent_ms) sent.push(msg.sent_ms - c.eventMs);
				}
			}
			for (const a of [recv, sent]) if (a.length > LAG_KEEP) a.splice(0, a.length - LAG_KEEP);
		}
		this.#schedule();
	}

	#schedule() {
		if (!this.frame) this.frame = requestAnimationFrame(() => {
			this.frame = 0;
			this.#draw();
		});
	}

	#draw() {
		const shown = this.model.view(this.prefs);
		const keep = new Set(shown.map((e) => e.id));
		for (const [id, row] of this.rows) if (!keep.has(id)) {
			row.tr.remove();
			this.rows.delete(id);
		}
		let at = this.body.firstChild;
		for (const e of shown) {
			let row = this.rows.get(e.id);
			if (!row) {
				row = this.#makeRow(e.id);
				this.rows.set(e.id, row);
				this.dirty.add(e.id);
			}
			if (this.dirty.has(e.id)) this.#fill(row, e);
			/* Keep the DOM in the view's order, moving only what is out of place. */
			if (row.tr !== at) this.body.insertBefore(row.tr, at);
			else at = at.nextSibling;
		}
		this.dirty.clear();
		this.empty.hidden = shown.length > 0;
		const all = [...this.model.runs.values()];
		const count = (s) => all.filter((e) => e.run?.status === s).length;
		const students = new Set(all.map((e) => e.run?.owner).filter(Boolean));
		this.countsEl.textContent = `${count('running')} running · ${count('queued')} queued · ${students.size} users · ${shown.length} shown`;
		/* Drawn: how long after its worker made the event each new point reached the page. */
		const now = performance.timeOrigin + performance.now();
		const lag = this.ctx.debug.boardLag;
		for (const [id, eventMs] of this.lagWanted) if (keep.has(id)) lag.push(now - eventMs);
		this.lagWanted.clear();
		if (lag.length > LAG_KEEP) lag.splice(0, lag.length - LAG_KEEP);
	}

	#makeRow(id) {
		const td = (cls) => h('td' + (cls ? '.' + cls : ''));
		const row = {
			student: td('student'), run: td(), notebook: td('muted'), status: td('status'), progress: td('board-progress'),
			lossCell: td('spark-cell'), accCell: td('spark-cell'), best: td('num'), device: td('muted'), time: td('num'), actions: td('actions'),
		};
		row.loss = new Sparkline(row.lossCell, { label: 'loss', format: fmtMetric, size: SPARK });
		row.acc = new Sparkline(row.accCell, { label: 'accuracy', format: fmtMetric, max: 1, size: SPARK });
		row.bar = h('progress', { max: '1', value: '0', 'aria-label': `progress of ${id}` });
		row.pct = h('span.muted.small');
		row.progress.append(row.bar, ' ', row.pct);
		row.link = h('a', { href: '#/run/' + encodeURIComponent(id) });
		row.run.append(row.link);
		row.stop = h('button', { type: 'button', text: 'Stop', 'aria-label': `stop ${id}`, onclick: () => this.#stop(id) });
		row.kill = h('button.danger', { type: 'button', text: 'Kill', 'aria-label': `kill ${id}`, onclick: () => killRun(this.ctx.api, { id }) });
		row.extend = h('button', { type: 'button', text: 'Extend', 'aria-label': `extend ${id}`, onclick: () => this.#extend(id) });
		row.actions.append(row.stop, row.kill, row.extend);
		row.tr = h('tr', { 'data-run': id }, row.student, row.run, row.notebook, row.status, row.progress, row.lossCell, row.accCell,
			row.best, row.device, row.time, row.actions);
		return row;
	}

	#fill(row, e) {
		const r = e.run || {};
		const q = this.quotas.get(r.owner);
		clear(row.student).append(h('span', { text: r.owner || '?' }), h('div.muted.small', { text: minutesText(q) }));
		row.link.textContent = `${r.name || e.id} · ${e.id}`;
		row.notebook.textContent = r.notebook ? r.notebook.split('/').pop() + (r.cell ? ' / ' + r.cell : '') : '—';
		clear(row.status).append(statusBadge(r.status));
		if (r.status === 'queued' && r.queue) {
			row.status.append(' ', h('span.queue-pos', { text: '#' + r.queue.position }), h('div.muted.small.reason', { text: r.queue.reason }));
		} else if (r.reason && !ACTIVE.has(r.status)) {
			row.status.append(h('div.muted.small.reason', { text: r.reason }));
		}
		const p = progressOf(e);
		if (p === null) row.bar.removeAttribute('value');
		else row.bar.value = p;
		row.pct.textContent = p === null ? '' : Math.round(p * 100) + '%';
		row.loss.set(e.series.loss.map((pt) => pt[1]));
		row.acc.set(e.series.accuracy.map((pt) => pt[1]));
		row.best.textContent = r.best && Number.isFinite(r.best.value) ? `${fmtMetric(r.best.value)} ${r.best.metric || ''}` : '—';
		row.device.textContent = r.device || '—';
		const limit = r.duration_limit ?? q?.limits?.max_run_seconds ?? null;
		row.time.textContent = `${fmtDuration(r.compute_seconds ?? 0)}${limit ? ' / ' + fmtDuration(limit) : ''}`;
		row.time.title = r.started ? 'started ' + fmtTime(r.started) : '';
		const active = ACTIVE.has(r.status);
		row.stop.disabled = !active;
		row.kill.disabled = !active;
	}

	async #stop(id) {
		try {
			await this.ctx.api.post(`api/runs/${encodeURIComponent(id)}/stop`, {});
			toast(`Stopping ${id}: it checkpoints first.`);
		} catch (e) {
			toast(`Cannot stop ${id}: ${e.message}`, 'error');
		}
	}

	async #extend(id) {
		const minutes = await promptDialog('Extend', `Minutes to add to ${id}'s duration limit`, '30');
		if (minutes === null) return;
		const n = Number(minutes);
		if (!Number.isFinite(n) || n <= 0) {
			toast('Give a number of minutes.', 'error');
			return;
		}
		try {
			const r = await this.ctx.api.post(`api/runs/${encodeURIComponent(id)}/extend`, { seconds: Math.round(n * 60) });
			toast(`${id} may now run ${fmtDuration(r.run.duration_limit)}.`);
			this.model.apply({ runs: [{ id, run: r.run }] });
			this.dirty.add(id);
			this.#schedule();
		} catch (e) {
			toast(`Cannot extend ${id}: ${e.message}`, 'error');
		}
	}
}
