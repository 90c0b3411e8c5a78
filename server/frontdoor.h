/*
 * frontdoor.h — the one listening port. Accepts each connection, peeks at
 * its request line without consuming it, and hands the socket to
 * libwebsockets (`GET <base>ws` followed by a space or '?') or to
 * libmicrohttpd (everything else). After the hand-off the front door never
 * touches the fd again.
 *
 * What it is not: HTTP parsing. It looks at a dozen bytes at most.
 *
 * Threads: the main thread runs door_run until the stop fd (a signalfd)
 * becomes readable.
 */
#ifndef TB_SERVER_FRONTDOOR_H
#define TB_SERVER_FRONTDOOR_H

#include <stddef.h>

struct http_server;
struct ws_server;
struct door;

/*
 * Bind ip:port, or the next ports when it is taken (like Jupyter), up to
 * `retries` more. Port 0 asks the kernel for a free port. Returns the
 * listening fd and the port actually bound.
 */
int door_listen(const char *ip, int port, int retries, int *bound_port, char *err, size_t errlen);

struct door *door_new(int listen_fd, struct http_server *http, struct ws_server *ws,
		      const char *base_url);
/* Accept and dispatch until stop_fd is readable. */
int door_run(struct door *d, int stop_fd);
/* Close the listening socket and any connection still being peeked at. */
void door_free(struct door *d);

/* Exposed for unit tests: 1 = WebSocket, 0 = HTTP, -1 = need more bytes. */
int door_classify(const char *base_url, const char *peek, size_t len);

#endif
