// Unit tests for web/src/owners.js: owner filters, where a notebook lives and who may write it, copies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NO_OWNER, showsOwners, ownerNames, filterByOwner, ownerLabel, homeOf, notebookPlace, placeNewNotebook, copiedFrom } from '../../web/src/owners.js';

const prof = { name: 'prof', role: 'instructor', accounts: true, home: 'users/prof/' };
const alice = { name: 'alice', role: 'student', accounts: true, home: 'users/alice/' };
const single = { name: 'root', role: 'instructor', accounts: false };

test('only instructors in accounts mode see owners', () => {
	assert.equal(showsOwners(prof), true);
	assert.equal(showsOwners(alice), false);
	assert.equal(showsOwners(single), false);
	assert.equal(showsOwners(null), false);
});

test('owner names are sorted and unique, with "no owner" last', () => {
	const runs = [{ owner: 'bob' }, { owner: 'alice' }, { owner: null }, { owner: 'bob' }];
	assert.deepEqual(ownerNames(runs), ['alice', 'bob', NO_OWNER]);
	assert.deepEqual(ownerNames([{ owner: 'x' }]), ['x']);
	assert.equal(ownerLabel(NO_OWNER), '(no owner)');
	assert.equal(ownerLabel('bob'), 'bob');
});

test('the owner filter keeps one owner, the unowned, or everything', () => {
	const runs = [{ id: 1, owner: 'bob' }, { id: 2, owner: 'alice' }, { id: 3 }];
	assert.deepEqual(filterByOwner(runs, 'bob').map((r) => r.id), [1]);
	assert.deepEqual(filterByOwner(runs, NO_OWNER).map((r) => r.id), [3]);
	assert.equal(filterByOwner(runs, ''), runs);
});

test('a student writes their home only; course/ is theirs to read; instructors write anywhere', () => {
	assert.deepEqual(notebookPlace(alice, 'users/alice/a.ipynb'), { place: 'home', readable: true, writable: true });
	assert.deepEqual(notebookPlace(alice, 'course/week1.ipynb'), { place: 'course', readable: true, writable: false });
	assert.deepEqual(notebookPlace(alice, 'users/alicex/a.ipynb'), { place: 'other', readable: false, writable: false });
	assert.deepEqual(notebookPlace(prof, 'course/week1.ipynb'), { place: 'course', readable: true, writable: true });
	assert.deepEqual(notebookPlace(prof, 'users/alice/a.ipynb'), { place: 'other', readable: true, writable: true });
	assert.deepEqual(notebookPlace(single, 'course/week1.ipynb'), { place: null, readable: true, writable: true });
	assert.equal(homeOf(alice), 'users/alice/');
	assert.equal(homeOf({ name: 'carol', accounts: true }), 'users/carol/');
	assert.equal(homeOf(single), '');
});

test('a new notebook lands in the home unless an instructor names a folder', () => {
	assert.equal(placeNewNotebook(alice, 'notes.ipynb'), 'users/alice/notes.ipynb');
	assert.equal(placeNewNotebook(alice, 'users/alice/x/notes.ipynb'), 'users/alice/x/notes.ipynb');
	assert.equal(placeNewNotebook(alice, 'sub/notes.ipynb'), 'users/alice/sub/notes.ipynb');
	assert.equal(placeNewNotebook(alice, 'course/notes.ipynb'), 'users/alice/notes.ipynb');
	assert.equal(placeNewNotebook(alice, 'users/bob/notes.ipynb'), 'users/alice/notes.ipynb');
	assert.equal(placeNewNotebook(prof, 'course/week1.ipynb'), 'course/week1.ipynb');
	assert.equal(placeNewNotebook(prof, 'week1.ipynb'), 'users/prof/week1.ipynb');
	assert.equal(placeNewNotebook(single, '/week1.ipynb'), 'week1.ipynb');
});

test('a copy says where it came from', () => {
	assert.deepEqual(copiedFrom({ trainbook: { copied_from: { path: 'course/w1.ipynb', etag: '"e"', time: 1700000000 } } }), { path: 'course/w1.ipynb', time: 1700000000 });
	assert.equal(copiedFrom({ trainbook: {} }), null);
	assert.equal(copiedFrom({}), null);
	assert.equal(copiedFrom(undefined), null);
});
