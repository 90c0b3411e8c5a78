/*
 * cell-run.js — a run cell: the YAML spec in CodeMirror, checked while
 * typing (POST /api/validate, debounced 300 ms) with errors marked at their
 * line and column and the model summary (layers, output shapes, parameters)
 * under it; Run starts a run of this cell and the run's output (run-view.js)
 * follows.
 *
 * A run is started as {notebook, cell} after saving, so the server records
 * which cell it came from; the run id is kept in the cell's metadata
 * (trainbook.run_id) and re-attached when the notebook is opened again.
 * The cell's earlier runs are listed under it, collapsed, each a link to
 * its own page.
 *
 * Threads: the page's main thread.
 */

import { h, clear, fill, statusBadge, toast } from './dom.js';
import { createEditor } from './editor.js';
import { RunView } from './run-view.js';
import { storedSummary } from './nbformat.js';
import { fmtBytes, fmtDuration, fmtInt, fmtTime, runSeconds } from './format.js';
import { received } from './run-status.js';

/* " · ~216 MiB of memory" (or per GPU and host) from /api/validate's estimate (docs/api.md, Memory). */
function memoryText(m) {
	if (!m) return '';
	if (m.device === 'cuda') return ` · ~${fmtBytes(m.device_bytes)} per GPU, ${fmtBytes(m.host_bytes)} host memory`;
	return ` · ~${fmtBytes(m.total_bytes)} of memory`;
}

/* The estimate's parts, largest first, for the summary's tooltip. */
function memoryParts(m) {
	if (!m || !m.parts) return '';
	return 'estimated peak memory: ' + Object.entries(m.parts).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1])
		.map(([k, v]) => `${k} ${fmtBytes(v)}`).join(', ');
}

export class RunCell {
	constructor(page, cell) {
		this.page = page;
		this.cell = cell;
		this.view = null;
		this.validation = null;
		this.runBtn = h('button.primary', { type: 'button', text: '▶ Run', 'aria-label': 'run this cell', onclick: () => page.runCell(this) });
		this.editorBox = h('div.cell-editor');
		this.summaryEl = h('div.model-summary', { 'aria-live': 'polite' });
		this.outputEl = h('div.cell-output');
		this.historyEl = h('details.cell-runs', { hidden: true });
		this.root = h('div.cell.run-cell', { 'data-cell-id': cell.id, tabindex: '-1', role: 'group', 'aria-label': 'run cell' },
			h('div.cell-gutter', { 'aria-hidden': 'true', text: 'run' }),
			h('div.cell-content',
				h('div.cell-bar', h('span.cell-kind', { text: 'run cell' }), this.runBtn),
				this.editorBox, this.summaryEl, this.outputEl, this.historyEl));
		this.editor = createEditor({
			parent: this.editorBox,
			doc: cell.source,
			lang: 'yaml',
			label: 'run spec (YAML)',
			keys: page.editorKeys(this),
			validate: (text) => this.validate(text),
			onChange: (text) => {
				this.cell.source = text;
				page.markDirty();
			},
			onFocus: () => page.focusCell(this, 'edit'),
		});
		if (cell.runId) this.attach(cell.runId);
		else if (cell.sweepId) this.#showSweep(cell.sweepId);
		else this.#showStored();
		this.#loadHistory();
	}

	/* The cell's earlier runs (not the one shown above), newest first, collapsed. */
	async #loadHistory() {
		let runs;
		try {
			const q = `api/runs?limit=100&notebook=${encodeURIComponent(this.page.path)}&cell=${encodeURIComponent(this.cell.id)}`;
			runs = ((await this.page.ctx.api.get(q)).runs || []).filter((r) => r.id !== this.cell.runId).map((r) => received(r));
		} catch {
			return;
		}
		const open = this.historyEl.open;
		fill(this.historyEl, h('summary', { text: `Earlier runs of this cell (${runs.length})` }));
		this.historyEl.hidden = !runs.length;
		this.historyEl.open = open;
		const ul = h('ul.cell-run-list');
		for (const r of runs) {
			const took = runSeconds(r);
			ul.append(h('li', { 'data-run': r.id },
				h('a', { href: '#/run/' + encodeURIComponent(r.id), text: r.id }), ' ', statusBadge(r.status),
				h('span', { text: ` ${r.name || ''}` }),
				h('span.muted.small', { text: ` · ${fmtTime(r.created)}${took !== null ? ' · ' + fmtDuration(took) : ''}${r.best ? ` · ${r.best.metric} ${Number(r.best.value.toPrecision(4))}` : ''}` })));
		}
		this.historyEl.append(ul);
	}

	edit() {
		this.editor.focus();
	}

	leave() {}

	/* Ask the server; returns the errors for the linter and draws the summary. */
	async validate(text) {
		if (!text.trim()) {
			/* a new, empty cell is not an error yet */
			fill(this.summaryEl, h('p.muted', { text: 'Write a run spec in YAML: data, model, loss, optimizer, train.' }));
			this.summaryEl.className = 'model-summary';
			return [];
		}
		let r;
		try {
			r = await this.page.ctx.api.post('api/validate', { spec: text });
		} catch (e) {
			if (e.status === 400 && e.errors) r = { ok: false, errors: e.errors };
			else {
				this.#drawSummary({ ok: false, errors: [], failure: e.message });
				return [];
			}
		}
		if (text !== this.editor.state.doc.toString()) return r.ok ? [] : r.errors || [];
		this.validation = r;
		this.#drawSummary(r);
		return r.ok ? [] : r.errors || [];
	}

	#drawSummary(r) {
		clear(this.summaryEl);
		this.summaryEl.className = 'model-summary' + (r.ok ? '' : ' invalid');
		if (r.failure) {
			this.summaryEl.append(h('p.muted', { text: 'Cannot check the spec: ' + r.failure }));
			return;
		}
		if (!r.ok) {
			const ul = h('ul.spec-errors');
			for (const e of r.errors || []) ul.append(h('li', { text: e.line ? `line ${e.line}, column ${e.column}: ${e.message}` : e.message }));
			this.summaryEl.append(h('p.error-title', { text: `The spec has ${(r.errors || []).length} error(s):` }), ul);
			return;
		}
		const shape = (s) => (Array.isArray(s) ? s.join('×') : '');
		const table = h('table.layers',
			h('thead', h('tr', ['#', 'layer', 'output shape', 'parameters'].map((t) => h('th', { scope: 'col', text: t })))),
			h('tbody', (r.layers || []).map((l) => h('tr',
				h('td', { text: l.name }), h('td', { text: l.type }), h('td', { text: shape(l.output_shape) }), h('td.num', { text: fmtInt(l.params) })))));
		this.summaryEl.append(h('details.layers-box', { open: (r.layers || []).length <= 12 }, h('summary', { text: `${(r.layers || []).length} layers, ${fmtInt(r.total_params)} parameters · input ${shape(r.input_shape)}${r.classes ? ' · ' + r.classes + ' classes' : ''}${memoryText(r.memory)}`, title: memoryParts(r.memory) }), table));
	}

	/* The sweep this cell started: a link to its view, with how far it has got. */
	async #showSweep(id, started = null) {
		const line = h('p.sweep-link', 'Sweep ', h('a', { href: `#/sweeps/${encodeURIComponent(id)}`, text: id }));
		clear(this.outputEl).append(line);
		if (started) {
			line.append(` started: ${started.trials} trials, ${started.parallel} at a time.`);
			return;
		}
		try {
			const s = (await this.page.ctx.api.get(`api/sweeps/${encodeURIComponent(id)}`)).sweep;
			line.append(`: ${s.status}, ${s.done} of ${s.trials} trials done.`);
		} catch (e) {
			line.append(e.status === 404 ? ': no longer on this server.' : `: ${e.message}`);
		}
	}

	/* A saved output from before (another machine, or the run is gone): show it as stored. */
	#showStored() {
		const out = (this.cell.outputs || []).find((o) => o.output_type === 'display_data' && o.data);
		if (!out) return;
		const png = out.data['image/png'];
		this.outputEl.append(h('div.stored-output',
			png ? h('img', { src: 'data:image/png;base64,' + (Array.isArray(png) ? png.join('') : png), alt: 'stored chart of this cell\'s last run' }) : null,
			h('pre', { text: storedSummary(this.cell) })));
	}

	/* Follow run `runId` under the cell (replacing any previous one). */
	attach(runId) {
		if (this.view) this.view.destroy();
		clear(this.outputEl);
		this.cell.runId = runId;
		this.cell.sweepId = null;
		this.view = new RunView(this.outputEl, this.page.ctx, runId, {
			onFinished: () => this.page.markDirty(),
			onResumed: () => this.page.markDirty(),
			onStatus: (view) => this.#syncButton(view),
		});
	}

	#syncButton(view = this.view) {
		const active = view && view.active;
		this.runBtn.textContent = active ? 'Running…' : '▶ Run';
		this.runBtn.disabled = !!active;
	}

	/* Start a run of this cell; the notebook has been saved by the caller. */
	async start() {
		if (this.view && this.view.active) {
			toast('This cell is already running; stop it first.');
			return false;
		}
		this.runBtn.disabled = true;
		try {
			const r = await this.page.ctx.api.post('api/runs', { notebook: this.page.path, cell: this.cell.id });
			if (r.sweep) { /* a spec with a sweep: section runs as a sweep, followed on its own page */
				if (this.view) this.view.destroy();
				this.view = null;
				this.cell.runId = null;
				this.cell.sweepId = r.sweep.id; /* saved with the notebook: the link outlives a reload */
				this.#showSweep(r.sweep.id, r.sweep);
				this.page.markDirty();
				toast(`Sweep ${r.sweep.id} started with ${r.sweep.trials} trials`);
				return true;
			}
			this.attach(r.run.id);
			this.view.wasActive = true;
			this.page.markDirty();
			this.#loadHistory();
			return true;
		} catch (e) {
			if (e.errors) this.#drawSummary({ ok: false, errors: e.errors });
			toast(`Cannot start the run: ${e.message}`, 'error');
			return false;
		} finally {
			this.#syncButton();
		}
	}

	/* What the notebook stores for this cell, or null to keep the loaded outputs. */
	outputs(runOutput) {
		if (!this.view) return null;
		const snap = this.view.snapshot();
		return [runOutput(snap.png, snap.text)];
	}

	destroy() {
		if (this.view) this.view.destroy();
		this.editor.destroy();
		this.root.remove();
	}
}
