/*
 * feed.js — the live feed: one WebSocket to `ws` under the base URL, shared
 * by every view, that reconnects by itself and never loses an event.
 *
 * What it is: connection state (connecting / open / waiting to retry),
 * exponential backoff with jitter, and subscriptions. Each subscribed run
 * has an EventLog (merge.js) remembering its last seq; on (re)connect the
 * feed subscribes again with since=<last seq>, and on a gap or a server
 * `resync` it resubscribes from there, so views see every event of a run
 * once and in order. What it is not: HTTP (api.js) or any drawing.
 *
 * The WebSocket class and the timer functions are injected so node tests
 * can drive it without a browser.
 *
 * Threads: the page's main thread (event callbacks).
 */

import { EventLog } from './merge.js';

const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 10000;

export class Feed {
	constructor(url, opts = {}) {
		this.url = url;
		this.WebSocket = opts.WebSocket || globalThis.WebSocket;
		this.setTimeout = opts.setTimeout || globalThis.setTimeout.bind(globalThis);
		this.clearTimeout = opts.clearTimeout || globalThis.clearTimeout.bind(globalThis);
		this.random = opts.random || Math.random;
		this.now = opts.now || (() => Date.now());
		this.ws = null;
		this.state = 'idle';    /* idle | connecting | open | waiting */
		this.attempt = 0;       /* failed connects since the last open, drives the backoff */
		this.retryAt = 0;       /* when state is waiting: time of the next try (ms) */
		this.timer = null;
		this.logs = new Map();  /* run id → {log, handlers:Set} */
		this.resyncFrom = new Map(); /* run id → seq we last resubscribed from (one request per hole) */
		this.systemHandlers = new Set();
		this.runHandlers = new Set();
		this.boardHandlers = new Set();
		this.stateHandlers = new Set();
		this.openHandlers = new Set();
		this.opens = 0;         /* successful connects; more than one means we reconnected */
	}

	start() {
		if (this.state === 'idle') this.#connect();
	}

	/* Close for good (tests); no reconnect. */
	stop() {
		this.state = 'idle';
		if (this.timer) this.clearTimeout(this.timer);
		this.timer = null;
		if (this.ws) {
			this.ws.onclose = null;
			this.ws.close();
		}
		this.ws = null;
	}

	/* Retry now instead of waiting out the backoff (the "retry" button). */
	retryNow() {
		if (this.state !== 'waiting') return;
		this.clearTimeout(this.timer);
		this.timer = null;
		this.#connect();
	}

	onState(fn) {
		this.stateHandlers.add(fn);
		fn(this.state, this);
		return () => this.stateHandlers.delete(fn);
	}

	/* Called after every successful (re)connect: views refetch lists they may have missed. */
	onOpen(fn) {
		this.openHandlers.add(fn);
		return () => this.openHandlers.delete(fn);
	}

	/*
	 * Follow run `run` from after seq `since` (0: its whole history; a view
	 * that read the history as series starts at the series' last seq):
	 * `handler(items)` gets arrays of {seq, event}, first what was already
	 * received after `since`, then new events as they come. Returns the
	 * function that stops following.
	 */
	subscribeRun(run, handler, { since = 0 } = {}) {
		let entry = this.logs.get(run);
		if (!entry) {
			entry = { log: new EventLog(run, since), handlers: new Set() };
			this.logs.set(run, entry);
			this.#send({ type: 'subscribe', run, since });
		}
		entry.handlers.add(handler);
		const had = entry.log.events.filter((e) => e.seq > since);
		if (had.length) handler(had);
		return () => {
			entry.handlers.delete(handler);
			if (entry.handlers.size === 0 && this.logs.get(run) === entry) {
				this.logs.delete(run);
				this.resyncFrom.delete(run);
				this.#send({ type: 'unsubscribe', run });
			}
		};
	}

	logOf(run) {
		const e = this.logs.get(run);
		return e ? e.log : null;
	}

	onSystem(fn) {
		this.systemHandlers.add(fn);
		if (this.systemHandlers.size === 1) this.#send({ type: 'subscribe_system' });
		return () => this.systemHandlers.delete(fn);
	}

	onRuns(fn) {
		this.runHandlers.add(fn);
		if (this.runHandlers.size === 1) this.#send({ type: 'subscribe_runs' });
		return () => this.runHandlers.delete(fn);
	}

	/*
	 * The instructor board: `fn(msg)` gets a snapshot ({full: true}) after
	 * every (re)connect, then the updates (docs/api.md, "board").
	 */
	onBoard(fn) {
		this.boardHandlers.add(fn);
		if (this.boardHandlers.size === 1) this.#send({ type: 'subscribe_board' });
		return () => {
			this.boardHandlers.delete(fn);
			if (!this.boardHandlers.size) this.#send({ type: 'unsubscribe_board' });
		};
	}

	#setState(s) {
		this.state = s;
		for (const fn of this.stateHandlers) fn(s, this);
	}

	#connect() {
		this.#setState('connecting');
		let ws;
		try {
			ws = new this.WebSocket(this.url);
		} catch (e) {
			this.#scheduleRetry();
			return;
		}
		this.ws = ws;
		ws.onopen = () => {
			if (this.ws !== ws) return;
			this.opens++;
			this.attempt = 0;
			this.resyncFrom.clear();
			this.#setState('open');
			for (const [run, entry] of this.logs) this.#send({ type: 'subscribe', run, since: entry.log.lastSeq });
			if (this.systemHandlers.size) this.#send({ type: 'subscribe_system' });
			if (this.runHandlers.size) this.#send({ type: 'subscribe_runs' });
			if (this.boardHandlers.size) this.#send({ type: 'subscribe_board' });
			for (const fn of this.openHandlers) fn(this);
		};
		ws.onmessage = (m) => {
			if (this.ws !== ws) return;
			let msg;
			try {
				msg = JSON.parse(m.data);
			} catch {
				return;
			}
			this.handleMessage(msg);
		};
		ws.onclose = () => {
			if (this.ws !== ws) return;
			this.ws = null;
			if (this.state === 'idle') return;
			this.#scheduleRetry();
		};
		ws.onerror = () => {
			/* onclose follows; nothing else to do */
		};
	}

	#scheduleRetry() {
		const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * Math.pow(2, this.attempt));
		const delay = Math.round(base * (0.5 + this.random() / 2));
		this.attempt++;
		this.retryAt = this.now() + delay;
		this.#setState('waiting');
		this.timer = this.setTimeout(() => {
			this.timer = null;
			if (this.state === 'waiting') this.#connect();
		}, delay);
	}

	#send(obj) {
		if (this.ws && this.state === 'open') this.ws.send(JSON.stringify(obj));
	}

	/* One server message (public so tests can inject frames). */
	handleMessage(msg) {
		switch (msg.type) {
		case 'event': {
			const entry = this.logs.get(msg.run);
			if (!entry) return;
			const r = entry.log.offer(msg.seq, msg.event);
			if (r.accepted.length) for (const h of entry.handlers) h(r.accepted);
			if (r.gap) this.#resync(msg.run, entry);
			else this.resyncFrom.delete(msg.run);
			break;
		}
		case 'resync': {
			const entry = this.logs.get(msg.run);
			if (entry) {
				this.resyncFrom.delete(msg.run);
				this.#resync(msg.run, entry);
			}
			break;
		}
		case 'system':
			for (const h of this.systemHandlers) h(msg.system);
			break;
		case 'run':
			for (const h of this.runHandlers) h(msg.run);
			break;
		case 'board':
			for (const h of this.boardHandlers) h(msg);
			break;
		case 'error':
			if (globalThis.console) console.warn('trainbook feed:', msg.message);
			break;
		default:
			break;
		}
	}

	/* Ask again from the last in-order seq, once per hole. */
	#resync(run, entry) {
		const since = entry.log.lastSeq;
		if (this.resyncFrom.get(run) === since) return;
		this.resyncFrom.set(run, since);
		this.#send({ type: 'subscribe', run, since });
	}
}
