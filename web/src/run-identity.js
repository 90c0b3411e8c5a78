/*
 * run-identity.js — telling runs apart: a run's name, notes and tags,
 * edited in a dialog and saved with PATCH api/runs/<id>; archive, delete
 * and kill with confirmation. The run view, the run page, the Runs table
 * and the instructor board share these.
 *
 * What it is not: the run's record (the server keeps it and tells every
 * page through the feed's `run` messages).
 *
 * Threads: the page's main thread.
 */

import { confirmDialog, formDialog, toast } from './dom.js';

/* "lr, baseline , lr" → ["lr", "baseline"] */
export function parseTags(text) {
	const out = [];
	for (const t of String(text || '').split(',').map((s) => s.trim()).filter(Boolean)) if (!out.includes(t)) out.push(t);
	return out;
}

/* The label a legend or tooltip shows: the name, with the id when names repeat. */
export function runLabel(run) {
	if (!run) return '';
	return run.name ? `${run.name} (${run.id})` : run.id;
}

/* Edit name, tags and notes; resolves to the updated run, or null when cancelled or refused. */
export async function editRun(api, run) {
	const v = await formDialog(`Run ${run.id}`, [
		{ name: 'name', label: 'Name', value: run.name || '' },
		{ name: 'tags', label: 'Tags', value: (run.tags || []).join(', '), hint: 'separated by commas, e.g. baseline, lr-sweep' },
		{ name: 'notes', label: 'Notes', value: run.notes || '', multiline: true },
	]);
	if (!v) return null;
	const body = {};
	if (v.name && v.name !== run.name) body.name = v.name;
	const tags = parseTags(v.tags);
	if (JSON.stringify(tags) !== JSON.stringify(run.tags || [])) body.tags = tags;
	if (v.notes !== (run.notes || '')) body.notes = v.notes;
	if (!Object.keys(body).length) return run;
	try {
		return (await api.patch(`api/runs/${encodeURIComponent(run.id)}`, body)).run;
	} catch (e) {
		toast(`Cannot save run ${run.id}: ${e.message}`, 'error');
		return null;
	}
}

export async function setArchived(api, run, archived) {
	try {
		return (await api.patch(`api/runs/${encodeURIComponent(run.id)}`, { archived })).run;
	} catch (e) {
		toast(`Cannot ${archived ? 'archive' : 'restore'} ${run.id}: ${e.message}`, 'error');
		return null;
	}
}

/* Delete after confirming; true when it is gone. */
export async function deleteRun(api, run) {
	if (!(await confirmDialog('Delete run', `Delete run ${run.id}${run.name ? ' (' + run.name + ')' : ''}? Its curves, events and checkpoints are removed for good.`, 'Delete', true))) return false;
	try {
		await api.del(`api/runs/${encodeURIComponent(run.id)}`);
		return true;
	} catch (e) {
		toast(`Cannot delete ${run.id}: ${e.message}`, 'error');
		return false;
	}
}

/* Kill after confirming (SIGKILL, no checkpoint: stop is the gentle way); the run's record follows on the feed. */
export async function killRun(api, run) {
	if (!(await confirmDialog('Kill', `End ${run.id} now, without a checkpoint? Stop lets it checkpoint first.`, 'Kill', true))) return false;
	try {
		await api.post(`api/runs/${encodeURIComponent(run.id)}/kill`, {});
		toast(`Killed ${run.id}.`);
		return true;
	} catch (e) {
		toast(`Cannot kill ${run.id}: ${e.message}`, 'error');
		return false;
	}
}
