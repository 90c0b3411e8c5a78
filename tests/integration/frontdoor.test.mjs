// tests/integration/frontdoor.test.mjs — the one listening port under idle
// connections (fault 4 of issue 12: 4,100 idle sockets made the first
// /api/status wait 8.9 s). These cases assert behaviour, never time: excess
// idle connections from one address are closed, a normal request succeeds
// while thousands are open, and the server's descriptors stay bounded.
// How fast it answers meanwhile is a benchmark: tests/bench/frontdoor_idle.mjs.
//
//   node --test tests/integration/frontdoor.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readdirSync } from 'node:fs';
import { startServer, waitFor } from './fixture.mjs';
import { rawRequest } from './rawhttp.mjs';

/* Open n connections that never send a byte; resolves to {socks, closedByServer()}. */
async function idleSockets(port, n, addressOf) {
	const socks = [];
	let closed = 0;
	const opening = [];
	for (let i = 0; i < n; i++) {
		opening.push(new Promise((resolve) => {
			const s = net.connect({ port, host: '127.0.0.1', localAddress: addressOf(i) });
			s.on('connect', resolve);
			s.on('error', resolve);
			s.on('close', () => closed++);
			socks.push(s);
		}));
		if (i % 200 === 199) await Promise.all(opening.splice(0));
	}
	await Promise.all(opening);
	return { socks, closedByServer: () => closed, destroy: () => socks.forEach((s) => s.destroy()) };
}

const fdCount = (pid) => readdirSync(`/proc/${pid}/fd`).length;

test('fault 4 of issue 12: excess idle connections from one address are closed, others are served', async (t) => {
	const h = await startServer(t);
	const idle = await idleSockets(h.port, 300, () => '127.0.0.7');
	t.after(() => idle.destroy());
	// A request from another address is answered meanwhile...
	const r = await rawRequest(h.port, 'GET', '/api/status', { localAddress: '127.0.0.1', headers: { Authorization: `token ${h.token}` } });
	assert.equal(r.status, 200);
	// ...and so is one from the flooding address itself (its oldest idle socket makes room).
	const same = await rawRequest(h.port, 'GET', '/api/status', { localAddress: '127.0.0.7', headers: { Authorization: `token ${h.token}` } });
	assert.equal(same.status, 200);
	// The server keeps only a few silent connections per address waiting.
	await waitFor(() => idle.closedByServer() >= 300 - 64, { timeout: 15000, what: 'the server to close the excess idle connections of one address' });
	assert.ok(fdCount(h.proc.pid) < 200, `the server holds ${fdCount(h.proc.pid)} descriptors`);
});

test('fault 4 of issue 12: with 4,100 idle connections from many addresses a normal request succeeds and descriptors stay bounded', async (t) => {
	const h = await startServer(t);
	// 82 addresses x 50: each under any per-address bound, together past the door's table.
	const idle = await idleSockets(h.port, 4100, (i) => `127.0.${2 + Math.floor(i / 50)}.1`);
	t.after(() => idle.destroy());
	const r = await rawRequest(h.port, 'GET', '/api/status', { headers: { Authorization: `token ${h.token}` }, timeout: 60000 });
	assert.equal(r.status, 200);
	// Under that pressure silent connections are closed, not parked: the
	// server's descriptors come down while the clients still hold theirs.
	await waitFor(() => fdCount(h.proc.pid) < 1000, { timeout: 20000, what: `the server's descriptors (now ${fdCount(h.proc.pid)}) to drop under 1,000` });
	const again = await rawRequest(h.port, 'GET', '/api/status', { headers: { Authorization: `token ${h.token}` } });
	assert.equal(again.status, 200);
});

test('a burst of connections from one address that all speak at once is served (a class behind one NAT)', async (t) => {
	const h = await startServer(t);
	// 400 requests opened together from one address: more than the per-address
	// cap, but none of them silent, so none may be closed.
	const all = await Promise.all(Array.from({ length: 400 }, () =>
		rawRequest(h.port, 'GET', '/api/status', { localAddress: '127.0.0.9', headers: { Authorization: `token ${h.token}` }, timeout: 60000 })
			.then((r) => r.status, (e) => `error: ${e.message}`)));
	const bad = all.filter((s) => s !== 200);
	assert.equal(bad.length, 0, `${bad.length} of 400 failed: ${[...new Set(bad)].join(', ')}`);
});
