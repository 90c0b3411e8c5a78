/*
 * dom.js — the few DOM helpers the views share: element building, dialogs
 * (confirm / prompt on <dialog>, keyboard-friendly) and toasts.
 *
 * What it is not: a framework. Views build their elements with h() and
 * update them directly.
 *
 * Threads: the page's main thread.
 */

/*
 * h('button.primary', {onclick, 'aria-label': 'Run'}, 'Run') — tag with
 * optional .classes, attributes (on* are listeners, `text`, `html` is
 * never used with untrusted text, `style` is set through el.style), then
 * children (strings or nodes).
 */
export function h(spec, attrs, ...children) {
	const [tag, ...classes] = spec.split('.');
	const el = document.createElement(tag || 'div');
	if (classes.length) el.className = classes.join(' ');
	if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
		children.unshift(attrs);
		attrs = null;
	}
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === undefined || v === null || v === false) continue;
		if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
		else if (k === 'text') el.textContent = v;
		else if (k === 'class') el.className = v;
		/* Through the CSSOM: the page's Content-Security-Policy refuses style="…" attributes. */
		else if (k === 'style') el.style.cssText = String(v);
		else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'selected') el[k] = v;
		else el.setAttribute(k, v === true ? '' : String(v));
	}
	append(el, children);
	return el;
}

function append(el, children) {
	for (const c of children) {
		if (c === null || c === undefined || c === false) continue;
		if (Array.isArray(c)) append(el, c);
		else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
	}
}

/* Make `el` a drop target for a file: it is marked .over while a file hovers, and onFile gets the first one dropped. */
export function dropTarget(el, onFile) {
	el.addEventListener('dragover', (e) => {
		e.preventDefault();
		el.classList.add('over');
	});
	el.addEventListener('dragleave', () => el.classList.remove('over'));
	el.addEventListener('drop', (e) => {
		e.preventDefault();
		el.classList.remove('over');
		const f = e.dataTransfer && e.dataTransfer.files[0];
		if (f) onFile(f);
	});
	return el;
}

export function clear(el) {
	while (el.firstChild) el.removeChild(el.firstChild);
	return el;
}

/*
 * Replace an element's children, skipping null / false / undefined and
 * flattening arrays as h() does. (The DOM's own append writes a null as
 * the text "null": a queued run's header once read "r9 nullnullnull".)
 */
export function fill(el, ...children) {
	clear(el);
	append(el, children);
	return el;
}

/* A modal <dialog>; resolves with the button's value or null on Esc. */
function modal(title, body, buttons) {
	return new Promise((resolve) => {
		const form = h('form', { method: 'dialog' },
			h('h2', { text: title }),
			body,
			h('div.dialog-buttons', buttons.map((b) => h('button' + (b.cls ? '.' + b.cls : ''), {
				value: b.value,
				/* Cancel is not a submit button, so Enter in a field picks OK (the form's default button) */
				type: b.value === 'cancel' ? 'button' : 'submit',
				onclick: b.value === 'cancel' ? () => dlg.close('cancel') : undefined,
				text: b.label,
			}))));
		const dlg = h('dialog.modal', { 'aria-label': title }, form);
		document.body.append(dlg);
		dlg.addEventListener('close', () => {
			const v = dlg.returnValue;
			dlg.remove();
			resolve(v && v !== 'cancel' ? v : null);
		});
		dlg.showModal();
		const focus = dlg.querySelector('input') || dlg.querySelector('button:not([value=cancel])');
		if (focus) focus.focus();
	});
}

export async function confirmDialog(title, message, okLabel = 'OK', danger = false) {
	const v = await modal(title, h('p', { text: message }), [
		{ label: 'Cancel', value: 'cancel' },
		{ label: okLabel, value: 'ok', cls: danger ? 'danger' : 'primary' },
	]);
	return v === 'ok';
}

export async function promptDialog(title, label, value = '') {
	const input = h('input', { type: 'text', value, 'aria-label': label, spellcheck: 'false', autocomplete: 'off' });
	const body = h('label.field', h('span', { text: label }), input);
	const v = await modal(title, body, [
		{ label: 'Cancel', value: 'cancel' },
		{ label: 'OK', value: 'ok', cls: 'primary' },
	]);
	return v === 'ok' ? input.value.trim() : null;
}

/*
 * A form of a few fields: [{name, label, value, multiline, hint}] → {name:
 * value} (trimmed), or null when cancelled.
 */
export async function formDialog(title, fields, okLabel = 'Save') {
	const inputs = {};
	const body = h('div.form-fields', fields.map((f) => {
		const input = f.multiline
			? h('textarea', { rows: '5', 'aria-label': f.label, name: f.name })
			: h('input', { type: 'text', 'aria-label': f.label, name: f.name, spellcheck: 'false', autocomplete: 'off' });
		input.value = f.value ?? '';
		inputs[f.name] = input;
		return h('label.field', h('span', { text: f.label }), input, f.hint ? h('span.muted.small', { text: f.hint }) : null);
	}));
	const v = await modal(title, body, [
		{ label: 'Cancel', value: 'cancel' },
		{ label: okLabel, value: 'ok', cls: 'primary' },
	]);
	if (v !== 'ok') return null;
	const out = {};
	for (const f of fields) out[f.name] = f.multiline ? inputs[f.name].value.replace(/\s+$/, '') : inputs[f.name].value.trim();
	return out;
}

let toastBox = null;

/*
 * A short message at the bottom of the page; kind: info | error. Returns a
 * function that takes it away early (a "Stopping…" once the run stopped).
 */
export function toast(message, kind = 'info', ms = 5000) {
	if (!toastBox) {
		toastBox = h('div.toasts', { role: 'status', 'aria-live': 'polite' });
		document.body.append(toastBox);
	}
	const t = h('div.toast.' + kind, { text: message });
	toastBox.append(t);
	const timer = setTimeout(() => t.remove(), ms);
	return () => {
		clearTimeout(timer);
		t.remove();
	};
}

/* Status badge for a run status. */
export function statusBadge(status) {
	return h('span.badge.status-' + (status || 'unknown'), { text: status || 'unknown' });
}
