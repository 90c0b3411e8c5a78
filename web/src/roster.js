/*
 * roster.js — the class list as the Users page handles it: a roster CSV
 * (name[,email][,role]) read for a preview before it is uploaded, the
 * one-time login links written back out as CSV (for "copy all" and
 * "download"), and the roster table's filter and state words.
 *
 * The preview reads the file the way the server does (server/accounts.c:
 * RFC 4180 quotes, a byte-order mark, blank lines skipped, an optional
 * header naming the columns, line numbers counted in physical lines), so
 * the errors the server answers with ({line, message}) land on the rows
 * shown. It does not validate names or e-mails: the server does, all or
 * nothing, and the page shows what it said.
 *
 * Threads: pure; the page's main thread and node tests.
 */

/*
 * CSV records: [{line, fields}], `line` being the physical line (from 1)
 * where the record starts. Unquoted fields lose surrounding blanks; "" in a
 * quoted field is one quote. A quote left open is {error: {line, message}}.
 */
export function parseCsv(text) {
	const records = [];
	let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
	let line = 1;
	while (i < text.length) {
		const start = line;
		const fields = [];
		let field = '';
		let quoted = false;
		let wasQuoted = false;
		for (;; i++) {
			const c = i < text.length ? text[i] : '\n';
			if (quoted) {
				if (i >= text.length) return { records, error: { line: start, message: 'a quoted field is never closed' } };
				if (c === '"' && text[i + 1] === '"') {
					field += '"';
					i++;
				} else if (c === '"') quoted = false;
				else {
					if (c === '\n') line++;
					field += c;
				}
				continue;
			}
			if (c === '"' && field === '' && !wasQuoted) {
				quoted = wasQuoted = true;
			} else if (c === ',' || c === '\n') {
				fields.push(wasQuoted ? field : field.trimEnd());
				field = '';
				wasQuoted = false;
				if (c === '\n') {
					line++;
					i++;
					break;
				}
			} else if (c === '\r' || (field === '' && !wasQuoted && (c === ' ' || c === '\t'))) {
				/* dropped, as the server drops them: CR, blanks after a comma */
			} else field += c;
		}
		records.push({ line: start, fields });
	}
	return { records, error: null };
}

/*
 * The roster's rows as the server will read them: {rows: [{line, name,
 * email, role}], header (bool), error}. Names are shown lower-cased, as
 * the server folds them; a missing role is "student".
 */
export function rosterRows(text) {
	const { records, error } = parseCsv(text);
	const col = { name: 0, email: 1, role: 2 };
	let header = false;
	const rows = [];
	for (const r of records) {
		if (r.fields.length === 1 && r.fields[0] === '') continue;
		if (!header && !rows.length && r.fields[0].toLowerCase() === 'name') {
			header = true;
			col.email = col.role = -1;
			r.fields.forEach((f, k) => {
				const low = f.toLowerCase();
				if (k && (low === 'email' || low === 'e-mail')) col.email = k;
				else if (k && low === 'role') col.role = k;
			});
			continue;
		}
		const at = (k) => (k >= 0 && k < r.fields.length ? r.fields[k] : '');
		rows.push({ line: r.line, name: at(col.name).toLowerCase(), email: at(col.email), role: at(col.role).toLowerCase() || 'student' });
	}
	return { rows, header, error };
}

/* One CSV field, quoted only when it must be. */
function csvField(v) {
	const s = v === null || v === undefined ? '' : String(v);
	return /[",\r\n]|^\s|\s$/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

/*
 * The login links as CSV, `name,email,role,link` with a header — what
 * POST api/users/import?format=csv answers — for a mail merge or an LMS.
 */
export function linksCsv(entries) {
	const lines = ['name,email,role,link'];
	for (const e of entries) lines.push([e.name, e.email, e.role, e.link].map(csvField).join(','));
	return lines.join('\n') + '\n';
}

/*
 * What the roster's state column says about a user: {key, text}. key is
 * archived | invited (never logged in) | active (a live session) | idle.
 */
export function userState(u) {
	if (u.archived) return { key: 'archived', text: 'archived' };
	if (!u.last_login) return { key: 'invited', text: 'never logged in' };
	const n = u.sessions || 0;
	if (n > 0) return { key: 'active', text: n === 1 ? 'logged in' : `logged in (${n} sessions)` };
	return { key: 'idle', text: 'logged out' };
}

/*
 * The roster filtered: `text` matches name or e-mail (case-insensitive),
 * `role` is '' (all) or a role, archived users only when `archived`.
 */
export function filterUsers(users, { text = '', role = '', archived = false } = {}) {
	const q = text.trim().toLowerCase();
	return users.filter((u) => (archived || !u.archived) && (!role || u.role === role) &&
		(!q || u.name.toLowerCase().includes(q) || (u.email || '').toLowerCase().includes(q)));
}
