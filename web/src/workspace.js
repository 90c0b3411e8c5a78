/*
 * workspace.js — the workspace page: the notebooks (new, open, upload,
 * download, rename, delete with confirmation), the runs table kept live by
 * the feed (status, notebook/cell, device, started, duration, best metric)
 * and the system panel. In accounts mode an instructor's lists have an
 * owner column and filter (owners.js), a student's course notebooks are
 * read-only with "Make a copy" (course.js), and new notebooks go home.
 *
 * What it is not: a notebook or the runs comparison (notebook.js, runs.js).
 *
 * Threads: the page's main thread.
 */

import { h, clear, fill, toast, confirmDialog, promptDialog, statusBadge } from './dom.js';
import { notebookApiPath } from './base.js';
import { emptyNotebook, newCell, serializeNotebook } from './nbformat.js';
import { SystemPanel } from './system.js';
import { fmtBytes, fmtDuration, fmtTime, fmtMetric, runSeconds } from './format.js';
import { received } from './run-status.js';
import { showsOwners, homeOf, notebookPlace, placeNewNotebook } from './owners.js';
import { OwnerFilter } from './owner-filter.js';
import { makeCopy } from './course.js';

const STARTER_SPEC = `data: {dataset: fashion-mnist, batch_size: 64}
model: [flatten, {linear: 128}, relu, {linear: 10}]
loss: cross_entropy
optimizer: {name: adam, lr: 1.0e-3}
train: {epochs: 1, seed: 0}
checkpoint: {every: 1, keep: 3}
`;

export function nbHref(path) {
	return '#/nb/' + path.split('/').map(encodeURIComponent).join('/');
}

function withExt(name) {
	name = name.trim().replace(/^\/+/, '');
	return name.endsWith('.ipynb') ? name : name + '.ipynb';
}

export class WorkspacePage {
	constructor(root, ctx) {
		this.root = root;
		this.ctx = ctx;
		this.runs = new Map();
		this.notebooks = [];
		this.selected = new Set();
		/* instructors in accounts mode: an owner column and filter on both lists */
		this.owners = showsOwners(ctx.me);
		this.nbOwner = new OwnerFilter('notebooks', () => this.#renderNotebooks());
		this.runOwner = new OwnerFilter('runs', () => this.#renderRuns());
		this.nbCols = ['name', this.owners && 'owner', 'modified', 'size', ''].filter((c) => c !== false);
		this.runCols = ['', 'run', this.owners && 'owner', 'status', 'notebook / cell', 'device', 'started', 'duration', 'best'].filter((c) => c !== false);
		this.nbBody = h('tbody');
		this.runsBody = h('tbody');
		this.upload = h('input', { type: 'file', accept: '.ipynb,application/x-ipynb+json,application/json', hidden: true, onchange: () => this.#upload() });
		const sysBox = h('div');
		fill(root, 
			h('h1', { text: 'Workspace' }),
			h('section.panel', { 'aria-labelledby': 'nb-h' },
				h('div.panel-head', h('h2', { id: 'nb-h', text: 'Notebooks' }),
					h('div.toolbar',
						h('button.primary', { type: 'button', text: 'New notebook', onclick: () => this.#create() }),
						h('button', { type: 'button', text: 'Upload…', onclick: () => this.upload.click() }), this.upload,
						h('button', { type: 'button', text: 'Refresh', onclick: () => this.loadNotebooks() }),
						this.owners ? this.nbOwner.el : null)),
				h('table.list.notebooks', h('thead', h('tr', this.nbCols.map((t) => h('th', { scope: 'col', text: t })))), this.nbBody)),
			h('section.panel', { 'aria-labelledby': 'runs-h' },
				h('div.panel-head', h('h2', { id: 'runs-h', text: 'Runs' }),
					h('div.toolbar', this.owners ? this.runOwner.el : null,
						this.compareBtn = h('button', { type: 'button', text: 'Compare selected', disabled: true, onclick: () => this.#compare() }))),
				h('table.list.runs', h('thead', h('tr', this.runCols.map((t) => h('th', { scope: 'col', text: t })))), this.runsBody)),
			sysBox);
		document.title = 'Workspace — trainbook';
		this.system = new SystemPanel(sysBox, ctx.monitor, { title: 'System' });
		this.offRuns = ctx.feed.onRuns((run) => {
			if (run.status === 'deleted') this.runs.delete(run.id);
			else this.runs.set(run.id, { ...(this.runs.get(run.id) || {}), ...received(run) });
			this.#renderRuns();
		});
		this.offOpen = ctx.feed.onOpen(() => this.loadRuns());
		this.tick = setInterval(() => {
			if ([...this.runs.values()].some((r) => r.status === 'running')) this.#renderRuns();
		}, 2000);
		ctx.debug.page = this;
	}

	async load() {
		await Promise.all([this.loadNotebooks(), this.loadRuns()]);
	}

	destroy() {
		this.offRuns();
		this.offOpen();
		clearInterval(this.tick);
		this.system.destroy();
		if (this.ctx.debug.page === this) this.ctx.debug.page = null;
	}

	async loadNotebooks() {
		const cols = String(this.nbCols.length);
		try {
			this.notebooks = (await this.ctx.api.get('api/notebooks')).notebooks || [];
		} catch (e) {
			if (e.status !== 401) fill(this.nbBody, h('tr', h('td.error', { colspan: cols, text: 'Cannot list notebooks: ' + e.message })));
			return;
		}
		this.notebooks.sort((a, b) => a.path.localeCompare(b.path));
		this.#renderNotebooks();
	}

	#renderNotebooks() {
		const list = this.nbOwner.update(this.notebooks);
		const me = this.ctx.me;
		clear(this.nbBody);
		if (!list.length) this.nbBody.append(h('tr', h('td.muted', { colspan: String(this.nbCols.length), text: this.notebooks.length ? 'None of this owner.' : 'No notebooks yet: create one or upload a .ipynb.' })));
		for (const nb of list) {
			const dir = nb.path.includes('/') ? nb.path.slice(0, nb.path.lastIndexOf('/') + 1) : '';
			const { place, writable } = notebookPlace(me, nb.path);
			const act = (text, what, fn, cls = '') => h('button' + cls, { type: 'button', text, 'aria-label': `${what} ${nb.path}`, onclick: fn });
			this.nbBody.append(h('tr', { 'data-path': nb.path },
				h('td', h('a.nb-link', { href: nbHref(nb.path) }, dir ? h('span.muted', { text: dir }) : null, nb.name || nb.path),
					writable ? null : h('span.badge.read-only', { text: place === 'course' ? 'course · read-only' : 'read-only' })),
				this.owners ? h('td.owner', { text: nb.owner || '—' }) : null,
				h('td', { text: fmtTime(nb.modified) }),
				h('td', { text: fmtBytes(nb.size) }),
				h('td.actions',
					h('a.button', { href: this.ctx.api.url(notebookApiPath(nb.path) + '?download=1'), download: nb.name, text: 'Download', 'aria-label': `download ${nb.path}` }),
					writable ? null : act('Make a copy', 'make a copy of', () => this.#copy(nb.path), '.primary'),
					this.owners ? act('Copy…', 'copy', () => this.#copyTo(nb.path)) : null,
					writable ? act('Rename', 'rename', () => this.#rename(nb.path)) : null,
					writable ? act('Delete', 'delete', () => this.#delete(nb.path), '.danger') : null)));
		}
	}

	async loadRuns() {
		try {
			const list = (await this.ctx.api.get('api/runs')).runs || [];
			this.runs = new Map(list.map((r) => [r.id, received(r)]));
			this.#renderRuns();
		} catch (e) {
			if (e.status !== 401) fill(this.runsBody, h('tr', h('td.error', { colspan: String(this.runCols.length), text: 'Cannot list runs: ' + e.message })));
		}
	}

	#renderRuns() {
		const runs = this.runOwner.update([...this.runs.values()].sort((a, b) => (b.created || 0) - (a.created || 0)));
		clear(this.runsBody);
		if (!runs.length) this.runsBody.append(h('tr', h('td.muted', { colspan: String(this.runCols.length), text: this.runs.size ? 'None of this owner.' : 'No runs yet: open a notebook and run a cell.' })));
		for (const r of runs) {
			const box = h('input', { type: 'checkbox', checked: this.selected.has(r.id), 'aria-label': `select ${r.id} to compare` });
			box.addEventListener('change', () => {
				if (box.checked) this.selected.add(r.id);
				else this.selected.delete(r.id);
				this.compareBtn.disabled = this.selected.size === 0;
			});
			const dur = runSeconds(r); /* its running segments, as the run's own header says */
			const where = r.notebook
				? h('a', { href: nbHref(r.notebook), text: r.notebook + (r.cell ? ' / ' + r.cell : '') })
				: h('span.muted', { text: r.name || 'spec' });
			const prog = r.progress && r.progress.total_steps ? ` ${Math.round((100 * r.progress.step) / r.progress.total_steps)}%` : '';
			this.runsBody.append(h('tr', { 'data-run': r.id },
				h('td', box),
				h('td', h('a', { href: '#/run/' + encodeURIComponent(r.id), text: r.id }), r.name ? h('span.muted.small', { text: ' ' + r.name }) : null),
				this.owners ? h('td.owner', { text: r.owner || '—' }) : null,
				h('td', statusBadge(r.status), r.status === 'running' ? h('span.muted', { text: prog }) : null),
				h('td', where),
				h('td', { text: r.device || '—' }),
				h('td', { text: fmtTime(r.started) }),
				h('td', { text: dur === null ? '—' : fmtDuration(dur) }),
				h('td', { text: r.best ? `${r.best.metric} ${fmtMetric(r.best.value)}` : '—' })));
		}
	}

	#compare() {
		location.hash = '#/runs?ids=' + [...this.selected].map(encodeURIComponent).join(',');
	}

	async #create() {
		const name = await promptDialog('New notebook', 'File name (may include folders)', homeOf(this.ctx.me) + 'untitled.ipynb');
		if (!name) return;
		const path = placeNewNotebook(this.ctx.me, withExt(name));
		const nb = emptyNotebook();
		nb.cells.push(newCell('markdown', '# ' + path.split('/').pop().replace(/\.ipynb$/, '')), newCell('run', STARTER_SPEC));
		try {
			await this.ctx.api.post('api/notebooks', { path, content: serializeNotebook(nb) });
			location.hash = nbHref(path);
		} catch (e) {
			toast(e.status === 409 ? `${path} already exists.` : `Cannot create ${path}: ${e.message}`, 'error');
		}
	}

	async #upload() {
		const file = this.upload.files[0];
		this.upload.value = '';
		if (!file) return;
		let content;
		try {
			content = JSON.parse(await file.text());
		} catch (e) {
			toast(`${file.name} is not a notebook (not JSON: ${e.message}).`, 'error');
			return;
		}
		let path = placeNewNotebook(this.ctx.me, withExt(file.name));
		for (;;) {
			try {
				await this.ctx.api.post('api/notebooks', { path, content });
				toast(`Uploaded ${path}.`);
				await this.loadNotebooks();
				return;
			} catch (e) {
				if (e.status !== 409) {
					toast(`Cannot upload ${file.name}: ${e.message}`, 'error');
					return;
				}
				const other = await promptDialog('Name taken', `${path} exists. Upload under another name:`, path.replace(/\.ipynb$/, '-1.ipynb'));
				if (!other) return;
				path = placeNewNotebook(this.ctx.me, withExt(other));
			}
		}
	}

	/* A student's copy of course material, into their home; then open it. */
	async #copy(path) {
		const to = await makeCopy(this.ctx.api, this.ctx.me, path);
		if (to) location.hash = nbHref(to);
	}

	/* An instructor's copy: publish into course/, or take course material home. */
	async #copyTo(path) {
		const name = path.split('/').pop();
		const to = await promptDialog('Copy notebook', `Copy ${path} to`, path.startsWith('course/') ? homeOf(this.ctx.me) + name : 'course/' + name);
		if (!to) return;
		if (await makeCopy(this.ctx.api, this.ctx.me, path, withExt(to))) await this.loadNotebooks();
	}

	async #rename(path) {
		const to = await promptDialog('Rename notebook', 'New path', path);
		if (!to || withExt(to) === path) return;
		try {
			await this.ctx.api.patch(notebookApiPath(path), { path: withExt(to) });
			await this.loadNotebooks();
		} catch (e) {
			toast(e.status === 409 ? `${withExt(to)} already exists.` : `Cannot rename: ${e.message}`, 'error');
		}
	}

	async #delete(path) {
		if (!(await confirmDialog('Delete notebook', `Delete ${path}? The file is removed from the workspace; its runs are kept.`, 'Delete', true))) return;
		try {
			await this.ctx.api.del(notebookApiPath(path));
			await this.loadNotebooks();
		} catch (e) {
			toast(`Cannot delete ${path}: ${e.message}`, 'error');
		}
	}
}
