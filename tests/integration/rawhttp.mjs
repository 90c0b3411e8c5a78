// tests/integration/rawhttp.mjs — HTTP/1.1 and WebSocket bytes exactly as a
// hostile client would send them, for the security and front-door cases.
//
// fetch() normalises what it sends (a backslash becomes '/', '..' segments
// are folded, NUL is refused), so cases about path tricks, open redirects
// or unmasked frames write the request themselves. `localAddress` picks the
// client's source address on the loopback network (127.0.0.0/8), which is
// how a case plays two different client machines against one server.
//
// What it is not: a general HTTP client. One request per connection
// (Connection: close), the whole answer read before resolving.
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { BIN } from './fixture.mjs';

/*
 * Send `target` (the request-target exactly as given) and resolve to
 * {status, headers (lower-case names → value; repeated ones joined by '\n'), text, raw}.
 *   headers:      extra header lines as an object
 *   host:         Host header (default 127.0.0.1:PORT)
 *   body:         string or Buffer
 *   localAddress: source address, e.g. '127.0.0.2'
 */
export function rawRequest(port, method, target, { headers = {}, host, body, localAddress, timeout = 20000 } = {}) {
	return new Promise((resolve, reject) => {
		const sock = net.connect({ port, host: '127.0.0.1', localAddress });
		const chunks = [];
		const timer = setTimeout(() => {
			sock.destroy();
			reject(new Error(`no complete answer to ${method} ${JSON.stringify(target)} in ${timeout / 1000} s`));
		}, timeout);
		sock.on('connect', () => {
			const lines = [`${method} ${target} HTTP/1.1`, `Host: ${host ?? `127.0.0.1:${port}`}`, 'Connection: close'];
			for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
			const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
			if (body !== undefined) lines.push(`Content-Length: ${payload.length}`);
			sock.write(Buffer.concat([Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), payload]));
		});
		sock.on('data', (d) => chunks.push(d));
		sock.on('error', (e) => {
			clearTimeout(timer);
			reject(e);
		});
		sock.on('close', () => {
			clearTimeout(timer);
			const raw = Buffer.concat(chunks);
			const end = raw.indexOf('\r\n\r\n');
			if (end < 0) return reject(new Error(`no HTTP answer to ${method} ${JSON.stringify(target)}: ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`));
			const head = raw.subarray(0, end).toString('latin1').split('\r\n');
			const status = Number(head[0].split(' ')[1]);
			const hdrs = {};
			for (const l of head.slice(1)) {
				const i = l.indexOf(':');
				const k = l.slice(0, i).trim().toLowerCase();
				const v = l.slice(i + 1).trim();
				hdrs[k] = k in hdrs ? hdrs[k] + '\n' + v : v;
			}
			let rest = raw.subarray(end + 4);
			if (/chunked/i.test(hdrs['transfer-encoding'] || '')) rest = unchunk(rest);
			resolve({ status, headers: hdrs, text: rest.toString('utf8'), raw });
		});
	});
}

function unchunk(buf) {
	const out = [];
	let i = 0;
	while (i < buf.length) {
		const eol = buf.indexOf('\r\n', i);
		if (eol < 0) break;
		const n = parseInt(buf.subarray(i, eol).toString('latin1'), 16);
		if (!n) break;
		out.push(buf.subarray(eol + 2, eol + 2 + n));
		i = eol + 2 + n + 2;
	}
	return Buffer.concat(out);
}

/* The route table as `trainbook serve --list-routes` prints it: [{method, pattern, access}]. */
export function listRoutes() {
	return execFileSync(BIN, ['serve', '--list-routes'], { encoding: 'utf8' }).trim().split('\n').map((l) => {
		const [method, pattern, access] = l.split(/\s+/);
		return { method, pattern, access };
	});
}

/* A concrete path for a route pattern: {id} → r1, {file} → step-1.safetensors, {path*} → x/y.ipynb. */
export function samplePath(pattern) {
	return pattern.replace(/\{[a-z]*\*\}/g, 'x/y.ipynb').replace(/\{id\}/g, 'r1').replace(/\{[a-z]*\}/g, 'step-1.safetensors');
}

/*
 * Open a WebSocket by hand (so frames can break the rules): resolves to
 * {sock, handshake, frames (parsed server frames so far), closed (promise of
 * {code, reason} or null when the TCP connection ended without a close frame)}.
 */
export function rawWebSocket(port, path, { token, headers = {} } = {}) {
	return new Promise((resolve, reject) => {
		const sock = net.connect({ port, host: '127.0.0.1' });
		let buf = Buffer.alloc(0);
		let upgraded = false;
		const frames = [];
		let closeFrame = null;
		let onClosed;
		const closed = new Promise((r) => (onClosed = r));
		sock.on('connect', () => {
			const lines = [`GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Upgrade: websocket', 'Connection: Upgrade',
				'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13'];
			if (token) lines.push(`Authorization: token ${token}`);
			for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
			sock.write(lines.join('\r\n') + '\r\n\r\n');
		});
		sock.on('data', (d) => {
			buf = Buffer.concat([buf, d]);
			if (!upgraded) {
				const end = buf.indexOf('\r\n\r\n');
				if (end < 0) return;
				const handshake = buf.subarray(0, end).toString('latin1');
				buf = buf.subarray(end + 4);
				upgraded = true;
				if (!/^HTTP\/1\.1 101/.test(handshake)) {
					sock.destroy();
					return reject(new Error(`WebSocket refused: ${handshake.split('\r\n')[0]}`));
				}
				resolve({ sock, handshake, frames, closed });
			}
			for (;;) {
				if (buf.length < 2) break;
				let len = buf[1] & 0x7f;
				let off = 2;
				if (len === 126) {
					if (buf.length < 4) break;
					len = buf.readUInt16BE(2);
					off = 4;
				} else if (len === 127) {
					if (buf.length < 10) break;
					len = Number(buf.readBigUInt64BE(2));
					off = 10;
				}
				if (buf.length < off + len) break;
				const opcode = buf[0] & 0x0f;
				const payload = buf.subarray(off, off + len);
				frames.push({ opcode, payload });
				if (opcode === 8) closeFrame = { code: payload.length >= 2 ? payload.readUInt16BE(0) : null, reason: payload.subarray(2).toString() };
				buf = buf.subarray(off + len);
			}
		});
		sock.on('error', () => {});
		sock.on('close', () => onClosed(closeFrame));
	});
}

/* One WebSocket frame (opcode 1 text, 9 ping, ...), masked (as RFC 6455 requires of clients) or not. */
export function wsFrame(opcode, text, masked) {
	const payload = Buffer.from(text);
	const m = masked ? 0x80 : 0;
	const head = payload.length < 126 ? Buffer.from([0x80 | opcode, m | payload.length])
		: Buffer.from([0x80 | opcode, m | 126, payload.length >> 8, payload.length & 0xff]);
	if (!masked) return Buffer.concat([head, payload]);
	const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
	return Buffer.concat([head, key, Buffer.from(payload.map((b, i) => b ^ key[i & 3]))]);
}

/* One WebSocket text frame. */
export function textFrame(text, masked) {
	return wsFrame(1, text, masked);
}
