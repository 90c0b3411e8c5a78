/*
 * owner-filter.js — the "owner" select an instructor's lists carry in
 * accounts mode (the Workspace's notebooks and runs, the Runs page): all
 * owners, or one. Its options follow the items shown, and a chosen owner
 * stays chosen while they have nothing listed (a run may be on its way).
 *
 * What it is not: the filtering itself (owners.js, pure and tested).
 *
 * Threads: the page's main thread.
 */

import { h, clear } from './dom.js';
import { ownerNames, ownerLabel, filterByOwner } from './owners.js';

export class OwnerFilter {
	/* `what` names the list for people using a screen reader ("notebooks"). */
	constructor(what, onChange) {
		this.value = '';
		this.known = null; /* the options' owners, joined: rebuilt only when they change */
		this.el = h('select.owner-filter', { 'aria-label': `show the ${what} of` });
		this.el.addEventListener('change', () => {
			this.value = this.el.value;
			onChange();
		});
		this.update([]);
	}

	/* Refresh the options from `items`; returns the items the filter keeps. */
	update(items) {
		const names = ownerNames(items);
		if (this.value && !names.includes(this.value)) names.push(this.value);
		const key = names.join('\n');
		if (key !== this.known) {
			this.known = key;
			clear(this.el).append(h('option', { value: '', text: 'all owners' }),
				...names.map((n) => h('option', { value: n, text: ownerLabel(n) })));
			this.el.value = this.value;
		}
		return filterByOwner(items, this.value);
	}
}
