/*
 * report.c — the sender thread of a worker that dials home (see report.h).
 *
 * Protocol, one request at a time on a kept-alive connection:
 *   POST <path>?first=<number of the first line in the body> HTTP/1.1
 *   X-Trainbook-Run-Secret: <secret>
 *   <complete event lines>
 * 200 {"have": H, "taken": T}: H lines are committed (forget them), T are
 * held; 409 {"taken": T}: resend from T + 1; 410: the run has ended on the
 * server, stop; 403: wrong secret, stop. Anything else, or a broken
 * connection: reconnect with back-off and resend from H + 1.
 *
 * Threads: the sender thread owns the socket and the file offsets; the
 * training thread only sets `finishing` under `lock`.
 */
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tb.h"

#define REPORT_BATCH_MAX (1 << 20) /* body bytes per request (a line may be up to 1 MiB: it goes alone) */
#define REPORT_LINE_MAX (1 << 20)
#define REPORT_POLL_S 0.05         /* the events file is looked at this often: latency to the page */
#define REPORT_IO_TIMEOUT_MS 15000 /* a request with no answer this long counts as a broken link */
#define REPORT_BACKOFF_MAX_S 2.0
#define REPORT_REPLY_MAX 65536

struct report {
	char host[256], port[16], path[512];
	char secret[128];
	char events_path[4096];
	pthread_t thread;
	pthread_mutex_t lock;
	bool finishing;  /* guarded by lock: the run is over, send the rest and stop */
	double deadline; /* guarded by lock: when finishing gives up */
	/* Sender thread only: */
	int sock;                   /* -1 when not connected */
	int64_t acked;              /* lines the server committed */
	int64_t next;               /* number of the next line to send */
	int64_t next_off;           /* its offset in the file */
	int64_t anchor, anchor_off; /* a line ≤ acked + 1 and its offset: where rewinds scan from */
	bool gone;                  /* the server said 410 or 403: nothing more to send */
	double backoff;
	char *buf; /* REPORT_BATCH_MAX + 1 */
};

/* ---- the URL ------------------------------------------------------------------ */

static int parse_url(struct report *r, const char *url, char *err, size_t errlen)
{
	if (strncmp(url, "http://", 7)) {
		tb_fmt(err, errlen, "--report %s: expected http://HOST:PORT/PATH", url);
		return -1;
	}
	const char *h = url + 7, *slash = strchr(h, '/');
	size_t hl = slash ? (size_t)(slash - h) : strlen(h);
	char hostport[300];
	if (hl == 0 || hl >= sizeof(hostport)) {
		tb_fmt(err, errlen, "--report %s: no host", url);
		return -1;
	}
	memcpy(hostport, h, hl);
	hostport[hl] = 0;
	char *colon = hostport[0] == '[' ? strstr(hostport, "]:") : strrchr(hostport, ':');
	if (colon && hostport[0] == '[')
		colon++;
	snprintf(r->port, sizeof(r->port), "%s", colon ? colon + 1 : "80");
	if (colon)
		*colon = 0;
	char *host = hostport;
	if (host[0] == '[') {
		host++;
		host[strcspn(host, "]")] = 0;
	}
	snprintf(r->host, sizeof(r->host), "%s", host);
	snprintf(r->path, sizeof(r->path), "%s", slash ? slash : "/");
	return 0;
}

/* ---- the connection ------------------------------------------------------------- */

static void disconnect(struct report *r)
{
	if (r->sock >= 0)
		close(r->sock);
	r->sock = -1;
}

static int connect_home(struct report *r)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
	if (getaddrinfo(r->host, r->port, &hints, &res) != 0)
		return -1;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			r->sock = fd;
			break;
		}
		close(fd);
	}
	freeaddrinfo(res);
	return r->sock >= 0 ? 0 : -1;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		if (poll(&pfd, 1, REPORT_IO_TIMEOUT_MS) <= 0)
			return -1;
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int64_t json_int_field(const char *body, const char *key, int64_t dflt)
{
	char pat[32];
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(body, pat);
	return p ? strtoll(p + strlen(pat), NULL, 10) : dflt;
}

/* Read one answer: its status code (or -1) and body (NUL-terminated in reply). */
static int read_reply(struct report *r, char *reply, size_t cap, bool *close_after)
{
	size_t len = 0;
	char *end = NULL;
	*close_after = false;
	for (;;) {
		if (len + 1 >= cap)
			return -1;
		struct pollfd pfd = {.fd = r->sock, .events = POLLIN};
		if (poll(&pfd, 1, REPORT_IO_TIMEOUT_MS) <= 0)
			return -1;
		ssize_t n = recv(r->sock, reply + len, cap - 1 - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		len += (size_t)n;
		reply[len] = 0;
		if (!end && (end = strstr(reply, "\r\n\r\n")) != NULL) {
			const char *cl = strcasestr(reply, "\r\ncontent-length:");
			size_t want = cl && cl < end ? strtoull(cl + 17, NULL, 10) : 0;
			if (strcasestr(reply, "\r\nconnection: close") &&
			    strcasestr(reply, "\r\nconnection: close") < end)
				*close_after = true;
			size_t head = (size_t)(end - reply) + 4;
			if (head + want >= cap)
				return -1;
			while (len < head + want) {
				pfd.events = POLLIN;
				if (poll(&pfd, 1, REPORT_IO_TIMEOUT_MS) <= 0)
					return -1;
				n = recv(r->sock, reply + len, cap - 1 - len, 0);
				if (n < 0 && errno == EINTR)
					continue;
				if (n <= 0)
					return -1;
				len += (size_t)n;
			}
			reply[head + want] = 0;
			int code = 0;
			if (sscanf(reply, "HTTP/1.%*d %d", &code) != 1)
				return -1;
			memmove(reply, reply + head, want + 1);
			return code;
		}
	}
}

/* ---- the file ---------------------------------------------------------------------- */

/* Offset of line `seq` (numbered from 1), scanning from a known (from, from_off); -1 if short. */
static int64_t line_offset(const char *path, int64_t from, int64_t from_off, int64_t seq)
{
	if (seq == from)
		return from_off;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char buf[65536];
	int64_t off = from_off, line = from;
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), off);
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] == '\n' && ++line == seq) {
				close(fd);
				return off + i + 1;
			}
		off += n;
	}
	close(fd);
	return -1;
}

/* Go back to the first line the server has not committed (after a broken link). */
static void rewind_to(struct report *r, int64_t seq)
{
	int64_t off = seq >= r->anchor ? line_offset(r->events_path, r->anchor, r->anchor_off, seq)
				       : line_offset(r->events_path, 1, 0, seq);
	if (off >= 0) {
		r->next = seq;
		r->next_off = off;
	}
}

/* Complete lines from next_off, at most REPORT_BATCH_MAX bytes (or one longer line); their count. */
static int64_t read_batch(struct report *r, size_t *len)
{
	*len = 0;
	int fd = open(r->events_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = pread(fd, r->buf, REPORT_BATCH_MAX, r->next_off);
	close(fd);
	if (n <= 0)
		return 0;
	const char *last = memrchr(r->buf, '\n', (size_t)n);
	if (!last)
		return 0; /* a line still being written (lines are at most 1 MiB) */
	*len = (size_t)(last - r->buf) + 1;
	int64_t lines = 0;
	for (size_t i = 0; i < *len; i++)
		lines += r->buf[i] == '\n';
	return lines;
}

/* ---- the thread --------------------------------------------------------------------- */

/* One request: lines [next, next + lines) in buf[0, len); false on a broken link. */
static bool post(struct report *r, size_t len, int64_t lines)
{
	char head[1024];
	int hl = snprintf(head, sizeof(head),
			  "POST %s?first=%lld HTTP/1.1\r\nHost: %s:%s\r\nX-Trainbook-Run-Secret: %s\r\n"
			  "Content-Type: application/x-ndjson\r\nContent-Length: %zu\r\n\r\n",
			  r->path, (long long)r->next, r->host, r->port, r->secret, len);
	if (send_all(r->sock, head, (size_t)hl) < 0 || send_all(r->sock, r->buf, len) < 0)
		return false;
	char reply[REPORT_REPLY_MAX];
	bool close_after;
	int code = read_reply(r, reply, sizeof(reply), &close_after);
	if (close_after)
		disconnect(r);
	if (code == 200) {
		int64_t first = r->next;
		r->next += lines;
		r->next_off += (int64_t)len;
		int64_t have = json_int_field(reply, "have", r->acked);
		if (have > r->acked)
			r->acked = have;
		if (r->acked >= first - 1 && first > r->anchor) {
			r->anchor = first;
			r->anchor_off = r->next_off - (int64_t)len;
		}
		return true;
	}
	if (code == 409) {
		rewind_to(r, json_int_field(reply, "taken", r->acked) + 1);
		return true;
	}
	if (code == 410 || code == 403) {
		fprintf(stderr, "trainbook: the server refused this run's events (HTTP %d): %s\n", code, reply);
		r->gone = true;
		return true;
	}
	fprintf(stderr, "trainbook: sending events home: HTTP %d; retrying\n", code);
	return false;
}

static void *sender_main(void *arg)
{
	struct report *r = arg;
	bool reconnect = false;
	for (;;) {
		pthread_mutex_lock(&r->lock);
		bool finishing = r->finishing;
		double deadline = r->deadline;
		pthread_mutex_unlock(&r->lock);
		if (r->gone || (finishing && tb_now() > deadline))
			break;
		size_t len;
		int64_t lines = read_batch(r, &len);
		bool all_acked = r->acked == r->next - 1;
		if (lines == 0 && all_acked) {
			if (finishing)
				break;
			usleep((useconds_t)(REPORT_POLL_S * 1e6));
			continue;
		}
		if (r->sock < 0 && connect_home(r) < 0) {
			usleep((useconds_t)(r->backoff * 1e6));
			r->backoff = TB_MIN(r->backoff * 2, REPORT_BACKOFF_MAX_S);
			reconnect = true;
			continue;
		}
		if (reconnect) {
			/* The server may have lost what it held but had not committed. */
			rewind_to(r, r->acked + 1);
			reconnect = false;
			lines = read_batch(r, &len);
		}
		if (!post(r, len, lines)) {
			disconnect(r);
			reconnect = true;
			usleep((useconds_t)(r->backoff * 1e6));
			r->backoff = TB_MIN(r->backoff * 2, REPORT_BACKOFF_MAX_S);
			continue;
		}
		r->backoff = 0.1;
		if (lines == 0)
			usleep((useconds_t)(REPORT_POLL_S * 1e6)); /* only waiting for the commit of folded metrics */
	}
	disconnect(r);
	return NULL;
}

struct report *report_start(const char *url, const char *secret, const char *events_path, char *err, size_t errlen)
{
	struct report *r = tb_xcalloc(1, sizeof(*r));
	r->sock = -1;
	r->next = 1;
	r->anchor = 1;
	r->backoff = 0.1;
	if (parse_url(r, url, err, errlen) < 0)
		goto fail;
	if (strlen(secret) >= sizeof(r->secret) || strpbrk(secret, "\r\n")) {
		tb_fmt(err, errlen, "the run's secret is not usable");
		goto fail;
	}
	snprintf(r->secret, sizeof(r->secret), "%s", secret);
	snprintf(r->events_path, sizeof(r->events_path), "%s", events_path);
	r->buf = tb_xmalloc(REPORT_BATCH_MAX + 1);
	pthread_mutex_init(&r->lock, NULL);
	if (pthread_create(&r->thread, NULL, sender_main, r) != 0) {
		tb_fmt(err, errlen, "cannot start the event sender thread");
		pthread_mutex_destroy(&r->lock);
		goto fail;
	}
	return r;
fail:
	free(r->buf);
	free(r);
	return NULL;
}

long report_finish(struct report *r, double drain_s)
{
	if (!r)
		return 0;
	pthread_mutex_lock(&r->lock);
	r->finishing = true;
	r->deadline = tb_now() + drain_s;
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	/* Lines written after the last read are unsent too; count what is in the file. */
	long unacked = 0;
	int64_t off = line_offset(r->events_path, r->anchor, r->anchor_off, r->acked + 1);
	int fd = off >= 0 ? open(r->events_path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd >= 0) {
		char buf[65536];
		ssize_t n;
		while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
			for (ssize_t i = 0; i < n; i++)
				unacked += buf[i] == '\n';
			off += n;
		}
		close(fd);
	}
	pthread_mutex_destroy(&r->lock);
	free(r->buf);
	free(r);
	return unacked;
}
