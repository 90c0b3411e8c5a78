/*
 * specdiff.js — two run specs side by side as a line diff: which lines of
 * A are gone, which of B are new, which they share (a longest common
 * subsequence of lines, what `diff` shows).
 *
 * What it is: pure. Specs are short; past DIFF_CELLS line pairs the middle
 * is shown as all removed then all added rather than spending seconds.
 * What it is not: the view (run-page.js).
 *
 * Threads: pure.
 */

const DIFF_CELLS = 4e6;

/* [{op: ' ' | '-' | '+', text, a (line in A or null), b (line in B or null)}] */
export function diffLines(aText, bText) {
	const a = aText.replace(/\n$/, '').split('\n');
	const b = bText.replace(/\n$/, '').split('\n');
	let pre = 0;
	while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
	let suf = 0;
	while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
	const out = [];
	for (let i = 0; i < pre; i++) out.push({ op: ' ', text: a[i], a: i + 1, b: i + 1 });
	const ma = a.slice(pre, a.length - suf);
	const mb = b.slice(pre, b.length - suf);
	if (ma.length * mb.length > DIFF_CELLS) {
		ma.forEach((t, i) => out.push({ op: '-', text: t, a: pre + i + 1, b: null }));
		mb.forEach((t, j) => out.push({ op: '+', text: t, a: null, b: pre + j + 1 }));
	} else {
		/* lcs[i][j]: common lines of ma[i..] and mb[j..] */
		const n = ma.length;
		const m = mb.length;
		const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
		for (let i = n - 1; i >= 0; i--)
			for (let j = m - 1; j >= 0; j--) lcs[i][j] = ma[i] === mb[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
		let i = 0;
		let j = 0;
		while (i < n || j < m) {
			if (i < n && j < m && ma[i] === mb[j]) {
				out.push({ op: ' ', text: ma[i], a: pre + i + 1, b: pre + j + 1 });
				i++;
				j++;
			} else if (i < n && (j === m || lcs[i + 1][j] >= lcs[i][j + 1])) {
				out.push({ op: '-', text: ma[i], a: pre + i + 1, b: null });
				i++;
			} else {
				out.push({ op: '+', text: mb[j], a: null, b: pre + j + 1 });
				j++;
			}
		}
	}
	for (let k = suf; k > 0; k--) out.push({ op: ' ', text: a[a.length - k], a: a.length - k + 1, b: b.length - k + 1 });
	return out;
}
