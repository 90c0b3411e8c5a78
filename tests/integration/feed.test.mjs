// tests/integration/feed.test.mjs — the live feed (/ws): a run's events in
// order and equal to the stored records, resubscribing from a sequence number,
// and a client that stops reading falling behind alone. Each case starts its
// own server (fixture.mjs).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { FAKE_WORKER, HERE, PY, SPECS, allEvents, fakeSpec, openFeed, startServer, statusEvent, submitRun, waitStatus } from './fixture.mjs';

const T = { timeout: 120000 };

test('run_events_over_ws: a run\'s events arrive over /ws gapless, in order, as recorded, ending with completed', T, async (t) => {
	const h = await startServer(t);
	const r = await h.req('POST', 'api/runs', { json: { spec: SPECS.small } });
	assert.equal(r.status, 201, r.text);
	const id = r.json.run.id;
	assert.ok(id, r.text);
	const feed = await openFeed(t, h, { origin: h.origin });
	feed.subscribe(id, 0);
	await feed.until(statusEvent(id, 'completed'), { timeout: 120000, what: `run ${id} to complete on the feed` });
	const ev = feed.events();
	assert.ok(ev.every((m) => m.run === id), 'an event of another run');
	assert.deepEqual(ev.map((m) => m.seq), ev.map((_, i) => i + 1), 'not gapless and in order');
	assert.ok(ev.some((m) => m.event.type === 'metric'), 'no metric events');
	const steps = ev.filter((m) => m.event.type === 'metric' && m.event.split === 'train').map((m) => m.event.step);
	assert.deepEqual(steps, [...steps].sort((a, b) => a - b), 'metric steps out of order');
	assert.deepEqual(ev.at(-1).event, { type: 'status', status: 'completed' });
	const stored = (await allEvents(h, id)).slice(0, ev.length).map((e) => [e.seq, e.event]);
	assert.deepEqual(stored, ev.map((m) => [m.seq, m.event]), 'the feed differs from the records');
});

test('ws_resubscribe_since: subscribing with since=5 replays from seq 6', T, async (t) => {
	const h = await startServer(t);
	const id = await submitRun(h, SPECS.small);
	await waitStatus(h, id, 'completed', 60000);
	const feed = await openFeed(t, h);
	feed.subscribe(id, 5);
	await feed.until(statusEvent(id, 'completed'), { timeout: 20000, what: 'the replay to reach completed' });
	assert.equal(feed.messages[0].seq, 6, `first message: ${JSON.stringify(feed.messages[0])}`);
});

test('slow_client_resync_others_unaffected: a client that stops reading gets a resync; a reading client gets every event', T, async (t) => {
	const h = await startServer(t, { args: ['--cpu-runs', '1'], env: { TRAINBOOK_WORKER_CMD: FAKE_WORKER } });
	const id = await submitRun(h, fakeSpec('flood'));
	// slow_client.py subscribes, does not read for 12 s with a tiny receive buffer, then prints what waited.
	const slow = promisify(execFile)(PY, [join(HERE, 'slow_client.py'), String(h.port), h.token, id, '12'], { maxBuffer: 64 << 20 });
	const feed = await openFeed(t, h);
	feed.subscribe(id, 0);
	await feed.until(statusEvent(id, 'completed'), { timeout: 60000, what: 'the reading client to see completed' });
	const seqs = feed.events(id).map((m) => m.seq);
	assert.deepEqual(seqs, seqs.map((_, i) => i + 1), 'the reading client missed or repeated events');
	assert.ok(seqs.length > 3000, `the reading client got ${seqs.length} events`);
	const lines = (await slow).stdout.split('\n').filter((l) => l.trim());
	const got = lines.filter((l) => l.startsWith('event ')).map((l) => Number(l.split(' ')[1]));
	assert.deepEqual(got, got.map((_, i) => i + 1), 'the slow client\'s events are out of order');
	const resync = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).filter((m) => m.type === 'resync');
	assert.ok(resync.length > 0, `no resync message; ${got.length} events`);
	assert.equal(resync[0].run, id);
	assert.equal(resync[0].since, got.length, 'resync names the last event the slow client got');
	assert.ok(got.length < seqs.length, 'the slow client was not behind');
});
