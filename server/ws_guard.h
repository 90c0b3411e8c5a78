/*
 * ws_guard.h — refuses WebSocket frames a client sends unmasked (RFC 6455
 * 5.1: "a server MUST close the connection upon receiving a frame that is
 * not masked"; 7.4.1: status 1002, protocol error).
 *
 * Why it exists: libwebsockets 4.1.6 (Debian 12's) reads the mask bit of
 * each frame it receives but neither refuses a frame without it nor shows
 * the bit to a callback, and it reads the socket itself. So the server
 * follows, beside it, the bytes that libwebsockets reads from each feed
 * socket: the upgrade request up to its blank line, then each frame's
 * header (payloads are skipped, not looked at). A header without the mask
 * bit ends the connection before libwebsockets parses a byte of that frame:
 * the client is sent a Close frame with 1002 "unmasked frame" (when the
 * upgrade was answered and nothing of ours is half-written) and the read
 * reports a reset, on which libwebsockets closes the connection as it does
 * for any failed read. See ws_guard.c for how it sees those bytes.
 *
 * What it is not: a WebSocket parser for content (libwebsockets parses the
 * frames and ws.c/feed.c the messages), nor a check on what the server
 * sends.
 *
 * Threads: ws_guard_watch and ws_guard_established on the ws service
 * thread, before and after libwebsockets adopts the socket; the stream
 * state of a watched socket is touched only by reads of that socket (the
 * service thread). A stale entry (its socket closed, the number reused) is
 * recognised by any thread and dropped.
 */
#ifndef TB_SERVER_WS_GUARD_H
#define TB_SERVER_WS_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lws;

/* The stream of one connection, as far as the guard follows it. */
struct ws_guard_stream {
	uint8_t state;      /* GUARD_HEAD, GUARD_FRAME, GUARD_PAYLOAD, GUARD_REFUSED (ws_guard.c) */
	uint8_t matched;    /* GUARD_HEAD: bytes of "\r\n\r\n" seen in a row */
	uint8_t have, need; /* GUARD_FRAME: header bytes collected, header bytes it has */
	uint8_t hdr[14];    /* GUARD_FRAME: the header so far (2 + 8 length + 4 mask at most) */
	uint64_t left;      /* GUARD_PAYLOAD: payload bytes still to skip */
};

/* A stream that starts with an HTTP request (the state after memset 0). */
void ws_guard_stream_init(struct ws_guard_stream *st);

/*
 * Follow n more bytes of the client's stream. Returns the offset in buf
 * of the first byte of an unmasked frame (0 when that frame's first byte
 * came in an earlier call), or -1 when every frame begun so far is masked.
 * Once it has found one, the stream stays refused and every later call
 * returns 0.
 */
ptrdiff_t ws_guard_feed(struct ws_guard_stream *st, const uint8_t *buf, size_t n);

/*
 * Start following socket fd from its first byte (nothing read yet).
 * Returns -1 when fd is beyond what the guard can follow (the caller
 * closes it rather than serve it unguarded).
 */
int ws_guard_watch(int fd);

/* The upgrade on fd was answered and wsi is its connection: a refusal may
 * now say 1002 in a Close frame. */
void ws_guard_established(int fd, struct lws *wsi);

#endif
