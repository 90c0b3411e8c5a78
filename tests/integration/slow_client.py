#!/usr/bin/python3
# slow_client.py PORT TOKEN RUN SECONDS — a WebSocket client that subscribes
# to RUN and then does not read for SECONDS (with a tiny receive buffer), so
# the server's per-client queue for it overflows. Then it reads what is
# waiting and prints one line per message: "event <seq>" or the raw JSON of
# anything else (e.g. the resync message). Test-only; plain sockets.
import base64, json, os, socket, struct, sys, time

port, token, run, seconds = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", port))
key = base64.b64encode(os.urandom(16)).decode()
s.sendall((f"GET /ws?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
buf = b""
while b"\r\n\r\n" not in buf:
    buf += s.recv(4096)
head, buf = buf.split(b"\r\n\r\n", 1)
assert b" 101 " in head.split(b"\r\n")[0], head
payload = json.dumps({"type": "subscribe", "run": run, "since": 0}).encode()
mask = os.urandom(4)
s.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
time.sleep(seconds)  # not reading: the server must not wait for us
s.settimeout(3)
data = buf
try:
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        data += chunk
except socket.timeout:
    pass
pos = 0
while pos + 2 <= len(data):
    op, n = data[pos] & 0x0F, data[pos + 1] & 0x7F
    pos += 2
    if n == 126:
        n = struct.unpack(">H", data[pos:pos + 2])[0]; pos += 2
    elif n == 127:
        n = struct.unpack(">Q", data[pos:pos + 8])[0]; pos += 8
    if pos + n > len(data):
        break
    body = data[pos:pos + n]
    pos += n
    if op != 1:
        continue
    m = json.loads(body)
    print(f"event {m['seq']}" if m.get("type") == "event" else json.dumps(m), flush=True)
