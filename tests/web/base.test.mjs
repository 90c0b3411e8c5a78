// Unit tests for web/src/base.js and format.js: relative URLs under a base prefix; ETA and formatting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appBase, urlFor, wsUrlFor, notebookApiPath } from '../../web/src/base.js';
import { estimateEta, fmtBytes, fmtDuration, fmtMetric } from '../../web/src/format.js';

test('the base is the folder of the page, without query and hash', () => {
	assert.equal(appBase('http://127.0.0.1:8888/?token=x#/nb/a.ipynb'), 'http://127.0.0.1:8888/');
	assert.equal(appBase('http://h:1/trainbook/#/runs'), 'http://h:1/trainbook/');
	assert.equal(appBase('http://h:1/trainbook/index.html'), 'http://h:1/trainbook/');
});

test('API and WebSocket URLs stay under the prefix', () => {
	const base = 'https://h/trainbook/';
	assert.equal(urlFor(base, 'api/runs'), 'https://h/trainbook/api/runs');
	assert.equal(wsUrlFor(base), 'wss://h/trainbook/ws');
	assert.equal(wsUrlFor('http://localhost:8888/'), 'ws://localhost:8888/ws');
	assert.throws(() => urlFor(base, '/api/runs'));
});

test('notebook paths are encoded per segment', () => {
	assert.equal(notebookApiPath('my dir/a#1.ipynb'), 'api/notebooks/my%20dir/a%231.ipynb');
});

test('ETA uses the recent rate', () => {
	const samples = [];
	for (let i = 0; i <= 10; i++) samples.push({ step: i * 100, time: i * 2 });
	assert.equal(estimateEta(samples, 2000), 20); // 1000 steps left at 50 steps/s
	assert.equal(estimateEta(samples.slice(0, 1), 2000), null);
	assert.equal(estimateEta(samples, 0), null);
});

test('formatting of sizes, durations and metrics', () => {
	assert.equal(fmtBytes(1536), '1.50 KiB');
	assert.equal(fmtBytes(null), '—');
	assert.equal(fmtDuration(75), '1:15');
	assert.equal(fmtDuration(3723), '1:02:03');
	assert.equal(fmtMetric(0.123456), '0.1235');
	assert.equal(fmtMetric(0.00001), '1.00e-5');
});
