/*
 * routes_status.c — GET /api/status, /api/system and /api/routes.
 *
 * Threads: libmicrohttpd's polling thread.
 */
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "routes.h"
#include "store.h"
#include "sysmon.h"
#include "ws.h"

enum MHD_Result route_status(struct http_req *r)
{
	struct app *app = r->app;
	json_t *body = json_pack("{s:s, s:I, s:{s:i, s:i}, s:s, s:s, s:s, s:i, s:i}",
				 "version", TB_SERVER_VERSION, "started", (json_int_t)app->started,
				 "runs", "queued", store_count_status(app->store, "queued"),
				 "running", store_count_status(app->store, "running"),
				 "workspace", app->cfg.workspace, "user", app->owner,
				 "base_url", app->cfg.base_url,
				 "gpus", sysmon_gpu_count(app->sysmon),
				 "feed_clients", app->ws ? ws_client_count(app->ws) : 0);
	return http_json(r, 200, body);
}

enum MHD_Result route_system(struct http_req *r)
{
	char *text = sysmon_json(r->app->sysmon);
	enum MHD_Result rc = http_raw(r, 200, "application/json", text, strlen(text));
	free(text);
	return rc;
}

enum MHD_Result route_routes(struct http_req *r)
{
	json_t *list = json_array();
	for (size_t i = 0; i < http_nroutes; i++)
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s}", "method", http_routes[i].method,
						      "path", http_routes[i].pattern,
						      "access", http_access_name(http_routes[i].access),
						      "summary", http_routes[i].summary));
	return http_json(r, 200, json_pack("{s:o}", "routes", list));
}
