/*
 * notebook.js — the notebook page: loads a .ipynb, shows its cells, and
 * handles Jupyter's toolbar and keys (command mode / edit mode, Shift+Enter
 * runs and moves on, Ctrl/Cmd+S saves, A/B add, D D delete, Z undo a
 * delete, M/Y change kind, arrows or J/K move the selection), autosave with
 * a visible state, and edit conflicts (412) explained with a choice.
 *
 * Saving writes nbformat 4.5 (nbformat.js), with each run cell's live
 * result as display_data and its run id in the cell's metadata.
 * A notebook the person may read but not write (a student's course
 * material, in accounts mode) opens read-only: nothing is saved or run,
 * and a banner offers a copy (course.js).
 * What it is not: a cell (cell-run.js, cell-markdown.js).
 *
 * Threads: the page's main thread.
 */

import { h, clear, fill, toast, confirmDialog } from './dom.js';
import { parseNotebook, serializeNotebook, newCell, runOutput } from './nbformat.js';
import { notebookApiPath } from './base.js';
import { MarkdownCell } from './cell-markdown.js';
import { RunCell } from './cell-run.js';
import { fmtTime } from './format.js';
import { notebookPlace } from './owners.js';
import { notebookNotes } from './course.js';

const AUTOSAVE_MS = 1500;

/* A code or raw cell that is not a run cell: shown and kept as it is. */
class OtherCell {
	constructor(page, cell) {
		this.cell = cell;
		this.root = h('div.cell.other-cell', { 'data-cell-id': cell.id, tabindex: '-1', role: 'group', 'aria-label': `${cell.kind} cell` },
			h('div.cell-gutter', { 'aria-hidden': 'true', text: cell.kind }),
			h('div.cell-content', h('p.muted', { text: `A ${cell.kind} cell from another tool, kept as it is.` }), h('pre.other-source', { text: cell.source })));
	}
	edit() {}
	leave() {}
	run() {
		return true;
	}
	outputs() {
		return null;
	}
	destroy() {
		this.root.remove();
	}
}

export class NotebookPage {
	constructor(root, ctx, path) {
		this.root = root;
		this.ctx = ctx;
		this.path = path;
		this.readOnly = !notebookPlace(ctx.me, path).writable;
		this.cells = [];
		this.selected = null;
		this.mode = 'command';
		this.etag = null;
		this.state = 'loading';
		this.dirty = false;
		this.saving = null; /* the save in flight (a promise) */
		this.timer = null;
		this.deleted = []; /* undo stack of {cell, index} */
		this.lastKey = { key: '', time: 0 };
		this.onKey = (e) => this.#onKey(e);
		this.onBeforeUnload = (e) => {
			if (this.dirty) {
				e.preventDefault();
				e.returnValue = '';
			}
		};
		this.stateEl = h('span.save-state', { role: 'status', 'aria-live': 'polite' });
		this.bannerEl = h('div.banner-slot');
		this.cellsEl = h('div.cells', { role: 'list', 'aria-label': 'cells' });
	}

	async load() {
		this.ctx.debug.page = this;
		clear(this.bannerEl);
		fill(this.root, h('p.muted', { text: `Opening ${this.path}…` }));
		let data, res;
		try {
			({ data, res } = await this.ctx.api.get(notebookApiPath(this.path), { full: true }));
			this.model = parseNotebook(data);
		} catch (e) {
			if (e.status === 401) return;
			fill(this.root, h('div.banner.error', { role: 'alert' }, `Cannot open ${this.path}: ${e.message}. `, h('a', { href: '#/', text: 'Back to the workspace' })));
			return;
		}
		this.etag = res.headers.get('ETag');
		this.#build();
		for (const c of this.model.cells) this.cells.push(this.#component(c));
		for (const c of this.cells) this.cellsEl.append(c.root);
		if (this.cells.length) this.select(this.cells[0]);
		this.#setState(this.readOnly ? 'readonly' : 'saved');
		document.addEventListener('keydown', this.onKey);
		window.addEventListener('beforeunload', this.onBeforeUnload);
	}

	#build() {
		const btn = (text, label, fn, cls = '') => h('button' + cls, { type: 'button', text, 'aria-label': label, title: label, onclick: fn });
		const name = this.path.split('/').pop();
		document.title = `${name} — trainbook`;
		const toolbar = h('div.toolbar', { role: 'toolbar', 'aria-label': 'notebook' },
			btn('Save', 'save (Ctrl+S)', () => this.save()),
			h('span.sep'),
			btn('+ Run cell', 'add a run cell below (B)', () => this.insert('run', 'below')),
			btn('+ Markdown', 'add a markdown cell below', () => this.insert('markdown', 'below')),
			btn('↑', 'move cell up', () => this.move(-1)),
			btn('↓', 'move cell down', () => this.move(1)),
			btn('Delete', 'delete cell (D D)', () => this.deleteSelected(true)),
			h('span.sep'),
			btn('▶ Run', 'run the selected cell (Ctrl+Enter)', () => this.selected && this.runCell(this.selected)),
			btn('■ Stop', 'stop the selected cell\'s run', () => this.selected && this.selected.view && this.selected.view.stop()),
			h('span.grow'),
			h('a.button', { href: this.ctx.api.url(notebookApiPath(this.path) + '?download=1'), download: name, text: 'Download' }),
			this.stateEl);
		fill(this.root, 
			h('div.nb-head', h('a', { href: '#/', text: 'Workspace' }), h('span', { text: ' / ' }), h('h1.nb-title', { text: this.path })),
			...notebookNotes(this.ctx, this.path, this.model),
			toolbar, this.bannerEl, this.cellsEl,
			h('p.hint.muted', { text: 'Keys: Enter edit · Esc command mode · Shift+Enter run and move on · Ctrl+Enter run · A/B add above/below · D D delete · Z undo delete · M/Y markdown/run · Ctrl+S save' }));
	}

	#component(cell) {
		const c = cell.kind === 'run' ? new RunCell(this, cell) : cell.kind === 'markdown' ? new MarkdownCell(this, cell) : new OtherCell(this, cell);
		c.root.addEventListener('mousedown', (e) => {
			const inEditor = e.target.closest('.cm-editor');
			if (this.selected !== c || (!inEditor && this.mode === 'edit')) this.focusCell(c, inEditor ? 'edit' : 'command', !inEditor);
		});
		return c;
	}

	/* Keys handed to each cell's editor (they run before CodeMirror's own). */
	editorKeys(comp) {
		return {
			runAndNext: () => {
				this.runAndNext(comp);
				return true;
			},
			run: () => {
				this.runCell(comp);
				return true;
			},
			escape: () => {
				this.command(comp);
				return true;
			},
			save: () => {
				this.save();
				return true;
			},
		};
	}

	select(comp) {
		if (this.selected && this.selected !== comp) {
			this.selected.root.classList.remove('selected', 'editing');
			if (this.mode === 'edit') this.selected.leave();
		}
		this.selected = comp;
		comp.root.classList.add('selected');
	}

	focusCell(comp, mode, focusRoot = false) {
		this.select(comp);
		this.mode = mode;
		comp.root.classList.toggle('editing', mode === 'edit');
		if (mode === 'command' && focusRoot) comp.root.focus({ preventScroll: true });
	}

	edit(comp) {
		this.focusCell(comp, 'edit');
		comp.edit();
	}

	command(comp) {
		comp.leave();
		this.focusCell(comp, 'command', true);
	}

	/* Run a cell; true when it ran (a run cell's run was accepted). */
	async runCell(comp) {
		if (comp instanceof RunCell && this.readOnly) {
			toast('This notebook is read-only for you: make a copy to run it.', 'error');
			return;
		}
		if (comp instanceof RunCell) {
			if (!(await this.save())) {
				toast('Save the notebook first (see the message above).', 'error');
				return false;
			}
			return comp.start();
		}
		return comp.run() !== false;
	}

	async runAndNext(comp) {
		comp.leave();
		const i = this.cells.indexOf(comp);
		if (i === this.cells.length - 1) {
			/* Jupyter adds a cell below the last one, but only once this one ran:
			   a refused spec stays where it is, without an empty cell saved after it. */
			if (!(await this.runCell(comp))) {
				this.focusCell(comp, 'command', true);
				return;
			}
			const added = this.insert(comp instanceof MarkdownCell ? 'markdown' : 'run', 'below', true);
			this.edit(added);
			return;
		}
		this.runCell(comp);
		const next = this.cells[i + 1];
		next.root.scrollIntoView({ block: 'nearest' });
		this.focusCell(next, 'command', true);
	}

	insert(kind, where, quiet = false) {
		const taken = new Set(this.cells.map((c) => c.cell.id));
		const cell = newCell(kind, '', taken);
		const comp = this.#component(cell);
		let i = this.selected ? this.cells.indexOf(this.selected) : this.cells.length - 1;
		if (where === 'below') i++;
		i = Math.max(0, Math.min(i, this.cells.length));
		this.cells.splice(i, 0, comp);
		this.cellsEl.insertBefore(comp.root, this.cells[i + 1] ? this.cells[i + 1].root : null);
		this.markDirty();
		if (!quiet) this.edit(comp);
		return comp;
	}

	move(dir) {
		const i = this.cells.indexOf(this.selected);
		const j = i + dir;
		if (i < 0 || j < 0 || j >= this.cells.length) return;
		const [c] = this.cells.splice(i, 1);
		this.cells.splice(j, 0, c);
		this.cellsEl.insertBefore(c.root, this.cells[j + 1] ? this.cells[j + 1].root : null);
		c.root.scrollIntoView({ block: 'nearest' });
		this.focusCell(c, 'command', true);
		this.markDirty();
	}

	async deleteSelected(ask = false) {
		const c = this.selected;
		if (!c) return;
		if (ask && !(await confirmDialog('Delete cell', 'Delete the selected cell? (Z in command mode brings it back.)', 'Delete', true))) return;
		const i = this.cells.indexOf(c);
		this.cells.splice(i, 1);
		this.deleted.push({ cell: c.cell, index: i });
		c.destroy();
		this.selected = null;
		const next = this.cells[Math.min(i, this.cells.length - 1)];
		if (next) this.focusCell(next, 'command', true);
		this.markDirty();
	}

	undoDelete() {
		const d = this.deleted.pop();
		if (!d) return;
		const comp = this.#component(d.cell);
		const i = Math.min(d.index, this.cells.length);
		this.cells.splice(i, 0, comp);
		this.cellsEl.insertBefore(comp.root, this.cells[i + 1] ? this.cells[i + 1].root : null);
		this.focusCell(comp, 'command', true);
		this.markDirty();
	}

	convert(kind) {
		const c = this.selected;
		if (!c || c.cell.kind === kind || !(c instanceof RunCell || c instanceof MarkdownCell)) return;
		const cell = { ...c.cell, kind, outputs: [], runId: null, sweepId: null, metadata: { ...c.cell.metadata } };
		delete cell.metadata.trainbook;
		const i = this.cells.indexOf(c);
		const comp = this.#component(cell);
		this.cellsEl.replaceChild(comp.root, c.root);
		c.destroy();
		this.cells[i] = comp;
		this.focusCell(comp, 'command', true);
		this.markDirty();
	}

	#onKey(e) {
		if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === 's') {
			e.preventDefault();
			this.save();
			return;
		}
		if (this.mode !== 'command' || !this.selected || e.altKey) return;
		const t = e.target;
		if (t && t.closest && t.closest('input, textarea, select, dialog, .cm-editor, [contenteditable]')) return;
		const c = this.selected;
		const i = this.cells.indexOf(c);
		const key = e.key;
		let handled = true;
		if (key === 'Enter' && e.shiftKey) this.runAndNext(c);
		else if (key === 'Enter' && (e.ctrlKey || e.metaKey)) this.runCell(c);
		else if (e.ctrlKey || e.metaKey) handled = false;
		else if (key === 'Enter') this.edit(c);
		else if ((key === 'ArrowDown' || key === 'j') && i < this.cells.length - 1) this.focusCell(this.cells[i + 1], 'command', true);
		else if ((key === 'ArrowUp' || key === 'k') && i > 0) this.focusCell(this.cells[i - 1], 'command', true);
		else if (key === 'a') this.insert('run', 'above');
		else if (key === 'b') this.insert('run', 'below');
		else if (key === 'm') this.convert('markdown');
		else if (key === 'y') this.convert('run');
		else if (key === 'z') this.undoDelete();
		else if (key === 'd') {
			if (this.lastKey.key === 'd' && e.timeStamp - this.lastKey.time < 800) {
				this.deleteSelected(false);
				this.lastKey = { key: '', time: 0 };
				e.preventDefault();
				return;
			}
		} else handled = false;
		this.lastKey = { key, time: e.timeStamp };
		if (handled) e.preventDefault();
	}

	markDirty() {
		if (this.readOnly) {
			this.#setState('readonly');
			return;
		}
		this.dirty = true;
		if (this.state !== 'conflict') this.#setState('unsaved');
		clearTimeout(this.timer);
		this.timer = setTimeout(() => this.save(), AUTOSAVE_MS);
	}

	#setState(state, detail = '') {
		this.state = state;
		const text = {
			loading: 'Opening…',
			saved: this.savedAt ? `Saved ${fmtTime(this.savedAt)}` : 'Saved',
			unsaved: 'Unsaved changes',
			saving: 'Saving…',
			conflict: 'Edit conflict — not saved',
			error: 'Save failed' + (detail ? ': ' + detail : ''),
			readonly: 'Read-only: changes are not saved',
		}[state];
		this.stateEl.textContent = text;
		this.stateEl.dataset.state = state;
	}

	/* The notebook JSON as it would be saved now. */
	toJSON() {
		this.model.cells = this.cells.map((c) => c.cell);
		return serializeNotebook(this.model, (cell) => {
			const comp = this.cells.find((c) => c.cell === cell);
			return comp ? comp.outputs(runOutput) : null;
		});
	}

	/*
	 * Save now (waits for a save in flight first). Returns true when the
	 * file on disk is this page's version. force: overwrite without If-Match.
	 */
	async save({ force = false } = {}) {
		if (this.readOnly) return false;
		clearTimeout(this.timer);
		if (this.saving) await this.saving.catch(() => {});
		if (!this.dirty && !force && this.state === 'saved') return true;
		if (this.state === 'conflict' && !force) return false;
		this.saving = this.#put(force);
		try {
			return await this.saving;
		} finally {
			this.saving = null;
		}
	}

	async #put(force) {
		this.dirty = false;
		this.#setState('saving');
		const headers = {};
		if (this.etag && !force) headers['If-Match'] = this.etag;
		try {
			/* indented like Jupyter writes it, so a notebook under git diffs line by line */
			const r = await this.ctx.api.put(notebookApiPath(this.path), JSON.stringify(this.toJSON(), null, 1) + '\n', { headers });
			this.etag = (r && r.etag) || this.etag;
			if (this.etag && !this.etag.startsWith('"') && !this.etag.startsWith('W/')) this.etag = `"${this.etag}"`;
			this.savedAt = (r && r.modified) || Date.now() / 1000;
			this.#setState(this.dirty ? 'unsaved' : 'saved');
			clear(this.bannerEl);
			return true;
		} catch (e) {
			this.dirty = true;
			if (e.status === 412) {
				this.#setState('conflict');
				this.#conflictBanner();
			} else {
				this.#setState('error', e.message);
				clearTimeout(this.timer);
				if (e.status !== 401) this.timer = setTimeout(() => this.save(), 10000);
			}
			return false;
		}
	}

	#conflictBanner() {
		fill(this.bannerEl, h('div.banner.conflict', { role: 'alert' },
			h('strong', { text: 'Edit conflict: ' }),
			`${this.path} was changed on disk after this page opened it (another tab or program saved it). Your changes are not saved yet. `,
			h('button', { type: 'button', text: 'Reload from disk (drop my changes)', onclick: () => this.reload() }),
			h('button.danger', { type: 'button', text: 'Overwrite with my version', onclick: () => this.save({ force: true }) })));
	}

	async reload() {
		this.dirty = false;
		this.destroy(false);
		this.cells = [];
		this.selected = null;
		this.state = 'loading';
		await this.load();
	}

	/* Leaving the page: flush a pending save, stop following runs. */
	destroy(flush = true) {
		if (flush && this.dirty && this.state !== 'conflict') this.save();
		clearTimeout(this.timer);
		document.removeEventListener('keydown', this.onKey);
		window.removeEventListener('beforeunload', this.onBeforeUnload);
		for (const c of this.cells) c.destroy();
		if (this.ctx.debug.page === this) this.ctx.debug.page = null;
	}
}
