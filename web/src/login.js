/*
 * login.js — the forms shown when the API answers 401. Single-user mode:
 * the token form (no cookie, or a stale one after the server restarted
 * with a new token): paste the token `trainbook serve` printed. Accounts
 * mode: name and password (the session ended, was revoked, or the person
 * logged out). Both post with fetch rather than a form navigation — to
 * `login` and `api/login`, relative, so they work under a base prefix —
 * because fetch always sends the page's real Origin, which the server's
 * Origin check needs; then the page reloads where it was.
 *
 * A one-time login link never reaches this page: the server answers
 * GET login?link=… itself with a "Log in as <name>" button
 * (server/routes_static.c), so opening a link does not use it up.
 *
 * Threads: the page's main thread.
 */

import { h, fill } from './dom.js';

export function showLogin(root) {
	const input = h('input', { type: 'password', name: 'token', id: 'token', required: true, autocomplete: 'current-password', spellcheck: 'false', 'aria-describedby': 'token-help' });
	const err = h('p.error', { role: 'alert' });
	const form = h('form', { method: 'post', action: 'login' },
		h('label', { for: 'token', text: 'Token' }), input,
		h('button.primary', { type: 'submit', text: 'Log in' }));
	form.addEventListener('submit', async (e) => {
		e.preventDefault();
		err.textContent = '';
		try {
			const posted = await fetch('login', { method: 'POST', body: new URLSearchParams({ token: input.value.trim() }), credentials: 'same-origin', redirect: 'manual' });
			if (posted.status === 429) {
				err.textContent = `Too many wrong tokens from this address. Try again in ${posted.headers.get('Retry-After') || 'a few'} s.`;
				input.select();
				return;
			}
			const check = await fetch('api/status', { credentials: 'same-origin' });
			if (check.ok) {
				location.reload();
				return;
			}
			err.textContent = 'That token was not accepted. Check it against the one the server printed.';
		} catch (x) {
			err.textContent = 'Cannot reach the server: ' + x.message;
		}
		input.select();
	});
	fill(root, h('section.panel.login', { 'aria-labelledby': 'login-h' },
		h('h1', { id: 'login-h', text: 'Log in to trainbook' }),
		h('p', { id: 'token-help' }, 'Paste the token that ', h('code', { text: 'trainbook serve' }),
			' printed when it started (the part after ', h('code', { text: '?token=' }), ' in its URL), or open that URL directly.'),
		form, err));
	document.title = 'Log in — trainbook';
	input.focus();
}

/*
 * Accounts mode: name and password, posted as JSON to api/login (not
 * through api.js, whose 401 means "not logged in" rather than "wrong
 * password"). `message` says why the form is shown (logged out, session
 * ended). A 429 names the wait and keeps the button off until it passes.
 */
export function showAccountLogin(root, { message = '' } = {}) {
	const name = h('input', { type: 'text', name: 'name', id: 'login-name', required: true, autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false' });
	const password = h('input', { type: 'password', name: 'password', id: 'login-password', required: true, autocomplete: 'current-password' });
	const button = h('button.primary', { type: 'submit', text: 'Log in' });
	const err = h('p.error', { role: 'alert' });
	let wait = null;
	const holdOff = (seconds) => {
		clearInterval(wait);
		const until = Date.now() + seconds * 1000;
		const tick = () => {
			const left = Math.ceil((until - Date.now()) / 1000);
			button.disabled = left > 0;
			button.textContent = left > 0 ? `Log in (wait ${left} s)` : 'Log in';
			if (left <= 0) clearInterval(wait);
		};
		tick();
		wait = setInterval(tick, 1000);
	};
	const form = h('form.account-login', { method: 'post', action: 'login' },
		h('label', { for: 'login-name', text: 'Name' }), name,
		h('label', { for: 'login-password', text: 'Password' }), password,
		button);
	form.addEventListener('submit', async (e) => {
		e.preventDefault();
		if (button.disabled) return;
		err.textContent = '';
		button.disabled = true;
		try {
			const res = await fetch('api/login', {
				method: 'POST', credentials: 'same-origin',
				headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
				body: JSON.stringify({ name: name.value.trim(), password: password.value }),
			});
			if (res.ok) {
				location.reload();
				return;
			}
			const body = await res.json().catch(() => null);
			const said = (body && body.message) || `the server answered HTTP ${res.status}`;
			if (res.status === 429) {
				/* "too many wrong passwords for this account: try again in 6 s" */
				err.textContent = said.charAt(0).toUpperCase() + said.slice(1) + '.';
				holdOff(Number(res.headers.get('Retry-After')) || 5);
				return;
			}
			err.textContent = said;
			password.select();
		} catch (x) {
			err.textContent = 'Cannot reach the server: ' + x.message;
		}
		button.disabled = false;
	});
	fill(root, h('section.panel.login.accounts', { 'aria-labelledby': 'login-h' },
		h('h1', { id: 'login-h', text: 'Log in to trainbook' }),
		message ? h('p.notice', { text: message }) : null,
		form, err,
		h('p.muted', { text: 'No password yet? Open the one-time login link your instructor gave you; if it has been used or has expired, ask them for a new one.' })));
	document.title = 'Log in — trainbook';
	name.focus();
}
