/*
 * test_ws_guard.c — the unmasked-frame guard (server/ws_guard.c): its
 * stream follower on handshakes and frames of every length form, whole and
 * a byte at a time, and its recv() on a watched socket, an unwatched one
 * and a number reused by another socket.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "server/ws_guard.h"

static const char request[] = "GET /ws HTTP/1.1\r\nHost: x\r\nX-Odd: a\r\n\rb\r\n\r\n";

struct bytes {
	uint8_t b[300000];
	size_t n;
};

static void put(struct bytes *s, const void *p, size_t n)
{
	assert_true(s->n + n <= sizeof s->b);
	memcpy(s->b + s->n, p, n);
	s->n += n;
}

/* A text frame with `len` bytes of payload, masked or not, in the shortest length form. */
static void frame(struct bytes *s, uint8_t opcode, uint64_t len, int masked)
{
	uint8_t h[14] = {(uint8_t)(0x80 | opcode)};
	size_t n = 2;
	uint8_t m = masked ? 0x80 : 0;
	if (len < 126) {
		h[1] = (uint8_t)(m | len);
	} else if (len < 65536) {
		h[1] = m | 126;
		h[2] = (uint8_t)(len >> 8);
		h[3] = (uint8_t)len;
		n = 4;
	} else {
		h[1] = m | 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (uint8_t)(len >> (56 - 8 * i));
		n = 10;
	}
	if (masked) {
		memcpy(h + n, "\x12\x34\x56\x78", 4);
		n += 4;
	}
	put(s, h, n);
	for (uint64_t i = 0; i < len; i++)
		put(s, masked ? "\x81" : "\x01", 1); /* a payload byte that looks like a header */
}

/* Feed s `chunk` bytes at a time; where in s the guard refused, or -1. */
static ptrdiff_t follow(const struct bytes *s, size_t chunk)
{
	struct ws_guard_stream st;
	ws_guard_stream_init(&st);
	for (size_t at = 0; at < s->n; at += chunk) {
		size_t n = s->n - at < chunk ? s->n - at : chunk;
		ptrdiff_t bad = ws_guard_feed(&st, s->b + at, n);
		if (bad >= 0)
			return (ptrdiff_t)at + bad;
	}
	return -1;
}

static void masked_frames_pass(void **state)
{
	(void)state;
	static struct bytes s;
	s.n = 0;
	put(&s, request, strlen(request));
	uint64_t lens[] = {0, 5, 125, 126, 200, 65535, 65536, 70000};
	for (size_t i = 0; i < sizeof lens / sizeof *lens; i++)
		frame(&s, 1, lens[i], 1);
	frame(&s, 9, 4, 1); /* a ping */
	frame(&s, 8, 2, 1); /* a close */
	for (size_t chunk = 1; chunk <= 4096; chunk *= 4)
		assert_int_equal(follow(&s, chunk), -1);
	assert_int_equal(follow(&s, s.n), -1);
}

static void unmasked_frame_found_where_it_starts(void **state)
{
	(void)state;
	static struct bytes s;
	uint8_t ops[] = {1, 2, 9, 10, 8, 0};
	uint64_t lens[] = {3, 300, 70000};
	for (size_t o = 0; o < sizeof ops; o++) {
		for (size_t l = 0; l < 3; l++) {
			s.n = 0;
			put(&s, request, strlen(request));
			frame(&s, 1, lens[l], 1);
			size_t at = s.n;
			frame(&s, ops[o], ops[o] >= 8 ? 2 : lens[l], 0);
			frame(&s, 1, 3, 1);
			/* Found in the read that brings its second byte: where the
			 * frame starts, or that read's start if it began before. */
			for (size_t chunk = 1; chunk <= 65536; chunk *= 16) {
				size_t read_start = (at + 1) / chunk * chunk;
				assert_int_equal(follow(&s, chunk), (ptrdiff_t)(read_start > at ? read_start : at));
			}
		}
	}
	/* Right after the request, in the same read. */
	s.n = 0;
	put(&s, request, strlen(request));
	frame(&s, 1, 1, 0);
	assert_int_equal(follow(&s, s.n), (ptrdiff_t)strlen(request));
}

static void refused_stays_refused(void **state)
{
	(void)state;
	struct ws_guard_stream st;
	ws_guard_stream_init(&st);
	assert_int_equal(ws_guard_feed(&st, (const uint8_t *)request, strlen(request)), -1);
	assert_int_equal(ws_guard_feed(&st, (const uint8_t *)"\x81", 1), -1); /* half a header */
	assert_int_equal(ws_guard_feed(&st, (const uint8_t *)"\x05hello", 6), 0);
	uint8_t masked[] = {0x81, 0x80, 1, 2, 3, 4};
	assert_int_equal(ws_guard_feed(&st, masked, sizeof masked), 0);
}

/* The HTTP part: only a blank line ends it, however the bytes are split. */
static void head_ends_at_the_blank_line(void **state)
{
	(void)state;
	struct ws_guard_stream st;
	ws_guard_stream_init(&st);
	const char *pieces[] = {"GET / HTTP/1.1\r", "\n", "A: \r\n\r", "x\r\r\n\r", "\n"};
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(ws_guard_feed(&st, (const uint8_t *)pieces[i], strlen(pieces[i])), -1);
	/* The head is over: an unmasked frame is seen as one. */
	assert_int_equal(ws_guard_feed(&st, (const uint8_t *)"\x81\x00", 2), 0);
}

/* recv() itself: watched sockets are followed, others passed through. */
static void recv_on_sockets(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	char buf[256];
	/* Not watched: anything goes. */
	assert_int_equal(write(sv[1], request, strlen(request)), (ssize_t)strlen(request));
	assert_int_equal(write(sv[1], "\x81\x01x", 3), 3);
	assert_int_equal(recv(sv[0], buf, sizeof buf, 0), (ssize_t)strlen(request) + 3);
	close(sv[0]);
	close(sv[1]);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(ws_guard_watch(sv[0]), 0);
	static struct bytes stream;
	struct bytes *s = &stream;
	s->n = 0;
	put(s, request, strlen(request));
	frame(s, 1, 10, 1);
	assert_int_equal(write(sv[1], s->b, s->n), (ssize_t)s->n);
	/* A peek sees the bytes and does not advance the guard. */
	assert_int_equal(recv(sv[0], buf, sizeof buf, MSG_PEEK), (ssize_t)s->n);
	assert_int_equal(recv(sv[0], buf, sizeof buf, 0), (ssize_t)s->n);
	assert_int_equal(write(sv[1], "\x81\x01x", 3), 3);
	errno = 0;
	assert_int_equal(recv(sv[0], buf, sizeof buf, 0), -1);
	assert_int_equal(errno, ECONNRESET);
	/* Not established (no wsi): nothing was said to the client. */
	assert_int_equal(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	int number = sv[0];
	close(sv[0]);
	close(sv[1]);

	/* The number comes back for another socket: not watched any more. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	int other = sv[0] == number ? sv[0] : sv[1] == number ? sv[1] : -1;
	assert_true(other >= 0);
	int peer = other == sv[0] ? sv[1] : sv[0];
	assert_int_equal(write(peer, "\x81\x01x", 3), 3);
	assert_int_equal(recv(other, buf, sizeof buf, 0), 3);
	close(sv[0]);
	close(sv[1]);

	/* Numbers past what the table covers are refused, not followed blind. */
	assert_int_equal(ws_guard_watch(1 << 20), -1);
	assert_int_equal(ws_guard_watch(-1), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(masked_frames_pass),    cmocka_unit_test(unmasked_frame_found_where_it_starts),
		cmocka_unit_test(refused_stays_refused), cmocka_unit_test(head_ends_at_the_blank_line),
		cmocka_unit_test(recv_on_sockets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
