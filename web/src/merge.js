/*
 * merge.js — one run's event stream as the page has received it, in order,
 * exactly once.
 *
 * What it is: a pure log keyed by the server's per-run sequence numbers
 * (gapless from 1). Events may arrive twice (a resubscribe replays from
 * `since`, a reconnect overlaps the live stream) or early (a frame after a
 * dropped one). `offer` accepts the next expected seq, drops what it has,
 * parks early ones and reports a gap so the caller resubscribes from
 * `lastSeq`; parked events are released as soon as the hole is filled.
 * A log may start after seq 0 (a view that read the history as series
 * follows from the series' last seq), and keeps only the latest KEEP
 * events for late subscribers: a run of hours must not fill the page.
 * What it is not: the WebSocket (feed.js) or the charts.
 *
 * Threads: pure; the page's main thread and node tests.
 */

const MAX_PENDING = 20000; /* beyond this the replay will resend them anyway */
const KEEP = 5000;

export class EventLog {
	constructor(run, start = 0) {
		this.run = run;
		this.start = start;     /* events up to this seq were read another way */
		this.lastSeq = start;   /* highest seq accepted in order */
		this.events = [];       /* [{seq, event}] accepted, in seq order (the latest KEEP) */
		this.dropped = 0;       /* accepted but no longer kept */
		this.pending = new Map(); /* seq → event, arrived ahead of a hole */
		this.duplicates = 0;    /* counted for tests and the debug hook */
	}

	/*
	 * Offer one event. Returns {accepted, gap}: `accepted` are the events
	 * that became in-order now (possibly several, when this one filled a
	 * hole), `gap` is true when events are missing before this one.
	 */
	offer(seq, event) {
		const accepted = [];
		if (!Number.isInteger(seq) || seq <= this.lastSeq || this.pending.has(seq)) {
			this.duplicates++;
			return { accepted, gap: false };
		}
		if (seq > this.lastSeq + 1) {
			if (this.pending.size < MAX_PENDING) this.pending.set(seq, event);
			return { accepted, gap: true };
		}
		this.#accept(seq, event, accepted);
		while (this.pending.has(this.lastSeq + 1)) {
			const next = this.lastSeq + 1;
			const ev = this.pending.get(next);
			this.pending.delete(next);
			this.#accept(next, ev, accepted);
		}
		return { accepted, gap: this.pending.size > 0 };
	}

	/* Offer a batch such as the answer of GET /api/runs/<id>/events. */
	offerAll(items) {
		const accepted = [];
		let gap = false;
		for (const it of items) {
			const r = this.offer(it.seq, it.event);
			accepted.push(...r.accepted);
			gap = r.gap;
		}
		return { accepted, gap };
	}

	/* True when the seqs accepted are exactly start+1..lastSeq (an invariant). */
	isContiguous() {
		const first = this.start + this.dropped;
		for (let i = 0; i < this.events.length; i++) if (this.events[i].seq !== first + i + 1) return false;
		return this.events.length + this.dropped === this.lastSeq - this.start;
	}

	#accept(seq, event, accepted) {
		const item = { seq, event };
		this.events.push(item);
		this.lastSeq = seq;
		accepted.push(item);
		if (this.events.length > KEEP * 1.2) {
			const n = this.events.length - KEEP;
			this.events.splice(0, n);
			this.dropped += n;
		}
	}
}
