/*
 * dialog.js — a modal <dialog> that stays open while its action runs and
 * shows the server's answer inside it: a wrong current password, a name
 * that is taken, a token to copy. dom.js's confirm/prompt close on the
 * first click; forms that talk to the server need this instead.
 *
 * openDialog(title, content, {ok, cancel, danger, submit}) resolves with
 * what submit() returned (or true) once it succeeds, null when cancelled.
 * submit() throwing keeps the dialog open with the error's message; ok:
 * null leaves only the cancel button (labelled e.g. "Close").
 *
 * Threads: the page's main thread.
 */

import { h } from './dom.js';

export function openDialog(title, content, { ok = 'OK', cancel = 'Cancel', danger = false, submit = async () => true, className = '' } = {}) {
	return new Promise((resolve) => {
		const error = h('p.error.dialog-error', { role: 'alert' });
		const okBtn = ok ? h('button' + (danger ? '.danger' : '.primary'), { type: 'submit', value: 'ok', text: ok }) : null;
		const cancelBtn = h('button', { type: 'button', value: 'cancel', text: cancel, onclick: () => finish(null) });
		const form = h('form', { method: 'dialog', novalidate: true }, h('h2', { text: title }), content, error,
			h('div.dialog-buttons', cancelBtn, okBtn));
		const dlg = h('dialog.modal' + (className ? '.' + className : ''), { 'aria-label': title }, form);
		let done = false;
		const finish = (value) => {
			if (done) return;
			done = true;
			dlg.close();
			dlg.remove();
			resolve(value);
		};
		dlg.addEventListener('cancel', (e) => {
			e.preventDefault();
			finish(null);
		});
		form.addEventListener('submit', async (e) => {
			e.preventDefault();
			if (!okBtn || okBtn.disabled) return;
			error.textContent = '';
			okBtn.disabled = true;
			try {
				const v = await submit();
				finish(v === undefined ? true : v);
			} catch (x) {
				error.textContent = x && x.message ? x.message : String(x);
				okBtn.disabled = false;
			}
		});
		document.body.append(dlg);
		dlg.showModal();
		const focus = dlg.querySelector('input, select, textarea') || okBtn || cancelBtn;
		focus.focus();
	});
}

/* A labelled field for a dialog: h('label.field', label, input) with an optional hint under it. */
export function field(label, input, hint) {
	return h('label.field', h('span', { text: label }), input, hint ? h('span.muted.small', { text: hint }) : null);
}
