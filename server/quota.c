/*
 * quota.c — quota kinds, their config and JSON forms, and the checks (see
 * quota.h).
 *
 * Threads: pure; any thread.
 */
#include "quota.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memlimit.h"
#include "tb.h"

const struct quota_kind_info quota_kinds[QUOTA_NKINDS] = {
	[QUOTA_CONCURRENT_RUNS] = {"concurrent_runs", QUOTA_UNIT_RUNS, "runs at once"},
	[QUOTA_QUEUED_RUNS] = {"queued_runs", QUOTA_UNIT_RUNS, "queued runs"},
	[QUOTA_GPU_MINUTES_DAY] = {"gpu_minutes_per_day", QUOTA_UNIT_MINUTES, "GPU minutes per day"},
	[QUOTA_GPU_MINUTES_WEEK] = {"gpu_minutes_per_week", QUOTA_UNIT_MINUTES, "GPU minutes per week"},
	[QUOTA_CPU_MINUTES_DAY] = {"cpu_minutes_per_day", QUOTA_UNIT_MINUTES, "CPU minutes per day"},
	[QUOTA_CPU_MINUTES_WEEK] = {"cpu_minutes_per_week", QUOTA_UNIT_MINUTES, "CPU minutes per week"},
	[QUOTA_MAX_RUN_SECONDS] = {"max_run_seconds", QUOTA_UNIT_SECONDS, "maximum run duration"},
	[QUOTA_CHECKPOINT_BYTES] = {"checkpoint_bytes", QUOTA_UNIT_BYTES, "checkpoint disk"},
};

const char *const quota_role_names[QUOTA_NROLES] = {[QUOTA_STUDENT] = "student", [QUOTA_INSTRUCTOR] = "instructor"};

void quota_limits_none(struct quota_limits *l)
{
	for (int k = 0; k < QUOTA_NKINDS; k++)
		l->v[k] = QUOTA_NONE;
}

void quota_config_init(struct quota_config *c)
{
	for (int r = 0; r < QUOTA_NROLES; r++)
		quota_limits_none(&c->role[r]);
}

/* ---- values ------------------------------------------------------------------- */

int quota_parse_duration(const char *text, int64_t *seconds)
{
	const char *p = text;
	int64_t total = 0;
	bool any = false;
	while (*p) {
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		if (!isdigit((unsigned char)*p))
			return -1;
		errno = 0;
		char *end;
		long long n = strtoll(p, &end, 10);
		if (errno || n < 0 || n > 100LL * 365 * 86400)
			return -1;
		p = end;
		int64_t unit = 1;
		if (*p == 'h') {
			unit = 3600;
			p++;
		} else if (*p == 'm') {
			unit = 60;
			p++;
			if (!strncmp(p, "in", 2))
				p += 2;
		} else if (*p == 's') {
			p++;
		} else if (*p == 'd') {
			unit = 86400;
			p++;
		}
		total += (int64_t)n * unit;
		any = true;
	}
	if (!any)
		return -1;
	*seconds = total;
	return 0;
}

int quota_parse_bytes(const char *text, int64_t *bytes)
{
	errno = 0;
	char *end;
	double v = strtod(text, &end);
	if (errno || end == text || v < 0)
		return -1;
	while (isspace((unsigned char)*end))
		end++;
	double mult = 1;
	switch (toupper((unsigned char)*end)) {
	case 'K':
		mult = 1024.0;
		break;
	case 'M':
		mult = 1024.0 * 1024;
		break;
	case 'G':
		mult = 1024.0 * 1024 * 1024;
		break;
	case 'T':
		mult = 1024.0 * 1024 * 1024 * 1024;
		break;
	case '\0':
		break;
	default:
		return -1;
	}
	if (*end) {
		end++;
		if (toupper((unsigned char)*end) == 'I')
			end++;
		if (toupper((unsigned char)*end) == 'B')
			end++;
		if (*end)
			return -1;
	}
	if (v * mult > 9.0e18)
		return -1;
	*bytes = (int64_t)(v * mult);
	return 0;
}

/* One value in kind k's unit, as the config file writes it. */
static int parse_value(enum quota_kind k, const char *text, int64_t *out)
{
	if (!strcmp(text, "none") || !strcmp(text, "unlimited")) {
		*out = QUOTA_NONE;
		return 0;
	}
	switch (quota_kinds[k].unit) {
	case QUOTA_UNIT_SECONDS:
		return quota_parse_duration(text, out);
	case QUOTA_UNIT_BYTES:
		return quota_parse_bytes(text, out);
	case QUOTA_UNIT_RUNS:
	case QUOTA_UNIT_MINUTES: {
		errno = 0;
		char *end;
		long long n = strtoll(text, &end, 10);
		if (errno || end == text || *end || n < 0 || n > INT32_MAX)
			return -1;
		*out = n;
		return 0;
	}
	}
	return -1;
}

static const char *const unit_help[] = {
	[QUOTA_UNIT_RUNS] = "a number of runs",
	[QUOTA_UNIT_MINUTES] = "a number of minutes",
	[QUOTA_UNIT_SECONDS] = "a duration such as 7200, 90m or 2h",
	[QUOTA_UNIT_BYTES] = "a size such as 512M or 5G",
};

int quota_cfg_set(struct quota_config *c, const char *key, const char *value, char *err, size_t errlen)
{
	if (strncmp(key, "quota-", 6))
		return 0;
	const char *rest = key + 6;
	int role = -1;
	for (int r = 0; r < QUOTA_NROLES; r++) {
		size_t n = strlen(quota_role_names[r]);
		if (!strncmp(rest, quota_role_names[r], n) && rest[n] == '-') {
			role = r;
			rest += n + 1;
			break;
		}
	}
	int kind = -1;
	for (int k = 0; role >= 0 && k < QUOTA_NKINDS; k++) {
		const char *a = quota_kinds[k].key, *b = rest;
		while (*a && (*a == *b || (*a == '_' && *b == '-'))) {
			a++;
			b++;
		}
		if (!*a && !*b)
			kind = k;
	}
	if (role < 0 || kind < 0) {
		snprintf(err, errlen,
			 "unknown setting '%s' (quota keys are quota-student-… and quota-instructor-… "
			 "followed by a kind such as gpu-minutes-per-day; docs/classroom.md)",
			 key);
		return -1;
	}
	int64_t v;
	if (parse_value(kind, value, &v) < 0) {
		snprintf(err, errlen, "%s: expected %s or none, got '%s'", key, unit_help[quota_kinds[kind].unit],
			 value);
		return -1;
	}
	c->role[role].v[kind] = v;
	return 1;
}

void quota_cfg_print(const struct quota_config *c, void *stdio_file)
{
	FILE *f = stdio_file;
	for (int r = 0; r < QUOTA_NROLES; r++)
		for (int k = 0; k < QUOTA_NKINDS; k++) {
			if (c->role[r].v[k] == QUOTA_NONE)
				continue;
			fprintf(f, "quota-%s-", quota_role_names[r]);
			for (const char *p = quota_kinds[k].key; *p; p++)
				fputc(*p == '_' ? '-' : *p, f);
			fprintf(f, " = %" PRId64 "\n", c->role[r].v[k]);
		}
}

/* ---- JSON ---------------------------------------------------------------------- */

void quota_apply(struct quota_limits *l, const struct quota_override *o)
{
	for (int k = 0; k < QUOTA_NKINDS; k++)
		if (o->set[k])
			l->v[k] = o->v[k];
}

static json_t *value_json(int64_t v)
{
	return v == QUOTA_NONE ? json_null() : json_integer(v);
}

json_t *quota_limits_json(const struct quota_limits *l)
{
	json_t *j = json_object();
	for (int k = 0; k < QUOTA_NKINDS; k++)
		json_object_set_new(j, quota_kinds[k].key, value_json(l->v[k]));
	return j;
}

json_t *quota_override_json(const struct quota_override *o)
{
	json_t *j = json_object();
	for (int k = 0; k < QUOTA_NKINDS; k++)
		if (o->set[k])
			json_object_set_new(j, quota_kinds[k].key, value_json(o->v[k]));
	return j;
}

int quota_override_from_json(const json_t *obj, struct quota_override *o, char *err, size_t errlen)
{
	memset(o, 0, sizeof *o);
	if (!json_is_object(obj)) {
		snprintf(err, errlen, "limits must be an object such as {\"gpu_minutes_per_day\": 120}");
		return -1;
	}
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)obj, key, v)
	{
		int kind = -1;
		for (int k = 0; k < QUOTA_NKINDS; k++)
			if (!strcmp(key, quota_kinds[k].key))
				kind = k;
		if (kind < 0) {
			snprintf(
				err, errlen,
				"unknown quota \"%.60s\" (one of concurrent_runs, queued_runs, "
				"gpu_minutes_per_day, gpu_minutes_per_week, cpu_minutes_per_day, cpu_minutes_per_week, "
				"max_run_seconds, checkpoint_bytes)",
				key);
			return -1;
		}
		if (json_is_null(v)) {
			o->v[kind] = QUOTA_NONE;
		} else if (json_is_integer(v) && json_integer_value(v) >= 0) {
			o->v[kind] = json_integer_value(v);
		} else {
			snprintf(err, errlen, "%s: expected a whole number ≥ 0 (%s) or null for no limit", key,
				 unit_help[quota_kinds[kind].unit]);
			return -1;
		}
		o->set[kind] = true;
	}
	return 0;
}

json_t *quota_use_json(const struct quota_use *u)
{
	return json_pack("{s:i, s:i, s:f, s:f, s:f, s:f, s:I}", "running", u->running, "queued", u->queued,
			 "gpu_minutes_per_day", u->gpu_s_day / 60.0, "gpu_minutes_per_week", u->gpu_s_week / 60.0,
			 "cpu_minutes_per_day", u->cpu_s_day / 60.0, "cpu_minutes_per_week", u->cpu_s_week / 60.0,
			 "checkpoint_bytes", (json_int_t)u->checkpoint_bytes);
}

/* ---- checks ---------------------------------------------------------------------- */

/* Minutes used against limit (both in minutes): past or at it? */
static bool minutes_reached(double used_s, int64_t limit)
{
	return limit != QUOTA_NONE && used_s >= (double)limit * 60.0;
}

int quota_check_submit(const struct quota_limits *l, const struct quota_use *u, bool gpu, enum quota_kind *which,
		       char *msg, size_t len)
{
	const int64_t *v = l->v;
	if (v[QUOTA_QUEUED_RUNS] != QUOTA_NONE && u->queued >= v[QUOTA_QUEUED_RUNS]) {
		*which = QUOTA_QUEUED_RUNS;
		snprintf(msg, len,
			 "quota queued runs: you have %d run%s waiting, the limit is %" PRId64
			 " (stop one, or wait until one starts)",
			 u->queued, u->queued == 1 ? "" : "s", v[QUOTA_QUEUED_RUNS]);
		return -1;
	}
	static const struct {
		enum quota_kind kind;
		bool gpu;
		bool week;
	} minutes[] = {
		{QUOTA_GPU_MINUTES_DAY, true, false},
		{QUOTA_GPU_MINUTES_WEEK, true, true},
		{QUOTA_CPU_MINUTES_DAY, false, false},
		{QUOTA_CPU_MINUTES_WEEK, false, true},
	};
	for (size_t i = 0; i < TB_ARRAY_LEN(minutes); i++) {
		if (minutes[i].gpu != gpu)
			continue;
		double used = gpu ? (minutes[i].week ? u->gpu_s_week : u->gpu_s_day)
				  : (minutes[i].week ? u->cpu_s_week : u->cpu_s_day);
		int64_t limit = v[minutes[i].kind];
		if (!minutes_reached(used, limit))
			continue;
		*which = minutes[i].kind;
		snprintf(msg, len, "quota %s: you have used %.1f of your %" PRId64 " %s minutes %s (it resets %s)",
			 quota_kinds[minutes[i].kind].words, used / 60.0, limit, gpu ? "GPU" : "CPU",
			 minutes[i].week ? "this week" : "today",
			 minutes[i].week ? "on Monday at 00:00" : "at midnight");
		return -1;
	}
	int64_t disk = v[QUOTA_CHECKPOINT_BYTES];
	if (disk != QUOTA_NONE && u->checkpoint_bytes >= disk) {
		char used[32], limit[32];
		memlimit_format(u->checkpoint_bytes, used, sizeof used);
		memlimit_format(disk, limit, sizeof limit);
		*which = QUOTA_CHECKPOINT_BYTES;
		snprintf(msg, len,
			 "quota checkpoint disk: your runs' checkpoints take %s, the limit is %s "
			 "(delete runs you no longer need)",
			 used, limit);
		return -1;
	}
	return 0;
}

void quota_start_block(const struct quota_limits *l, const struct quota_use *u, bool gpu, char *msg, size_t len)
{
	msg[0] = '\0';
	enum quota_kind day = gpu ? QUOTA_GPU_MINUTES_DAY : QUOTA_CPU_MINUTES_DAY;
	enum quota_kind week = gpu ? QUOTA_GPU_MINUTES_WEEK : QUOTA_CPU_MINUTES_WEEK;
	double used_day = gpu ? u->gpu_s_day : u->cpu_s_day, used_week = gpu ? u->gpu_s_week : u->cpu_s_week;
	const char *what = gpu ? "GPU" : "CPU";
	if (minutes_reached(used_week, l->v[week]))
		snprintf(msg, len,
			 "your %s minutes for this week are used up (%.1f of %" PRId64
			 "); it starts on Monday after 00:00",
			 what, used_week / 60.0, l->v[week]);
	else if (minutes_reached(used_day, l->v[day]))
		snprintf(msg, len,
			 "your %s minutes for today are used up (%.1f of %" PRId64 "); it starts after midnight", what,
			 used_day / 60.0, l->v[day]);
}

void quota_fmt_duration(int64_t s, char *buf, size_t len)
{
	if (s < 60)
		snprintf(buf, len, "%" PRId64 " s", s);
	else if (s < 3600)
		snprintf(buf, len, "%" PRId64 " min", s / 60);
	else if (s % 3600 / 60)
		snprintf(buf, len, "%" PRId64 " h %" PRId64 " min", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%" PRId64 " h", s / 3600);
}
