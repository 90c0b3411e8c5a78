/*
 * labs.c — lab sessions' text and JSON forms (see labs.h).
 *
 * Threads: pure; any thread.
 */
#include "labs.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store.h"
#include "tb.h"

static const char *const days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static int parse_day(const char *text, size_t n)
{
	for (int d = 0; d < 7; d++)
		if (n >= 3 && !strncasecmp(text, days[d], 3))
			return d;
	return -1;
}

/* "14:00" → 840; "24:00" is the end of the day. */
static int parse_clock(const char *text, size_t n)
{
	char buf[8];
	if (n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, text, n);
	buf[n] = '\0';
	int h, m;
	char tail;
	if (sscanf(buf, "%d:%d%c", &h, &m, &tail) != 2 || h < 0 || h > 24 || m < 0 || m > 59 || (h == 24 && m))
		return -1;
	return h * 60 + m;
}

/* Members from "a,b" into out->users; each must be a user name as accounts spell them. */
static int set_users(struct sched_lab *out, const char *list, char *err, size_t errlen)
{
	size_t off = 0;
	out->users[0] = '\0';
	for (const char *p = list; *p;) {
		while (*p == ',' || *p == ' ')
			p++;
		size_t n = strcspn(p, ", ");
		if (!n)
			break;
		for (size_t i = 0; i < n; i++)
			if (!isalnum((unsigned char)p[i]) && !strchr("._-", p[i])) {
				snprintf(err, errlen, "lab session: '%.*s' is not a user name", (int)n, p);
				return -1;
			}
		if (n >= STORE_NAME_MAX || off + n + 2 > sizeof out->users) {
			snprintf(err, errlen, "lab session: too many members (at most %zu characters of names)",
				 sizeof out->users - 1);
			return -1;
		}
		off += (size_t)snprintf(out->users + off, sizeof out->users - off, "%s%.*s", off ? "," : "", (int)n, p);
		p += n;
	}
	return 0;
}

static int finish(struct sched_lab *l, char *err, size_t errlen)
{
	if (l->start_min >= l->end_min) {
		snprintf(err, errlen,
			 "lab session: the end must come after the start on the same day "
			 "(a session past midnight is two sessions)");
		return -1;
	}
	return 0;
}

int labs_parse(const char *text, struct sched_lab *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	const char *p = text;
	while (isspace((unsigned char)*p))
		p++;
	size_t n = strcspn(p, " \t");
	int day = parse_day(p, n);
	p += n;
	while (isspace((unsigned char)*p))
		p++;
	size_t span = strcspn(p, " \t");
	const char *dash = memchr(p, '-', span);
	int start = dash ? parse_clock(p, (size_t)(dash - p)) : -1;
	int end = dash ? parse_clock(dash + 1, span - (size_t)(dash + 1 - p)) : -1;
	if (day < 0 || start < 0 || end < 0) {
		snprintf(err, errlen,
			 "lab-session: expected 'DAY HH:MM-HH:MM [priority|exclusive] [user,user…]', "
			 "e.g. 'tue 14:00-16:00 exclusive', got '%s'",
			 text);
		return -1;
	}
	out->weekday = day;
	out->start_min = start;
	out->end_min = end;
	p += span;
	while (isspace((unsigned char)*p))
		p++;
	n = strcspn(p, " \t");
	if (n == 9 && !strncmp(p, "exclusive", 9)) {
		out->exclusive = true;
		p += n;
	} else if (n == 8 && !strncmp(p, "priority", 8)) {
		p += n;
	}
	while (isspace((unsigned char)*p))
		p++;
	if (set_users(out, p, err, errlen) < 0)
		return -1;
	return finish(out, err, errlen);
}

void labs_format(const struct sched_lab *l, char *buf, size_t len)
{
	snprintf(buf, len, "%s %02d:%02d-%02d:%02d %s%s%s", days[l->weekday % 7], l->start_min / 60, l->start_min % 60,
		 l->end_min / 60, l->end_min % 60, l->exclusive ? "exclusive" : "priority", l->users[0] ? " " : "",
		 l->users);
}

json_t *labs_json(const struct sched_lab *l)
{
	char start[8], end[8];
	snprintf(start, sizeof start, "%02d:%02d", l->start_min / 60, l->start_min % 60);
	snprintf(end, sizeof end, "%02d:%02d", l->end_min / 60, l->end_min % 60);
	json_t *users = json_array();
	for (const char *p = l->users; *p;) {
		size_t n = strcspn(p, ",");
		json_array_append_new(users, json_stringn(p, n));
		p += n;
		if (*p == ',')
			p++;
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:o}", "day", days[l->weekday % 7], "start", start, "end", end, "mode",
			 l->exclusive ? "exclusive" : "priority", "users", users);
}

int labs_from_json(const json_t *j, struct sched_lab *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	const char *day = json_string_value(json_object_get(j, "day"));
	const char *start = json_string_value(json_object_get(j, "start"));
	const char *end = json_string_value(json_object_get(j, "end"));
	const char *mode = json_string_value(json_object_get(j, "mode"));
	json_t *users = json_object_get(j, "users");
	if (!json_is_object(j) || !day || !start || !end) {
		snprintf(err, errlen,
			 "a lab session is {\"day\": \"tue\", \"start\": \"14:00\", \"end\": \"16:00\", "
			 "\"mode\": \"priority\" or \"exclusive\", \"users\": [names] (optional)}");
		return -1;
	}
	out->weekday = parse_day(day, strlen(day));
	out->start_min = parse_clock(start, strlen(start));
	out->end_min = parse_clock(end, strlen(end));
	if (out->weekday < 0 || strlen(day) > 9 || out->start_min < 0 || out->end_min < 0) {
		snprintf(err, errlen, "lab session: day is mon … sun, start and end are HH:MM");
		return -1;
	}
	if (mode && strcmp(mode, "priority") && strcmp(mode, "exclusive")) {
		snprintf(err, errlen, "lab session: mode is \"priority\" or \"exclusive\"");
		return -1;
	}
	out->exclusive = mode && !strcmp(mode, "exclusive");
	if (users && !json_is_null(users)) {
		if (!json_is_array(users)) {
			snprintf(err, errlen, "lab session: users is a list of user names");
			return -1;
		}
		char list[sizeof out->users * 2] = "";
		size_t off = 0, i;
		json_t *u;
		json_array_foreach(users, i, u)
		{
			const char *name = json_string_value(u);
			if (!name || strchr(name, ',') || strchr(name, ' ') || !*name) {
				snprintf(err, errlen, "lab session: users is a list of user names");
				return -1;
			}
			if (off + strlen(name) + 2 > sizeof list) {
				snprintf(err, errlen, "lab session: too many members");
				return -1;
			}
			off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", off ? "," : "", name);
		}
		if (set_users(out, list, err, errlen) < 0)
			return -1;
	}
	return finish(out, err, errlen);
}

int labs_list_from_json(const json_t *arr, struct sched_lab *out, int max, char *err, size_t errlen)
{
	if (!json_is_array(arr)) {
		snprintf(
			err, errlen,
			"expected {\"sessions\": [ {\"day\": \"tue\", \"start\": \"14:00\", \"end\": \"16:00\"}, … ]}");
		return -1;
	}
	if ((int)json_array_size(arr) > max) {
		snprintf(err, errlen, "at most %d lab sessions", max);
		return -1;
	}
	size_t i;
	json_t *j;
	json_array_foreach(arr, i, j)
	{
		char msg[240];
		if (labs_from_json(j, &out[i], msg, sizeof msg) < 0) {
			snprintf(err, errlen, "sessions[%zu]: %s", i, msg);
			return -1;
		}
	}
	return (int)json_array_size(arr);
}

json_t *labs_list_json(const struct sched_lab *l, int n)
{
	json_t *arr = json_array();
	for (int i = 0; i < n; i++)
		json_array_append_new(arr, labs_json(&l[i]));
	return arr;
}
