/*
 * ws.c — libwebsockets glue for the live feed (see ws.h).
 *
 * Threads: service_main and every callback run on the service thread;
 * ws_adopt/ws_publish_* run on other threads and touch only the hand-off
 * queues under ws->lock.
 */
#include "ws.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth.h"
#include "board.h"
#include "feed.h"
#include "identity.h"
#include "store.h"
#include "tb.h"
#include "util.h"
#include "ws_guard.h"

_Static_assert(LWS_PRE <= FEED_HEADROOM, "feed messages need LWS_PRE bytes of headroom");

#define HUB_MAX 65536   /* publications waiting for the service thread */
#define ADOPT_MAX 4096  /* sockets waiting to be adopted */

enum hub_kind { HUB_EVENT, HUB_RUN, HUB_SYSTEM, HUB_BOARD, HUB_DISCONNECT };

struct hub_item {
	enum hub_kind kind;
	struct feed_msg *msg;  /* HUB_DISCONNECT: run = the user, seq = the API token, text = the session hash (0, 0, "" = none) */
};

struct ws_session {
	struct lws *wsi;
	struct ws_session *prev, *next; /* ws->sessions; service thread only */
	struct feed_client feed;
	char *rx;                       /* a client message being reassembled */
	size_t rxlen;
	bool rx_too_long;
};

struct ws_server {
	const struct auth *auth;
	const struct ident *ident;      /* read-only; its throttle and store lock themselves */
	struct store *store;
	struct board *board;            /* board snapshots (set before the thread starts); may be NULL */
	char path[300];                 /* base_url + "ws" */
	struct lws_context *ctx;
	struct lws_vhost *vhost;
	struct ws_session *sessions;    /* service thread only */
	atomic_int nclients;
	atomic_bool stop;
	pthread_t thread;
	bool started;

	pthread_mutex_t lock;           /* guards the hand-off queues below */
	struct hub_item *hub;           /* HUB_MAX slots */
	int nhub;
	bool hub_lost;                  /* an event was dropped: clients must catch up */
	bool board_lost;                /* a board update was dropped: board clients need a snapshot */
	int *adopt;                     /* ADOPT_MAX fds */
	int nadopt;
};

static void header(struct lws *wsi, enum lws_token_indexes h, char *buf, int len, const char **out)
{
	*out = NULL;
	if (lws_hdr_total_length(wsi, h) > 0 && lws_hdr_total_length(wsi, h) < len &&
	    lws_hdr_copy(wsi, buf, len, h) > 0)
		*out = buf;
}

enum verdict { WS_ALLOWED, WS_REFUSED, WS_UNAUTHORIZED, WS_THROTTLED };

/* The client's address as the login throttle's key. */
static void client_key(struct lws *wsi, char *out, size_t len)
{
	struct sockaddr_storage sa;
	socklen_t salen = sizeof sa;
	int fd = lws_get_socket_fd(wsi);
	if (fd < 0 || getpeername(fd, (struct sockaddr *)&sa, &salen) < 0)
		srv_addr_key(NULL, out, len);
	else
		srv_addr_key((struct sockaddr *)&sa, out, len);
}

/*
 * The upgrade request must name /ws under our base, pass the Host and
 * Origin checks, and carry a login (identity.c: the cookie, the token or
 * an API token); a credential it shows goes through the same login
 * throttle as HTTP. *who is whose feed it becomes.
 */
static enum verdict check_upgrade(struct ws_server *ws, struct lws *wsi, struct acct_who *who)
{
	char uri[512], host[256], origin[512], authz[512], cookie[2048], arg[300];
	const char *u, *h, *o, *a, *c, *t;
	header(wsi, WSI_TOKEN_GET_URI, uri, sizeof uri, &u);
	header(wsi, WSI_TOKEN_HOST, host, sizeof host, &h);
	header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof origin, &o);
	header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, authz, sizeof authz, &a);
	header(wsi, WSI_TOKEN_HTTP_COOKIE, cookie, sizeof cookie, &c);
	t = lws_get_urlarg_by_name(wsi, "token=", arg, sizeof arg);
	if (!u || strcmp(u, ws->path))
		return WS_REFUSED;
	if (!auth_host_ok(ws->auth, h) || !auth_origin_ok(o, h)) {
		srv_log("ws: refused a connection with Host %s, Origin %s", h ? h : "(none)",
			o ? o : "(none)");
		return WS_REFUSED;
	}
	char key[64];
	int wait;
	client_key(wsi, key, sizeof key);
	switch (ident_check(ws->ident, c, a, t, key, who, &wait)) {
	case IDENT_OK:
		return WS_ALLOWED;
	case IDENT_THROTTLED:
		return WS_THROTTLED;
	default:
		return WS_UNAUTHORIZED;
	}
}

/* A board subscriber owed a snapshot gets one once it has room (one snapshot per call). */
static void board_catch_up(struct ws_server *ws, struct ws_session *s, struct feed_msg **snapshot)
{
	if (!ws->board || !s->feed.board || !s->feed.board_due || s->feed.count >= FEED_QUEUE_MAX / 2)
		return;
	if (!*snapshot) {
		static const char empty[] = "{\"type\":\"board\",\"full\":true,\"runs\":[]}";
		char *text = board_snapshot(ws->board);
		*snapshot = feed_msg_new(text ? text : empty, text ? strlen(text) : sizeof empty - 1, 0, 0);
		free(text);
	}
	feed_board_snapshot(&s->feed, *snapshot);
}

static void session_kick(struct ws_session *s)
{
	if (feed_peek(&s->feed))
		lws_callback_on_writable(s->wsi);
}

static void session_close(struct ws_session *s)
{
	lws_set_timeout(s->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
}

/*
 * The system message each user gets, made once per sample and user: with
 * 60 students that is at most 60 small JSON edits a second, and none when
 * no GPU process belongs to a run (feed_system_view hands back `all`).
 */
struct system_views {
	struct {
		char name[STORE_NAME_MAX];
		struct feed_msg *msg;
	} *v;
	int n, cap;
};

static struct feed_msg *system_view(struct system_views *views, const struct acct_who *who, struct feed_msg *all)
{
	if (who->instructor)
		return all;
	for (int i = 0; i < views->n; i++)
		if (!strcmp(views->v[i].name, who->name))
			return views->v[i].msg;
	if (views->n == views->cap) {
		views->cap = views->cap ? views->cap * 2 : 16;
		views->v = tb_xrealloc(views->v, (size_t)views->cap * sizeof *views->v);
	}
	srv_strlcpy(views->v[views->n].name, who->name, sizeof views->v[views->n].name);
	views->v[views->n].msg = feed_system_view(who, all);
	return views->v[views->n++].msg;
}

static void system_views_free(struct system_views *views)
{
	for (int i = 0; i < views->n; i++)
		feed_msg_unref(views->v[i].msg);
	free(views->v);
}

/* Does a HUB_DISCONNECT item name this connection's user or session? */
static bool disconnects(const struct feed_msg *m, const struct acct_who *who)
{
	const char *session = feed_msg_text(m);
	return (m->run && m->run == who->id) || (session[0] && !strcmp(session, who->session)) ||
	       (m->seq && m->seq == who->token);
}

/* Move queued sockets and publications into lws, on the service thread. */
static void drain_handoff(struct ws_server *ws)
{
	pthread_mutex_lock(&ws->lock);
	int nadopt = ws->nadopt, nhub = ws->nhub;
	bool lost = ws->hub_lost, board_lost = ws->board_lost;
	int *fds = NULL;
	struct hub_item *items = NULL;
	if (nadopt) {
		fds = tb_xmalloc((size_t)nadopt * sizeof *fds);
		memcpy(fds, ws->adopt, (size_t)nadopt * sizeof *fds);
	}
	if (nhub) {
		items = tb_xmalloc((size_t)nhub * sizeof *items);
		memcpy(items, ws->hub, (size_t)nhub * sizeof *items);
	}
	ws->nadopt = ws->nhub = 0;
	ws->hub_lost = ws->board_lost = false;
	pthread_mutex_unlock(&ws->lock);

	for (int i = 0; i < nadopt; i++) {
		/* Follow the client's frames from its first byte (ws_guard.h):
		 * one the guard cannot follow is not served. */
		if (ws_guard_watch(fds[i]) < 0) {
			srv_log("ws: descriptor %d is beyond the frame guard; connection closed", fds[i]);
			close(fds[i]);
		} else if (!lws_adopt_socket_vhost(ws->vhost, fds[i])) {
			srv_log("ws: could not adopt a connection"); /* lws closed it */
		}
	}
	for (int i = 0; i < nhub; i++) {
		struct hub_item *it = &items[i];
		struct system_views views = {0};
		for (struct ws_session *s = ws->sessions, *next; s; s = next) {
			next = s->next;
			int rc = 0;
			if (it->kind == HUB_EVENT) {
				rc = feed_on_event(&s->feed, it->msg);
				/* A gap turns the subscription to catching up; with an
				 * empty queue no write would trigger the refill. */
				if (s->feed.count < FEED_QUEUE_MAX / 2)
					feed_fill(&s->feed, ws->store);
			} else if (it->kind == HUB_RUN) {
				rc = feed_on_run(&s->feed, it->msg);
			} else if (it->kind == HUB_SYSTEM) {
				if (s->feed.system)
					feed_on_system(&s->feed, system_view(&views, &s->feed.who, it->msg));
			} else if (it->kind == HUB_BOARD) {
				feed_on_board(&s->feed, it->msg);
			} else if (disconnects(it->msg, &s->feed.who)) {
				session_close(s);
				continue;
			}
			if (rc < 0)
				session_close(s);
			else
				session_kick(s);
		}
		system_views_free(&views);
		feed_msg_unref(it->msg);
	}
	if (lost) {
		for (struct ws_session *s = ws->sessions; s; s = s->next) {
			feed_lost(&s->feed);
			feed_fill(&s->feed, ws->store);
			session_kick(s);
		}
	}
	if (board_lost) {
		struct feed_msg *snapshot = NULL;
		for (struct ws_session *s = ws->sessions; s; s = s->next) {
			s->feed.board_due = s->feed.board;
			board_catch_up(ws, s, &snapshot);
			session_kick(s);
		}
		feed_msg_unref(snapshot);
	}
	free(fds);
	free(items);
}

static int write_one(struct ws_server *ws, struct ws_session *s)
{
	struct feed_msg *m = feed_peek(&s->feed);
	if (!m)
		return 0;
	int n = lws_write(s->wsi, (unsigned char *)m->data + FEED_HEADROOM, m->len, LWS_WRITE_TEXT);
	if (n < (int)m->len)
		return -1;
	feed_pop(&s->feed);
	if (s->feed.count < FEED_QUEUE_MAX / 2)
		feed_fill(&s->feed, ws->store);
	struct feed_msg *snapshot = NULL;
	board_catch_up(ws, s, &snapshot);
	feed_msg_unref(snapshot);
	session_kick(s);
	return 0;
}

static void receive(struct ws_server *ws, struct ws_session *s, const void *in, size_t len)
{
	if (!s->rx_too_long) {
		if (s->rxlen + len > FEED_IN_MAX) {
			s->rx_too_long = true;
		} else {
			s->rx = tb_xrealloc(s->rx, s->rxlen + len + 1);
			memcpy(s->rx + s->rxlen, in, len);
			s->rxlen += len;
		}
	}
	if (!lws_is_final_fragment(s->wsi) || lws_remaining_packet_payload(s->wsi))
		return;
	int rc = s->rx_too_long ? feed_handle(&s->feed, ws->store, "", FEED_IN_MAX + 1)
				: feed_handle(&s->feed, ws->store, s->rx ? s->rx : "", s->rxlen);
	free(s->rx);
	s->rx = NULL;
	s->rxlen = 0;
	s->rx_too_long = false;
	struct feed_msg *snapshot = NULL;
	board_catch_up(ws, s, &snapshot);
	feed_msg_unref(snapshot);
	if (rc < 0)
		session_close(s);
	else
		session_kick(s);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct ws_server *ws = lws_context_user(lws_get_context(wsi));
	struct ws_session *s = user;
	switch (reason) {
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (ws)
			drain_handoff(ws);
		return 0;
	case LWS_CALLBACK_HTTP: {
		/* GET /ws without an Upgrade: this path speaks WebSocket only, and
		 * like every token route it says 401 first to a caller without one. */
		struct acct_who who;
		enum verdict v = check_upgrade(ws, wsi, &who);
		static const unsigned status[] = {
			[WS_ALLOWED] = HTTP_STATUS_BAD_REQUEST, /* allowed, but this was no upgrade */
			[WS_REFUSED] = HTTP_STATUS_FORBIDDEN,
			[WS_UNAUTHORIZED] = HTTP_STATUS_UNAUTHORIZED,
			[WS_THROTTLED] = 429,
		};
		lws_return_http_status(wsi, status[v], NULL);
		return -1;
	}
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
		struct acct_who who;
		enum verdict v = check_upgrade(ws, wsi, &who);
		if (v == WS_ALLOWED)
			return 0;
		/* Say why before closing, so clients see 403 (or 429) rather than a reset. */
		lws_return_http_status(wsi, v == WS_THROTTLED ? 429 : HTTP_STATUS_FORBIDDEN, NULL);
		return 1;
	}
	case LWS_CALLBACK_ESTABLISHED: {
		/* The headers are still here: who this is was decided a moment ago
		 * in FILTER_PROTOCOL_CONNECTION; ask again rather than carry it
		 * across (a good credential costs no throttle). */
		struct acct_who who;
		memset(s, 0, sizeof *s);
		if (check_upgrade(ws, wsi, &who) != WS_ALLOWED)
			return -1;
		s->wsi = wsi;
		ws_guard_established(lws_get_socket_fd(wsi), wsi);
		feed_client_init(&s->feed, &who);
		s->next = ws->sessions;
		if (ws->sessions)
			ws->sessions->prev = s;
		ws->sessions = s;
		atomic_fetch_add(&ws->nclients, 1);
		return 0;
	}
	case LWS_CALLBACK_RECEIVE:
		receive(ws, s, in, len);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return write_one(ws, s);
	case LWS_CALLBACK_CLOSED:
		if (!s->wsi)
			return 0; /* never established */
		if (s->prev)
			s->prev->next = s->next;
		else if (ws->sessions == s)
			ws->sessions = s->next;
		if (s->next)
			s->next->prev = s->prev;
		feed_client_free(&s->feed);
		free(s->rx);
		s->rx = NULL;
		atomic_fetch_sub(&ws->nclients, 1);
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols protocols[] = {
	/* First, so it is the default for upgrades that name no subprotocol. */
	{"trainbook-feed", callback, sizeof(struct ws_session), FEED_IN_MAX, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

/* PING after 30 s of silence; hang up when a peer stays silent 90 s more. */
static const lws_retry_bo_t retry = {
	.secs_since_valid_ping = 30,
	.secs_since_valid_hangup = 120,
};

struct ws_server *ws_new(const struct auth *auth, const struct ident *ident, struct store *store,
			 const char *base_url, char *err, size_t errlen)
{
	struct ws_server *ws = tb_xcalloc(1, sizeof *ws);
	ws->auth = auth;
	ws->ident = ident;
	ws->store = store;
	snprintf(ws->path, sizeof ws->path, "%sws", base_url);
	pthread_mutex_init(&ws->lock, NULL);
	ws->hub = tb_xmalloc(HUB_MAX * sizeof *ws->hub);
	ws->adopt = tb_xmalloc(ADOPT_MAX * sizeof *ws->adopt);
	lws_set_log_level(LLL_ERR, NULL);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER; /* the front door accepts for us */
	info.protocols = protocols;
	info.user = ws;
	info.retry_and_idle_policy = &retry;
	info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
	info.timeout_secs = 10;
	ws->ctx = lws_create_context(&info);
	if (!ws->ctx) {
		snprintf(err, errlen, "libwebsockets: cannot create a context");
		goto fail;
	}
	ws->vhost = lws_get_vhost_by_name(ws->ctx, "default");
	if (!ws->vhost) {
		snprintf(err, errlen, "libwebsockets: no default vhost");
		goto fail;
	}
	return ws;
fail:
	ws_free(ws);
	return NULL;
}

static void *service_main(void *arg)
{
	struct ws_server *ws = arg;
	while (!atomic_load(&ws->stop))
		if (lws_service(ws->ctx, 0) < 0)
			break;
	return NULL;
}

int ws_start(struct ws_server *ws)
{
	if (pthread_create(&ws->thread, NULL, service_main, ws) != 0)
		return -1;
	ws->started = true;
	return 0;
}

void ws_free(struct ws_server *ws)
{
	if (!ws)
		return;
	if (ws->started) {
		atomic_store(&ws->stop, true);
		lws_cancel_service(ws->ctx);
		pthread_join(ws->thread, NULL);
	}
	if (ws->ctx)
		lws_context_destroy(ws->ctx);
	for (int i = 0; i < ws->nhub; i++)
		feed_msg_unref(ws->hub[i].msg);
	for (int i = 0; i < ws->nadopt; i++)
		close(ws->adopt[i]);
	free(ws->hub);
	free(ws->adopt);
	pthread_mutex_destroy(&ws->lock);
	free(ws);
}

void ws_adopt(struct ws_server *ws, int fd)
{
	pthread_mutex_lock(&ws->lock);
	bool ok = ws->nadopt < ADOPT_MAX;
	if (ok)
		ws->adopt[ws->nadopt++] = fd;
	pthread_mutex_unlock(&ws->lock);
	if (ok)
		lws_cancel_service(ws->ctx);
	else
		close(fd);
}

static void hub_push(struct ws_server *ws, enum hub_kind kind, struct feed_msg *m)
{
	pthread_mutex_lock(&ws->lock);
	if (ws->nhub < HUB_MAX) {
		ws->hub[ws->nhub++] = (struct hub_item){kind, m};
		m = NULL;
	} else if (kind == HUB_EVENT) {
		ws->hub_lost = true; /* stored already; clients re-read it from the store */
	} else if (kind == HUB_BOARD) {
		ws->board_lost = true; /* the next snapshot has it */
	}
	pthread_mutex_unlock(&ws->lock);
	feed_msg_unref(m);
	lws_cancel_service(ws->ctx);
}

void ws_publish_event(struct ws_server *ws, int64_t run, int64_t seq, const char *json, size_t len)
{
	hub_push(ws, HUB_EVENT, feed_msg_event(run, seq, json, len));
}

void ws_publish_run(struct ws_server *ws, const char *run_message_json, const char *owner)
{
	struct feed_msg *m = feed_msg_new(run_message_json, strlen(run_message_json), 0, 0);
	srv_strlcpy(m->owner, owner ? owner : "", sizeof m->owner);
	hub_push(ws, HUB_RUN, m);
}

void ws_publish_board(struct ws_server *ws, const char *json, size_t len)
{
	hub_push(ws, HUB_BOARD, feed_msg_new(json, len, 0, 0));
}

void ws_set_board(struct ws_server *ws, struct board *board)
{
	ws->board = board;
}

void ws_disconnect(struct ws_server *ws, int64_t user, const char *session, int64_t token)
{
	const char *text = session ? session : "";
	hub_push(ws, HUB_DISCONNECT, feed_msg_new(text, strlen(text), user, token));
}

void ws_publish_system(struct ws_server *ws, const char *system_json)
{
	static const char head[] = "{\"type\":\"system\",\"system\":";
	size_t n = strlen(system_json);
	char *text = tb_xmalloc(sizeof head + n + 1);
	memcpy(text, head, sizeof head - 1);
	memcpy(text + sizeof head - 1, system_json, n);
	text[sizeof head - 1 + n] = '}';
	text[sizeof head + n] = '\0';
	hub_push(ws, HUB_SYSTEM, feed_msg_new(text, sizeof head + n, 0, 0));
	free(text);
}

int ws_client_count(const struct ws_server *ws)
{
	return atomic_load(&ws->nclients);
}
