/*
 * owners.js — who owns what, as the page needs it in accounts mode: the
 * owner filter of the Workspace and Runs pages, where a notebook lives
 * (your home, course/, elsewhere) and whether you may write it, where a
 * new notebook goes, and where a copy came from.
 *
 * The server decides every right (docs/api.md "Ownership"); these rules
 * only spare people buttons that would answer 404. `me` is GET api/me; in
 * single-user mode (me.accounts false, or no me) everything is writable
 * and nothing is filtered.
 *
 * Threads: pure; the page's main thread and node tests.
 */

/* The owner filter's value for "things with no owner". */
export const NO_OWNER = '\u0000none';

/* Whether the page shows owners: instructors in accounts mode (students see only their own things). */
export function showsOwners(me) {
	return !!(me && me.accounts && me.role === 'instructor');
}

/* The owners among `items` (runs or notebooks), sorted, each once; NO_OWNER last when some have none. */
export function ownerNames(items) {
	const names = new Set();
	let none = false;
	for (const it of items) {
		if (it.owner) names.add(it.owner);
		else none = true;
	}
	const out = [...names].sort((a, b) => a.localeCompare(b));
	if (none) out.push(NO_OWNER);
	return out;
}

/* `items` owned by `owner` ('' keeps all; NO_OWNER keeps those without one). */
export function filterByOwner(items, owner) {
	if (!owner) return items;
	if (owner === NO_OWNER) return items.filter((it) => !it.owner);
	return items.filter((it) => it.owner === owner);
}

/* How an owner reads in a table cell or a filter. */
export function ownerLabel(owner) {
	return !owner || owner === NO_OWNER ? '(no owner)' : owner;
}

/* The caller's home folder, "users/<name>/" (accounts mode), else ''. */
export function homeOf(me) {
	return me && me.accounts ? me.home || `users/${me.name}/` : '';
}

/*
 * Where notebook `path` lives for `me`: {place, readable, writable}, place
 * being 'home' | 'course' | 'other' (accounts mode) or null (single-user).
 * Students read their home and course/ and write their home; instructors
 * read and write everywhere.
 */
export function notebookPlace(me, path) {
	if (!me || !me.accounts) return { place: null, readable: true, writable: true };
	const home = homeOf(me);
	const place = path.startsWith(home) ? 'home' : path.startsWith('course/') ? 'course' : 'other';
	const instructor = me.role === 'instructor';
	return { place, readable: instructor || place !== 'other', writable: instructor || place === 'home' };
}

/*
 * Where a notebook named `typed` in the New / Upload dialogs goes: as typed
 * in single-user mode and for instructors giving a folder; a bare name (or
 * a folder of the home) is taken inside the home; a student naming a place
 * they cannot write (course/, someone's home) gets the file in their own.
 */
export function placeNewNotebook(me, typed) {
	const path = typed.trim().replace(/^\/+/, '');
	const home = homeOf(me);
	if (!home || path.startsWith(home)) return path;
	if (me.role === 'instructor' && path.includes('/')) return path;
	if (/^(users|course)\//.test(path)) return home + path.split('/').pop();
	return home + path;
}

/* Where a copied notebook came from: {path, time} from metadata.trainbook.copied_from, or null. */
export function copiedFrom(metadata) {
	const c = metadata && metadata.trainbook && metadata.trainbook.copied_from;
	if (!c || typeof c.path !== 'string') return null;
	return { path: c.path, time: Number.isFinite(c.time) ? c.time : null };
}
