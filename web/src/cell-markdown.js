/*
 * cell-markdown.js — a markdown cell: rendered to safe HTML by markdown.js
 * (a notebook from elsewhere must not run script in the page, restyle it
 * or fake a form), edited in CodeMirror on double-click or Enter.
 *
 * What it is not: the notebook's keys and selection (notebook.js), or the
 * sanitiser's rules (markdown.js).
 *
 * Threads: the page's main thread.
 */

import { h, clear } from './dom.js';
import { createEditor } from './editor.js';
import { renderMarkdown } from './markdown.js';

export class MarkdownCell {
	constructor(page, cell) {
		this.page = page;
		this.cell = cell;
		this.editor = null;
		this.rendered = h('div.markdown-body', { ondblclick: () => page.edit(this) });
		this.editorBox = h('div.cell-editor', { hidden: true });
		this.root = h('div.cell.markdown-cell', { 'data-cell-id': cell.id, tabindex: '-1', role: 'group', 'aria-label': 'markdown cell' },
			h('div.cell-gutter', { 'aria-hidden': 'true', text: 'md' }),
			h('div.cell-content', this.rendered, this.editorBox));
		this.render();
	}

	render() {
		const html = renderMarkdown(this.cell.source);
		/* sanitised by markdown.js: the only place the page sets innerHTML */
		this.rendered.innerHTML = html || '<p class="muted">Empty markdown cell — double-click or press Enter to write.</p>';
		for (const a of this.rendered.querySelectorAll('a[href^="http"]')) {
			a.target = '_blank';
			a.rel = 'noopener noreferrer';
		}
		this.rendered.hidden = false;
		this.editorBox.hidden = true;
	}

	/* Enter edit mode: show and focus the editor. */
	edit() {
		if (!this.editor) {
			this.editor = createEditor({
				parent: this.editorBox,
				doc: this.cell.source,
				lang: 'text',
				label: 'markdown source',
				keys: this.page.editorKeys(this),
				onChange: (text) => {
					this.cell.source = text;
					this.page.markDirty();
				},
				onFocus: () => this.page.focusCell(this, 'edit'),
			});
		}
		this.rendered.hidden = true;
		this.editorBox.hidden = false;
		this.editor.focus();
	}

	/* Leave edit mode: markdown cells show their rendering again. */
	leave() {
		if (!this.editorBox.hidden) this.render();
	}

	/* What "run" means for markdown: render it. */
	run() {
		this.render();
		return true;
	}

	destroy() {
		if (this.editor) this.editor.destroy();
		clear(this.root);
		this.root.remove();
	}
}
