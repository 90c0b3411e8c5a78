/*
 * base.js — where the app lives, and every URL built from it.
 *
 * What it is: pure functions turning the page's own address into the
 * base URL (the folder the page was served from) and relative API/WebSocket
 * URLs, so the page works on any port, behind an SSH tunnel and under a
 * --base-url prefix such as /trainbook/. What it is not: a fetch wrapper
 * (api.js). Never build a URL with a leading slash: it would escape the prefix.
 *
 * Threads: pure; used from the page's main thread and from node tests.
 */

/* The base URL: the page's address without query, hash and file name. */
export function appBase(href) {
	const u = new URL(href);
	u.hash = '';
	u.search = '';
	return new URL('.', u).href;
}

/* A URL for `path` (no leading slash, e.g. "api/runs") under `base`. */
export function urlFor(base, path) {
	if (path.startsWith('/')) throw new Error(`urlFor: absolute path ${path} would escape the base URL`);
	return new URL(path, base).href;
}

/* The WebSocket URL of the live feed: "ws" under the base, ws: or wss:. */
export function wsUrlFor(base) {
	const u = new URL('ws', base);
	u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
	return u.href;
}

/* A workspace path ("examples/a b.ipynb") as URL path segments. */
export function encodePath(path) {
	return path.split('/').map(encodeURIComponent).join('/');
}

/* The API path of one notebook. */
export function notebookApiPath(path) {
	return 'api/notebooks/' + encodePath(path);
}
