/*
 * limits.js — the instructor's limits and lab sessions, a panel on the
 * board (#/board): pick a role or a user, see the limits in effect and
 * set an override (PUT /api/quotas); list the weekly lab sessions and
 * edit the instructor's own (PUT /api/lab-sessions). The config file's
 * limits and sessions show but are changed only there.
 *
 * What it is not: the parsing (limits-model.js, tested in node) or the
 * checks (the server's: an answer's error is shown as it came).
 *
 * Threads: the page's main thread.
 */

import { h, clear, toast } from './dom.js';
import { LIMIT_KINDS, DAYS, formatLimit, overrideBody, sessionsBody } from './limits-model.js';

export class LimitsPanel {
	constructor(ctx, onSaved) {
		this.ctx = ctx;
		this.onSaved = onSaved; /* the board refreshes its minutes against limits */
		this.quotas = null;
		this.subjectEl = h('select', { 'aria-label': 'limits of', onchange: () => this.#showSubject() });
		this.fields = new Map(LIMIT_KINDS.map((k) => [k.key, h('input', { type: 'text', name: k.key, size: '7', 'aria-label': k.label })]));
		this.effective = new Map(LIMIT_KINDS.map((k) => [k.key, h('span.muted.small')]));
		this.errorsEl = h('p.error', { role: 'alert', hidden: true });
		this.sessionRows = h('tbody');
		this.configSessions = h('ul.muted.small');
		this.activeEl = h('p.muted.small', { role: 'status' });
		this.el = h('details.panel.limits', h('summary', { text: 'Limits and lab sessions' }),
			h('div.limits-grid',
				h('section', { 'aria-label': 'limits' },
					h('h2', { text: 'Limits' }),
					h('label', 'Limits of ', this.subjectEl),
					h('p.muted.small', { text: 'Blank: as the role (or the config file) says. "none": no limit. Times as 90m or 2h, sizes as 512M or 5G.' }),
					h('table.list.limits-table',
						h('tbody', LIMIT_KINDS.map((k) => h('tr', h('th', { scope: 'row', text: k.label }), h('td', this.fields.get(k.key)),
							h('td', this.effective.get(k.key)))))),
					h('button.primary', { type: 'button', text: 'Save limits', onclick: () => this.#saveLimits() })),
				h('section', { 'aria-label': 'lab sessions' },
					h('h2', { text: 'Lab sessions' }),
					this.activeEl,
					h('table.list.sessions-table',
						h('thead', h('tr', ['Day', 'From', 'To', 'Mode', 'Students (blank: all)', ''].map((t) => h('th', { scope: 'col', text: t })))),
						this.sessionRows),
					h('button', { type: 'button', text: 'Add a session', onclick: () => this.#addSession({ day: 'tue', start: '14:00', end: '16:00', mode: 'priority', users: [] }) }),
					' ',
					h('button.primary', { type: 'button', text: 'Save sessions', onclick: () => this.#saveSessions() }),
					this.configSessions)),
			this.errorsEl);
	}

	/* Never throws: what cannot be read is said in the panel. */
	async load() {
		try {
			const [quotas, labs] = await Promise.all([this.ctx.api.get('api/quotas'), this.ctx.api.get('api/lab-sessions')]);
			this.#setQuotas(quotas);
			this.#setSessions(labs);
		} catch (e) {
			this.#showErrors([`Cannot read the limits: ${e.message}`]);
		}
	}

	#setQuotas(q) {
		this.quotas = q;
		const was = this.subjectEl.value;
		clear(this.subjectEl).append(
			...Object.keys(q.roles).map((r) => h('option', { value: 'role:' + r, text: `every ${r}` })),
			...q.users.map((u) => h('option', { value: 'user:' + u.user, text: `${u.user} (${u.role})` })));
		if (was && [...this.subjectEl.options].some((o) => o.value === was)) this.subjectEl.value = was;
		this.#showSubject();
	}

	/* The selected subject: its override in the fields, what is in effect beside them. */
	#showSubject() {
		const [kind, name] = this.#subject();
		const entry = kind === 'role' ? this.quotas.roles[name] : this.quotas.users.find((u) => u.user === name);
		const over = entry?.override || {};
		for (const { key } of LIMIT_KINDS) {
			this.fields.get(key).value = formatLimit(key, key in over ? over[key] : undefined);
			const v = entry?.limits?.[key];
			this.effective.get(key).textContent = 'in effect: ' + (v === null || v === undefined ? 'no limit' : formatLimit(key, v));
		}
	}

	#subject() {
		const v = this.subjectEl.value;
		const i = v.indexOf(':');
		return [v.slice(0, i), v.slice(i + 1)];
	}

	#showErrors(errors) {
		this.errorsEl.hidden = errors.length === 0;
		this.errorsEl.textContent = errors.join('; ');
	}

	async #saveLimits() {
		const [kind, name] = this.#subject();
		const fields = Object.fromEntries([...this.fields].map(([k, el]) => [k, el.value]));
		const out = overrideBody({ role: kind === 'role', name }, fields);
		this.#showErrors(out.errors || []);
		if (out.errors) return;
		try {
			this.#setQuotas(await this.ctx.api.put('api/quotas', out.body));
			toast(`Limits of ${kind === 'role' ? 'every ' + name : name} saved.`);
			if (this.onSaved) this.onSaved();
		} catch (e) {
			this.#showErrors([e.message]);
		}
	}

	#setSessions(labs) {
		clear(this.sessionRows);
		clear(this.configSessions);
		labs.sessions.forEach((s, i) => {
			if (s.source === 'instructor') this.#addSession(s);
			else this.configSessions.append(h('li', { text: `config file: ${s.day} ${s.start}–${s.end} ${s.mode}${s.users.length ? ' ' + s.users.join(', ') : ''}${labs.active === i ? ' (on now)' : ''}` }));
		});
		const on = labs.active === null ? null : labs.sessions[labs.active];
		this.activeEl.textContent = on ? `On now: ${on.day} ${on.start}–${on.end}, ${on.mode}.` : 'No session is on now.';
	}

	#addSession(s) {
		const tr = h('tr.session');
		const cell = (el) => h('td', el);
		tr.fields = {
			day: h('select', { 'aria-label': 'day' }, DAYS.map((d) => h('option', { value: d, text: d, selected: d === s.day }))),
			start: h('input', { type: 'time', value: s.start, 'aria-label': 'from' }),
			end: h('input', { type: 'time', value: s.end, 'aria-label': 'to' }),
			mode: h('select', { 'aria-label': 'mode' }, ['priority', 'exclusive'].map((m) => h('option', { value: m, text: m, selected: m === s.mode }))),
			users: h('input', { type: 'text', value: (s.users || []).join(', '), 'aria-label': 'students' }),
		};
		tr.append(...Object.values(tr.fields).map(cell), cell(h('button.link', { type: 'button', text: 'remove', onclick: () => tr.remove() })));
		this.sessionRows.append(tr);
	}

	async #saveSessions() {
		const rows = [...this.sessionRows.querySelectorAll('tr.session')].map((tr) =>
			Object.fromEntries(Object.entries(tr.fields).map(([k, el]) => [k, el.value])));
		const out = sessionsBody(rows);
		this.#showErrors(out.errors || []);
		if (out.errors) return;
		try {
			this.#setSessions(await this.ctx.api.put('api/lab-sessions', out.body));
			toast('Lab sessions saved.');
		} catch (e) {
			this.#showErrors([e.message]);
		}
	}
}
