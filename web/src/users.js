/*
 * users.js — the Users page (#/users), for instructors in accounts mode:
 * the roster (name, e-mail, role, last login, state) with a filter; adding
 * people from a roster CSV (chosen or dropped, previewed, imported all or
 * nothing) or one at a time; the one-time login links that come back, to
 * copy or download for mail or the LMS; and per person a new link, a reset,
 * ending their sessions, editing e-mail and role, and deleting (archiving).
 *
 * Login links exist only in the answers that made them (the server keeps
 * a hash), so the page keeps the ones it was given in ctx.links for as long
 * as the tab lives, across page switches.
 * What it is not: one's own account (account.js).
 *
 * Threads: the page's main thread.
 */

import { h, clear, toast, confirmDialog, dropTarget } from './dom.js';
import { openDialog, field } from './dialog.js';
import { copyText, downloadText } from './clipboard.js';
import { rosterRows, linksCsv, userState, filterUsers } from './roster.js';
import { fmtTime } from './format.js';

const ROSTER_MAX_BYTES = 1 << 20; /* POST api/users/import takes at most 1 MiB */

export class UsersPage {
	constructor(root, ctx) {
		this.root = root;
		this.ctx = ctx;
		this.api = ctx.api;
		this.users = [];
		this.roster = null; /* {name, text, rows} chosen but not imported yet */
		if (!ctx.links) ctx.links = [];
		this.filter = { text: '', role: '', archived: false };
		this.rosterBody = h('tbody');
		this.count = h('span.muted.small');
		this.previewEl = h('div.roster-preview', { hidden: true });
		this.linksEl = h('section.panel.links', { 'aria-labelledby': 'links-h', hidden: true });
		this.file = h('input', { type: 'file', accept: '.csv,text/csv,text/plain', hidden: true, onchange: () => this.#chosen(this.file.files[0]) });
		ctx.debug.page = this;
	}

	async load() {
		const me = this.ctx.me;
		if (!me || !me.accounts || me.role !== 'instructor') {
			clear(this.root).append(h('h1', { text: 'Users' }), h('div.banner', { role: 'note',
				text: me && me.accounts ? 'Only instructors manage users.' : 'This server has one user: accounts are off (trainbook serve --accounts turns them on).' }));
			document.title = 'Users — trainbook';
			return;
		}
		this.#build();
		this.#renderLinks();
		await this.reload();
	}

	destroy() {
		if (this.ctx.debug.page === this) this.ctx.debug.page = null;
	}

	#build() {
		const drop = h('div.roster-drop', { 'aria-label': 'roster file' },
			h('p', 'Drop a roster CSV here, or ', h('button', { type: 'button', text: 'choose a file…', onclick: () => this.file.click() }), this.file),
			h('p.muted.small', { text: 'Columns name[,email][,role]; a header line is optional; the role is student unless it says instructor. Every row is checked first: with one bad row nobody is added.' }));
		dropTarget(drop, (f) => this.#chosen(f));
		const search = h('input', { type: 'search', placeholder: 'name or e-mail', 'aria-label': 'filter by name or e-mail', spellcheck: 'false' });
		search.addEventListener('input', () => {
			this.filter.text = search.value;
			this.#renderRoster();
		});
		const role = h('select', { 'aria-label': 'filter by role' },
			h('option', { value: '', text: 'all roles' }), h('option', { value: 'student', text: 'students' }), h('option', { value: 'instructor', text: 'instructors' }));
		role.addEventListener('change', () => {
			this.filter.role = role.value;
			this.#renderRoster();
		});
		const archived = h('input', { type: 'checkbox' });
		archived.addEventListener('change', () => {
			this.filter.archived = archived.checked;
			this.#renderRoster();
		});
		clear(this.root).append(
			h('h1', { text: 'Users' }),
			h('section.panel', { 'aria-labelledby': 'add-h' },
				h('div.panel-head', h('h2', { id: 'add-h', text: 'Add people' }),
					h('div.toolbar', h('button', { type: 'button', text: 'Add one user…', onclick: () => this.#addOne() }))),
				drop, this.previewEl),
			this.linksEl,
			h('section.panel', { 'aria-labelledby': 'roster-h' },
				h('div.panel-head', h('h2', { id: 'roster-h' }, 'Roster ', this.count),
					h('div.toolbar', search, role, h('label.check', archived, ' show archived'),
						h('button', { type: 'button', text: 'Refresh', onclick: () => this.reload() }))),
				h('table.list.roster', h('thead', h('tr', ['name', 'e-mail', 'role', 'last login', 'state', ''].map((t) => h('th', { scope: 'col', text: t })))), this.rosterBody)));
		document.title = 'Users — trainbook';
	}

	async reload() {
		try {
			this.users = (await this.api.get('api/users')).users || [];
		} catch (e) {
			if (e.status !== 401) clear(this.rosterBody).append(h('tr', h('td.error', { colspan: '6', text: 'Cannot list users: ' + e.message })));
			return;
		}
		this.#renderRoster();
	}

	#renderRoster() {
		const shown = filterUsers(this.users, this.filter);
		const live = this.users.filter((u) => !u.archived);
		const students = live.filter((u) => u.role === 'student').length;
		this.count.textContent = `${students} student${students === 1 ? '' : 's'}, ${live.length - students} instructor${live.length - students === 1 ? '' : 's'}` +
			(shown.length !== live.length ? ` · ${shown.length} shown` : '');
		clear(this.rosterBody);
		if (!shown.length) this.rosterBody.append(h('tr', h('td.muted', { colspan: '6', text: this.users.length ? 'Nobody matches the filter.' : 'Nobody yet: import a roster or add a user.' })));
		for (const u of shown) {
			const state = userState(u);
			const self = u.name === this.ctx.me.name;
			const act = (text, label, fn, cls = '') => h('button' + cls, { type: 'button', text, 'aria-label': `${label} ${u.name}`, onclick: fn });
			this.rosterBody.append(h('tr', { 'data-user': u.name, class: u.archived ? 'archived' : '' },
				h('td', h('span.user-name', { text: u.name }), self ? h('span.muted', { text: ' (you)' }) : null),
				h('td', { text: u.email || '—' }),
				h('td', h('span.badge.role-' + u.role, { text: u.role })),
				h('td', { text: u.last_login ? fmtTime(u.last_login) : '—' }),
				h('td', h('span.state.state-' + state.key, { text: state.text }),
					!u.archived && !u.has_password && u.last_login ? h('span.muted.small', { text: ' · no password' }) : null),
				h('td.actions', u.archived ? h('span.muted.small', { text: `archived ${fmtTime(u.archived)}` }) : [
					act('Edit…', 'edit', () => this.#edit(u)),
					act('New link', 'new login link for', () => this.#link(u, 'link')),
					self ? null : act('Reset…', 'reset the login of', () => this.#reset(u)),
					self ? null : act('Revoke…', 'end the sessions of', () => this.#revoke(u)),
					self ? null : act('Delete…', 'delete', () => this.#delete(u), '.danger'),
				])));
		}
	}

	/* ---- roster import ---- */

	async #chosen(file) {
		this.file.value = '';
		if (!file) return;
		if (file.size > ROSTER_MAX_BYTES) {
			toast(`${file.name} is ${Math.ceil(file.size / 1024)} KiB; a roster may be at most 1 MiB.`, 'error');
			return;
		}
		const text = await file.text();
		const parsed = rosterRows(text);
		this.roster = { name: file.name, text, rows: parsed.rows, error: parsed.error };
		this.#renderPreview();
	}

	/* The rows about to be imported, and after a refusal the server's reasons beside them. */
	#renderPreview(serverErrors = [], message = '') {
		const r = this.roster;
		const el = this.previewEl;
		clear(el);
		if (!r) {
			el.hidden = true;
			return;
		}
		el.hidden = false;
		const byLine = new Map();
		for (const e of serverErrors) byLine.set(e.line, [...(byLine.get(e.line) || []), e.message]);
		const instructors = r.rows.filter((x) => x.role === 'instructor').length;
		const body = h('tbody');
		for (const row of r.rows) {
			const errs = byLine.get(row.line);
			byLine.delete(row.line);
			body.append(h('tr', { 'data-line': String(row.line), class: errs ? 'bad' : '' },
				h('td.muted', { text: String(row.line) }), h('td', { text: row.name }), h('td', { text: row.email || '—' }), h('td', { text: row.role }),
				h('td.error', { text: errs ? errs.join('; ') : '' })));
		}
		const other = [...byLine].map(([line, msgs]) => `line ${line}: ${msgs.join('; ')}`);
		if (r.error) other.unshift(`line ${r.error.line}: ${r.error.message}`);
		const importBtn = h('button.primary', { type: 'button', text: `Import ${r.rows.length} user${r.rows.length === 1 ? '' : 's'}`, disabled: !r.rows.length || !!r.error, onclick: () => this.#import(importBtn) });
		el.append(...[
			h('p', h('strong', { text: r.name }), `: ${r.rows.length - instructors} student${r.rows.length - instructors === 1 ? '' : 's'}, ${instructors} instructor${instructors === 1 ? '' : 's'}.`),
			message ? h('p.error', { role: 'alert', text: message }) : null,
			other.length ? h('ul.error', other.map((t) => h('li', { text: t }))) : null,
			h('table.list.preview', h('thead', h('tr', ['line', 'name', 'e-mail', 'role', ''].map((t) => h('th', { scope: 'col', text: t })))), body),
			h('div.toolbar', importBtn, h('button', { type: 'button', text: 'Cancel', onclick: () => {
				this.roster = null;
				this.#renderPreview();
			} }))].filter(Boolean)); /* the DOM's append would write a null as "null" */
	}

	async #import(btn) {
		btn.disabled = true;
		let made;
		try {
			made = await this.api.request('POST', 'api/users/import', { body: this.roster.text, headers: { 'Content-Type': 'text/csv' } });
		} catch (e) {
			if (e.status === 401) return;
			/* 409: "line 3: the name 'x' is taken …" — put it on its row too */
			const taken = /^line (\d+): (.*)$/.exec(e.message);
			const errors = e.errors || (taken && e.status === 409 ? [{ line: Number(taken[1]), message: taken[2] }] : []);
			this.#renderPreview(errors, e.message.charAt(0).toUpperCase() + e.message.slice(1));
			return;
		}
		const users = made.users || [];
		this.#addLinks(users.map((u) => ({ ...u, made: 'imported' })));
		toast(`Imported ${users.length} user${users.length === 1 ? '' : 's'}: their login links are below.`);
		this.roster = null;
		this.#renderPreview();
		await this.reload();
	}

	async #addOne() {
		const name = h('input', { type: 'text', name: 'name', required: true, spellcheck: 'false', autocomplete: 'off', autocapitalize: 'none' });
		const email = h('input', { type: 'email', name: 'email', spellcheck: 'false', autocomplete: 'off' });
		const role = h('select', { name: 'role' }, h('option', { value: 'student', text: 'student' }), h('option', { value: 'instructor', text: 'instructor' }));
		const made = await openDialog('Add a user', h('div.form-fields',
			field('Name', name, '1 to 32 of a-z 0-9 . _ - (the name of their home folder)'),
			field('E-mail (optional)', email),
			field('Role', role)), {
			ok: 'Add',
			submit: async () => {
				if (!name.value.trim()) throw new Error('A name is needed.');
				const req = { name: name.value.trim(), role: role.value };
				if (email.value.trim()) req.email = email.value.trim();
				try {
					return await this.api.post('api/users', req);
				} catch (e) {
					throw new Error(e.status === 409 ? `The name ${req.name.toLowerCase()} is taken (perhaps by an archived user).` : e.message);
				}
			},
		});
		if (!made) return;
		this.#addLinks([{ ...made.user, link: made.link, made: 'added' }]);
		await this.reload();
	}

	/* ---- per person ---- */

	async #edit(u) {
		const email = h('input', { type: 'email', name: 'email', value: u.email || '', spellcheck: 'false', autocomplete: 'off' });
		const role = h('select', { name: 'role' }, ['student', 'instructor'].map((r) => h('option', { value: r, text: r, selected: r === u.role })));
		const done = await openDialog(`Edit ${u.name}`, h('div.form-fields',
			field('E-mail', email, 'empty: none'),
			field('Role', role, 'instructors see and manage everything; students see their own work and course/')), {
			ok: 'Save',
			submit: async () => {
				const change = {};
				if (email.value.trim() !== (u.email || '')) change.email = email.value.trim() || null;
				if (role.value !== u.role) change.role = role.value;
				if (!Object.keys(change).length) return true;
				try {
					await this.api.patch('api/users/' + encodeURIComponent(u.name), change);
				} catch (e) {
					throw new Error(e.status === 409 ? 'The last instructor cannot become a student.' : e.message);
				}
				return true;
			},
		});
		if (done) await this.reload();
	}

	async #link(u, how) {
		try {
			const r = await this.api.post(`api/users/${encodeURIComponent(u.name)}/${how}`);
			this.#addLinks([{ ...u, link: r.link, made: how === 'reset' ? 'reset' : 'new link' }]);
			toast(`A new login link for ${u.name} is in the list of links; earlier unused ones stop working.`);
		} catch (e) {
			if (e.status !== 401) toast(`Cannot make a link for ${u.name}: ${e.message}`, 'error');
		}
		await this.reload();
	}

	async #reset(u) {
		if (!(await confirmDialog(`Reset ${u.name}'s login`, `Remove ${u.name}'s password and end every session of theirs now, and make a new one-time login link? Their API tokens keep working.`, 'Reset', true))) return;
		await this.#link(u, 'reset');
	}

	async #revoke(u) {
		const tokens = h('input', { type: 'checkbox', name: 'tokens' });
		const done = await openDialog(`End ${u.name}'s sessions`, h('div.form-fields',
			h('p', { text: `Log ${u.name} out everywhere now (their open pages lose the live feed). They log in again with their password or a new link.` }),
			h('label.check', tokens, ' also revoke their API tokens')), {
			ok: 'End sessions', danger: true,
			submit: async () => this.api.post(`api/users/${encodeURIComponent(u.name)}/revoke`, tokens.checked ? { tokens: true } : {}),
		});
		if (!done) return;
		toast(`${u.name}: ${done.sessions} session${done.sessions === 1 ? '' : 's'} ended` + (tokens.checked ? `, ${done.tokens} token${done.tokens === 1 ? '' : 's'} revoked.` : '.'));
		await this.reload();
	}

	async #delete(u) {
		const ok = await confirmDialog(`Delete ${u.name}`,
			`Delete ${u.name}? The account is archived, not erased: their logins, sessions, API tokens and links end now and the name stays taken; ` +
			`their runs keep their owner, and their home users/${u.name}/ moves to archive/${u.name}/, which only instructors see.`, 'Delete (archive)', true);
		if (!ok) return;
		try {
			await this.api.del('api/users/' + encodeURIComponent(u.name));
			toast(`${u.name} is archived; their files are in archive/${u.name}/.`);
		} catch (e) {
			if (e.status !== 401) toast(e.status === 409 ? 'The last instructor cannot be deleted.' : `Cannot delete ${u.name}: ${e.message}`, 'error');
		}
		await this.reload();
	}

	/* ---- the links handed out ---- */

	#addLinks(entries) {
		for (const e of entries) {
			/* a newer link for the same person replaces theirs: the old one no longer works */
			const i = this.ctx.links.findIndex((x) => x.name === e.name);
			const row = { name: e.name, email: e.email || '', role: e.role, link: e.link, made: e.made };
			if (i >= 0) this.ctx.links.splice(i, 1);
			this.ctx.links.push(row);
		}
		this.#renderLinks();
		this.linksEl.scrollIntoView({ block: 'nearest' });
	}

	#renderLinks() {
		const links = this.ctx.links;
		const el = this.linksEl;
		clear(el);
		el.hidden = !links.length;
		if (!links.length) return;
		const copyAll = h('button.primary', { type: 'button', text: 'Copy all', title: 'copy as CSV: name,email,role,link', onclick: async () => {
			const ok = await copyText(linksCsv(links));
			toast(ok ? `Copied ${links.length} link${links.length === 1 ? '' : 's'} as CSV.` : 'The browser refused to copy: use Download CSV.', ok ? 'info' : 'error');
		} });
		const body = h('tbody');
		for (const l of links) {
			const input = h('input.link', { type: 'text', readonly: true, value: l.link, 'aria-label': `login link for ${l.name}`, spellcheck: 'false' });
			input.addEventListener('focus', () => input.select());
			const copy = h('button', { type: 'button', text: 'Copy', 'aria-label': `copy the link for ${l.name}`, onclick: async () => {
				const ok = await copyText(l.link);
				copy.textContent = ok ? 'Copied' : 'Copy failed';
				if (!ok) input.select();
			} });
			body.append(h('tr', { 'data-user': l.name },
				h('td', { text: l.name }), h('td', { text: l.email || '—' }), h('td', { text: l.role }), h('td.muted.small', { text: l.made }),
				h('td.link-cell', input), h('td.actions', copy)));
		}
		el.append(
			h('div.panel-head', h('h2', { id: 'links-h', text: `Login links (${links.length})` }),
				h('div.toolbar', copyAll,
					h('button', { type: 'button', text: 'Download CSV', onclick: () => downloadText(linksCsv(links), 'login-links.csv') }),
					h('button', { type: 'button', text: 'Clear', title: 'forget these links (they keep working)', onclick: () => {
						links.length = 0;
						this.#renderLinks();
					} }))),
			h('p.muted.small', { text: 'Send each person their own link (mail, or the LMS). A link works once and for a limited time (a week unless the server says otherwise); opening it shows a "Log in as …" button. The server keeps only a hash: copy or download the links before you reload this page.' }),
			h('table.list.link-list', h('thead', h('tr', ['name', 'e-mail', 'role', 'made', 'link', ''].map((t) => h('th', { scope: 'col', text: t })))), body));
	}
}
