/*
 * board-model.js — the instructor board's state: every recent run's
 * summary, its downsampled loss and accuracy, and when its newest event
 * was made, kept from the feed's `board` messages (docs/api.md): a
 * snapshot ({full: true}) replaces everything, an update changes the runs
 * it names. An update older than the snapshot (its tick) is ignored.
 *
 * What it is: pure state plus the filter and the orders the board offers.
 * What it is not: drawing (board.js).
 *
 * Threads: pure.
 */

/* A series keeps at most this many points; past it every other goes, the newest always (server/board.c). */
export const BOARD_POINTS = 120;

export function addPoint(series, step, value) {
	const last = series[series.length - 1];
	if (last && last[0] === step) {
		last[1] = value;
		return;
	}
	series.push([step, value]);
	if (series.length <= BOARD_POINTS) return;
	const kept = [];
	for (let i = (series.length - 1) % 2; i < series.length; i += 2) kept.push(series[i]);
	series.splice(0, series.length, ...kept);
}

export const ACTIVE = new Set(['queued', 'running']);

/* How far along a run is, 0…1 (null when it cannot be told). */
export function progressOf(e) {
	const total = e.run?.progress?.total_steps;
	const step = Math.max(e.step ?? 0, e.run?.progress?.step ?? 0);
	if (e.run?.status === 'completed') return 1;
	return total ? Math.min(1, step / total) : null;
}

/* The run's best metric value, or its last accuracy, for "sort by metric". */
export function metricOf(e) {
	const best = e.run?.best?.value;
	if (Number.isFinite(best)) return best;
	const acc = e.series.accuracy[e.series.accuracy.length - 1];
	return acc ? acc[1] : null;
}

const SORTS = {
	newest: (a, b) => b.num - a.num,
	student: (a, b) => (a.run?.owner || '').localeCompare(b.run?.owner || '') || b.num - a.num,
	progress: (a, b) => (progressOf(b) ?? -1) - (progressOf(a) ?? -1) || b.num - a.num,
	metric: (a, b) => (metricOf(b) ?? -Infinity) - (metricOf(a) ?? -Infinity) || b.num - a.num,
	queue: (a, b) => (a.run?.queue?.position ?? 1e9) - (b.run?.queue?.position ?? 1e9) || b.num - a.num,
};
export const SORT_NAMES = Object.keys(SORTS);

export class BoardModel {
	constructor() {
		this.runs = new Map(); /* id → {id, num, run, series: {loss, accuracy}, step, epoch, eventMs} */
		this.tick = -1;
	}

	#entry(id) {
		let e = this.runs.get(id);
		if (!e) {
			e = { id, num: Number(String(id).slice(1)) || 0, run: null, series: { loss: [], accuracy: [] }, step: null, epoch: null, eventMs: null };
			this.runs.set(id, e);
		}
		return e;
	}

	/*
	 * Apply one board message. Returns the ids of the runs it changed, with
	 * `points` true for those that gained a point (what the board's latency
	 * is measured on), or null for a snapshot (everything changed).
	 */
	apply(msg) {
		if (msg.full) {
			this.runs.clear();
			this.tick = msg.tick ?? -1;
			for (const r of msg.runs || []) {
				const e = this.#entry(r.id);
				e.run = r.run;
				e.series = { loss: (r.series?.loss || []).map((p) => [...p]), accuracy: (r.series?.accuracy || []).map((p) => [...p]) };
				e.step = r.step ?? null;
				e.epoch = r.epoch ?? null;
				e.eventMs = r.event_ms ?? null;
			}
			return null;
		}
		const changed = new Map();
		if (msg.tick !== undefined && msg.tick <= this.tick) return changed;
		if (msg.tick !== undefined) this.tick = msg.tick;
		for (const r of msg.runs || []) {
			if (r.run && r.run.status === 'deleted') {
				this.runs.delete(r.id);
				changed.set(r.id, { deleted: true });
				continue;
			}
			const e = this.#entry(r.id);
			if (r.run) e.run = { ...(e.run || {}), ...r.run };
			if (r.points) {
				if (r.points.loss) addPoint(e.series.loss, r.points.loss[0], r.points.loss[1]);
				if (r.points.accuracy) addPoint(e.series.accuracy, r.points.accuracy[0], r.points.accuracy[1]);
			}
			if (r.step !== undefined) e.step = r.step;
			if (r.epoch !== undefined) e.epoch = r.epoch;
			if (r.event_ms !== undefined) e.eventMs = r.event_ms;
			changed.set(r.id, { points: Boolean(r.points), eventMs: r.event_ms ?? null });
		}
		return changed;
	}

	/*
	 * The runs to show: `filter` matches the student, the notebook or the
	 * run's name or id (any part, any case); `status` is all, active
	 * (queued or running), queued, running or ended; `sort` one of
	 * SORT_NAMES.
	 */
	view({ filter = '', status = 'all', sort = 'newest' } = {}) {
		const f = filter.trim().toLowerCase();
		const out = [];
		for (const e of this.runs.values()) {
			const r = e.run || {};
			const st = r.status || 'unknown';
			if (status === 'active' && !ACTIVE.has(st)) continue;
			if (status === 'ended' && ACTIVE.has(st)) continue;
			if ((status === 'queued' || status === 'running') && st !== status) continue;
			if (f && ![r.owner, r.notebook, r.name, e.id].some((v) => v && String(v).toLowerCase().includes(f))) continue;
			out.push(e);
		}
		return out.sort(SORTS[sort] || SORTS.newest);
	}
}
