// tests/bench/lib.mjs — what the node benchmarks share: their `--name value`
// options, a stand-in for node:test's context that collects clean-ups, and
// percentiles. Not a test helper (tests use tests/integration/fixture.mjs).
const argv = process.argv.slice(2);

/* The value after `--name` on the command line, or `dflt`. */
export function option(name, dflt) {
	const i = argv.indexOf('--' + name);
	return i >= 0 ? argv[i + 1] : dflt;
}

/* A stand-in for node:test's context: after(fn) collects clean-ups, done() runs them, last first. */
export function context() {
	const hooks = [];
	return { after: (fn) => hooks.push(fn), done: async () => { for (const fn of hooks.reverse()) await fn(); } };
}

/* The p-th percentile (p from 0 to 100) of xs, the nearest rank; NaN when xs is empty. */
export function percentile(xs, p) {
	if (!xs.length) return NaN;
	const s = [...xs].sort((a, b) => a - b);
	return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}
