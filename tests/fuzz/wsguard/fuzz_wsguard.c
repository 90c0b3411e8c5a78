/*
 * fuzz_wsguard.c — the unmasked-frame guard's stream follower
 * (server/ws_guard.c: ws_guard_feed), which reads every byte a feed client
 * sends before libwebsockets does.
 *
 * Input: a client's byte stream (an upgrade request, then frames); its
 * first two bytes also seed how the stream is cut into reads.
 * Properties: no crash, no UB; the verdict agrees with a second, whole-
 * buffer reading of the same stream written differently here (where the
 * first unmasked frame starts, or none); cut into reads of any sizes, the
 * guard refuses in the read that brings that frame's second byte, at the
 * frame's start or the read's; once refused it stays refused.
 *
 * Threads: one.
 */
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "server/ws_guard.h"

/* Where the first unmasked frame starts, or -1: the whole stream at once. */
static ptrdiff_t reference(const uint8_t *b, size_t n)
{
	const uint8_t *end = memmem(b, n, "\r\n\r\n", 4);
	if (!end)
		return -1;
	size_t pos = (size_t)(end - b) + 4;
	while (n - pos >= 2) {
		if (!(b[pos + 1] & 0x80))
			return (ptrdiff_t)pos;
		size_t ext = (b[pos + 1] & 0x7f) == 126 ? 2 : (b[pos + 1] & 0x7f) == 127 ? 8 : 0;
		if (n - pos < 2 + ext + 4)
			return -1;
		uint64_t len = b[pos + 1] & 0x7f;
		if (ext) {
			len = 0;
			for (size_t i = 0; i < ext; i++)
				len = len << 8 | b[pos + 2 + i];
		}
		pos += 2 + ext + 4;
		if (len >= n - pos)
			return -1; /* the payload runs past the end */
		pos += (size_t)len;
	}
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ptrdiff_t want = reference(data, size);
	struct ws_guard_stream st;
	ws_guard_stream_init(&st);
	ptrdiff_t whole = ws_guard_feed(&st, data, size);
	if (whole != want)
		fuzz_fail("whole stream: the guard says %td, the reference %td", whole, want);

	uint32_t seed = size >= 2 ? (uint32_t)(data[0] | data[1] << 8) : 1;
	ws_guard_stream_init(&st);
	size_t at = 0;
	ptrdiff_t found = -1;
	while (at < size) {
		seed = seed * 1103515245u + 12345u;
		size_t n = 1 + (seed >> 16) % 300;
		if (n > size - at)
			n = size - at;
		ptrdiff_t bad = ws_guard_feed(&st, data + at, n);
		if (found >= 0) {
			if (bad != 0)
				fuzz_fail("refused at %td, then %td for a later read", found, bad);
		} else if (bad >= 0) {
			if ((size_t)bad >= n)
				fuzz_fail("offset %td past a read of %zu", bad, n);
			found = (ptrdiff_t)at + bad;
			ptrdiff_t expect = want >= 0 && (size_t)want > at ? want : (ptrdiff_t)at;
			if (want < 0 || (size_t)want + 1 < at || (size_t)want + 1 >= at + n || found != expect)
				fuzz_fail("in reads: refused at %td in the read at %zu (+%zu), the frame starts at %td",
					  found, at, n, want);
		}
		at += n;
	}
	if (want >= 0 && found < 0)
		fuzz_fail("in reads: never refused the frame at %td", want);
	return 0;
}
