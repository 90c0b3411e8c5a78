/*
 * routes_status.c — GET /api/status, /api/system and /api/routes.
 *
 * Threads: libmicrohttpd's polling thread.
 */
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "app.h"
#include "feed.h"
#include "routes.h"
#include "store.h"
#include "sysmon.h"
#include "ws.h"

enum MHD_Result route_status(struct http_req *r)
{
	struct app *app = r->app;
	json_t *body = json_pack("{s:s, s:I, s:{s:i, s:i}, s:s, s:s, s:s, s:i, s:i, s:b, s:s}",
				 "version", TB_SERVER_VERSION, "started", (json_int_t)app->started,
				 "runs", "queued", store_count_status(app->store, "queued"),
				 "running", store_count_status(app->store, "running"),
				 "workspace", app->cfg.workspace, "user", r->who.name,
				 "base_url", app->cfg.base_url,
				 "gpus", sysmon_gpu_count(app->sysmon),
				 "feed_clients", app->ws ? ws_client_count(app->ws) : 0,
				 "accounts", app->cfg.accounts, "role", r->who.instructor ? "instructor" : "student");
	return http_json(r, 200, body);
}

enum MHD_Result route_system(struct http_req *r)
{
	char *text = sysmon_json(r->app->sysmon);
	enum MHD_Result rc;
	if (r->who.instructor) {
		rc = http_raw(r, 200, "application/json", text, strlen(text));
	} else {
		/* Other users' GPU processes: memory only (the route's rule, access.c). */
		json_t *sys = json_loads(text, 0, NULL);
		access_system_view(&r->who, sys);
		rc = http_json(r, 200, sys);
	}
	free(text);
	return rc;
}

enum MHD_Result route_routes(struct http_req *r)
{
	json_t *list = json_array(), *feed = json_array();
	for (size_t i = 0; i < http_nroutes; i++) {
		const struct http_route *rt = &http_routes[i];
		const char *rule = (unsigned)rt->rule < ACCESS_NRULES ? access_rules[rt->rule].name : "none";
		json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:s}", "method", rt->method, "path",
						      rt->pattern, "access", http_access_name(rt->access), "rule",
						      rule, "summary", rt->summary));
	}
	for (size_t i = 0; i < feed_ntypes; i++)
		json_array_append_new(feed, json_pack("{s:s, s:s, s:s, s:s}", "dir", feed_types[i].dir, "type",
						      feed_types[i].type, "rule", feed_rule_names[feed_types[i].rule],
						      "summary", feed_types[i].summary));
	json_t *rules = json_object();
	for (int i = 0; i < ACCESS_NRULES; i++)
		json_object_set_new(rules, access_rules[i].name, json_string(access_rules[i].summary));
	return http_json(r, 200, json_pack("{s:o, s:o, s:o}", "routes", list, "feed", feed, "rules", rules));
}
