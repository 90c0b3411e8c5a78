/*
 * account.js — the logged-in person in accounts mode: who they are (GET
 * api/me), their name and role in the header with a menu (change or set
 * a password, API tokens, log out), and a nudge to set a password after
 * logging in with a one-time link.
 *
 * What it is not: the login form (login.js) or other people's accounts
 * (users.js). Single-user mode shows none of this.
 *
 * Threads: the page's main thread.
 */

import { h, clear, toast, confirmDialog } from './dom.js';
import { openDialog, field } from './dialog.js';
import { copyText } from './clipboard.js';
import { fmtTime } from './format.js';

/* GET api/me, or null when it cannot be had (a 401 has already gone to onUnauthorized). */
export async function loadMe(api) {
	try {
		return await api.get('api/me');
	} catch {
		return null;
	}
}

const PASSWORD_MIN = 8;
const PASSWORD_MAX = 1024;

/*
 * Set or change the password. The current one is asked for when the
 * server will want it: the user has one and this session did not begin
 * with a one-time link (docs/api.md, POST api/me/password).
 */
export async function passwordDialog(api, me) {
	const needCurrent = me.has_password && me.login !== 'link';
	const current = h('input', { type: 'password', name: 'current', autocomplete: 'current-password' });
	const next = h('input', { type: 'password', name: 'password', autocomplete: 'new-password', minlength: String(PASSWORD_MIN) });
	const again = h('input', { type: 'password', name: 'again', autocomplete: 'new-password' });
	const body = h('div.form-fields',
		me.has_password ? null : h('p', { text: 'Set a password to log in with your name next time, without a new link.' }),
		needCurrent ? field('Current password', current) : null,
		field('New password', next, `${PASSWORD_MIN} characters or more`),
		field('New password again', again));
	const done = await openDialog(me.has_password ? 'Change password' : 'Set a password', body, {
		ok: 'Save password',
		submit: async () => {
			if (next.value.length < PASSWORD_MIN) throw new Error(`The new password needs at least ${PASSWORD_MIN} characters.`);
			if (next.value.length > PASSWORD_MAX) throw new Error(`The new password may have at most ${PASSWORD_MAX} characters.`);
			if (next.value !== again.value) throw new Error('The two new passwords differ.');
			const req = { password: next.value };
			if (needCurrent) req.current = current.value;
			try {
				await api.post('api/me/password', req);
			} catch (e) {
				if (e.status === 403) throw new Error('The current password is not right.');
				throw new Error(e.message.charAt(0).toUpperCase() + e.message.slice(1));
			}
		},
	});
	if (done) {
		me.has_password = true;
		toast('Password saved.');
	}
	return !!done;
}

/*
 * The API tokens dialog: make one (its secret shown once, with a copy
 * button), list them, revoke one.
 */
export async function tokensDialog(api) {
	const label = h('input', { type: 'text', name: 'token-name', placeholder: 'laptop', maxlength: '64', spellcheck: 'false', autocomplete: 'off', 'aria-label': 'name of the new token' });
	const fresh = h('div.token-fresh', { hidden: true });
	const rows = h('tbody');
	const error = h('p.error', { role: 'alert' });

	async function list() {
		let tokens;
		try {
			tokens = (await api.get('api/me/tokens')).tokens || [];
		} catch (e) {
			error.textContent = 'Cannot list your tokens: ' + e.message;
			return;
		}
		clear(rows);
		if (!tokens.length) rows.append(h('tr', h('td.muted', { colspan: '5', text: 'No tokens yet.' })));
		for (const t of tokens) {
			rows.append(h('tr', { 'data-token': String(t.id) },
				h('td', { text: t.name }),
				h('td', { text: fmtTime(t.created) }),
				h('td', { text: t.last_used ? fmtTime(t.last_used) : 'never' }),
				h('td', t.revoked ? h('span.muted', { text: 'revoked ' + fmtTime(t.revoked) }) : h('span', { text: 'active' })),
				h('td.actions', t.revoked ? null : h('button.danger', { type: 'button', text: 'Revoke', 'aria-label': `revoke token ${t.name}`, onclick: () => revoke(t) }))));
		}
	}

	async function revoke(t) {
		if (!(await confirmDialog('Revoke token', `Revoke the token "${t.name}"? Scripts using it stop working at once.`, 'Revoke', true))) return;
		try {
			await api.del('api/me/tokens/' + encodeURIComponent(t.id));
		} catch (e) {
			error.textContent = 'Cannot revoke: ' + e.message;
		}
		await list();
	}

	async function create() {
		error.textContent = '';
		let made;
		try {
			made = await api.post('api/me/tokens', label.value.trim() ? { name: label.value.trim() } : {});
		} catch (e) {
			error.textContent = 'Cannot make a token: ' + e.message;
			return;
		}
		label.value = '';
		const secret = h('input.secret', { type: 'text', readonly: true, value: made.token, 'aria-label': `the new token ${made.name}`, spellcheck: 'false' });
		const copyBtn = h('button', { type: 'button', text: 'Copy', onclick: async () => {
			const ok = await copyText(made.token);
			copyBtn.textContent = ok ? 'Copied' : 'Select and copy it';
			if (!ok) secret.select();
		} });
		clear(fresh).append(
			h('p', h('strong', { text: `New token "${made.name}". ` }), 'Copy it now: it is shown only this once (the server keeps only a hash).'),
			h('div.copy-row', secret, copyBtn),
			h('p.muted.small', { text: 'Scripts send it as the header "Authorization: token <token>".' }));
		fresh.hidden = false;
		secret.select();
		await list();
	}

	const body = h('div.tokens',
		h('p.muted', { text: 'Personal tokens for scripts and the command line; they act as you. Never put your password in a script.' }),
		h('div.copy-row', label, h('button.primary', { type: 'button', text: 'New token', onclick: create })),
		fresh, error,
		h('table.list.token-list', h('thead', h('tr', ['name', 'created', 'last used', 'state', ''].map((t) => h('th', { scope: 'col', text: t })))), rows));
	label.addEventListener('keydown', (e) => {
		if (e.key === 'Enter') {
			e.preventDefault();
			create();
		}
	});
	const shown = openDialog('API tokens', body, { ok: null, cancel: 'Close', className: 'wide' });
	await list();
	return shown;
}

/*
 * The header's account button and its menu. `onLogout` runs after the
 * server ended the session (the page then shows the login form).
 */
export class AccountMenu {
	constructor(api, me, { onLogout }) {
		this.api = api;
		this.me = me;
		this.onLogout = onLogout;
		this.button = h('button.account-button', { type: 'button', 'aria-haspopup': 'menu', 'aria-expanded': 'false', title: `logged in as ${me.name} (${me.role})` },
			h('span.account-name', { text: me.name }), h('span.badge.role-' + me.role, { text: me.role }), h('span', { 'aria-hidden': 'true', text: ' ▾' }));
		const item = (text, fn) => h('li', { role: 'none' }, h('button.menu-item', { type: 'button', role: 'menuitem', text, onclick: () => {
			this.close();
			fn();
		} }));
		this.pwItem = item(me.has_password ? 'Change password…' : 'Set a password…', () => this.password());
		this.menu = h('ul.menu', { role: 'menu', 'aria-label': 'account', hidden: true },
			this.pwItem,
			item('API tokens…', () => tokensDialog(api)),
			item('Log out', () => this.logout()));
		this.el = h('div.account', this.button, this.menu);
		this.button.addEventListener('click', () => (this.menu.hidden ? this.open() : this.close()));
		this.onDoc = (e) => {
			if (!this.el.contains(e.target)) this.close();
		};
		this.el.addEventListener('keydown', (e) => {
			if (e.key === 'Escape' && !this.menu.hidden) {
				this.close();
				this.button.focus();
			}
		});
	}

	open() {
		this.menu.hidden = false;
		this.button.setAttribute('aria-expanded', 'true');
		document.addEventListener('mousedown', this.onDoc);
		this.menu.querySelector('button').focus();
	}

	close() {
		this.menu.hidden = true;
		this.button.setAttribute('aria-expanded', 'false');
		document.removeEventListener('mousedown', this.onDoc);
	}

	async password() {
		if (await passwordDialog(this.api, this.me)) {
			this.pwItem.firstChild.textContent = 'Change password…';
			if (this.nudge) this.nudge.remove();
		}
	}

	async logout() {
		try {
			await this.api.post('api/logout');
		} catch (e) {
			if (e.status !== 401) {
				toast('Cannot log out: ' + e.message, 'error');
				return;
			}
		}
		this.onLogout();
	}

	/*
	 * After a one-time link with no password yet: a bar saying so, with the
	 * button that sets one (else the next login needs another link).
	 */
	passwordNudge() {
		if (this.me.has_password) return null;
		this.nudge = h('div.notice-bar', { role: 'status' },
			h('span', { text: 'You have no password yet: set one to log in again without a new link.' }),
			h('button.primary', { type: 'button', text: 'Set a password', onclick: () => this.password() }),
			h('button.link', { type: 'button', text: 'later', onclick: () => this.nudge.remove() }));
		return this.nudge;
	}
}
