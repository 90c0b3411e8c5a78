/*
 * markdown.js — markdown cell source to safe HTML: marked renders it and
 * DOMPurify keeps only what cannot act. A notebook may come from anyone
 * (CVE-2021-32798 class), so besides script, event handlers and
 * javascript: URLs, which DOMPurify refuses by default, rendered markdown
 * may not hold:
 *   - <style> or style="…": one rule restyles the whole page (and the
 *     page's Content-Security-Policy would refuse them anyway);
 *   - forms and their controls (<form>, <input>, <button>, <textarea>,
 *     <select>): a fake login box, or a form posting elsewhere;
 *   - images from other sites: a notebook opened must not tell anyone it
 *     was (the policy's img-src allows only this server and data: images).
 * GFM task lists keep their meaning as ☐ / ☑ instead of checkboxes.
 *
 * What it is not: the cell (cell-markdown.js). It needs a DOM: the page's,
 * or jsdom's in tests/web/markdown.test.mjs.
 *
 * Threads: the page's main thread.
 */

import { Marked } from 'marked';
import DOMPurify from 'dompurify';

const FORBID_TAGS = ['style', 'form', 'input', 'button', 'textarea', 'select', 'option', 'optgroup', 'fieldset', 'datalist', 'output', 'link', 'meta', 'base'];
const FORBID_ATTR = ['style', 'action', 'formaction', 'srcset', 'ping'];

const marked = new Marked({
	async: false,
	gfm: true,
	renderer: {
		checkbox({ checked }) {
			return checked ? '☑ ' : '☐ ';
		},
	},
});

/* An image address this page may load: relative to the server, or an inline data: picture. */
function localImage(src) {
	const s = (src || '').trim();
	if (/^data:image\/(png|jpeg|gif|webp);/i.test(s)) return true;
	return !/^[a-z][a-z0-9+.-]*:/i.test(s) && !s.startsWith('//') && !s.startsWith('\\');
}

let purify = null;

/* One DOMPurify bound to the current window, with our hook added once. */
function sanitizer() {
	if (purify) return purify;
	purify = DOMPurify(globalThis.window);
	purify.addHook('afterSanitizeAttributes', (node) => {
		if (node.nodeName === 'IMG' && !localImage(node.getAttribute('src'))) {
			const alt = node.getAttribute('alt') || 'image';
			const src = node.getAttribute('src') || '';
			node.removeAttribute('src');
			node.setAttribute('alt', `${alt} (not loaded from ${src.slice(0, 200)})`);
			node.setAttribute('title', `images from other sites are not loaded: ${src.slice(0, 200)}`);
		}
	});
	return purify;
}

export function renderMarkdown(src) {
	const p = sanitizer();
	if (!p.isSupported) throw new Error('markdown.js: no DOM to sanitise in');
	return p.sanitize(marked.parse(src || ''), { FORBID_TAGS, FORBID_ATTR });
}
