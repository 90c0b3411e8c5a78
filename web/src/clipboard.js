/*
 * clipboard.js — copy text for the person, and save text as a file: the
 * login links and API tokens the page shows once.
 *
 * navigator.clipboard exists only in a secure context (https, or
 * localhost); a lab server reached as http://lab-host:8888/ is neither, so
 * the fallback selects the text in a hidden textarea and uses
 * execCommand('copy'), which works from a click in any context.
 *
 * Threads: the page's main thread.
 */

import { h } from './dom.js';

/* Copy `text`; resolves true when it reached the clipboard. */
export async function copyText(text) {
	if (navigator.clipboard && window.isSecureContext) {
		try {
			await navigator.clipboard.writeText(text);
			return true;
		} catch {
			/* refused (no focus, no permission): try the old way */
		}
	}
	const area = h('textarea.offscreen', { readonly: true, 'aria-hidden': 'true' });
	area.value = text;
	document.body.append(area);
	area.select();
	let ok = false;
	try {
		ok = document.execCommand('copy');
	} catch {
		ok = false;
	}
	area.remove();
	return ok;
}

/* Offer `text` as a download named `name` (no server round trip: the links exist only in this page). */
export function downloadText(text, name, type = 'text/csv') {
	const url = URL.createObjectURL(new Blob([text], { type: type + ';charset=utf-8' }));
	const a = h('a', { href: url, download: name, hidden: true });
	document.body.append(a);
	a.click();
	a.remove();
	setTimeout(() => URL.revokeObjectURL(url), 10000);
}
