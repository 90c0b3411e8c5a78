/*
 * run-view.js — everything under a run cell about its run: status, a
 * progress bar with ETA, Stop/Resume, the live curves, a small panel for
 * the run's device, checkpoints as they are written (download, resume from,
 * evaluate; ONNX and Predict come from predict.js), the evaluation
 * (confusion matrix, sample predictions) and the worker's log messages.
 *
 * What it is: one run followed through the feed (every event once, in seq
 * order, replayed from seq 1 on attach and resumed after reconnects). What
 * it is not: the spec editor (cell-run.js).
 *
 * "Evaluate" has no route of its own in docs/api.md: it resumes a completed
 * run from its last checkpoint with the epochs unchanged, so the worker has
 * nothing left to train and only evaluates.
 *
 * Threads: the page's main thread.
 */

import { h, clear, statusBadge, toast, confirmDialog } from './dom.js';
import { RunSeries, SPLITS } from './series.js';
import { RunCharts } from './run-charts.js';
import { SystemPanel } from './system.js';
import { renderEvaluation } from './evaluation.js';
import { PredictPanel } from './predict.js';
import { snapshotPng } from './snapshot.js';
import { summaryText } from './summary.js';
import { estimateEta, fmtBytes, fmtDuration, fmtInt, fmtTime } from './format.js';

export const ACTIVE = new Set(['queued', 'running']);

/* "cpu" and "cpu (2 threads, 2 cores)" say the same: show the longer one alone. */
function deviceText(device, name) {
	if (!name) return device || '';
	if (!device || name.startsWith(device)) return name;
	return `${device} · ${name}`;
}
const MAX_LOG_LINES = 200;

export class RunView {
	/* ctx: {api, feed, monitor, registry}; hooks: {onFinished(view), onResumed(view), onStatus(view)} */
	constructor(parent, ctx, runId, hooks = {}) {
		this.ctx = ctx;
		this.runId = runId;
		this.hooks = hooks;
		this.run = { id: runId, status: 'unknown' };
		this.info = {};
		this.summary = null;
		this.series = new RunSeries();
		this.progress = []; /* [{step, time}] of train metrics, for the ETA */
		this.step = null;
		this.epoch = null;
		this.logs = [];
		this.evaluation = null;
		this.checkpoints = [];
		this.wasActive = false; /* seen queued/running live: its end is worth saving */
		this.received = 0;

		this.statusEl = h('div.run-status');
		this.progressEl = h('progress', { max: '1', value: '0', 'aria-label': 'training progress' });
		this.progressText = h('span.progress-text');
		this.stopBtn = h('button.danger', { type: 'button', text: 'Stop', 'aria-label': `stop run ${runId}`, onclick: () => this.stop() });
		this.resumeBtn = h('button', { type: 'button', text: 'Resume', 'aria-label': `resume run ${runId}`, onclick: () => this.resume() });
		this.messageEl = h('div.run-message', { role: 'status' });
		this.side = h('div.run-side');
		this.ckptEl = h('section.checkpoints', { 'aria-label': 'checkpoints' });
		this.evalEl = h('div.run-eval');
		this.logEl = h('details.run-log', { hidden: true });
		const main = h('div.run-main');
		this.root = h('div.run-view', { 'data-run': runId },
			h('div.run-head', this.statusEl, h('div.progress', this.progressEl, this.progressText), h('div.run-buttons', this.stopBtn, this.resumeBtn)),
			this.messageEl,
			h('div.run-body', main, this.side),
			this.evalEl,
			this.logEl);
		parent.append(this.root);
		this.charts = new RunCharts(main, ctx.api, runId);
		this.devicePanel = new SystemPanel(this.side, ctx.monitor, { device: null, title: 'Device' });
		this.side.append(this.ckptEl);
		this.predict = new PredictPanel(ctx.api, runId, () => this.evaluation);
		this.root.insertBefore(this.predict.root, this.evalEl);
		this.#renderHead();
		this.#renderCheckpoints();

		this.offFeed = ctx.feed.subscribeRun(runId, (items) => this.#onEvents(items));
		this.offRuns = ctx.feed.onRuns((run) => {
			if (run.id === runId) this.#setRun(run);
		});
		if (ctx.registry) ctx.registry.add(this);
		this.#fetchRun();
		this.#fetchCheckpoints();
	}

	destroy() {
		this.offFeed();
		this.offRuns();
		this.charts.destroy();
		this.devicePanel.destroy();
		clearTimeout(this.ckptTimer);
		if (this.ctx.registry) this.ctx.registry.delete(this);
		this.root.remove();
	}

	get active() {
		return ACTIVE.has(this.run.status);
	}

	async #fetchRun() {
		try {
			const r = await this.ctx.api.get(`api/runs/${encodeURIComponent(this.runId)}`);
			this.#setRun(r.run);
		} catch (e) {
			this.messageEl.textContent = e.status === 404 ? `Run ${this.runId} no longer exists on the server.` : `Cannot load run ${this.runId}: ${e.message}`;
			this.messageEl.className = 'run-message error';
		}
	}

	#setRun(run) {
		if (!run) return;
		const prev = this.run.status;
		this.run = { ...this.run, ...run };
		if (ACTIVE.has(run.status)) this.wasActive = true;
		if (run.device) this.devicePanel.setDevice(run.device);
		this.#renderHead();
		this.#maybeFinished(prev);
	}

	#maybeFinished(prev) {
		if (this.wasActive && !this.active && this.run.status !== 'unknown' && prev !== this.run.status) {
			this.wasActive = false;
			this.#fetchCheckpoints();
			if (this.hooks.onFinished) this.hooks.onFinished(this);
		}
	}

	#onEvents(items) {
		const prev = this.run.status;
		let ckpt = false;
		for (const { event } of items) {
			this.received++;
			if (!event || typeof event !== 'object') continue;
			switch (event.type) {
			case 'status':
				if (event.status === 'running' || event.steps_per_epoch) this.info = { ...this.info, ...event };
				this.run = { ...this.run, status: event.status, reason: event.reason ?? null };
				if (event.device) this.devicePanel.setDevice(event.device);
				this.series.add(event);
				break;
			case 'metric':
				this.series.add(event);
				if ((event.split || 'train') === 'train') {
					this.step = event.step;
					this.epoch = event.epoch;
					if (Number.isFinite(event.time)) {
						this.progress.push({ step: event.step, time: event.time });
						if (this.progress.length > 400) this.progress.splice(0, 200);
					}
				}
				break;
			case 'checkpoint':
				ckpt = true;
				this.#mergeCheckpoint(event);
				break;
			case 'evaluation':
				this.evaluation = event;
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
		this.charts.update(this.series);
		this.#renderHead();
		if (ckpt) {
			this.#renderCheckpoints();
			clearTimeout(this.ckptTimer);
			this.ckptTimer = setTimeout(() => this.#fetchCheckpoints(), 500);
		}
		if (items.some((i) => i.event && i.event.type === 'evaluation')) this.#renderEvaluation();
		if (items.some((i) => i.event && i.event.type === 'log')) this.#renderLog();
		this.#maybeFinished(prev);
	}

	#renderHead() {
		const r = this.run;
		const info = this.info;
		clear(this.statusEl).append(...[ /* DOM append() writes a null child as the text "null" */
			statusBadge(r.status),
			h('span.run-id', { text: r.id }),
			r.device || info.device ? h('span.device', { text: deviceText(info.device || r.device, info.device_name) }) : null,
			info.precision ? h('span.muted', { text: info.precision }) : null,
			r.started ? h('span.muted', { text: 'started ' + fmtTime(r.started) }) : null].filter(Boolean));
		const total = info.total_steps || (r.progress && r.progress.total_steps) || 0;
		const step = this.step ?? (r.progress && r.progress.step) ?? 0;
		const epochs = info.epochs || (r.progress && r.progress.epochs);
		const epoch = this.epoch ?? (r.progress && r.progress.epoch);
		if (total) {
			this.progressEl.max = total;
			this.progressEl.value = Math.min(step, total);
		} else this.progressEl.removeAttribute('value');
		const parts = [`step ${fmtInt(step)}${total ? ' / ' + fmtInt(total) : ''}`];
		if (epoch !== undefined && epoch !== null) parts.push(`epoch ${epoch}${epochs ? ' / ' + epochs : ''}`);
		if (this.active) {
			const eta = estimateEta(this.progress, total);
			if (eta !== null) parts.push('ETA ' + fmtDuration(eta));
		} else if (this.summary && Number.isFinite(this.summary.seconds)) parts.push('took ' + fmtDuration(this.summary.seconds));
		this.progressText.textContent = parts.join(' · ');
		this.stopBtn.hidden = !this.active;
		this.resumeBtn.hidden = !['stopped', 'failed', 'interrupted'].includes(r.status);
		const failed = r.status === 'failed' || r.status === 'interrupted';
		const lastErr = [...this.logs].reverse().find((l) => l.level === 'error');
		if (r.status === 'queued' && r.queue) {
			/* Where it stands and why, as the scheduler's last pass put it (updated by run messages). */
			this.messageEl.textContent = `Waiting, place ${r.queue.position} in line: ${r.queue.reason}`;
			this.messageEl.className = 'run-message queue';
		} else if (failed || r.reason) {
			const why = failed ? `${r.status}${r.reason ? ': ' + r.reason : ''}${lastErr && lastErr.message !== r.reason ? ' — ' + lastErr.message : ''}` : r.reason;
			this.messageEl.textContent = why;
			this.messageEl.className = 'run-message' + (failed ? ' error' : '');
		} else if (!this.messageEl.classList.contains('error')) this.messageEl.textContent = '';
		if (this.ckptStatus !== r.status) this.#renderCheckpoints(); /* buttons depend on the status */
		if (this.hooks.onStatus) this.hooks.onStatus(this);
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
		clear(this.ckptEl).append(h('h3', { text: `Checkpoints (${list.length})` }));
		if (!list.length) {
			this.ckptEl.append(h('p.muted', { text: 'None yet.' }));
			return;
		}
		/* Resuming a completed run from its last checkpoint trains nothing (its epochs or
		   max_steps are reached) and only evaluates: that is what "Evaluate" does. */
		const lastStep = Math.max(...list.map((c) => c.step ?? 0));
		const ul = h('ul.ckpt-list');
		for (const c of list) {
			const url = this.ctx.api.url(`api/runs/${encodeURIComponent(this.runId)}/checkpoints/${encodeURIComponent(c.file)}`);
			const final = this.run.status === 'completed' && (c.step ?? 0) === lastStep;
			ul.append(h('li.ckpt', { 'data-file': c.file },
				h('span.ckpt-name', { text: c.file }),
				c.best ? h('span.badge.best', { text: 'best' }) : null,
				h('span.muted', { text: `epoch ${c.epoch ?? '?'} · step ${fmtInt(c.step)} · ${fmtBytes(c.bytes)}` }),
				h('span.ckpt-actions',
					h('a.button', { href: url, download: c.file, text: 'Download', 'aria-label': `download ${c.file}` }),
					h('button', { type: 'button', text: 'Resume from', disabled: this.active, 'aria-label': `resume from ${c.file}`, onclick: () => this.resume(c.file) }),
					final ? h('button', {
						type: 'button', text: 'Evaluate', disabled: this.active, 'aria-label': `evaluate ${c.file}`,
						title: 'Evaluates this checkpoint on the test set (resumes from it with the epochs unchanged, so nothing is left to train)',
						onclick: () => this.resume(c.file),
					}) : null,
					this.predict.actions(c.file))));
		}
		this.ckptEl.append(ul);
	}

	#renderEvaluation() {
		clear(this.evalEl);
		if (this.evaluation) this.evalEl.append(renderEvaluation(this.evaluation));
	}

	#renderLog() {
		this.logEl.hidden = !this.logs.length;
		clear(this.logEl).append(h('summary', { text: `Log (${this.logs.length})` }));
		const pre = h('div.log-lines');
		for (const l of this.logs) pre.append(h('div.log-' + (l.level || 'info'), { text: `${l.level || 'info'}: ${l.message}` }));
		this.logEl.append(pre);
	}

	async stop() {
		this.stopBtn.disabled = true;
		try {
			await this.ctx.api.post(`api/runs/${encodeURIComponent(this.runId)}/stop`, {});
			toast(`Stopping ${this.runId}: it finishes its step and checkpoints first.`);
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
			this.#setRun(r.run || { status: 'queued' });
			if (this.hooks.onResumed) this.hooks.onResumed(this);
		} catch (e) {
			toast(`Cannot resume ${this.runId}: ${e.message}`, 'error');
		}
	}

	#lastValues() {
		const last = {};
		for (const split of SPLITS) for (const m of ['loss', 'accuracy']) {
			const v = this.series.last(split, m);
			if (v !== undefined) last[`${split}.${m}`] = v;
		}
		return last;
	}

	summaryText() {
		return summaryText({ run: this.run, info: this.info, summary: this.summary, step: this.step, epoch: this.epoch, last: this.#lastValues() });
	}

	/* What the notebook stores for this run: {png (data URL), text}. */
	snapshot() {
		const text = this.summaryText();
		return { png: snapshotPng(this.series, text.split('\n')[0]), text };
	}
}
