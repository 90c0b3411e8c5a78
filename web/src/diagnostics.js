/*
 * diagnostics.js — spec errors {line, column, message} (1-based, from
 * POST /api/validate) turned into editor ranges {from, to, message}.
 *
 * What it is: pure text arithmetic, so it is unit-tested without a browser.
 * The range covers the word at the error (a key or a value) so the
 * underline is visible; an error without a position marks the first line.
 * What it is not: CodeMirror glue (editor.js).
 *
 * Threads: pure.
 */

export function lineStarts(text) {
	const starts = [0];
	for (let i = 0; i < text.length; i++) if (text[i] === '\n') starts.push(i + 1);
	return starts;
}

export function errorsToRanges(text, errors) {
	const starts = lineStarts(text);
	return (errors || []).map((e) => {
		const line = Number.isInteger(e.line) && e.line >= 1 ? Math.min(e.line, starts.length) : 0;
		if (!line) {
			const end = text.indexOf('\n');
			return { from: 0, to: end < 0 ? text.length : end, message: e.message, line: 0, column: 0 };
		}
		const ls = starts[line - 1];
		const le = line < starts.length ? starts[line] - 1 : text.length;
		const col = Number.isInteger(e.column) && e.column >= 1 ? e.column : 1;
		let from = Math.min(ls + col - 1, le);
		let to = from;
		while (to < le && !/[\s,:{}\[\]]/.test(text[to])) to++;
		if (to === from) {
			if (from < le) to = from + 1;
			else if (from > ls) from = from - 1; /* at the end of the line: mark its last character */
		}
		return { from, to: Math.max(to, from), message: e.message, line, column: col };
	});
}
