// Unit tests for web/src/roster.js: the roster preview reads CSV as the server does; links CSV; roster filter and states.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCsv, rosterRows, linksCsv, userState, filterUsers } from '../../web/src/roster.js';

test('CSV records keep the physical line where each starts, quotes and all', () => {
	const { records, error } = parseCsv('\ufeffa, b ,c\r\n\r\n"x, ""y""","two\nlines",z\nlast');
	assert.equal(error, null);
	assert.deepEqual(records.map((r) => r.line), [1, 2, 3, 5]);
	assert.deepEqual(records[0].fields, ['a', 'b', 'c']);
	assert.deepEqual(records[1].fields, ['']);
	assert.deepEqual(records[2].fields, ['x, "y"', 'two\nlines', 'z']);
	assert.deepEqual(records[3].fields, ['last']);
});

test('a quote left open is an error on the line it opened', () => {
	const { records, error } = parseCsv('ok\n"never closed\nstill\n');
	assert.equal(records.length, 1);
	assert.deepEqual(error, { line: 2, message: 'a quoted field is never closed' });
});

test('blanks after a comma go, as the server drops them; a quoted field keeps its own', () => {
	assert.deepEqual(parseCsv('a,   "b c" ,d\t\n').records[0].fields, ['a', 'b c ', 'd']);
});

test('roster rows without a header: name[,email][,role], names lower-cased, student by default', () => {
	const r = rosterRows('Alice.Smith,alice@uni.example\nbob,,instructor\n\ncarol\n');
	assert.equal(r.header, false);
	assert.deepEqual(r.rows, [
		{ line: 1, name: 'alice.smith', email: 'alice@uni.example', role: 'student' },
		{ line: 2, name: 'bob', email: '', role: 'instructor' },
		{ line: 4, name: 'carol', email: '', role: 'student' },
	]);
});

test('a header line names the columns, in any order after name', () => {
	const r = rosterRows('Name,Role,E-mail\nalice,Instructor,a@x.example\n');
	assert.equal(r.header, true);
	assert.deepEqual(r.rows, [{ line: 2, name: 'alice', email: 'a@x.example', role: 'instructor' }]);
	assert.deepEqual(rosterRows('name\nbob,b@x.example\n').rows, [{ line: 2, name: 'bob', email: '', role: 'student' }]);
});

test('links CSV is the server\'s name,email,role,link with quotes only where needed', () => {
	const csv = linksCsv([
		{ name: 'alice', email: 'alice@uni.example', role: 'student', link: 'http://h/login?link=ab' },
		{ name: 'bob', email: null, role: 'instructor', link: 'http://h/login?link=cd' },
		{ name: 'odd', email: 'a,"b"', role: 'student', link: 'x' },
	]);
	assert.equal(csv, 'name,email,role,link\nalice,alice@uni.example,student,http://h/login?link=ab\nbob,,instructor,http://h/login?link=cd\nodd,"a,""b""",student,x\n');
	// and it reads back
	assert.deepEqual(parseCsv(csv).records[3].fields, ['odd', 'a,"b"', 'student', 'x']);
});

test('user states: archived, never logged in, logged in, logged out', () => {
	assert.equal(userState({ archived: 5, last_login: 1 }).key, 'archived');
	assert.equal(userState({ archived: null, last_login: null, sessions: 0 }).key, 'invited');
	assert.deepEqual(userState({ archived: null, last_login: 9, sessions: 2 }), { key: 'active', text: 'logged in (2 sessions)' });
	assert.equal(userState({ archived: null, last_login: 9, sessions: 1 }).text, 'logged in');
	assert.equal(userState({ archived: null, last_login: 9, sessions: 0 }).key, 'idle');
});

test('the roster filter matches name or e-mail, a role, and hides archived users unless asked', () => {
	const users = [
		{ name: 'prof', email: 'prof@uni.example', role: 'instructor', archived: null },
		{ name: 'alice', email: 'a.smith@uni.example', role: 'student', archived: null },
		{ name: 'bob', email: null, role: 'student', archived: 1700000000 },
	];
	const names = (o) => filterUsers(users, o).map((u) => u.name);
	assert.deepEqual(names({}), ['prof', 'alice']);
	assert.deepEqual(names({ archived: true }), ['prof', 'alice', 'bob']);
	assert.deepEqual(names({ text: 'SMITH' }), ['alice']);
	assert.deepEqual(names({ role: 'student', archived: true }), ['alice', 'bob']);
	assert.deepEqual(names({ text: 'uni', role: 'instructor' }), ['prof']);
});
