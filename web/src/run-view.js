/*
 * run-view.js — everything under a run cell (and on a run's own page)
 * about its run: name and status, a progress bar with ETA or the
 * evaluation's progress, Stop/Resume, the live curves, a small panel for
 * the run's device, checkpoints as they are written (download, resume
 * from, evaluate; ONNX and Predict come from predict.js), the training's
 * evaluation and each Evaluate action's own result (confusion matrix,
 * sample predictions), and the worker's log.
 *
 * How it reads a run: the run record, then its events without the metrics
 * (GET …/events?exclude=metric: status, checkpoints, evaluations, logs),
 * then its curves as downsampled series (run-curves.js), then the live
 * feed from the record's last seq: a run of a million points opens as fast
 * as a short one. What it is not: the spec editor (cell-run.js).
 *
 * Threads: the page's main thread.
 */

import { h, clear, fill, statusBadge, toast, confirmDialog } from './dom.js';
import { SPLITS } from './curves.js';
import { RunCurves } from './run-curves.js';
import { RunCharts } from './run-charts.js';
import { SystemPanel } from './system.js';
import { renderEvaluation } from './evaluation.js';
import { PredictPanel } from './predict.js';
import { snapshotPng } from './snapshot.js';
import { summaryText } from './summary.js';
import { chanceWarning, evaluationHeading, progressText, received } from './run-status.js';
import { editRun } from './run-identity.js';
import { estimateEta, fmtBytes, fmtInt, fmtTime } from './format.js';

export const ACTIVE = new Set(['queued', 'running']);

/* "cpu" and "cpu (2 threads, 2 cores)" say the same: show the longer one alone. */
function deviceText(device, name) {
	if (!name) return device || '';
	if (!device || name.startsWith(device)) return name;
	return `${device} · ${name}`;
}
const MAX_LOG_LINES = 200;
const EVENTS_PAGE = 5000;

export class RunView {
	/* ctx: {api, feed, monitor, registry}; hooks: {onFinished(view), onResumed(view), onStatus(view)} */
	constructor(parent, ctx, runId, hooks = {}) {
		this.ctx = ctx;
		this.runId = runId;
		this.hooks = hooks;
		this.run = { id: runId, status: 'unknown' };
		this.info = {};
		this.summary = null;
		this.phase = null;  /* the latest "phase" event while it lasts (evaluating on test…) */
		this.progress = []; /* [{step, time}] of live train metrics, for the ETA */
		this.step = null;
		this.logs = [];
		this.evaluation = null;        /* the training's latest */
		this.checkEvals = new Map();   /* checkpoint file → its Evaluate action's evaluation */
		this.checkpoints = [];
		this.wasActive = false; /* seen queued/running live: its end is worth saving */
		this.received = 0;
		this.loaded = false;    /* history read; live events follow */
		this.stopping = null;   /* takes the "Stopping…" toast away */

		this.nameEl = h('span.run-name');
		this.statusEl = h('div.run-status');
		this.progressEl = h('progress', { max: '1', value: '0', 'aria-label': 'training progress' });
		this.progressText = h('span.progress-text');
		this.stopBtn = h('button.danger', { type: 'button', text: 'Stop', 'aria-label': `stop run ${runId}`, onclick: () => this.stop() });
		this.resumeBtn = h('button', { type: 'button', text: 'Resume', 'aria-label': `resume run ${runId}`, onclick: () => this.resume() });
		this.messageEl = h('div.run-message', { role: 'status' });
		this.warningEl = h('div.run-warning', { role: 'alert', hidden: true });
		this.side = h('div.run-side');
		this.ckptEl = h('section.checkpoints', { 'aria-label': 'checkpoints' });
		this.evalEl = h('div.run-eval');
		this.checkEvalEl = h('div.run-check-evals');
		this.logEl = h('details.run-log', { hidden: true });
		const main = h('div.run-main');
		this.root = h('div.run-view', { 'data-run': runId },
			h('div.run-head', this.statusEl, h('div.progress', this.progressEl, this.progressText), h('div.run-buttons', this.stopBtn, this.resumeBtn)),
			this.messageEl,
			this.warningEl,
			h('div.run-body', main, this.side),
			this.evalEl,
			this.checkEvalEl,
			this.logEl);
		parent.append(this.root);
		this.curves = new RunCurves({
			api: ctx.api, feed: ctx.feed,
			onChange: () => this.charts.update(),
			onEvents: (id, items) => this.#onEvents(items),
		});
		this.charts = new RunCharts(main, ctx.api, runId, this.curves, () => ({ stepsPerEpoch: this.#stepsPerEpoch(), t0: this.run.started || null }));
		this.devicePanel = new SystemPanel(this.side, ctx.monitor, { device: null, title: 'Device' });
		this.side.append(this.ckptEl);
		this.predict = new PredictPanel(ctx.api, runId, () => this.evaluation);
		this.root.insertBefore(this.predict.root, this.evalEl);
		this.#renderHead();
		this.#renderCheckpoints();

		this.offRuns = ctx.feed.onRuns((run) => {
			if (run.id === runId) this.#setRun(received(run));
		});
		if (ctx.registry) ctx.registry.add(this);
		this.ready = this.#load();
		this.#fetchCheckpoints();
	}

	destroy() {
		this.destroyed = true;
		this.curves.destroy();
		this.offRuns();
		this.charts.destroy();
		this.devicePanel.destroy();
		clearTimeout(this.ckptTimer);
		if (this.stopping) this.stopping();
		if (this.ctx.registry) this.ctx.registry.delete(this);
		this.root.remove();
	}

	get active() {
		return ACTIVE.has(this.run.status);
	}

	#stepsPerEpoch() {
		return this.info.steps_per_epoch || (this.run.progress && this.run.progress.steps_per_epoch) || 0;
	}

	/* The record, the events that are not metrics up to its last seq, the curves, then live. */
	async #load() {
		let run;
		try {
			run = (await this.ctx.api.get(`api/runs/${encodeURIComponent(this.runId)}`)).run;
		} catch (e) {
			this.messageEl.textContent = e.status === 404 ? `Run ${this.runId} no longer exists on the server.` : `Cannot load run ${this.runId}: ${e.message}`;
			this.messageEl.className = 'run-message error';
			return;
		}
		if (this.destroyed) return;
		this.#setRun(received(run));
		const upTo = run.last_seq || 0;
		let since = 0;
		try {
			while (since < upTo && !this.destroyed) {
				const page = await this.ctx.api.get(`api/runs/${encodeURIComponent(this.runId)}/events?since=${since}&limit=${EVENTS_PAGE}&exclude=metric`);
				const items = (page.events || []).filter((e) => e.seq <= upTo);
				if (items.length) this.#onEvents(items, true);
				/* an answer stops at ~4 MiB whatever the limit: page on until the record's last seq */
				if (!page.events || !page.events.length || items.length < page.events.length) break;
				since = page.events[page.events.length - 1].seq;
			}
		} catch {
			/* the curves and the live feed still come */
		}
		if (this.destroyed) return;
		this.loaded = true;
		this.#afterEvents(true);
		await this.curves.load([run]);
		this.#warnIfDiverged();
	}

	#setRun(run) {
		if (!run) return;
		const prev = this.run.status;
		this.run = { ...this.run, ...run };
		if (ACTIVE.has(run.status)) this.wasActive = true;
		if (run.device) this.devicePanel.setDevice(run.device);
		if (!ACTIVE.has(run.status) && this.stopping) {
			this.stopping();
			this.stopping = null;
		}
		this.#renderHead();
		this.#maybeFinished(prev);
	}

	#maybeFinished(prev) {
		if (this.wasActive && !this.active && this.run.status !== 'unknown' && prev !== this.run.status) {
			this.wasActive = false;
			this.#fetchCheckpoints();
			this.#warnIfDiverged();
			if (this.hooks.onFinished) this.hooks.onFinished(this);
		}
	}

	/* Events of the run in seq order: the history (without metrics) first, then live ones. */
	#onEvents(items, history = false) {
		const prev = this.run.status;
		for (const { event } of items) {
			this.received++;
			if (!event || typeof event !== 'object') continue;
			switch (event.type) {
			case 'status':
				if (event.status === 'running' || event.steps_per_epoch) this.info = { ...this.info, ...event };
				/* a queued run waiting to evaluate a checkpoint says so (run-status.js) */
				this.run = { ...this.run, status: event.status, reason: event.reason ?? null, evaluate: event.status === 'queued' ? event.evaluate || null : null };
				if (event.status !== 'running') this.phase = null;
				if (event.evaluation) this.evalOutcome = event.evaluation;
				if (event.device) this.devicePanel.setDevice(event.device);
				break;
			case 'metric':
				if ((event.split || 'train') === 'train') {
					this.step = event.step;
					this.phase = null;
					if (Number.isFinite(event.time)) {
						this.progress.push({ step: event.step, time: event.time });
						if (this.progress.length > 400) this.progress.splice(0, 200);
					}
				}
				break;
			case 'phase':
				this.phase = event;
				break;
			case 'checkpoint':
				this.#mergeCheckpoint(event);
				break;
			case 'evaluation':
				if (event.checkpoint) this.checkEvals.set(event.checkpoint, event);
				else this.evaluation = event;
				break;
			case 'summary':
				this.summary = event;
				break;
			case 'log':
				this.logs.push(event);
				if (this.logs.length > MAX_LOG_LINES) this.logs.shift();
				break;
			default:
				break;
			}
		}
		if (!this.loaded && history) return; /* drawn once the whole history is in */
		const types = new Set(items.map((i) => i.event && i.event.type));
		this.#afterEvents(false, types, prev);
	}

	#afterEvents(all, types = new Set(), prev = this.run.status) {
		this.#renderHead();
		if (all || types.has('checkpoint')) {
			this.#renderCheckpoints();
			clearTimeout(this.ckptTimer);
			if (!all) this.ckptTimer = setTimeout(() => this.#fetchCheckpoints(), 500);
		}
		if (all || types.has('evaluation') || types.has('status')) this.#renderEvaluation();
		if (all || types.has('log')) this.#renderLog();
		if (!all) this.#maybeFinished(prev);
	}

	#renderHead() {
		const r = this.run;
		const info = this.info;
		this.nameEl.textContent = r.name || '';
		fill(this.statusEl,
			statusBadge(r.status),
			h('a.run-id', { href: '#/run/' + encodeURIComponent(r.id), text: r.id, title: 'open the run\'s page' }),
			r.name ? this.nameEl : null,
			h('button.link.edit-run', { type: 'button', text: r.name ? 'edit' : 'name it', 'aria-label': `edit name, tags and notes of ${r.id}`, onclick: () => this.edit() }),
			(r.tags || []).length ? h('span.tags', r.tags.map((t) => h('span.tag', { text: t }))) : null,
			r.device || info.device ? h('span.device', { text: deviceText(info.device || r.device, info.device_name) }) : null,
			info.precision ? h('span.muted', { text: info.precision }) : null,
			r.started ? h('span.muted', { text: 'started ' + fmtTime(r.started) }) : null);
		const total = info.total_steps || (r.progress && r.progress.total_steps) || 0;
		const step = this.step ?? (r.progress && r.progress.step) ?? 0;
		if (this.phase && this.phase.phase === 'evaluating' && this.phase.total && r.status === 'running') {
			this.progressEl.max = this.phase.total;
			this.progressEl.value = Math.min(this.phase.done, this.phase.total);
		} else if (total) {
			this.progressEl.max = total;
			this.progressEl.value = Math.min(step, total);
		} else this.progressEl.removeAttribute('value');
		const eta = this.active ? estimateEta(this.progress, total) : null;
		this.progressText.textContent = progressText({ run: r, info, step: this.step, phase: this.phase, eta });
		this.stopBtn.hidden = !this.active;
		this.resumeBtn.hidden = !['stopped', 'failed', 'interrupted'].includes(r.status);
		const failed = r.status === 'failed' || r.status === 'interrupted';
		const lastErr = [...this.logs].reverse().find((l) => l.level === 'error');
		if (r.status === 'queued' && r.queue) {
			/* Why it waits, as the scheduler's last pass put it (updated by run messages); its
			 * place in line is already in the progress line above ("1 run ahead of it"). */
			this.messageEl.textContent = `Waiting: ${r.queue.reason}`;
			this.messageEl.className = 'run-message queue';
		} else if (failed || r.reason) {
			const why = failed ? `${r.status}${r.reason ? ': ' + r.reason : ''}${lastErr && lastErr.message !== r.reason ? ' — ' + lastErr.message : ''}` : r.reason;
			this.messageEl.textContent = why;
			this.messageEl.className = 'run-message' + (failed ? ' error' : '');
		} else if (!this.messageEl.classList.contains('error')) this.messageEl.textContent = '';
		if (this.ckptStatus !== r.status) this.#renderCheckpoints(); /* buttons depend on the status */
		if (this.hooks.onStatus) this.hooks.onStatus(this);
	}

	/* A run that ended at chance accuracy with an exploding loss gets a visible warning. */
	#warnIfDiverged() {
		const acc = this.#lastValue('test', 'accuracy');
		const loss = this.#lastValue('test', 'loss') ?? this.#lastValue('train', 'loss');
		const classes = this.evaluation && this.evaluation.classes ? this.evaluation.classes.length : 0;
		const text = !this.active ? chanceWarning({ accuracy: acc, loss, classes }) : null;
		this.warningEl.hidden = !text;
		this.warningEl.textContent = text || '';
	}

	#lastValue(split, metric) {
		const c = this.curves.get(this.runId, `${split}/${metric}`);
		return c && c.length ? c.values[c.length - 1] : undefined;
	}

	#mergeCheckpoint(ev) {
		if (!ev.file) return;
		if (!this.checkpoints.some((c) => c.file === ev.file)) this.checkpoints.push({ file: ev.file, step: ev.step, epoch: ev.epoch, bytes: ev.bytes, best: ev.best, time: null });
	}

	/* The files on disk are the truth (keep: N deletes old ones); events fill in until it answers. */
	async #fetchCheckpoints() {
		try {
			const r = await this.ctx.api.get(`api/runs/${encodeURIComponent(this.runId)}/checkpoints`);
			this.checkpoints = r.checkpoints || [];
			this.#renderCheckpoints();
		} catch {
			/* keep what the events said */
		}
	}

	#renderCheckpoints() {
		this.ckptStatus = this.run.status;
		const list = this.checkpoints.slice().sort((a, b) => (a.step ?? 0) - (b.step ?? 0));
		fill(this.ckptEl, h('h3', { text: `Checkpoints (${list.length})` }));
		if (!list.length) {
			this.ckptEl.append(h('p.muted', { text: 'None yet.' }));
			return;
		}
		const ul = h('ul.ckpt-list');
		for (const c of list) {
			const url = this.ctx.api.url(`api/runs/${encodeURIComponent(this.runId)}/checkpoints/${encodeURIComponent(c.file)}`);
			ul.append(h('li.ckpt', { 'data-file': c.file },
				h('span.ckpt-name', { text: c.file }),
				c.best ? h('span.badge.best', { text: 'best' }) : null,
				h('span.muted', { text: `epoch ${c.epoch ?? '?'} · step ${fmtInt(c.step)} · ${fmtBytes(c.bytes)}` }),
				h('span.ckpt-actions',
					h('a.button', { href: url, download: c.file, text: 'Download', 'aria-label': `download ${c.file}` }),
					h('button', { type: 'button', text: 'Resume from', disabled: this.active, 'aria-label': `resume from ${c.file}`, onclick: () => this.resume(c.file) }),
					h('button', {
						type: 'button', text: 'Evaluate', disabled: this.active, 'aria-label': `evaluate ${c.file}`,
						title: 'Scores this checkpoint on the test split; the run and its summary stay as they are',
						onclick: () => this.evaluate(c.file),
					}),
					this.predict.actions(c.file))));
		}
		this.ckptEl.append(ul);
	}

	#renderEvaluation() {
		clear(this.evalEl);
		const spe = this.#stepsPerEpoch();
		if (this.evaluation) this.evalEl.append(renderEvaluation(this.evaluation, evaluationHeading(this.evaluation, spe)));
		clear(this.checkEvalEl);
		for (const [file, ev] of this.checkEvals) {
			const box = h('section.check-eval', { 'data-checkpoint': file, 'aria-label': `evaluation of ${file}` },
				renderEvaluation(ev, evaluationHeading(ev, spe)));
			this.checkEvalEl.append(box);
		}
		if (this.evalOutcome && !/^completed/.test(this.evalOutcome)) {
			this.checkEvalEl.append(h('p.run-message.error', { text: 'The last evaluation did not finish: ' + this.evalOutcome }));
		}
	}

	#renderLog() {
		this.logEl.hidden = !this.logs.length;
		fill(this.logEl, h('summary', { text: `Log (${this.logs.length})` }));
		const pre = h('div.log-lines');
		for (const l of this.logs) pre.append(h('div.log-' + (l.level || 'info'), { text: `${l.level || 'info'}: ${l.message}` }));
		this.logEl.append(pre);
	}

	async edit() {
		const run = await editRun(this.ctx.api, this.run);
		if (run) this.#setRun(received(run));
	}

	async stop() {
		this.stopBtn.disabled = true;
		try {
			await this.ctx.api.post(`api/runs/${encodeURIComponent(this.runId)}/stop`, {});
			if (this.stopping) this.stopping();
			/* stays until the run has stopped (#setRun), not a fixed five seconds */
			this.stopping = this.active ? toast(`Stopping ${this.runId}: it finishes its step and checkpoints first.`, 'info', 120000) : null;
		} catch (e) {
			toast(`Cannot stop ${this.runId}: ${e.message}`, 'error');
		} finally {
			this.stopBtn.disabled = false;
		}
	}

	async resume(checkpoint) {
		if (this.active) return;
		if (checkpoint && !(await confirmDialog('Resume', `Continue run ${this.runId} from ${checkpoint}? Curves after that step are redrawn by the new training.`, 'Resume'))) return;
		try {
			const r = await this.ctx.api.post(`api/runs/${encodeURIComponent(this.runId)}/resume`, checkpoint ? { checkpoint } : {});
			this.wasActive = true;
			this.#setRun(received(r.run) || { status: 'queued' });
			if (this.hooks.onResumed) this.hooks.onResumed(this);
		} catch (e) {
			toast(`Cannot resume ${this.runId}: ${e.message}`, 'error');
		}
	}

	/* Score a checkpoint on the test split: its own action and result block; the run stays as it was. */
	async evaluate(checkpoint) {
		if (this.active) return;
		try {
			const r = await this.ctx.api.post(`api/runs/${encodeURIComponent(this.runId)}/evaluate`, { checkpoint });
			this.evalOutcome = null;
			this.#setRun(received(r.run));
			toast(`Evaluating ${checkpoint} on the test split…`);
		} catch (e) {
			toast(`Cannot evaluate ${checkpoint}: ${e.message}`, 'error');
		}
	}

	#lastValues() {
		const last = {};
		for (const split of SPLITS) for (const m of ['loss', 'accuracy']) {
			const v = this.#lastValue(split, m);
			if (v !== undefined) last[`${split}.${m}`] = v;
		}
		return last;
	}

	summaryText() {
		return summaryText({ run: this.run, info: this.info, summary: this.summary, step: this.step ?? (this.run.progress && this.run.progress.step), epoch: this.run.progress && this.run.progress.epoch, last: this.#lastValues() });
	}

	/* What the notebook stores for this run: {png (data URL), text}. */
	snapshot() {
		const text = this.summaryText();
		const series = {
			get: (split, metric) => {
				const c = this.curves.get(this.runId, `${split}/${metric}`);
				return c ? { xs: c.steps, ys: c.values } : { xs: [], ys: [] };
			},
		};
		return { png: snapshotPng(series, text.split('\n')[0]), text };
	}
}
