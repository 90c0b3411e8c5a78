/*
 * frontdoor.c — accept, peek, hand off (see frontdoor.h).
 *
 * Threads: the main thread only.
 */
#include "frontdoor.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "tb.h"
#include "util.h"
#include "ws.h"

/*
 * Idle connections must not stall the door (issue 12: 4,100 silent sockets
 * made the next /api/status wait 8.9 s, because a full table stopped
 * accept() until the 10 s deadlines ran out). So: the door never stops
 * accepting (a full table closes its oldest entry), one address may keep
 * only DOOR_PER_ADDR_MAX silent connections waiting (its oldest give way),
 * and under pressure a connection gets 1 s to speak, after which a silent
 * one is closed rather than parked in libmicrohttpd.
 *
 * "Silent" means it has said nothing for DOOR_SILENT_MS: a browser speaks
 * within milliseconds of connecting, and a class behind one NAT address
 * reloading the page at once opens hundreds of connections in a burst. A
 * cap on every waiting connection closed those (and a connection is peeked
 * once as soon as it is accepted, so one whose request is already there
 * never waits at all).
 */
#define DOOR_PENDING_MAX 4096       /* connections being peeked at */
#define DOOR_PER_ADDR_MAX 64        /* of them from one client address (IPv6: one /64) */
#define DOOR_PRESSURE 256           /* this many waiting is a flood, not browsers */
#define DOOR_PEEK_DEADLINE_MS 10000 /* normally: a silent client goes to libmicrohttpd, which times it out */
#define DOOR_PEEK_SHORT_MS 1000     /* under pressure: a silent client is closed */
#define DOOR_RECHECK_MS 10          /* a partial request line is looked at again this often */
#define DOOR_SILENT_MS 500          /* waiting this long without a request line: silent */
#define DOOR_TRIM_EVERY_MS 250      /* how often the per-address cap is applied */

struct pending {
	int fd;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uint64_t client;    /* hash of srv_addr_key(addr): which client this is */
	int64_t accepted_ms;
	int64_t recheck_ms; /* 0 = wait for poll; else peek again at this time */
};

struct door {
	int listen_fd;
	struct http_server *http;
	struct ws_server *ws;
	char base_url[256];
	char prefix[300];     /* "GET <base>ws" */
	struct pending *pending;
	int npending;
	int64_t trimmed_ms;   /* last trim_silent */
	uint64_t *trim_keys;  /* trim_silent's table: 2 * DOOR_PENDING_MAX clients */
	int *trim_counts;
};

int door_listen(const char *ip, int port, int retries, int *bound_port, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	int rc = getaddrinfo(ip, "0", &hints, &ai);
	if (rc != 0) {
		snprintf(err, errlen, "cannot use address %s: %s", ip, gai_strerror(rc));
		return -1;
	}
	int last_errno = 0;
	for (int i = 0; i <= retries && port + i <= 65535; i++) {
		int p = port ? port + i : 0;
		int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0) {
			last_errno = errno;
			break;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		struct sockaddr_storage sa;
		memcpy(&sa, ai->ai_addr, ai->ai_addrlen);
		if (sa.ss_family == AF_INET)
			((struct sockaddr_in *)&sa)->sin_port = htons((uint16_t)p);
		else
			((struct sockaddr_in6 *)&sa)->sin6_port = htons((uint16_t)p);
		if (bind(fd, (struct sockaddr *)&sa, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0) {
			socklen_t len = sizeof sa;
			getsockname(fd, (struct sockaddr *)&sa, &len);
			*bound_port = ntohs(sa.ss_family == AF_INET ? ((struct sockaddr_in *)&sa)->sin_port
								    : ((struct sockaddr_in6 *)&sa)->sin6_port);
			freeaddrinfo(ai);
			return fd;
		}
		last_errno = errno;
		close(fd);
		if (last_errno != EADDRINUSE || !port)
			break;
	}
	freeaddrinfo(ai);
	snprintf(err, errlen, "cannot listen on %s port %d%s: %s", ip, port,
		 retries && last_errno == EADDRINUSE ? " or the ports after it" : "", strerror(last_errno));
	return -1;
}

int door_classify(const char *base_url, const char *peek, size_t len)
{
	char prefix[300];
	int n = snprintf(prefix, sizeof prefix, "GET %sws", base_url);
	size_t plen = (size_t)n;
	size_t cmp = len < plen ? len : plen;
	if (memcmp(peek, prefix, cmp))
		return 0;
	if (len <= plen)
		return -1;
	return peek[plen] == ' ' || peek[plen] == '?' ? 1 : 0;
}

struct door *door_new(int listen_fd, struct http_server *http, struct ws_server *ws,
		      const char *base_url)
{
	struct door *d = tb_xcalloc(1, sizeof *d);
	d->listen_fd = listen_fd;
	d->http = http;
	d->ws = ws;
	srv_strlcpy(d->base_url, base_url, sizeof d->base_url);
	snprintf(d->prefix, sizeof d->prefix, "GET %sws", base_url);
	d->pending = tb_xcalloc(DOOR_PENDING_MAX, sizeof *d->pending);
	d->trim_keys = tb_xcalloc(2 * DOOR_PENDING_MAX, sizeof *d->trim_keys);
	d->trim_counts = tb_xcalloc(2 * DOOR_PENDING_MAX, sizeof *d->trim_counts);
	return d;
}

static void drop(struct door *d, int i)
{
	d->pending[i] = d->pending[--d->npending];
}

static bool under_pressure(const struct door *d)
{
	return d->npending >= DOOR_PRESSURE;
}

static int64_t deadline_of(const struct door *d, const struct pending *p)
{
	return p->accepted_ms + (under_pressure(d) ? DOOR_PEEK_SHORT_MS : DOOR_PEEK_DEADLINE_MS);
}

/* Close the longest-waiting connection (the table is full). */
static void close_oldest(struct door *d)
{
	int oldest = -1;
	for (int i = 0; i < d->npending; i++)
		if (oldest < 0 || d->pending[i].accepted_ms < d->pending[oldest].accepted_ms)
			oldest = i;
	if (oldest < 0)
		return;
	close(d->pending[oldest].fd);
	drop(d, oldest);
}

/*
 * Keep at most DOOR_PER_ADDR_MAX silent connections per client address,
 * closing the oldest beyond that. Newest first: counting from the newest
 * means the ones past the cap are the oldest of their client.
 */
static int by_age_desc(const void *a, const void *b)
{
	int64_t x = ((const struct pending *)a)->accepted_ms, y = ((const struct pending *)b)->accepted_ms;
	return x < y ? 1 : x > y ? -1 : 0;
}

static void trim_silent(struct door *d, int64_t now)
{
	if (d->npending <= DOOR_PER_ADDR_MAX || now - d->trimmed_ms < DOOR_TRIM_EVERY_MS)
		return;
	d->trimmed_ms = now;
	qsort(d->pending, (size_t)d->npending, sizeof *d->pending, by_age_desc);
	size_t slots = 2 * DOOR_PENDING_MAX;
	memset(d->trim_keys, 0, slots * sizeof *d->trim_keys);
	int kept = 0;
	for (int i = 0; i < d->npending; i++) {
		struct pending *p = &d->pending[i];
		size_t h = (size_t)(p->client % slots);
		while (d->trim_keys[h] && d->trim_keys[h] != p->client)
			h = (h + 1) % slots;
		if (!d->trim_keys[h]) {
			d->trim_keys[h] = p->client;
			d->trim_counts[h] = 0;
		}
		if (++d->trim_counts[h] > DOOR_PER_ADDR_MAX && now - p->accepted_ms >= DOOR_SILENT_MS) {
			close(p->fd);
			continue;
		}
		d->pending[kept++] = *p;
	}
	d->npending = kept;
}

static void hand_off(struct door *d, int i, bool websocket)
{
	struct pending *p = &d->pending[i];
	if (websocket)
		ws_adopt(d->ws, p->fd);
	else if (http_add_connection(d->http, p->fd, (struct sockaddr *)&p->addr, p->addrlen) < 0)
		srv_log("http: could not take a connection"); /* libmicrohttpd closed it */
	drop(d, i);
}

static bool peek_one(struct door *d, int i, int64_t now);

static void accept_all(struct door *d)
{
	/* Bounded by the backlog: each round takes what the kernel has queued. */
	for (int taken = 0; taken < DOOR_PENDING_MAX; taken++) {
		struct sockaddr_storage addr;
		socklen_t addrlen = sizeof addr;
		int fd = accept4(d->listen_fd, (struct sockaddr *)&addr, &addrlen, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				srv_log("accept: %s", strerror(errno));
			return;
		}
		int one = 1;
		/* Small frames (metrics, pongs) should leave at once. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		char key[64];
		srv_addr_key((struct sockaddr *)&addr, key, sizeof key);
		uint64_t client = srv_fnv1a64(key, strlen(key), 0) | 1; /* never 0, which means "anyone" */
		/* The newest connection is the likeliest to carry a request: the
		 * oldest waiting one makes room for it. */
		if (d->npending >= DOOR_PENDING_MAX)
			close_oldest(d);
		int64_t now = srv_mono_ms();
		struct pending *p = &d->pending[d->npending++];
		*p = (struct pending){.fd = fd, .addrlen = addrlen, .client = client, .accepted_ms = now};
		memcpy(&p->addr, &addr, addrlen);
		peek_one(d, d->npending - 1, now); /* its request may be here already */
	}
	trim_silent(d, srv_mono_ms());
}

/* Look at what pending connection i sent so far; returns true when it is gone from the list. */
static bool peek_one(struct door *d, int i, int64_t now)
{
	struct pending *p = &d->pending[i];
	char buf[320];
	size_t want = strlen(d->prefix) + 1;
	ssize_t n = recv(p->fd, buf, want, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
		close(p->fd);
		drop(d, i);
		return true;
	}
	int kind = n > 0 ? door_classify(d->base_url, buf, (size_t)n) : -1;
	if (kind < 0 && now >= deadline_of(d, p) && n < 0 && under_pressure(d)) {
		/* Silent past its (short) deadline during a flood: not a browser. */
		close(p->fd);
		drop(d, i);
		return true;
	}
	if (kind >= 0 || now >= deadline_of(d, p)) {
		hand_off(d, i, kind == 1);
		return true;
	}
	/* Part of the prefix came: poll would report it readable again at once,
	 * so look again after a short pause instead. */
	p->recheck_ms = n > 0 ? now + DOOR_RECHECK_MS : 0;
	return false;
}

int door_run(struct door *d, int stop_fd)
{
	struct pollfd *fds = tb_xcalloc(DOOR_PENDING_MAX + 2, sizeof *fds);
	int *index = tb_xcalloc(DOOR_PENDING_MAX + 2, sizeof *index);
	for (;;) {
		int64_t now = srv_mono_ms();
		int nfds = 0, timeout = 1000;
		fds[nfds++] = (struct pollfd){.fd = stop_fd, .events = POLLIN};
		/* Always listening: a full table makes room (accept_all). */
		fds[nfds++] = (struct pollfd){.fd = d->listen_fd, .events = POLLIN};
		int first = nfds;
		if (d->npending > DOOR_PER_ADDR_MAX)
			timeout = DOOR_TRIM_EVERY_MS;
		for (int i = 0; i < d->npending; i++) {
			struct pending *p = &d->pending[i];
			int64_t wait = (p->recheck_ms ? p->recheck_ms : deadline_of(d, p)) - now;
			if (wait < timeout)
				timeout = wait < 0 ? 0 : (int)wait;
			if (p->recheck_ms)
				continue;
			index[nfds] = i;
			fds[nfds++] = (struct pollfd){.fd = p->fd, .events = POLLIN};
		}
		int rc = poll(fds, (nfds_t)nfds, timeout);
		if (rc < 0 && errno != EINTR) {
			srv_log("front door: poll: %s", strerror(errno));
			break;
		}
		if (fds[0].revents)
			break;
		now = srv_mono_ms();
		/* Walk backwards: dropping entry i moves the last one into its place. */
		bool *ready = tb_xcalloc((size_t)d->npending + 1, sizeof *ready);
		for (int k = first; k < nfds; k++)
			if (fds[k].revents)
				ready[index[k]] = true;
		for (int i = d->npending - 1; i >= 0; i--) {
			struct pending *p = &d->pending[i];
			bool due = p->recheck_ms ? now >= p->recheck_ms : now >= deadline_of(d, p);
			if (ready[i] || due)
				peek_one(d, i, now);
		}
		free(ready);
		if (fds[1].revents)
			accept_all(d);
		trim_silent(d, now);
	}
	free(fds);
	free(index);
	return 0;
}

void door_free(struct door *d)
{
	if (!d)
		return;
	for (int i = 0; i < d->npending; i++)
		close(d->pending[i].fd);
	if (d->listen_fd >= 0)
		close(d->listen_fd);
	free(d->pending);
	free(d->trim_keys);
	free(d->trim_counts);
	free(d);
}
