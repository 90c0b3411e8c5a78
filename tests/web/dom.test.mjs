// Unit tests for web/src/dom.js in jsdom: children without "null" text
// (newcomer bug 1: a queued run's header read "r9 nullnullnull"), and a
// toast that can be taken away when what it announced is over (bug 12:
// "Stopping…" stayed after the run had stopped).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { JSDOM } = createRequire(join(ROOT, 'web/package.json'))('jsdom');
const dom = new JSDOM('<!doctype html><body></body>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
globalThis.Node = dom.window.Node;
const { h, fill, toast } = await import('../../web/src/dom.js');

test('fill replaces children and skips null, false and undefined (bug 1)', () => {
	const el = h('div', 'old');
	const device = null;
	const precision = undefined;
	fill(el, h('span', { text: 'queued' }), h('span', { text: 'r9' }), device ? h('span', { text: device }) : null, precision && h('span'), false, ['a', null, ['b']]);
	assert.equal(el.textContent, 'queuedr9ab');
	assert.doesNotMatch(el.textContent, /null|undefined|false/);
});

test('a toast can be dismissed before its time (bug 12)', () => {
	const dismiss = toast('Stopping r1: it finishes its step and checkpoints first.', 'info', 60000);
	assert.match(document.body.textContent, /Stopping r1/);
	dismiss();
	assert.doesNotMatch(document.body.textContent, /Stopping r1/);
	dismiss(); // twice is harmless
});
