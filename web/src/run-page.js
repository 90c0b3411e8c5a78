/*
 * run-page.js — one run on a page of its own (#/run/<id>): its name, owner
 * and notebook above the same run view a run cell shows (run-view.js). The
 * board's rows open it; anyone who may read the run may open it.
 *
 * Threads: the page's main thread.
 */

import { h, clear } from './dom.js';
import { RunView } from './run-view.js';

export class RunPage {
	constructor(root, ctx, id) {
		this.ctx = ctx;
		this.id = id;
		this.title = h('h1', { text: `Run ${id}` });
		this.about = h('p.muted');
		const body = h('section.panel');
		clear(root).append(h('p', h('a', { href: '#/board', text: '← Board' }), ' · ', h('a', { href: '#/runs?ids=' + encodeURIComponent(id), text: 'compare' })),
			this.title, this.about, body);
		document.title = `${id} — trainbook`;
		this.view = new RunView(body, ctx, id);
		ctx.debug.page = this;
	}

	async load() {
		try {
			const { run } = await this.ctx.api.get(`api/runs/${encodeURIComponent(this.id)}`);
			this.title.textContent = `${run.name || run.id} · ${run.id}`;
			const nb = run.notebook ? ` · notebook ${run.notebook}${run.cell ? ' / ' + run.cell : ''}` : '';
			this.about.textContent = `by ${run.owner}${nb}`;
		} catch (e) {
			if (e.status !== 401) this.about.textContent = e.status === 404 ? `No run ${this.id}.` : `Cannot load ${this.id}: ${e.message}`;
		}
	}

	destroy() {
		this.view.destroy();
		if (this.ctx.debug.page === this) this.ctx.debug.page = null;
	}
}
