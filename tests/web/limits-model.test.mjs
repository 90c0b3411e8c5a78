// Unit tests for web/src/limits-model.js: what an instructor types in the
// board's limits and lab-session forms, turned into the bodies of PUT
// /api/quotas and PUT /api/lab-sessions, and back into fields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LIMIT_KINDS, parseLimit, formatLimit, overrideBody, sessionsBody } from '../../web/src/limits-model.js';

test('a limit field: blank is unset, "none" is no limit, units as the config file writes them', () => {
	assert.deepEqual(parseLimit('queued_runs', ''), { set: false });
	assert.deepEqual(parseLimit('queued_runs', '  '), { set: false });
	assert.deepEqual(parseLimit('queued_runs', 'None'), { set: true, value: null });
	assert.deepEqual(parseLimit('queued_runs', '0'), { set: true, value: 0 });
	assert.deepEqual(parseLimit('gpu_minutes_per_day', '120'), { set: true, value: 120 });
	assert.deepEqual(parseLimit('max_run_seconds', '1h30m'), { set: true, value: 5400 });
	assert.deepEqual(parseLimit('max_run_seconds', '20m'), { set: true, value: 1200 });
	assert.deepEqual(parseLimit('max_run_seconds', '7200'), { set: true, value: 7200 });
	assert.deepEqual(parseLimit('checkpoint_bytes', '5G'), { set: true, value: 5 * 2 ** 30 });
	assert.deepEqual(parseLimit('checkpoint_bytes', '512MiB'), { set: true, value: 512 * 2 ** 20 });
	assert.match(parseLimit('queued_runs', '-1').error, /runs waiting: expected a number of runs or "none", got "-1"/);
	assert.match(parseLimit('queued_runs', '2.5').error, /expected a number of runs/);
	assert.match(parseLimit('max_run_seconds', '2 hours').error, /longest run: expected a duration such as 90m or 2h/);
	assert.match(parseLimit('max_run_seconds', 'h').error, /expected a duration/);
	assert.match(parseLimit('checkpoint_bytes', '5X').error, /checkpoint disk: expected a size/);
});

test('formatLimit writes what parseLimit reads back', () => {
	assert.equal(formatLimit('queued_runs', undefined), '');
	assert.equal(formatLimit('queued_runs', null), 'none');
	assert.equal(formatLimit('max_run_seconds', 7200), '2h');
	assert.equal(formatLimit('max_run_seconds', 90), '90');
	assert.equal(formatLimit('checkpoint_bytes', 5 * 2 ** 30), '5G');
	for (const { key } of LIMIT_KINDS)
		for (const v of [0, 1, 60, 3600, 5400, 2 ** 20, 3 * 2 ** 30, null])
			assert.deepEqual(parseLimit(key, formatLimit(key, v)), { set: true, value: v }, `${key} ${v}`);
});

test('an override form becomes the PUT /api/quotas body, for a role or a user; every bad field is named', () => {
	assert.deepEqual(overrideBody({ role: true, name: 'student' }, { concurrent_runs: '1', max_run_seconds: '20m', queued_runs: '' }),
		{ body: { roles: { student: { concurrent_runs: 1, max_run_seconds: 1200 } } } });
	assert.deepEqual(overrideBody({ role: false, name: 'alice' }, { queued_runs: 'none' }),
		{ body: { users: { alice: { queued_runs: null } } } });
	assert.deepEqual(overrideBody({ role: false, name: 'alice' }, {}), { body: { users: { alice: {} } } }, 'all blank clears it');
	const bad = overrideBody({ role: false, name: 'bob' }, { concurrent_runs: 'x', checkpoint_bytes: '1Q', queued_runs: '3' });
	assert.equal(bad.body, undefined);
	assert.equal(bad.errors.length, 2);
	assert.match(bad.errors.join('\n'), /runs at once/);
	assert.match(bad.errors.join('\n'), /checkpoint disk/);
});

test('lab-session rows become the PUT /api/lab-sessions body; bad rows are named', () => {
	assert.deepEqual(sessionsBody([
		{ day: 'tue', start: '14:00', end: '16:00', mode: 'priority', users: '' },
		{ day: 'thu', start: '09:00', end: '11:00', mode: 'exclusive', users: 'alice, bob' },
	]), { body: { sessions: [
		{ day: 'tue', start: '14:00', end: '16:00', mode: 'priority' },
		{ day: 'thu', start: '09:00', end: '11:00', mode: 'exclusive', users: ['alice', 'bob'] },
	] } });
	assert.deepEqual(sessionsBody([]), { body: { sessions: [] } });
	const bad = sessionsBody([{ day: 'tue', start: '16:00', end: '14:00', mode: 'priority' }, { day: 'xyz', start: '9:00', end: '11:00' }]);
	assert.match(bad.errors.join('\n'), /session 1: it ends before it starts/);
	assert.match(bad.errors.join('\n'), /session 2: pick a day/);
	assert.match(bad.errors.join('\n'), /session 2: start should be HH:MM, got "9:00"/);
});
