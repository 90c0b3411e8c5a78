// Unit tests for web/src/run-view.js's run header, in jsdom with stand-ins
// for the API, the feed and the system monitor (the view's only inputs).
// Issue 20, item 11: a run whose precision (or device, or start time) is not
// known yet showed the word "null" in its header, because DOM append()
// writes null children out as text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { JSDOM } = createRequire(join(ROOT, 'web/package.json'))('jsdom');
const dom = new JSDOM('<!doctype html><body></body>', { url: 'http://127.0.0.1:8888/', pretendToBeVisual: true });
/* The page's globals (document, navigator, devicePixelRatio, …) from jsdom's window. */
for (const k of Object.getOwnPropertyNames(dom.window))
	if (!(k in globalThis)) globalThis[k] = dom.window[k];
globalThis.window = dom.window;
/* Node has its own Event classes; the page's events must be jsdom's to reach its elements. */
for (const k of ['Event', 'EventTarget', 'CustomEvent']) globalThis[k] = dom.window[k];
/* Nor does it know colour schemes: the charts ask for one. */
globalThis.matchMedia = dom.window.matchMedia = () => ({ matches: false, addEventListener() {}, removeEventListener() {} });
/* jsdom lays nothing out: the charts' resize watcher has nothing to watch. */
globalThis.ResizeObserver = class {
	observe() {}
	unobserve() {}
	disconnect() {}
};
/* The view imports the charts, which import uPlot's CSS: bundle it the way
 * web/build.sh does, with the CSS left out, and load the bundle. */
const esbuild = createRequire(join(ROOT, 'web/package.json'))('esbuild');
const bundle = await esbuild.build({
	entryPoints: [join(ROOT, 'web/src/run-view.js')], bundle: true, format: 'esm', write: false,
	loader: { '.css': 'empty' }, logLevel: 'error',
});
const { RunView } = await import('data:text/javascript;base64,' + Buffer.from(bundle.outputFiles[0].text).toString('base64'));

/* A view of run `id` whose GET api/runs/<id> answers `run`; events are fed by hand. */
function makeView(id, run) {
	let push = () => {};
	const ctx = {
		api: {
			url: (p) => p,
			get: async (p) => {
				if (p === `api/runs/${id}`) return { run };
				if (p.endsWith('/checkpoints')) return { checkpoints: [] };
				return {};
			},
		},
		feed: {
			subscribeRun: (_id, fn) => {
				push = fn;
				return () => {};
			},
			onRuns: () => () => {},
		},
		monitor: { on: () => () => {}, start() {} },
	};
	const view = new RunView(document.body, ctx, id);
	return { view, push: (events) => push(events.map((event, i) => ({ seq: i + 1, event }))) };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

test('a queued run (no device, precision or start yet) shows no "null" in its header', async (t) => {
	const { view } = makeView('r1', { id: 'r1', status: 'queued' });
	t.after(() => view.destroy());
	await settle();
	const head = view.statusEl.textContent;
	assert.match(head, /r1/);
	assert.doesNotMatch(head, /null|undefined/, `header reads "${head}"`);
});

test('a running run without a reported precision shows its device and no "null"', async (t) => {
	const { view, push } = makeView('r2', { id: 'r2', status: 'running', device: 'cpu', started: 1700000000 });
	t.after(() => view.destroy());
	await settle();
	push([{ type: 'status', status: 'running', device: 'cpu', total_steps: 10 }]);
	const head = view.statusEl.textContent;
	assert.match(head, /cpu/);
	assert.doesNotMatch(head, /null|undefined/, `header reads "${head}"`);
	push([{ type: 'status', status: 'running', precision: 'bf16' }]);
	assert.match(view.statusEl.textContent, /bf16/);
});
