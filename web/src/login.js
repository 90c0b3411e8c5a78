/*
 * login.js — the token form shown when the API answers 401 (no cookie, or
 * a stale one): paste the token `trainbook serve` printed; the form posts it
 * to `login` (relative, so it works under a base prefix), the server sets
 * the cookie and sends the browser back to the page.
 *
 * Threads: the page's main thread.
 */

import { h, clear } from './dom.js';

export function showLogin(root) {
	const input = h('input', { type: 'password', name: 'token', id: 'token', required: true, autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'token-help' });
	clear(root).append(h('section.panel.login', { 'aria-labelledby': 'login-h' },
		h('h1', { id: 'login-h', text: 'Log in to trainbook' }),
		h('p', { id: 'token-help' }, 'Paste the token that ', h('code', { text: 'trainbook serve' }),
			' printed when it started (the part after ', h('code', { text: '?token=' }), ' in its URL), or open that URL directly.'),
		h('form', { method: 'post', action: 'login' },
			h('label', { for: 'token', text: 'Token' }), input,
			h('button.primary', { type: 'submit', text: 'Log in' }))));
	document.title = 'Log in — trainbook';
	input.focus();
}
