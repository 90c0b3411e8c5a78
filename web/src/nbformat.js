/*
 * nbformat.js — Jupyter nbformat 4 notebooks to the page's cell model and back.
 *
 * What it is: pure (de)serialisation. A run cell is a code cell with
 * metadata.trainbook.kind = "run" whose source is the YAML spec; the run it
 * last started is metadata.trainbook.run_id, and its result is stored as a
 * display_data output (a PNG of the chart plus a text/plain summary) so
 * Jupyter and GitHub show it. Markdown cells, plain code cells, raw cells,
 * attachments and unknown metadata are kept as they were. Notebooks are
 * written as nbformat 4.5 (cells carry ids).
 * What it is not: drawing the PNG (snapshot.js) or talking to the server.
 *
 * Threads: pure.
 */

const ID_RE = /^[a-zA-Z0-9-_]{1,64}$/;

/* nbformat keeps source as a string or a list of lines; the page uses one string. */
export function joinSource(src) {
	if (Array.isArray(src)) return src.join('');
	return typeof src === 'string' ? src : '';
}

/* One string as Jupyter writes it: a list of lines, each but the last ending in \n. */
export function splitSource(text) {
	if (!text) return [];
	const lines = text.split('\n');
	const out = lines.map((l, i) => (i < lines.length - 1 ? l + '\n' : l));
	if (out[out.length - 1] === '') out.pop();
	return out;
}

export function newCellId(taken = new Set()) {
	for (;;) {
		let id = '';
		for (let i = 0; i < 8; i++) id += 'abcdefghijklmnopqrstuvwxyz0123456789'[Math.floor(Math.random() * 36)];
		if (!taken.has(id)) return id;
	}
}

export function emptyNotebook() {
	return {
		nbformat: 4,
		nbformat_minor: 5,
		metadata: defaultMetadata({}),
		cells: [],
	};
}

function defaultMetadata(meta) {
	const m = { ...meta };
	/* A kernelspec tells Jupyter and GitHub what the code cells are; YAML here. */
	if (!m.kernelspec) m.kernelspec = { name: 'trainbook', display_name: 'trainbook (YAML run cells)', language: 'yaml' };
	if (!m.language_info) m.language_info = { name: 'yaml' };
	return m;
}

/* A new cell of the page's model. kind: "run" | "markdown". */
export function newCell(kind, source = '', taken = new Set()) {
	return { id: newCellId(taken), kind, source, metadata: {}, outputs: [], runId: null, sweepId: null, extra: {} };
}

/*
 * Parse notebook JSON (object or text) into {nbformat, nbformat_minor,
 * metadata, cells}. Each cell: {id, kind, source, metadata, outputs,
 * runId, sweepId, extra} (a run cell's last run, or the sweep it started
 * instead: metadata.trainbook.run_id / sweep_id); `kind` is "markdown", "run", "code" (a non-trainbook code
 * cell, kept read-only) or "raw"; `extra` holds fields the page does not
 * use (attachments, execution_count) so they survive a save.
 */
export function parseNotebook(input) {
	const nb = typeof input === 'string' ? JSON.parse(input) : input;
	if (!nb || typeof nb !== 'object' || !Array.isArray(nb.cells)) throw new Error('not a notebook: no cells array');
	if (nb.nbformat !== 4) throw new Error(`nbformat ${nb.nbformat} is not supported (only 4)`);
	const taken = new Set();
	const cells = nb.cells.map((c) => {
		const { cell_type, source, metadata = {}, outputs, id, ...rest } = c;
		const meta = JSON.parse(JSON.stringify(metadata));
		const tb = meta.trainbook && typeof meta.trainbook === 'object' ? meta.trainbook : null;
		let kind = cell_type;
		if (cell_type === 'code' && tb && tb.kind === 'run') kind = 'run';
		const cellId = typeof id === 'string' && ID_RE.test(id) && !taken.has(id) ? id : newCellId(taken);
		taken.add(cellId);
		const runId = kind === 'run' && tb && typeof tb.run_id === 'string' ? tb.run_id : null;
		const sweepId = kind === 'run' && !runId && tb && typeof tb.sweep_id === 'string' ? tb.sweep_id : null;
		return { id: cellId, kind, source: joinSource(source), metadata: meta, outputs: Array.isArray(outputs) ? outputs : [], runId, sweepId, extra: rest };
	});
	return { nbformat: 4, nbformat_minor: 5, metadata: defaultMetadata(nb.metadata || {}), cells };
}

/* The display_data output of a run cell: a PNG (base64, no data: prefix) and a text summary. */
export function runOutput(png, text) {
	const data = { 'text/plain': splitSource(text) };
	if (png) data['image/png'] = png.replace(/^data:image\/png;base64,/, '');
	return { output_type: 'display_data', data, metadata: {} };
}

/*
 * The notebook as nbformat 4.5 JSON (an object; JSON.stringify it to
 * write). `outputsFor(cell)` may return fresh outputs for a run cell (the
 * live result); otherwise the outputs it was loaded with are kept.
 */
export function serializeNotebook(model, outputsFor = () => null) {
	const cells = model.cells.map((c) => {
		const metadata = JSON.parse(JSON.stringify(c.metadata || {}));
		const extra = { ...(c.extra || {}) };
		if (c.kind === 'markdown' || c.kind === 'raw') {
			delete extra.execution_count;
			return { cell_type: c.kind, id: c.id, metadata, source: splitSource(c.source), ...extra };
		}
		let outputs = c.outputs || [];
		if (c.kind === 'run') {
			const tb = { ...(metadata.trainbook || {}), kind: 'run' };
			if (c.runId) tb.run_id = c.runId;
			else delete tb.run_id;
			if (c.sweepId && !c.runId) tb.sweep_id = c.sweepId;
			else delete tb.sweep_id;
			metadata.trainbook = tb;
			const fresh = outputsFor(c);
			if (fresh) outputs = fresh;
		}
		delete extra.attachments; /* only markdown and raw cells may carry attachments */
		return {
			cell_type: 'code',
			id: c.id,
			metadata,
			source: splitSource(c.source),
			...extra,
			execution_count: extra.execution_count ?? null,
			outputs,
		};
	});
	return { cells, metadata: model.metadata, nbformat: 4, nbformat_minor: 5 };
}

/* The text/plain of a run cell's stored output, for showing before the run is re-attached. */
export function storedSummary(cell) {
	for (const o of cell.outputs || []) {
		if (o.output_type === 'display_data' && o.data && o.data['text/plain']) return joinSource(o.data['text/plain']);
	}
	return '';
}
