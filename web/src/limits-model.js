/*
 * limits-model.js — the instructor's limits and lab sessions as forms
 * hold them: text a person typed ↔ the JSON of PUT /api/quotas and PUT
 * /api/lab-sessions (docs/api.md, "Quotas and lab sessions").
 *
 * A limit field is blank (not set here: the role's or the config's
 * applies), "none" (no limit, null) or a value in the kind's unit; the
 * times and sizes take what the config file takes ("90m", "2h", "5G").
 *
 * What it is: pure parsing and formatting. What it is not: the panel
 * (limits.js), or the checks that count (the server checks again).
 *
 * Threads: pure.
 */

/* The kinds in server/quota.c's order, with their unit and label. */
export const LIMIT_KINDS = [
	{ key: 'concurrent_runs', unit: 'runs', label: 'runs at once' },
	{ key: 'queued_runs', unit: 'runs', label: 'runs waiting' },
	{ key: 'gpu_minutes_per_day', unit: 'minutes', label: 'GPU minutes a day' },
	{ key: 'gpu_minutes_per_week', unit: 'minutes', label: 'GPU minutes a week' },
	{ key: 'cpu_minutes_per_day', unit: 'minutes', label: 'CPU minutes a day' },
	{ key: 'cpu_minutes_per_week', unit: 'minutes', label: 'CPU minutes a week' },
	{ key: 'max_run_seconds', unit: 'seconds', label: 'longest run' },
	{ key: 'checkpoint_bytes', unit: 'bytes', label: 'checkpoint disk' },
];

const SECONDS = { s: 1, m: 60, h: 3600, d: 86400 };
const BYTES = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/* "1h30m" → 5400; NaN when it is not a duration. */
function parseSeconds(text) {
	if (/^\d+$/.test(text)) return Number(text);
	const parts = text.toLowerCase().match(/\d+[smhd]/g);
	if (!parts || parts.join('') !== text.toLowerCase()) return NaN;
	return parts.reduce((sum, p) => sum + Number(p.slice(0, -1)) * SECONDS[p.slice(-1)], 0);
}

/* "5G", "512M", "1.5g", "1000" → bytes; NaN when it is not a size. */
function parseBytes(text) {
	const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(text);
	return m ? Math.round(Number(m[1]) * BYTES[m[2].toLowerCase()]) : NaN;
}

/*
 * One field: {set: false} when blank, {set: true, value: null} for
 * "none", {set: true, value: n}, or {error} naming what was expected.
 */
export function parseLimit(kind, text) {
	const t = String(text ?? '').trim();
	if (t === '') return { set: false };
	if (t.toLowerCase() === 'none') return { set: true, value: null };
	const info = LIMIT_KINDS.find((k) => k.key === kind);
	const n = info.unit === 'seconds' ? parseSeconds(t) : info.unit === 'bytes' ? parseBytes(t) : /^\d+$/.test(t) ? Number(t) : NaN;
	if (!Number.isSafeInteger(n) || n < 0) {
		const want = { runs: 'a number of runs', minutes: 'a number of minutes', seconds: 'a duration such as 90m or 2h', bytes: 'a size such as 512M or 5G' };
		return { error: `${info.label}: expected ${want[info.unit]} or "none", got "${t}"` };
	}
	return { set: true, value: n };
}

/* A limit as a field shows it: "" (not set), "none", or the value in a form parseLimit reads back. */
export function formatLimit(kind, value) {
	if (value === undefined) return '';
	if (value === null) return 'none';
	const info = LIMIT_KINDS.find((k) => k.key === kind);
	if (info.unit === 'seconds') {
		for (const [u, n] of [['d', 86400], ['h', 3600], ['m', 60]]) if (value > 0 && value % n === 0) return `${value / n}${u}`;
	}
	if (info.unit === 'bytes') {
		for (const [u, n] of [['T', 2 ** 40], ['G', 2 ** 30], ['M', 2 ** 20], ['K', 2 ** 10]]) if (value > 0 && value % n === 0) return `${value / n}${u}`;
	}
	return String(value);
}

/*
 * The override an instructor typed for one subject ({kind: text}) → {body}
 * for PUT /api/quotas ({"roles":{name:{…}}} or {"users":{name:{…}}}; an
 * all-blank form clears the override) or {errors: [text…]}.
 */
export function overrideBody(subject, fields) {
	const over = {};
	const errors = [];
	for (const { key } of LIMIT_KINDS) {
		const p = parseLimit(key, fields[key]);
		if (p.error) errors.push(p.error);
		else if (p.set) over[key] = p.value;
	}
	if (errors.length) return { errors };
	return { body: { [subject.role ? 'roles' : 'users']: { [subject.name]: over } } };
}

export const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/*
 * The instructor's sessions as rows ({day, start, end, mode, users: "a, b"})
 * → {body} for PUT /api/lab-sessions, or {errors} naming the row. The
 * server checks again (times, midnight, unknown users).
 */
export function sessionsBody(rows) {
	const sessions = [];
	const errors = [];
	rows.forEach((r, i) => {
		const at = `session ${i + 1}`;
		if (!DAYS.includes(r.day)) errors.push(`${at}: pick a day`);
		for (const [name, v] of [['start', r.start], ['end', r.end]])
			if (!/^([01]\d|2[0-3]):[0-5]\d$/.test(v || '')) errors.push(`${at}: ${name} should be HH:MM, got "${v || ''}"`);
		if (r.start && r.end && r.end <= r.start) errors.push(`${at}: it ends before it starts (a session cannot cross midnight: write two)`);
		const users = String(r.users || '').split(/[\s,]+/).filter(Boolean);
		sessions.push({ day: r.day, start: r.start, end: r.end, mode: r.mode === 'exclusive' ? 'exclusive' : 'priority', ...(users.length ? { users } : {}) });
	});
	return errors.length ? { errors } : { body: { sessions } };
}
