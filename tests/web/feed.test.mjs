// Unit tests for web/src/feed.js with a fake WebSocket: backoff, resubscribe with since=, gap → resync.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Feed } from '../../web/src/feed.js';

class FakeSocket {
	static all = [];
	constructor(url) {
		this.url = url;
		this.sent = [];
		this.closed = false;
		FakeSocket.all.push(this);
	}
	send(s) {
		this.sent.push(JSON.parse(s));
	}
	close() {
		this.closed = true;
	}
	open() {
		this.onopen?.();
	}
	drop() {
		this.onclose?.();
	}
	deliver(obj) {
		this.onmessage?.({ data: JSON.stringify(obj) });
	}
}

function harness() {
	FakeSocket.all = [];
	const timers = [];
	const feed = new Feed('ws://x/ws', {
		WebSocket: FakeSocket,
		setTimeout: (fn, ms) => {
			timers.push({ fn, ms });
			return timers.length;
		},
		clearTimeout: () => {},
		random: () => 1, // no jitter: delays are the plain backoff
	});
	return { feed, timers, sock: () => FakeSocket.all[FakeSocket.all.length - 1] };
}

const event = (run, seq) => ({ type: 'event', run, seq, event: { type: 'metric', step: seq } });

test('subscribing before the socket opens sends subscribe since 0 on open', () => {
	const { feed, sock } = harness();
	feed.start();
	feed.subscribeRun('r1', () => {});
	sock().open();
	assert.deepEqual(sock().sent, [{ type: 'subscribe', run: 'r1', since: 0 }]);
	assert.equal(feed.state, 'open');
});

test('reconnect backs off exponentially and resubscribes from the last seq', () => {
	const { feed, timers, sock } = harness();
	const got = [];
	feed.start();
	feed.subscribeRun('r1', (items) => got.push(...items.map((i) => i.seq)));
	feed.onSystem(() => {});
	sock().open();
	for (let s = 1; s <= 4; s++) sock().deliver(event('r1', s));
	sock().drop();
	assert.equal(feed.state, 'waiting');
	assert.equal(timers[0].ms, 500);
	timers[0].fn();
	sock().drop(); // the first retry fails too
	assert.equal(timers[1].ms, 1000);
	timers[1].fn();
	const s2 = sock();
	s2.open();
	assert.deepEqual(s2.sent, [{ type: 'subscribe', run: 'r1', since: 4 }, { type: 'subscribe_system' }]);
	// the server replays from 5; an overlapping duplicate 4 is dropped
	s2.deliver(event('r1', 4));
	s2.deliver(event('r1', 5));
	assert.deepEqual(got, [1, 2, 3, 4, 5]);
	assert.equal(feed.opens, 2);
});

test('backoff is capped and resets after a successful open', () => {
	const { feed, timers, sock } = harness();
	feed.start();
	for (let i = 0; i < 8; i++) {
		sock().drop();
		timers[timers.length - 1].fn();
	}
	assert.equal(timers[timers.length - 1].ms, 10000);
	sock().open();
	sock().drop();
	assert.equal(timers[timers.length - 1].ms, 500);
});

test('a gap triggers one resubscribe from the last in-order seq', () => {
	const { feed, sock } = harness();
	const got = [];
	feed.start();
	sock().open();
	feed.subscribeRun('r1', (items) => got.push(...items.map((i) => i.seq)));
	sock().deliver(event('r1', 1));
	sock().deliver(event('r1', 3));
	sock().deliver(event('r1', 4));
	const subs = sock().sent.filter((m) => m.type === 'subscribe');
	assert.deepEqual(subs, [{ type: 'subscribe', run: 'r1', since: 0 }, { type: 'subscribe', run: 'r1', since: 1 }]);
	sock().deliver(event('r1', 2));
	assert.deepEqual(got, [1, 2, 3, 4]);
});

test('a server resync message resubscribes from our last seq', () => {
	const { feed, sock } = harness();
	feed.start();
	sock().open();
	feed.subscribeRun('r9', () => {});
	sock().deliver(event('r9', 1));
	sock().deliver(event('r9', 2));
	sock().deliver({ type: 'resync', run: 'r9', since: 2 });
	assert.deepEqual(sock().sent[sock().sent.length - 1], { type: 'subscribe', run: 'r9', since: 2 });
});

test('a late subscriber gets the events already received, then live ones', () => {
	const { feed, sock } = harness();
	feed.start();
	sock().open();
	const first = [];
	feed.subscribeRun('r1', (items) => first.push(...items.map((i) => i.seq)));
	sock().deliver(event('r1', 1));
	sock().deliver(event('r1', 2));
	const second = [];
	const off = feed.subscribeRun('r1', (items) => second.push(...items.map((i) => i.seq)));
	sock().deliver(event('r1', 3));
	assert.deepEqual(second, [1, 2, 3]);
	assert.deepEqual(first, [1, 2, 3]);
	off();
	assert.ok(feed.logOf('r1'), 'log kept while one subscriber remains');
});

test('the last unsubscribe sends unsubscribe and forgets the log', () => {
	const { feed, sock } = harness();
	feed.start();
	sock().open();
	const off = feed.subscribeRun('r1', () => {});
	off();
	assert.deepEqual(sock().sent[sock().sent.length - 1], { type: 'unsubscribe', run: 'r1' });
	assert.equal(feed.logOf('r1'), null);
});

test('events of runs nobody follows are ignored', () => {
	const { feed, sock } = harness();
	feed.start();
	sock().open();
	sock().deliver(event('zz', 1));
	assert.equal(feed.logOf('zz'), null);
});
