/*
 * ws.h — the live feed at /ws on libwebsockets: sockets handed over by the
 * front door are adopted, checked (path, Host, Origin, token), and each
 * client then gets the messages feed.c decides it is owed.
 *
 * What it is not: the delivery rules (feed.c) or the listening socket
 * (frontdoor.c). libwebsockets runs without a listen socket.
 *
 * Threads: one service thread owns the lws context and every client. Other
 * threads talk to it only through ws_adopt and ws_publish_*, which queue
 * under ws->lock and wake the service thread with lws_cancel_service, the
 * one lws call that is safe from another thread.
 */
#ifndef TB_SERVER_WS_H
#define TB_SERVER_WS_H

#include <stddef.h>
#include <stdint.h>

struct auth;
struct board;
struct ident;
struct store;
struct ws_server;

/*
 * `auth` checks Host and Origin; `ident` says who a connection is (the
 * same rules as HTTP, and its login throttle: a wrong ?token= on /ws costs
 * a try too). Each connection's feed is then that user's (feed.c rules).
 */
struct ws_server *ws_new(const struct auth *auth, const struct ident *ident, struct store *store,
			 const char *base_url, char *err, size_t errlen);
int ws_start(struct ws_server *ws);
/* Stop the service thread and close every client. */
void ws_free(struct ws_server *ws);

/* Take over an accepted socket whose request line is "GET <base>ws". Any thread. */
void ws_adopt(struct ws_server *ws, int fd);

/* Any thread; the text is copied. */
void ws_publish_event(struct ws_server *ws, int64_t run, int64_t seq, const char *json, size_t len);
/* A run message, shown to `owner` and to instructors only. */
void ws_publish_run(struct ws_server *ws, const char *run_message_json, const char *owner);
void ws_publish_system(struct ws_server *ws, const char *system_json);
/* A board update (board.h's text) for the board's subscribers. Any thread. */
void ws_publish_board(struct ws_server *ws, const char *json, size_t len);
/* Where board snapshots come from; before ws_start. */
void ws_set_board(struct ws_server *ws, struct board *board);

/*
 * Close the feed connections of user `user` (when nonzero), of the
 * session whose hash is `session` (when not NULL), or opened with API
 * token `token` (when nonzero): after a logout, a revoked session or
 * token, a reset or a role change. Any thread.
 */
void ws_disconnect(struct ws_server *ws, int64_t user, const char *session, int64_t token);

/* Connected feed clients (for /api/status and the bench). */
int ws_client_count(const struct ws_server *ws);

#endif
