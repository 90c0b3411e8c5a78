/*
 * api.js — the HTTP side of docs/api.md: JSON requests to relative URLs
 * under the base, errors as ApiError {status, code, message, errors}.
 *
 * A 401 means the cookie is missing or stale: the page switches to the
 * token form (onUnauthorized) instead of showing a broken view.
 * What it is not: the live feed (feed.js).
 *
 * Threads: the page's main thread.
 */

import { urlFor } from './base.js';

export class ApiError extends Error {
	constructor(status, body, retryAfter = null) {
		const msg = (body && (body.message || body.error)) || `HTTP ${status}`;
		super(msg);
		this.status = status;
		this.code = (body && body.error) || 'http_' + status;
		this.errors = (body && body.errors) || null;
		this.body = body;
		this.retryAfter = retryAfter; /* seconds, from a 429's Retry-After */
	}
}

export function createApi(base, { onUnauthorized = () => {} } = {}) {
	async function request(method, path, { body, headers = {}, full = false } = {}) {
		const init = { method, headers: { Accept: 'application/json', ...headers }, credentials: 'same-origin' };
		if (body !== undefined) {
			/* JSON unless the caller says otherwise (a roster is text/csv) */
			init.headers['Content-Type'] = headers['Content-Type'] || 'application/json';
			init.body = typeof body === 'string' ? body : JSON.stringify(body);
		}
		let res;
		try {
			res = await fetch(urlFor(base, path), init);
		} catch (e) {
			throw new ApiError(0, { error: 'network', message: 'cannot reach the server (' + e.message + ')' });
		}
		const text = await res.text();
		let data = null;
		if (text) {
			try {
				data = JSON.parse(text);
			} catch {
				/* not JSON (a proxy's error page): say what happened, not its HTML */
				data = { message: `HTTP ${res.status} ${res.statusText}`.trim() };
			}
		}
		if (res.status === 401) {
			onUnauthorized();
			throw new ApiError(401, data);
		}
		if (!res.ok) throw new ApiError(res.status, data, Number(res.headers.get('Retry-After')) || null);
		return full ? { data, res } : data;
	}
	return {
		base,
		url: (path) => urlFor(base, path),
		get: (p, o) => request('GET', p, o),
		post: (p, body, o = {}) => request('POST', p, { ...o, body }),
		put: (p, body, o = {}) => request('PUT', p, { ...o, body }),
		patch: (p, body, o = {}) => request('PATCH', p, { ...o, body }),
		del: (p, o) => request('DELETE', p, o),
		request,
	};
}
