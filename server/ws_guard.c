/*
 * ws_guard.c — the unmasked-frame check beside libwebsockets (see
 * ws_guard.h for what and why).
 *
 * How it sees the bytes: the server defines recv(). The dynamic linker
 * binds a shared library's calls to the first definition it finds, and the
 * executable comes first, so libwebsockets' reads of its sockets (it reads
 * them with recv, and with nothing else) come here. This recv reads with
 * recvfrom, the same system call, and for a socket ws.c asked to watch
 * follows what was read; every other socket, and every peek (the front
 * door's), is passed through untouched after one table look-up. Programs
 * that link server/ (trainbook, whose workers are trainbook too, its unit
 * tests and fuzz targets) get this recv; where nothing is watched it is
 * recvfrom and one load.
 *
 * The table: one entry per descriptor number, in blocks made on first use
 * and kept to the end (descriptors are small numbers; 2^20 of them are
 * covered). An entry names its socket by inode, so when libwebsockets
 * closes a socket and the number comes back for another connection, the
 * first read of that connection (on whichever thread) finds the inode
 * changed and drops the entry.
 *
 * Threads: see ws_guard.h.
 */
#include "ws_guard.h"

#include <errno.h>
#include <libwebsockets.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "tb.h"
#include "util.h"

enum { GUARD_HEAD, GUARD_FRAME, GUARD_PAYLOAD, GUARD_REFUSED };

#define BLOCK_BITS 10
#define BLOCK_SIZE (1 << BLOCK_BITS)
#define BLOCKS 1024 /* descriptors below 2^20 */

struct entry {
	_Atomic uint64_t ino; /* the watched socket's inode + 1; 0 = not watched */
	struct lws *wsi;      /* set once the upgrade was answered */
	bool said;            /* the Close frame was sent (or could not be) */
	struct ws_guard_stream st;
};

static _Atomic(struct entry *) blocks[BLOCKS];
static atomic_bool watching;             /* anything ever watched: the fast way out for every other read */
static struct srv_log_limit refused_log; /* service thread */

void ws_guard_stream_init(struct ws_guard_stream *st)
{
	memset(st, 0, sizeof *st);
	st->state = GUARD_HEAD;
}

/* The header of a frame is complete: how long is its payload? */
static uint64_t payload_length(const struct ws_guard_stream *st)
{
	uint8_t len7 = st->hdr[1] & 0x7f;
	int bytes = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
	if (!bytes)
		return len7;
	uint64_t len = 0;
	for (int i = 0; i < bytes; i++)
		len = len << 8 | st->hdr[2 + i];
	return len;
}

ptrdiff_t ws_guard_feed(struct ws_guard_stream *st, const uint8_t *buf, size_t n)
{
	static const char blank_line[4] = "\r\n\r\n";
	size_t i = 0;
	while (i < n) {
		switch (st->state) {
		case GUARD_HEAD:
			/* The request ends at its first blank line; no part of a
			 * line can hold one, so a mismatch restarts at 0 or 1. */
			if (buf[i] == (uint8_t)blank_line[st->matched])
				st->matched++;
			else
				st->matched = buf[i] == '\r';
			i++;
			if (st->matched == 4) {
				st->state = GUARD_FRAME;
				st->have = 0;
				st->need = 2;
			}
			break;
		case GUARD_FRAME:
			st->hdr[st->have++] = buf[i++];
			if (st->have == 2) {
				if (!(st->hdr[1] & 0x80)) {
					st->state = GUARD_REFUSED;
					return i >= 2 ? (ptrdiff_t)(i - 2) : 0; /* its first byte came last read */
				}
				uint8_t len7 = st->hdr[1] & 0x7f;
				st->need = (uint8_t)(2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4);
			}
			if (st->have == st->need) {
				st->left = payload_length(st);
				st->have = 0;
				st->need = 2;
				if (st->left)
					st->state = GUARD_PAYLOAD;
			}
			break;
		case GUARD_PAYLOAD: {
			size_t take = n - i < st->left ? n - i : (size_t)st->left;
			i += take;
			st->left -= take;
			if (!st->left)
				st->state = GUARD_FRAME;
			break;
		}
		default: /* GUARD_REFUSED */
			return 0;
		}
	}
	return st->state == GUARD_REFUSED ? 0 : -1;
}

static struct entry *entry_of(int fd, bool make)
{
	if (fd < 0 || fd >= BLOCKS * BLOCK_SIZE)
		return NULL;
	struct entry *block = atomic_load_explicit(&blocks[fd >> BLOCK_BITS], memory_order_acquire);
	if (!block && make) {
		block = tb_xcalloc(BLOCK_SIZE, sizeof *block); /* kept to the end, like the table */
		atomic_store_explicit(&blocks[fd >> BLOCK_BITS], block, memory_order_release);
	}
	return block ? &block[fd & (BLOCK_SIZE - 1)] : NULL;
}

/* The entry of a socket being watched, or NULL (a stale entry is dropped). */
static struct entry *watched(int fd)
{
	struct entry *e = entry_of(fd, false);
	if (!e)
		return NULL;
	uint64_t ino = atomic_load(&e->ino);
	if (!ino)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) == 0 && (uint64_t)st.st_ino + 1 == ino)
		return e;
	atomic_compare_exchange_strong(&e->ino, &ino, 0); /* another socket has the number now */
	return NULL;
}

int ws_guard_watch(int fd)
{
	struct stat st;
	struct entry *e = entry_of(fd, true);
	if (!e || fstat(fd, &st) != 0)
		return -1;
	atomic_store(&e->ino, 0);
	e->wsi = NULL;
	e->said = false;
	ws_guard_stream_init(&e->st);
	atomic_store(&e->ino, (uint64_t)st.st_ino + 1);
	atomic_store(&watching, true);
	return 0;
}

void ws_guard_established(int fd, struct lws *wsi)
{
	struct entry *e = watched(fd);
	if (e)
		e->wsi = wsi;
}

/* Say 1002 once, where it can be said whole: after the 101 answer, and not
 * in the middle of a message libwebsockets has half-sent. */
static void refuse(int fd, struct entry *e)
{
	static const uint8_t close_frame[] = {
		0x88, 16, 0x03, 0xea, 'u', 'n', 'm', 'a', 's', 'k', 'e', 'd', ' ', 'f', 'r', 'a', 'm', 'e',
	};
	_Static_assert(sizeof close_frame == 2 + 16, "the Close frame's length byte");
	if (!e->said && e->wsi && !lws_partial_buffered(e->wsi))
		(void)!send(fd, close_frame, sizeof close_frame, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (!e->said)
		srv_log_limited(&refused_log, "ws: a client sent an unmasked frame; closed it (1002)");
	e->said = true;
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	ssize_t n = recvfrom(fd, buf, len, flags, NULL, NULL);
	if (n <= 0 || (flags & MSG_PEEK) || !atomic_load_explicit(&watching, memory_order_relaxed))
		return n;
	struct entry *e = watched(fd);
	if (!e || ws_guard_feed(&e->st, buf, (size_t)n) < 0)
		return n;
	refuse(fd, e);
	errno = ECONNRESET;
	return -1;
}
