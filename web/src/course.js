/*
 * course.js — course material in accounts mode: "Make a copy" of a
 * notebook (POST api/notebooks/copy: a student's copy lands in their home,
 * an instructor publishes into course/), the read-only banner a student
 * sees on a course notebook, and the line saying where a copy came from.
 *
 * What it is not: the rules of who may write where (owners.js; the server
 * decides).
 *
 * Threads: the page's main thread.
 */

import { h, toast, promptDialog } from './dom.js';
import { encodePath } from './base.js';
import { copiedFrom, homeOf, notebookPlace } from './owners.js';
import { fmtTime } from './format.js';

const nbHref = (path) => '#/nb/' + encodePath(path);

/*
 * Copy notebook `from`; `to` may be omitted (the server picks the home, or
 * name-copy.ipynb beside it in single-user mode). When the place is taken,
 * ask for another name. Resolves to the new path, or null.
 */
export async function makeCopy(api, me, from, to) {
	for (;;) {
		try {
			const r = await api.post('api/notebooks/copy', to ? { from, to } : { from });
			toast(`Copied ${from} to ${r.path}.`);
			return r.path;
		} catch (e) {
			if (e.status === 401) return null;
			if (e.status !== 409) {
				toast(`Cannot copy ${from}: ${e.message}`, 'error');
				return null;
			}
			const taken = to || homeOf(me) + from.split('/').pop();
			const other = await promptDialog('Name taken', `${taken} exists. Copy to:`, taken.replace(/\.ipynb$/, '-2.ipynb'));
			if (!other) return null;
			to = other.endsWith('.ipynb') ? other : other + '.ipynb';
		}
	}
}

/*
 * What the notebook page shows under its title: for a notebook `me` may
 * not write, a banner with a Make a copy button; for a copy, where it came
 * from. `model` is the parsed notebook (nbformat.js).
 */
export function notebookNotes(ctx, path, model) {
	const out = [];
	const { place, writable } = notebookPlace(ctx.me, path);
	if (!writable) {
		const btn = h('button.primary', { type: 'button', text: 'Make a copy', onclick: async () => {
			btn.disabled = true;
			const copy = await makeCopy(ctx.api, ctx.me, path);
			btn.disabled = false;
			if (copy) location.hash = nbHref(copy);
		} });
		out.push(h('div.banner.read-only', { role: 'note' },
			h('strong', { text: place === 'course' ? 'Course material. ' : 'Read-only. ' }),
			`You can read this notebook but not change or run it here: make a copy in your home (${homeOf(ctx.me)}) to work on it.`, btn));
	}
	const from = copiedFrom(model && model.metadata);
	if (from) {
		out.push(h('p.copied-from.muted.small', 'Copied from ', notebookPlace(ctx.me, from.path).readable ? h('a', { href: nbHref(from.path), text: from.path }) : h('code', { text: from.path }),
			from.time ? ` on ${fmtTime(from.time)}` : ''));
	}
	return out;
}
