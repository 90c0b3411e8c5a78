// A node:test reporter printing one line per test: "PASS <file>: <name>" or "FAIL <file>: <name>: <why>",
// the format tests/run.sh counts, then the plain "N passed, N failed" closing line. A skipped test
// (test.skip, or one left out by --test-name-pattern, which node 20 reports as skipped) prints
// "SKIP <file>: <name>: <why>" and is not counted as passed; the closing line then names them.
import { basename } from 'node:path';

export default async function* reporter(source) {
	let pass = 0;
	let fail = 0;
	let skip = 0;
	for await (const { type, data } of source) {
		if (type !== 'test:pass' && type !== 'test:fail') continue;
		if (data.details && data.details.type === 'suite') continue;
		const file = data.file ? basename(data.file).replace(/\.test\.mjs$/, '') : 'web';
		const name = `${file}: ${data.name}`;
		if (type === 'test:pass' && (data.skip !== undefined || data.todo !== undefined)) {
			skip++;
			const why = data.skip !== undefined ? data.skip : data.todo;
			yield `SKIP ${name}${typeof why === 'string' ? ': ' + why : ''}\n`;
		} else if (type === 'test:pass') {
			pass++;
			yield `PASS ${name}\n`;
		} else {
			fail++;
			const err = data.details && data.details.error;
			const why = err ? String(err.cause?.message || err.message).split('\n')[0] : 'failed';
			yield `FAIL ${name}: ${why}\n`;
			if (err) yield String(err.cause?.stack || err.stack || '').split('\n').slice(0, 8).map((l) => '    ' + l).join('\n') + '\n';
		}
	}
	yield `${pass} passed, ${fail} failed${skip ? `, ${skip} skipped` : ''}\n`;
}
