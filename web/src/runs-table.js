/*
 * runs-table.js — the Runs page's table: one row per run, the columns of
 * hparams.js (the spec values that differ, status, duration, tags, each
 * metric's final / min / max), sortable by a click on a header, filtered
 * by text, tag, status and notebook (archived runs on request), columns
 * chosen in a menu and remembered, a checkbox per row to pick runs for the
 * curves, and per-row edit / archive / delete. Exports what it shows as CSV.
 * With `owners` (an instructor in accounts mode) it has an owner column
 * and the owner filter of owner-filter.js.
 *
 * What it is not: the rules (hparams.js) or the curves (runs.js).
 *
 * Threads: the page's main thread.
 */

import { h, clear, fill, statusBadge } from './dom.js';
import { fmtDuration, fmtMetric } from './format.js';
import { cellText, filterChoices, filterRuns, sortRuns, tableColumns, toCsv, visibleColumns } from './hparams.js';
import { OwnerFilter } from './owner-filter.js';

const PREFS_KEY = 'trainbook.runsTable';

function loadPrefs() {
	try {
		const p = JSON.parse(localStorage.getItem(PREFS_KEY) || '{}');
		return { columns: p.columns && typeof p.columns === 'object' ? p.columns : {}, sort: p.sort || null, dir: p.dir === -1 ? -1 : 1 };
	} catch {
		return { columns: {}, sort: null, dir: 1 };
	}
}

function savePrefs(p) {
	try {
		localStorage.setItem(PREFS_KEY, JSON.stringify(p));
	} catch {
		/* private mode: the choice lasts for this page */
	}
}

export class RunsTable {
	/*
	 * hooks: {onSelect(ids, on), onEdit(run), onArchive(run, bool), onDelete(run)};
	 * isSelected(id), colorOf(id) → the run's colour on the charts or null;
	 * owners: show each run's owner and filter by it.
	 */
	constructor(parent, { hooks, isSelected, colorOf, owners = false }) {
		this.hooks = hooks;
		this.isSelected = isSelected;
		this.colorOf = colorOf;
		this.prefs = loadPrefs();
		this.filters = { text: '', tag: '', status: '', notebook: '', archived: false };
		this.runs = [];
		this.brushed = null; /* ids kept by the parallel coordinates' brushes, or null */
		this.search = h('input', { type: 'search', placeholder: 'filter: name, tag, lr=0.001…', 'aria-label': 'filter runs' });
		this.search.addEventListener('input', () => {
			this.filters.text = this.search.value;
			this.render();
		});
		const select = (label, key) => {
			const el = h('select', { 'aria-label': label });
			el.addEventListener('change', () => {
				this.filters[key] = el.value;
				this.render();
			});
			return el;
		};
		this.tagSel = select('tag', 'tag');
		this.statusSel = select('status', 'status');
		this.nbSel = select('notebook', 'notebook');
		this.archivedBox = h('input', { type: 'checkbox', 'aria-label': 'show archived runs' });
		this.archivedBox.addEventListener('change', () => {
			this.filters.archived = this.archivedBox.checked;
			this.render();
		});
		this.ownerFilter = owners ? new OwnerFilter('runs', () => this.render()) : null;
		this.columnsEl = h('div.column-choice');
		this.countEl = h('span.muted.small');
		this.csvBtn = h('button', { type: 'button', text: 'Export CSV', onclick: () => this.exportCsv() });
		this.head = h('thead');
		this.body = h('tbody');
		this.root = h('section.panel.runs-table-panel', { 'aria-label': 'runs' },
			h('div.table-tools',
				this.search, this.ownerFilter ? this.ownerFilter.el : null, this.tagSel, this.statusSel, this.nbSel,
				h('label', this.archivedBox, h('span', { text: 'archived' })),
				h('details.columns-menu', h('summary', { text: 'Columns' }), this.columnsEl),
				this.csvBtn, this.countEl),
			h('div.table-scroll', h('table.list.hparams', this.head, this.body)));
		parent.append(this.root);
	}

	setRuns(runs) {
		this.runs = runs;
		this.render();
	}

	setBrushed(ids) {
		this.brushed = ids ? new Set(ids) : null;
		this.render();
	}

	/* The rows and columns shown now (CSV, tests). */
	view() {
		const mine = this.ownerFilter ? this.ownerFilter.update(this.runs) : this.runs;
		const rows = filterRuns(mine, this.filters);
		const all = tableColumns(rows, rows.filter((r) => this.isSelected(r.id)), { owners: !!this.ownerFilter });
		const cols = visibleColumns(all, this.prefs.columns);
		const sortCol = all.find((c) => c.id === this.prefs.sort);
		return { rows: sortCol ? sortRuns(rows, sortCol, this.prefs.dir) : rows, cols, all };
	}

	#fill(sel, label, values, current) {
		fill(sel, h('option', { value: '', text: `any ${label}` }), ...values.map((v) => h('option', { value: v, text: v, selected: v === current })));
		if (current && !values.includes(current)) {
			this.filters[label] = '';
			sel.value = '';
		}
	}

	render() {
		const choices = filterChoices(this.runs);
		this.#fill(this.tagSel, 'tag', choices.tags, this.filters.tag);
		this.#fill(this.statusSel, 'status', choices.statuses, this.filters.status);
		this.#fill(this.nbSel, 'notebook', choices.notebooks, this.filters.notebook);
		const { rows, cols, all } = this.view();
		this.countEl.textContent = `${rows.length} of ${this.runs.length} runs`;
		clear(this.columnsEl);
		for (const c of all) {
			const box = h('input', { type: 'checkbox', checked: cols.includes(c), 'data-column': c.id });
			box.addEventListener('change', () => {
				this.prefs.columns[c.id] = box.checked;
				savePrefs(this.prefs);
				this.render();
			});
			this.columnsEl.append(h('label', box, h('span', { text: c.label })));
		}
		const allBox = h('input', { type: 'checkbox', 'aria-label': 'select every listed run', checked: rows.length > 0 && rows.every((r) => this.isSelected(r.id)) });
		allBox.addEventListener('change', () => this.hooks.onSelect(rows.map((r) => r.id), allBox.checked));
		fill(this.head, h('tr', h('th', allBox), cols.map((c) => {
			const sorted = this.prefs.sort === c.id;
			const th = h('th', { scope: 'col', 'data-column': c.id, 'aria-sort': sorted ? (this.prefs.dir > 0 ? 'ascending' : 'descending') : 'none' },
				h('button.link.sort', { type: 'button', text: c.label + (sorted ? (this.prefs.dir > 0 ? ' ▲' : ' ▼') : ''), title: `sort by ${c.label}` }));
			th.firstChild.addEventListener('click', () => {
				this.prefs.dir = sorted ? -this.prefs.dir : 1;
				this.prefs.sort = c.id;
				savePrefs(this.prefs);
				this.render();
			});
			return th;
		}), h('th', { scope: 'col', text: '' })));
		clear(this.body);
		if (!rows.length) this.body.append(h('tr', h('td.muted', { colspan: String(cols.length + 2), text: this.runs.length ? 'No run matches the filters.' : 'No runs yet: open a notebook and run a cell.' })));
		for (const r of rows) {
			const box = h('input', { type: 'checkbox', checked: this.isSelected(r.id), 'aria-label': `show ${r.id} on the charts` });
			box.addEventListener('change', () => this.hooks.onSelect([r.id], box.checked));
			const color = this.colorOf(r.id);
			const out = this.brushed && this.isSelected(r.id) && !this.brushed.has(r.id);
			this.body.append(h('tr' + (out ? '.brushed-out' : '') + (r.archived ? '.archived' : ''), { 'data-run': r.id },
				h('td', box, h('span.swatch', { style: color ? `background:${color}` : 'visibility:hidden' })),
				cols.map((c) => this.#cell(c, r)),
				h('td.actions',
					h('button.link', { type: 'button', text: 'edit', 'aria-label': `edit ${r.id}`, onclick: () => this.hooks.onEdit(r) }),
					h('button.link', { type: 'button', text: r.archived ? 'restore' : 'archive', 'aria-label': `${r.archived ? 'restore' : 'archive'} ${r.id}`, onclick: () => this.hooks.onArchive(r, !r.archived) }),
					h('button.link.danger', { type: 'button', text: 'delete', 'aria-label': `delete ${r.id}`, onclick: () => this.hooks.onDelete(r) }))));
		}
	}

	#cell(c, r) {
		const v = c.get(r);
		if (c.id === 'name') return h('td.name', h('a', { href: '#/run/' + encodeURIComponent(r.id), text: v, title: r.notes || r.id }), h('span.muted.small', { text: ' ' + r.id }));
		if (c.id === 'owner') return h('td.owner', { text: v || '—' });
		if (c.kind === 'status') return h('td', statusBadge(v));
		if (c.kind === 'duration') return h('td.num', { text: v === null ? '—' : fmtDuration(v) });
		if (c.kind === 'tags') return h('td', (r.tags || []).map((t) => h('span.tag', { text: t })));
		if (c.kind === 'number') return h('td.num', { text: v === null || v === undefined ? '' : fmtMetric(v) });
		return h('td' + (typeof v === 'number' ? '.num' : ''), { text: cellText(v), title: typeof v === 'string' && v.length > 30 ? v : null });
	}

	exportCsv() {
		const { rows, cols } = this.view();
		const url = URL.createObjectURL(new Blob([toCsv(rows, cols)], { type: 'text/csv' }));
		const a = h('a', { href: url, download: 'runs.csv' });
		document.body.append(a);
		a.click();
		a.remove();
		setTimeout(() => URL.revokeObjectURL(url), 10000);
	}
}
