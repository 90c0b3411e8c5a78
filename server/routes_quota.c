/*
 * routes_quota.c — quotas and lab sessions over the API: each user's limits
 * and use (GET /api/quota), every user's for instructors (GET /api/quotas),
 * an instructor setting limits per role or per user (PUT /api/quotas) and
 * the weekly lab sessions (GET/PUT /api/lab-sessions), and raising a run's
 * duration limit (POST /api/runs/{id}/extend). Who may call which is the
 * route table's rule; the limits are quota.c's, the use runq_sched.c's.
 *
 * What it is not: enforcing anything (submission and the scheduler do).
 *
 * Threads: libmicrohttpd's polling thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "labs.h"
#include "quota.h"
#include "routes.h"
#include "runq.h"
#include "store.h"
#include "tb.h"

#define EXTEND_MAX_S (30 * 86400)

/* {"limits": {…}, "use": {…}} of one user, with its name and role. */
static json_t *user_quota(struct app *app, const char *name, bool instructor)
{
	struct quota_limits l;
	struct quota_use u;
	runq_quota(app->runq, name, &l, &u);
	return json_pack("{s:s, s:s, s:o, s:o}", "user", name, "role", instructor ? "instructor" : "student", "limits",
			 quota_limits_json(&l), "use", quota_use_json(&u));
}

enum MHD_Result route_quota_mine(struct http_req *r)
{
	return http_json(r, 200, user_quota(r->app, r->who.name, r->who.instructor));
}

/* The stored override of `subject` as JSON (an empty object when none). */
static json_t *stored_override(struct app *app, const char *subject)
{
	char *text = store_quota_get(app->store, subject);
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;
	free(text);
	return j ? j : json_object();
}

static json_t *quotas_json(struct app *app)
{
	json_t *roles = json_object();
	for (int k = 0; k < QUOTA_NROLES; k++) {
		char subject[32];
		snprintf(subject, sizeof subject, "role:%s", quota_role_names[k]);
		json_t *over = stored_override(app, subject);
		struct quota_override o;
		struct quota_limits eff = app->cfg.sched.quotas.role[k];
		char err[200];
		if (quota_override_from_json(over, &o, err, sizeof err) == 0)
			quota_apply(&eff, &o);
		json_object_set_new(roles, quota_role_names[k],
				    json_pack("{s:o, s:o, s:o}", "config",
					      quota_limits_json(&app->cfg.sched.quotas.role[k]), "override", over,
					      "limits", quota_limits_json(&eff)));
	}
	json_t *users = json_array();
	if (app->cfg.accounts) {
		json_t *all = store_users_json(app->store);
		size_t i;
		json_t *u;
		json_array_foreach(all, i, u)
		{
			if (!json_is_null(json_object_get(u, "archived")))
				continue;
			const char *name = json_string_value(json_object_get(u, "name"));
			bool instructor = !strcmp(json_string_value(json_object_get(u, "role")), "instructor");
			json_t *q = user_quota(app, name, instructor);
			char subject[STORE_NAME_MAX + 8];
			snprintf(subject, sizeof subject, "user:%s", name);
			json_object_set_new(q, "override", stored_override(app, subject));
			json_array_append_new(users, q);
		}
		json_decref(all);
	} else {
		json_array_append_new(users, user_quota(app, app->owner, true));
	}
	return json_pack("{s:o, s:o}", "roles", roles, "users", users);
}

enum MHD_Result route_quotas(struct http_req *r)
{
	return http_json(r, 200, quotas_json(r->app));
}

/* One subject of a PUT: check it (all are checked before any is stored). */
struct put_item {
	char subject[STORE_NAME_MAX + 16];
	char *text; /* the override to store, normalised; owned */
};

static int check_subject(struct app *app, bool role, const char *key, json_t *value, struct put_item *it, char *err,
			 size_t errlen)
{
	if (role) {
		bool known = false;
		for (int k = 0; k < QUOTA_NROLES; k++)
			known |= !strcmp(key, quota_role_names[k]);
		if (!known) {
			snprintf(err, errlen, "no role \"%.40s\" (student or instructor)", key);
			return -1;
		}
	} else {
		struct store_user u;
		bool ok = app->cfg.accounts ? store_user_get(app->store, key, &u) == STORE_OK && !u.archived
					    : !strcmp(key, app->owner);
		if (!ok) {
			snprintf(err, errlen, "no user \"%.60s\"", key);
			return -1;
		}
	}
	struct quota_override o;
	char why[300];
	if (quota_override_from_json(value, &o, why, sizeof why) < 0) {
		snprintf(err, errlen, "%s %.60s: %s", role ? "role" : "user", key, why);
		return -1;
	}
	snprintf(it->subject, sizeof it->subject, "%s:%s", role ? "role" : "user", key);
	json_t *norm = quota_override_json(&o);
	it->text = json_object_size(norm) ? json_dumps(norm, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(norm);
	return 0;
}

enum MHD_Result route_quotas_put(struct http_req *r)
{
	enum MHD_Result reply;
	json_t *body = http_body_json(r, &reply);
	if (!body)
		return reply;
	json_t *roles = json_object_get(body, "roles"), *users = json_object_get(body, "users");
	size_t n = (json_is_object(roles) ? json_object_size(roles) : 0) +
		   (json_is_object(users) ? json_object_size(users) : 0);
	struct put_item *items = tb_xcalloc(n ? n : 1, sizeof *items);
	size_t k = 0;
	char err[400] = "";
	if ((roles && !json_is_object(roles)) || (users && !json_is_object(users)) || (!roles && !users)) {
		reply = http_error(r, 400, "bad_request",
				   "expected {\"roles\": {\"student\": {limits}}, \"users\": {\"alice\": {limits}}}; "
				   "limits such as {\"gpu_minutes_per_day\": 120}, {} to clear");
		goto out;
	}
	const char *key;
	json_t *v;
	json_object_foreach(roles, key, v)
	{
		if (check_subject(r->app, true, key, v, &items[k++], err, sizeof err) < 0)
			break;
	}
	if (!err[0])
		json_object_foreach(users, key, v)
		{
			if (check_subject(r->app, false, key, v, &items[k++], err, sizeof err) < 0)
				break;
		}
	if (err[0]) {
		reply = http_error(r, 400, "bad_request", "%s", err);
		goto out;
	}
	for (size_t i = 0; i < k; i++) {
		if (store_quota_set(r->app->store, items[i].subject, items[i].text) < 0) {
			reply = http_error(r, 500, "internal", "cannot store the quota of %s", items[i].subject);
			goto out;
		}
	}
	runq_reschedule(r->app->runq); /* a raised limit may let waiting runs start */
	reply = http_json(r, 200, quotas_json(r->app));
out:
	for (size_t i = 0; i < k; i++)
		free(items[i].text);
	free(items);
	json_decref(body);
	return reply;
}

/* ---- lab sessions ------------------------------------------------------------------ */

static json_t *labs_answer(struct app *app)
{
	struct sched_lab labs[LABS_MAX * 2];
	int active = -1;
	int n = runq_labs(app->runq, labs, (int)TB_ARRAY_LEN(labs), &active);
	json_t *list = json_array();
	for (int i = 0; i < n; i++) {
		json_t *j = labs_json(&labs[i]);
		/* The config file's are fixed; the instructor's list follows them. */
		json_object_set_new(j, "source", json_string(i < app->cfg.sched.nlabs ? "config" : "instructor"));
		json_array_append_new(list, j);
	}
	return json_pack("{s:o, s:o}", "sessions", list, "active", active >= 0 ? json_integer(active) : json_null());
}

enum MHD_Result route_labs(struct http_req *r)
{
	return http_json(r, 200, labs_answer(r->app));
}

enum MHD_Result route_labs_put(struct http_req *r)
{
	enum MHD_Result reply;
	json_t *body = http_body_json(r, &reply);
	if (!body)
		return reply;
	struct sched_lab labs[LABS_MAX];
	char err[300];
	int n = labs_list_from_json(json_object_get(body, "sessions"), labs, LABS_MAX, err, sizeof err);
	json_decref(body);
	if (n < 0)
		return http_error(r, 400, "bad_request", "%s", err);
	json_t *list = labs_list_json(labs, n);
	char *text = json_dumps(list, JSON_COMPACT);
	json_decref(list);
	int rc = store_setting_set(r->app->store, "lab_sessions", text);
	free(text);
	if (rc < 0)
		return http_error(r, 500, "internal", "cannot store the lab sessions");
	runq_reschedule(r->app->runq);
	return http_json(r, 200, labs_answer(r->app));
}

/* ---- extend ----------------------------------------------------------------------------- */

enum MHD_Result route_run_extend(struct http_req *r)
{
	enum MHD_Result reply;
	int64_t id;
	json_t *body = route_run_body(r, &id, &reply);
	if (!body)
		return reply;
	json_t *s = json_object_get(body, "seconds");
	int64_t seconds = json_is_integer(s) ? json_integer_value(s) : 0;
	json_decref(body);
	if (seconds < 1 || seconds > EXTEND_MAX_S)
		return http_error(r, 400, "bad_request", "expected {\"seconds\": N}, N from 1 to %d (30 days)",
				  EXTEND_MAX_S);
	int64_t limit = 0;
	char err[300];
	int rc = runq_extend(r->app->runq, id, seconds, &limit, err, sizeof err);
	return rc ? route_runq_fail(r, rc, err) : route_reply_run(r, 200, id);
}
