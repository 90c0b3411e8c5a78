/*
 * login.js — the token form shown when the API answers 401 (no cookie, or
 * a stale one after the server restarted with a new token): paste the
 * token `trainbook serve` printed. It is posted to `login` (relative, so it
 * works under a base prefix) with fetch rather than a form navigation:
 * fetch always sends the page's real Origin, which the server's Origin check
 * needs; then the page reloads where it was.
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
