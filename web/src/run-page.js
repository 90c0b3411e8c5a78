/*
 * run-page.js — one run's own page (#/run/<id>): its name, tags and notes
 * (edited in place, saved with PATCH), archive and delete, kill while it
 * is queued or running, the run view (status, place in the queue and why
 * it waits, curves, checkpoints, evaluations), and the spec it ran, shown
 * read-only and highlighted, with a line diff against another run's spec.
 * Instructors in accounts mode see whose run it is; a run that does not
 * exist, or is someone else's (the server answers both alike), says so.
 * The instructor board's rows open it.
 *
 * What it is not: the run's live view (run-view.js) or the Runs table.
 *
 * Threads: the page's main thread.
 */

import { h, clear, fill } from './dom.js';
import { createEditor } from './editor.js';
import { RunView } from './run-view.js';
import { diffLines } from './specdiff.js';
import { deleteRun, editRun, killRun, setArchived } from './run-identity.js';
import { ACTIVE } from './run-view.js';
import { showsOwners } from './owners.js';

export class RunPage {
	constructor(root, ctx, runId) {
		this.root = root;
		this.ctx = ctx;
		this.runId = runId;
		this.run = null;
		this.owners = showsOwners(ctx.me);
		this.titleEl = h('h1.run-title', { text: runId });
		this.metaEl = h('div.run-meta');
		this.notesEl = h('p.run-notes');
		this.viewBox = h('div');
		this.specBox = h('div.spec-view');
		this.diffSel = h('select', { 'aria-label': 'compare the spec with another run' });
		this.diffSel.addEventListener('change', () => this.#diff());
		this.diffEl = h('div.spec-diff', { 'aria-label': 'spec diff' });
		fill(root,
			h('div.nb-head', h('a', { href: '#/runs', text: 'Runs' }), h('span', { text: ' / ' }), this.titleEl),
			this.metaEl, this.notesEl, this.viewBox,
			h('section.panel.run-spec', { 'aria-label': 'spec' },
				h('div.panel-head', h('h2', { text: 'Spec' }), h('label', h('span', { text: 'diff against' }), this.diffSel)),
				this.specBox, this.diffEl));
		this.offRuns = ctx.feed.onRuns((run) => {
			if (run.id === runId) this.#show({ ...this.run, ...run });
		});
		ctx.debug.page = this;
	}

	async load() {
		let run;
		try {
			run = (await this.ctx.api.get(`api/runs/${encodeURIComponent(this.runId)}`)).run;
		} catch (e) {
			if (e.status === 404) {
				const why = this.ctx.me && this.ctx.me.accounts ? ' (it does not exist, or it is not yours to see)' : '';
				fill(this.root, h('div.banner.error.run-missing', { role: 'alert' }, `Not found: no run ${this.runId}${why}. `, h('a', { href: '#/runs', text: 'Back to the runs' })));
			} else if (e.status !== 401) fill(this.root, h('div.banner.error', { role: 'alert' }, `Cannot open run ${this.runId}: ${e.message}. `, h('a', { href: '#/runs', text: 'Back to the runs' })));
			return;
		}
		this.#show(run);
		this.view = new RunView(this.viewBox, this.ctx, this.runId);
		this.editor = createEditor({ parent: this.specBox, doc: run.spec || '', lang: 'yaml', label: `spec of ${this.runId} (read-only)`, readOnly: true });
		try {
			const others = ((await this.ctx.api.get('api/runs?limit=200')).runs || []).filter((r) => r.id !== this.runId);
			fill(this.diffSel, h('option', { value: '', text: 'no other run' }), ...others.map((r) => h('option', { value: r.id, text: `${r.id}${r.name ? ' · ' + r.name : ''}` })));
		} catch {
			/* the spec still shows */
		}
	}

	destroy() {
		this.offRuns();
		if (this.view) this.view.destroy();
		if (this.editor) this.editor.destroy();
		if (this.ctx.debug.page === this) this.ctx.debug.page = null;
	}

	#show(run) {
		this.run = run;
		document.title = `${run.name || run.id} — trainbook`;
		this.titleEl.textContent = `${run.name || run.id}`;
		fill(this.metaEl,
			h('span.run-id', { text: run.id }),
			this.owners ? h('span.run-owner', { text: 'owner ' + (run.owner || '—') }) : null,
			(run.tags || []).length ? h('span.tags', run.tags.map((t) => h('span.tag', { text: t }))) : h('span.muted', { text: 'no tags' }),
			run.notebook ? h('a', { href: '#/nb/' + run.notebook.split('/').map(encodeURIComponent).join('/'), text: run.notebook + (run.cell ? ' / ' + run.cell : '') }) : null,
			run.archived ? h('span.badge', { text: 'archived' }) : null,
			h('button', { type: 'button', text: 'Edit name, tags, notes', onclick: () => this.#edit() }),
			h('button', { type: 'button', text: run.archived ? 'Restore' : 'Archive', onclick: () => this.#archive() }),
			ACTIVE.has(run.status) ? h('button.danger', { type: 'button', text: 'Kill', 'aria-label': `kill ${run.id}`, onclick: () => killRun(this.ctx.api, run) }) : null,
			h('button.danger', { type: 'button', text: 'Delete', onclick: () => this.#delete() }));
		this.notesEl.textContent = run.notes || '';
		this.notesEl.hidden = !run.notes;
	}

	async #edit() {
		const r = await editRun(this.ctx.api, this.run);
		if (r) this.#show({ ...this.run, ...r });
	}

	async #archive() {
		const r = await setArchived(this.ctx.api, this.run, !this.run.archived);
		if (r) this.#show({ ...this.run, ...r });
	}

	async #delete() {
		if (await deleteRun(this.ctx.api, this.run)) location.hash = '#/runs';
	}

	async #diff() {
		clear(this.diffEl);
		const other = this.diffSel.value;
		if (!other) return;
		let spec;
		try {
			spec = (await this.ctx.api.get(`api/runs/${encodeURIComponent(other)}`)).run.spec || '';
		} catch (e) {
			this.diffEl.append(h('p.error', { text: `Cannot read ${other}: ${e.message}` }));
			return;
		}
		if (this.diffSel.value !== other) return;
		const lines = diffLines(this.run.spec || '', spec);
		const changed = lines.filter((l) => l.op !== ' ').length;
		this.diffEl.append(h('p.muted', { text: changed ? `${this.runId} (−) against ${other} (+): ${changed} line${changed === 1 ? '' : 's'} differ` : `${this.runId} and ${other} ran the same spec.` }));
		const pre = h('div.diff-lines', { role: 'list' });
		for (const l of lines) pre.append(h('div.diff-line' + (l.op === '-' ? '.del' : l.op === '+' ? '.add' : ''), { role: 'listitem', text: `${l.op} ${l.text}` }));
		this.diffEl.append(pre);
	}
}
