// tests/lib/wait.mjs — polling, shared by the integration fixture
// (tests/integration/fixture.mjs) and the browser suite (tests/e2e/lib.mjs).
// No dependencies, so either suite can run alone.

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* Poll fn() until it returns a truthy value; throws naming `what` and the last value or error. */
export async function waitFor(fn, { timeout = 30000, interval = 100, what = 'condition' } = {}) {
	const end = Date.now() + timeout;
	let last;
	let lastErr;
	while (Date.now() < end) {
		try {
			last = await fn();
			if (last) return last;
		} catch (e) {
			lastErr = e;
		}
		await sleep(interval);
	}
	throw new Error(`timed out after ${timeout / 1000} s waiting for ${what}` +
		(lastErr ? ` (last error: ${lastErr.message})` : last !== undefined ? ` (last: ${JSON.stringify(last)})` : ''));
}
