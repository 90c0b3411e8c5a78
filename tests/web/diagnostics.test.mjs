// Unit tests for web/src/diagnostics.js: spec errors at line:column → editor ranges.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errorsToRanges, lineStarts } from '../../web/src/diagnostics.js';

const spec = 'data: {dataset: fashion-mnist}\nmodel: mlp\nloss: cross_entropyy\noptimizer: {name: adam}\n';

test('line starts', () => {
	assert.deepEqual(lineStarts('a\nbc\n'), [0, 2, 5]);
});

test('an error at line 3 column 7 covers the word there', () => {
	const [r] = errorsToRanges(spec, [{ line: 3, column: 7, message: 'unknown loss' }]);
	assert.equal(spec.slice(r.from, r.to), 'cross_entropyy');
	assert.equal(r.line, 3);
	// the range lies on line 3
	const before = spec.slice(0, r.from).split('\n').length;
	assert.equal(before, 3);
});

test('a key error covers the key without its colon', () => {
	const [r] = errorsToRanges(spec, [{ line: 2, column: 1, message: 'x' }]);
	assert.equal(spec.slice(r.from, r.to), 'model');
});

test('a column past the end of the line marks the last character of that line', () => {
	const [r] = errorsToRanges(spec, [{ line: 2, column: 80, message: 'x' }]);
	assert.equal(spec.slice(r.from, r.to), 'p');
});

test('an error inside a flow mapping stops at the brace', () => {
	const [r] = errorsToRanges(spec, [{ line: 4, column: 19, message: 'x' }]);
	assert.equal(spec.slice(r.from, r.to), 'adam');
});

test('an error without a position marks the first line', () => {
	const [r] = errorsToRanges(spec, [{ line: 0, column: 0, message: 'no data' }]);
	assert.equal(r.from, 0);
	assert.equal(spec.slice(r.from, r.to), 'data: {dataset: fashion-mnist}');
	assert.equal(r.line, 0);
});

test('a line past the end is clamped to the last line', () => {
	const [r] = errorsToRanges('a: 1\nb: 2', [{ line: 9, column: 1, message: 'x' }]);
	assert.equal(r.line, 2);
	assert.equal('a: 1\nb: 2'.slice(r.from, r.to), 'b');
});
