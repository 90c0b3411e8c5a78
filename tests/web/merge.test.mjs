// Unit tests for web/src/merge.js: one run's event log, deduped and ordered by seq, with gap detection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventLog } from '../../web/src/merge.js';

const ev = (i) => ({ type: 'metric', step: i * 10, values: { loss: 1 / i } });

test('in-order events are accepted one by one', () => {
	const log = new EventLog('r1');
	for (let i = 1; i <= 5; i++) {
		const r = log.offer(i, ev(i));
		assert.equal(r.accepted.length, 1);
		assert.equal(r.accepted[0].seq, i);
		assert.equal(r.gap, false);
	}
	assert.equal(log.lastSeq, 5);
	assert.ok(log.isContiguous());
});

test('duplicates (replay overlapping the live stream) are dropped', () => {
	const log = new EventLog('r1');
	log.offerAll([1, 2, 3].map((s) => ({ seq: s, event: ev(s) })));
	const r = log.offer(2, ev(2));
	assert.equal(r.accepted.length, 0);
	assert.equal(log.duplicates, 1);
	assert.equal(log.events.length, 3);
});

test('an early event reports a gap and is released when the hole is filled', () => {
	const log = new EventLog('r1');
	log.offer(1, ev(1));
	const early = log.offer(3, ev(3));
	assert.equal(early.gap, true);
	assert.equal(early.accepted.length, 0);
	assert.equal(log.lastSeq, 1);
	const early2 = log.offer(4, ev(4));
	assert.equal(early2.gap, true);
	const fill = log.offer(2, ev(2));
	assert.deepEqual(fill.accepted.map((a) => a.seq), [2, 3, 4]);
	assert.equal(fill.gap, false);
	assert.equal(log.lastSeq, 4);
	assert.ok(log.isContiguous());
});

test('an early event offered twice is counted once', () => {
	const log = new EventLog('r1');
	log.offer(1, ev(1));
	log.offer(3, ev(3));
	log.offer(3, ev(3));
	const r = log.offer(2, ev(2));
	assert.deepEqual(r.accepted.map((a) => a.seq), [2, 3]);
	assert.equal(log.events.length, 3);
});

test('a resubscribe replay interleaved with live events yields each seq once, in order', () => {
	const log = new EventLog('r1');
	// live stream before the reconnect
	log.offerAll([1, 2, 3].map((s) => ({ seq: s, event: ev(s) })));
	// connection drops; live 4..5 lost; after reconnect live 7 arrives before the replay of 4..8
	assert.equal(log.offer(7, ev(7)).gap, true);
	log.offerAll([4, 5, 6, 7, 8].map((s) => ({ seq: s, event: ev(s) })));
	log.offer(8, ev(8));
	log.offer(9, ev(9));
	assert.deepEqual(log.events.map((e) => e.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
	assert.ok(log.isContiguous());
});

test('a first event with seq > 1 (subscribed late) is a gap', () => {
	const log = new EventLog('r1');
	assert.equal(log.offer(10, ev(10)).gap, true);
	assert.equal(log.events.length, 0);
});

test('non-integer or non-positive seqs are rejected', () => {
	const log = new EventLog('r1');
	assert.equal(log.offer(0, ev(1)).accepted.length, 0);
	assert.equal(log.offer('1', ev(1)).accepted.length, 0);
	assert.equal(log.offer(1.5, ev(1)).accepted.length, 0);
	assert.equal(log.lastSeq, 0);
});
