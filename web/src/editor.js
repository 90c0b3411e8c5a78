/*
 * editor.js — CodeMirror 6 set up the way cells need it: YAML highlighting
 * for run cells, plain text for markdown, lint diagnostics for spec errors,
 * and the Jupyter keys (Shift+Enter, Ctrl/Cmd+Enter, Esc, Ctrl/Cmd+S)
 * routed to the notebook before CodeMirror's own bindings.
 *
 * What it is not: validation (cell-run.js asks the server) or cell logic.
 *
 * Threads: the page's main thread.
 */

import { EditorView, keymap, lineNumbers, drawSelection, highlightActiveLine, highlightSpecialChars } from '@codemirror/view';
import { EditorState, Prec } from '@codemirror/state';
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { syntaxHighlighting, HighlightStyle, indentOnInput, bracketMatching } from '@codemirror/language';
import { tags as t } from '@lezer/highlight';
import { yaml } from '@codemirror/lang-yaml';
import { linter, lintGutter } from '@codemirror/lint';
import { errorsToRanges } from './diagnostics.js';

/* Colours come from CSS variables so the light and dark themes both apply. */
const highlight = HighlightStyle.define([
	{ tag: [t.propertyName, t.definition(t.propertyName)], color: 'var(--hl-key)' },
	{ tag: [t.string, t.special(t.string)], color: 'var(--hl-string)' },
	{ tag: [t.number, t.bool, t.null], color: 'var(--hl-number)' },
	{ tag: t.comment, color: 'var(--hl-comment)', fontStyle: 'italic' },
	{ tag: [t.keyword, t.atom, t.typeName], color: 'var(--hl-keyword)' },
	{ tag: [t.punctuation, t.separator, t.brace, t.squareBracket], color: 'var(--hl-punct)' },
	{ tag: [t.heading], fontWeight: 'bold', color: 'var(--hl-key)' },
]);

/*
 * CodeMirror injects its rules in a <style> element; the page's
 * Content-Security-Policy allows it only with the nonce the server wrote
 * into index.html for this page load.
 */
function cspNonce() {
	const meta = typeof document !== 'undefined' && document.querySelector('meta[name="trainbook-csp-nonce"]');
	const nonce = meta ? meta.getAttribute('content') : '';
	return nonce && nonce !== 'TRAINBOOK_CSP_NONCE' ? nonce : '';
}

/*
 * createEditor({parent, doc, lang: 'yaml'|'text', keys, onChange, validate, label, readOnly})
 *   readOnly: shown highlighted, not editable (a run's spec: what it ran)
 *   keys:     {run(view), runAndNext(view), escape(view), save(view)} — return true when handled
 *   validate: async (text) → [{line, column, message}] or null (no lint)
 * Returns the EditorView.
 */
export function createEditor({ parent, doc, lang = 'text', keys = {}, onChange, validate, label = 'cell editor', onFocus, readOnly = false }) {
	const bind = (fn) => (view) => (fn ? fn(view) !== false : false);
	const jupyterKeys = Prec.highest(keymap.of([
		{ key: 'Shift-Enter', run: bind(keys.runAndNext) },
		{ key: 'Mod-Enter', run: bind(keys.run) },
		{ key: 'Escape', run: bind(keys.escape) },
		{ key: 'Mod-s', run: bind(keys.save), preventDefault: true },
	]));
	const nonce = cspNonce();
	const extensions = [
		...(nonce ? [EditorView.cspNonce.of(nonce)] : []),
		jupyterKeys,
		highlightSpecialChars(),
		history(),
		drawSelection(),
		indentOnInput(),
		bracketMatching(),
		highlightActiveLine(),
		syntaxHighlighting(highlight),
		keymap.of([indentWithTab, ...defaultKeymap, ...historyKeymap]),
		EditorView.lineWrapping,
		EditorView.contentAttributes.of({ 'aria-label': label }),
		EditorView.updateListener.of((u) => {
			if (u.docChanged && onChange) onChange(u.state.doc.toString());
			if (u.focusChanged && u.view.hasFocus && onFocus) onFocus();
		}),
	];
	if (lang === 'yaml') extensions.push(yaml(), lineNumbers());
	if (readOnly) extensions.push(EditorState.readOnly.of(true), EditorView.editable.of(false));
	if (validate) {
		extensions.push(lintGutter(), linter(async (view) => {
			const text = view.state.doc.toString();
			const errors = await validate(text);
			/* a stale answer (the text changed meanwhile) is dropped by the linter itself */
			return errorsToRanges(text, errors || []).map((r) => ({
				from: r.from,
				to: r.to,
				severity: 'error',
				message: r.line ? `line ${r.line}, column ${r.column}: ${r.message}` : r.message,
			}));
		}, { delay: 300 }));
	}
	return new EditorView({ parent, state: EditorState.create({ doc, extensions }) });
}

export function setEditorText(view, text) {
	view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
}
