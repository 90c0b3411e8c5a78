/*
 * main.js — the page's entry: works out the base URL, creates the API
 * client, the live feed and the system monitor, draws the header with the
 * connection state, and routes by hash (#/, #/nb/<path>, #/runs,
 * #/run/<id>, #/sweeps[/<id>], #/users and #/board for instructors) so the
 * server only ever serves index.html. In accounts mode (GET api/me says so)
 * the header also names the person, with their menu, and instructors get the
 * Users page; single-user mode looks as it always did, but for the Board
 * (its OS user is the instructor).
 *
 * window.trainbook is a read-only look into the running page (feed, run
 * views, current page) for the end-to-end tests and for curious people.
 *
 * Threads: the page's main thread.
 */

import './style.css';
import './accounts.css';
import './sweep.css';
import { appBase, wsUrlFor } from './base.js';
import { createApi } from './api.js';
import { Feed } from './feed.js';
import { SystemMonitor } from './system.js';
import { h, fill } from './dom.js';
import { WorkspacePage } from './workspace.js';
import { NotebookPage } from './notebook.js';
import { RunsPage } from './runs.js';
import { SweepPage, SweepsPage } from './sweep.js';
import { RunPage } from './run-page.js';
import { BoardPage } from './board.js';
import { UsersPage } from './users.js';
import { showLogin, showAccountLogin } from './login.js';
import { loadMe, AccountMenu } from './account.js';

const base = appBase(location.href);
const main = document.getElementById('main') || document.body.appendChild(h('main', { id: 'main' }));
let loggedOut = false;

const api = createApi(base, {
	onUnauthorized: () => {
		/* Before GET api/me answered the mode is unknown: the server's own login page knows it. */
		if (!ctx.me) {
			loggedOut = true;
			location.assign(api.url('login'));
		} else loggedOutShow(ctx.me.accounts ? 'Your session has ended (logged out elsewhere, ended by an instructor, or expired). Log in again.' : null);
	},
});

/* Leave the app for a login form: accounts mode's name and password, or the token form. */
function loggedOutShow(message) {
	if (loggedOut) return;
	loggedOut = true;
	feed.stop();
	if (page) page.destroy();
	page = null;
	connEl.hidden = true;
	if (account) account.el.remove();
	for (const el of document.querySelectorAll('.notice-bar')) el.remove();
	if (ctx.me && ctx.me.accounts) showAccountLogin(main, { message });
	else showLogin(main);
}

const feed = new Feed(wsUrlFor(base));
const monitor = new SystemMonitor(api, feed);
const ctx = { api, feed, monitor, me: null, registry: new Set(), debug: { page: null } };
window.trainbook = { base, feed, api, runViews: ctx.registry, debug: ctx.debug, get page() { return ctx.debug.page; }, get me() { return ctx.me; } };

/* ---- header: navigation and the connection state ---- */
const connText = h('span.conn-text', { text: 'connecting…' });
const retryBtn = h('button.link', { type: 'button', text: 'retry now', hidden: true, onclick: () => feed.retryNow() });
const connEl = h('div.conn', { role: 'status', 'aria-live': 'polite', 'data-state': 'connecting' }, h('span.dot', { 'aria-hidden': 'true' }), connText, retryBtn);
/* The board is for instructors (the OS user, without accounts): its link shows once /api/me says so. */
const boardLink = h('a', { href: '#/board', 'data-route': 'board', text: 'Board', hidden: true });
const nav = h('nav', { 'aria-label': 'main' },
	h('a', { href: '#/', 'data-route': 'workspace', text: 'Workspace' }),
	h('a', { href: '#/runs', 'data-route': 'runs', text: 'Runs' }),
	h('a', { href: '#/sweeps', 'data-route': 'sweeps', text: 'Sweeps' }),
	boardLink);
const header = h('header.top', h('a.brand', { href: '#/', text: 'trainbook' }), nav, connEl);
document.body.insertBefore(header, main);
let account = null;

/* Accounts mode: the Users page for instructors, the person's menu, a nudge to set a password. */
function accountsHeader(me) {
	if (me.role === 'instructor') nav.append(h('a', { href: '#/users', 'data-route': 'users', text: 'Users' }));
	account = new AccountMenu(api, me, { onLogout: () => loggedOutShow('You have logged out.') });
	header.append(account.el);
	const nudge = account.passwordNudge();
	if (nudge) header.after(nudge);
}

let countdown = null;
let authProbe = 0;
feed.onState((state) => {
	connEl.dataset.state = state;
	clearInterval(countdown);
	retryBtn.hidden = state !== 'waiting';
	if (state === 'open') connText.textContent = feed.opens > 1 ? 'connected (resumed)' : 'connected';
	else if (state === 'connecting') connText.textContent = 'connecting…';
	else if (state === 'waiting') {
		const tick = () => {
			const s = Math.max(0, Math.ceil((feed.retryAt - Date.now()) / 1000));
			connText.textContent = `disconnected — retrying in ${s} s`;
		};
		tick();
		countdown = setInterval(tick, 1000);
		/* A WebSocket refused for want of a cookie looks like any failure: ask the API once in a while. */
		if (feed.attempt >= 2 && Date.now() - authProbe > 10000) {
			authProbe = Date.now();
			api.get('api/status').catch(() => {});
		}
	}
});

/* ---- routing ---- */
let page = null;

function route() {
	if (loggedOut) return;
	const raw = location.hash.replace(/^#/, '') || '/';
	if (page) page.destroy();
	page = null;
	window.scrollTo(0, 0);
	let name = 'workspace';
	if (raw.startsWith('/nb/')) {
		name = 'notebook';
		const path = raw.slice(4).split('/').map(decodeURIComponent).join('/');
		page = new NotebookPage(main, ctx, path);
	} else if (raw.startsWith('/run/')) {
		name = 'runs';
		page = new RunPage(main, ctx, decodeURIComponent(raw.slice(5).split('?')[0]));
	} else if (raw.startsWith('/board')) {
		name = 'board';
		page = new BoardPage(main, ctx);
	} else if (raw.startsWith('/users')) {
		name = 'users';
		page = new UsersPage(main, ctx);
	} else if (raw.startsWith('/sweeps/')) {
		name = 'sweeps';
		page = new SweepPage(main, ctx, decodeURIComponent(raw.slice(8)));
	} else if (raw.startsWith('/sweeps')) {
		name = 'sweeps';
		page = new SweepsPage(main, ctx);
	} else if (raw.startsWith('/runs')) {
		name = 'runs';
		const q = new URLSearchParams(raw.split('?')[1] || '');
		const ids = (q.get('ids') || '').split(',').filter(Boolean);
		page = new RunsPage(main, ctx, ids);
	} else {
		page = new WorkspacePage(main, ctx);
	}
	for (const a of nav.querySelectorAll('a')) a.toggleAttribute('aria-current', a.dataset.route === name);
	document.body.dataset.route = name;
	page.load().catch((e) => {
		fill(main, h('div.banner.error', { role: 'alert', text: 'Something went wrong: ' + e.message }));
	});
}

window.addEventListener('hashchange', route);
feed.start();
loadMe(api).then((me) => {
	ctx.me = me;
	boardLink.hidden = !me || me.role !== 'instructor';
	if (me && me.accounts) accountsHeader(me);
	route();
});
