/*
 * hparams.js — the Runs page's table as data: one row per run, columns for
 * the spec values that differ among the listed runs (flattened keys such
 * as optimizer.lr, from GET api/runs?hparams=1), status, duration, tags and
 * each metric's final, min and max; filters (text, tag, status, notebook,
 * archived), sorting, and the table as CSV.
 *
 * What it is: pure functions over run summaries, so the rules are tested
 * without a browser. What it is not: the DOM (runs-table.js).
 *
 * Threads: pure.
 */

import { runSeconds } from './format.js';

/* A metric whose smaller values are better: its "best" is the min. */
export function lowerIsBetter(metric) {
	return !/accuracy|acc$|f1|auc|precision|recall|iou|images_per_sec/.test(metric);
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/* The flattened spec keys whose values are not the same in every run (a missing key counts as a value). */
export function differingKeys(runs) {
	const keys = new Set();
	for (const r of runs) for (const k of Object.keys(r.hparams || {})) keys.add(k);
	const out = [];
	for (const k of keys) {
		const first = runs.length ? (runs[0].hparams || {})[k] : undefined;
		if (runs.some((r) => !same((r.hparams || {})[k], first))) out.push(k);
	}
	return out.sort();
}

/* Metric keys ("test/accuracy") any run has, evaluation splits first. */
export function metricKeys(runs) {
	const keys = new Set();
	for (const r of runs) for (const k of Object.keys(r.metrics || {})) keys.add(k);
	const rank = (k) => (k.startsWith('test/') ? 0 : k.startsWith('validation/') ? 1 : 2);
	return [...keys].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/*
 * Every column the table can show for these runs: {id, label, kind, get,
 * visible (by default)}. kind: text | number | status | duration | tags |
 * hparam. The spec keys that differ among the `picked` runs (those on the
 * charts) come first: what the comparison is about. With `owners` (an
 * instructor in accounts mode) an owner column follows the name.
 */
export function tableColumns(runs, picked = [], { owners = false } = {}) {
	const cols = [
		{ id: 'name', label: 'name', kind: 'text', get: (r) => r.name || r.id, visible: true },
		...(owners ? [{ id: 'owner', label: 'owner', kind: 'text', get: (r) => r.owner || '', visible: true }] : []),
		{ id: 'status', label: 'status', kind: 'status', get: (r) => r.status, visible: true },
		{ id: 'duration', label: 'duration', kind: 'duration', get: (r) => runSeconds(r), visible: true },
		{ id: 'tags', label: 'tags', kind: 'tags', get: (r) => (r.tags || []).join(', '), visible: true },
		{ id: 'notebook', label: 'notebook', kind: 'text', get: (r) => r.notebook || '', visible: false },
	];
	const first = new Set(picked.length > 1 ? differingKeys(picked) : []);
	const keys = differingKeys(runs).sort((a, b) => (first.has(b) ? 1 : 0) - (first.has(a) ? 1 : 0) || a.localeCompare(b));
	for (const k of keys) {
		cols.push({ id: 'h:' + k, label: k, kind: 'hparam', get: (r) => (r.hparams || {})[k], visible: true });
	}
	for (const m of metricKeys(runs)) {
		const best = lowerIsBetter(m.split('/').pop()) ? 'min' : 'max';
		for (const field of ['last', 'min', 'max']) {
			cols.push({
				id: `m:${m}:${field}`,
				label: `${m} ${field === 'last' ? 'final' : field}`,
				kind: 'number',
				get: (r) => (r.metrics && r.metrics[m] ? r.metrics[m][field] : null),
				visible: field === 'last' || field === best,
			});
		}
	}
	return cols;
}

/* Which columns are shown: the user's choice (ids → true/false) over the defaults. */
export function visibleColumns(cols, choice = {}) {
	return cols.filter((c) => (c.id in choice ? choice[c.id] : c.visible));
}

/* Filters: {text, tag, status, notebook, archived (show archived runs too)}. */
export function filterRuns(runs, { text = '', tag = '', status = '', notebook = '', archived = false } = {}) {
	const needle = text.trim().toLowerCase();
	return runs.filter((r) => {
		if (!archived && r.archived) return false;
		if (tag && !(r.tags || []).includes(tag)) return false;
		if (status && r.status !== status) return false;
		if (notebook && (r.notebook || '') !== notebook) return false;
		if (!needle) return true;
		const hay = [r.id, r.name, r.notebook, r.notes, ...(r.tags || []), ...Object.entries(r.hparams || {}).map(([k, v]) => `${k}=${v}`)]
			.filter(Boolean).join('\n').toLowerCase();
		return needle.split(/\s+/).every((w) => hay.includes(w));
	});
}

/* The choices a filter menu offers: every tag, status and notebook among the runs. */
export function filterChoices(runs) {
	const tags = new Set();
	const statuses = new Set();
	const notebooks = new Set();
	for (const r of runs) {
		for (const t of r.tags || []) tags.add(t);
		if (r.status) statuses.add(r.status);
		if (r.notebook) notebooks.add(r.notebook);
	}
	return { tags: [...tags].sort(), statuses: [...statuses].sort(), notebooks: [...notebooks].sort() };
}

function compare(a, b) {
	const na = a === null || a === undefined || a === '';
	const nb = b === null || b === undefined || b === '';
	if (na || nb) return na && nb ? 0 : na ? 1 : -1; /* blanks last, whichever way */
	if (typeof a === 'number' && typeof b === 'number') return a - b;
	return String(a).localeCompare(String(b), 'en', { numeric: true });
}

/* Runs sorted by a column, dir 1 or -1; blanks stay last; equal ones newest first. */
export function sortRuns(runs, col, dir = 1) {
	const num = (id) => Number(String(id).replace(/^r/, '')) || 0;
	return runs.slice().sort((a, b) => {
		const va = col ? col.get(a) : null;
		const vb = col ? col.get(b) : null;
		const blank = (v) => v === null || v === undefined || v === '';
		if (blank(va) !== blank(vb)) return blank(va) ? 1 : -1;
		return (compare(va, vb) * dir) || num(b.id) - num(a.id);
	});
}

/* A cell as text (CSV, and the page's cells). */
export function cellText(v) {
	if (v === null || v === undefined) return '';
	if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
	if (typeof v === 'boolean') return v ? 'true' : 'false';
	return String(v);
}

function csvField(s) {
	return /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

/* The table as CSV: the run id, then the shown columns, one line per run. */
export function toCsv(runs, cols) {
	const lines = [['run', ...cols.map((c) => c.label)].map(csvField).join(',')];
	for (const r of runs) lines.push([r.id, ...cols.map((c) => cellText(c.get(r)))].map(csvField).join(','));
	return lines.join('\n') + '\n';
}
