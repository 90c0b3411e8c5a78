/*
 * config.c — defaults, `key = value` files and one setter shared with the
 * command line (see config.h).
 *
 * Threads: main thread only, before the server starts.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

void cfg_defaults(struct cfg *c)
{
	memset(c, 0, sizeof *c);
	strcpy(c->ip, "127.0.0.1");
	c->port = 8888;
	c->port_retries = 50;
	if (!getcwd(c->workspace, sizeof c->workspace))
		strcpy(c->workspace, ".");
	strcpy(c->base_url, "/");
	c->cpu_runs = 1;
	c->gpu_runs = 1;
	c->worker_timeout = 600;
	c->stop_timeout = 120;
	c->max_queued = 256;
	c->seed = true;
	c->session_idle = 8 * 3600;
	c->session_max = 7 * 86400;
	c->link_expiry = 7 * 86400;
}

static int parse_int(const char *v, int lo, int hi, int *out)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < lo || n > hi)
		return -1;
	*out = (int)n;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1") || !strcmp(v, "on"))
		*out = true;
	else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0") || !strcmp(v, "off"))
		*out = false;
	else
		return -1;
	return 0;
}

/* "/", "x", "/x", "x/" all become "/x/": the page and cookies need the slashes. */
static int set_base_url(struct cfg *c, const char *v)
{
	char buf[sizeof c->base_url];
	size_t n = 0;
	buf[n++] = '/';
	for (const char *p = v; *p; p++) {
		if (*p == '/' && buf[n - 1] == '/')
			continue;
		if (!isalnum((unsigned char)*p) && !strchr("/-_.~", *p))
			return -1;
		if (n + 2 >= sizeof buf)
			return -1;
		buf[n++] = *p;
	}
	if (buf[n - 1] != '/')
		buf[n++] = '/';
	buf[n] = '\0';
	if (strstr(buf, "/../") || strstr(buf, "/./"))
		return -1;
	memcpy(c->base_url, buf, n + 1);
	return 0;
}

static int add_data_root(struct cfg *c, const char *value, char *err, size_t errlen)
{
	if (c->ndata_roots >= CFG_MAX_DATA_ROOTS) {
		snprintf(err, errlen, "data-root: at most %d folders", CFG_MAX_DATA_ROOTS);
		return -1;
	}
	if (value[0] != '/') {
		snprintf(err, errlen, "data-root: expected an absolute path, got '%s'", value);
		return -1;
	}
	if (!srv_strlcpy(c->data_roots[c->ndata_roots], value, sizeof c->data_roots[0])) {
		snprintf(err, errlen, "data-root: path too long");
		return -1;
	}
	c->ndata_roots++;
	return 0;
}

/* "a, b" → add_data_root each. */
static int add_data_roots(struct cfg *c, const char *value, char *err, size_t errlen)
{
	char one[PATH_MAX];
	for (const char *p = value; *p;) {
		size_t n = strcspn(p, ",");
		while (n && isspace((unsigned char)*p)) {
			p++;
			n--;
		}
		size_t len = n;
		while (len && isspace((unsigned char)p[len - 1]))
			len--;
		if (len >= sizeof one) {
			snprintf(err, errlen, "data-roots: path too long");
			return -1;
		}
		memcpy(one, p, len);
		one[len] = '\0';
		if (len && add_data_root(c, one, err, errlen) < 0)
			return -1;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

#define SET_BOOL(field)                                                                   \
	do {                                                                              \
		if (parse_bool(value, &c->field) < 0) {                                   \
			snprintf(err, errlen, "%s: expected true or false, got '%s'", key, value); \
			return -1;                                                        \
		}                                                                         \
		return 0;                                                                 \
	} while (0)

#define COPY_STR(field)                                                                   \
	do {                                                                              \
		if (!srv_strlcpy(c->field, value, sizeof c->field)) {                     \
			snprintf(err, errlen, "%s: value too long", key);                 \
			return -1;                                                        \
		}                                                                         \
		return 0;                                                                 \
	} while (0)

#define SET_INT(field, lo, hi)                                                            \
	do {                                                                              \
		if (parse_int(value, lo, hi, &c->field) < 0) {                            \
			snprintf(err, errlen, "%s: expected a number from %d to %d, got '%s'", \
				 key, lo, hi, value);                                     \
			return -1;                                                        \
		}                                                                         \
		return 0;                                                                 \
	} while (0)

int cfg_set(struct cfg *c, const char *key, const char *value, char *err, size_t errlen)
{
	if (!strcmp(key, "ip"))
		COPY_STR(ip);
	if (!strcmp(key, "port"))
		SET_INT(port, 0, 65535);
	if (!strcmp(key, "port-retries"))
		SET_INT(port_retries, 0, 1000);
	if (!strcmp(key, "workspace"))
		COPY_STR(workspace);
	if (!strcmp(key, "token")) {
		for (const char *p = value; *p; p++) {
			if (!isgraph((unsigned char)*p) || *p == ';' || *p == ',' || *p == '"') {
				snprintf(err, errlen, "token: only printable characters without ;,\" and spaces");
				return -1;
			}
		}
		COPY_STR(token);
	}
	if (!strcmp(key, "base-url")) {
		if (set_base_url(c, value) < 0) {
			snprintf(err, errlen, "base-url: expected a path like /trainbook/, got '%s'", value);
			return -1;
		}
		return 0;
	}
	if (!strcmp(key, "cpu-runs"))
		SET_INT(cpu_runs, 0, 256);
	if (!strcmp(key, "gpu-runs"))
		SET_INT(gpu_runs, 0, 64);
	if (!strcmp(key, "worker-timeout"))
		SET_INT(worker_timeout, 1, 86400 * 7);
	if (!strcmp(key, "stop-timeout"))
		SET_INT(stop_timeout, 1, 86400);
	if (!strcmp(key, "max-queued"))
		SET_INT(max_queued, 1, 100000);
	if (!strcmp(key, "static"))
		COPY_STR(static_dir);
	if (!strcmp(key, "examples"))
		COPY_STR(examples_dir);
	if (!strcmp(key, "worker-cmd"))
		COPY_STR(worker_cmd);
	if (!strcmp(key, "allow-host")) {
		if (c->nallow_hosts >= CFG_MAX_ALLOW_HOSTS) {
			snprintf(err, errlen, "allow-host: at most %d names", CFG_MAX_ALLOW_HOSTS);
			return -1;
		}
		if (!srv_strlcpy(c->allow_hosts[c->nallow_hosts], value, sizeof c->allow_hosts[0])) {
			snprintf(err, errlen, "allow-host: name too long");
			return -1;
		}
		c->nallow_hosts++;
		return 0;
	}
	if (!strcmp(key, "seed"))
		SET_BOOL(seed);
	if (!strcmp(key, "accounts"))
		SET_BOOL(accounts);
	if (!strcmp(key, "secure-cookies"))
		SET_BOOL(secure_cookies);
	if (!strcmp(key, "user-separation"))
		SET_BOOL(user_separation);
	if (!strcmp(key, "session-idle"))
		SET_INT(session_idle, 1, 86400 * 365);
	if (!strcmp(key, "session-max"))
		SET_INT(session_max, 1, 86400 * 365);
	if (!strcmp(key, "link-expiry"))
		SET_INT(link_expiry, 1, 86400 * 365);
	if (!strcmp(key, "public-url")) {
		if (strncmp(value, "http://", 7) && strncmp(value, "https://", 8)) {
			snprintf(err, errlen, "public-url: expected http://… or https://…, got '%s'", value);
			return -1;
		}
		COPY_STR(public_url);
	}
	if (!strcmp(key, "data-root"))
		return add_data_root(c, value, err, errlen);
	if (!strcmp(key, "data-roots"))
		return add_data_roots(c, value, err, errlen);
	snprintf(err, errlen, "unknown setting '%s'", key);
	return -1;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int cfg_load_file(struct cfg *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char line[4096], msg[512];
	int lineno = 0, rc = 0;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			rc = -1;
			break;
		}
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *s = trim(line);
		if (!*s)
			continue;
		/* `key = value` or `key: value`, whichever comes first (values may hold either). */
		char *eq = s + strcspn(s, "=:");
		if (!*eq) {
			snprintf(err, errlen, "%s:%d: expected 'key = value'", path, lineno);
			rc = -1;
			break;
		}
		*eq = '\0';
		char *key = trim(s), *value = trim(eq + 1);
		for (char *k = key; *k; k++)
			if (*k == '_')
				*k = '-';
		/* Quotes are optional; allow them so values with spaces read naturally. */
		size_t vl = strlen(value);
		if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') {
			value[vl - 1] = '\0';
			value++;
		}
		if (cfg_set(c, key, value, msg, sizeof msg) < 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
			rc = -1;
			break;
		}
	}
	fclose(f);
	return rc;
}

int cfg_load_files_named(struct cfg *c, int argc, char **argv, char *err, size_t errlen)
{
	for (int i = 1; i < argc; i++) {
		const char *file = NULL;
		if ((!strcmp(argv[i], "--config") || !strcmp(argv[i], "-c")) && i + 1 < argc)
			file = argv[i + 1];
		else if (!strncmp(argv[i], "--config=", 9))
			file = argv[i] + 9;
		if (file && cfg_load_file(c, file, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* <dir of exe>/../<name>, only when it exists. */
static void beside_exe(const char *exe_path, const char *name, char *out, size_t outlen)
{
	char dir[PATH_MAX];
	if (!exe_path || !srv_strlcpy(dir, exe_path, sizeof dir))
		return;
	char *slash = strrchr(dir, '/');
	if (!slash)
		return;
	*slash = '\0';
	char cand[PATH_MAX + 64], real[PATH_MAX];
	snprintf(cand, sizeof cand, "%s/../%s", dir, name);
	if (realpath(cand, real))
		srv_strlcpy(out, real, outlen);
}

int cfg_finish(struct cfg *c, const char *exe_path, char *err, size_t errlen)
{
	if (!c->static_dir[0])
		beside_exe(exe_path, "static", c->static_dir, sizeof c->static_dir);
	if (!c->examples_dir[0])
		beside_exe(exe_path, "examples", c->examples_dir, sizeof c->examples_dir);
	char real[PATH_MAX];
	if (!realpath(c->workspace, real)) {
		snprintf(err, errlen, "workspace %s: %s", c->workspace, strerror(errno));
		return -1;
	}
	srv_strlcpy(c->workspace, real, sizeof c->workspace);
	for (int i = 0; i < c->ndata_roots; i++) {
		if (!realpath(c->data_roots[i], real)) {
			snprintf(err, errlen, "data-root %s: %s", c->data_roots[i], strerror(errno));
			return -1;
		}
		srv_strlcpy(c->data_roots[i], real, sizeof c->data_roots[i]);
	}
	if (c->static_dir[0] && realpath(c->static_dir, real))
		srv_strlcpy(c->static_dir, real, sizeof c->static_dir);
	return 0;
}

void cfg_local_url(const struct cfg *c, int port, char *out, size_t len)
{
	const char *ip = c->ip;
	const char *host = !strcmp(ip, "0.0.0.0") || !strcmp(ip, "::") ? "127.0.0.1" : ip;
	bool v6 = strchr(host, ':') != NULL;
	snprintf(out, len, "http://%s%s%s:%d%s", v6 ? "[" : "", host, v6 ? "]" : "", port, c->base_url);
}

void cfg_link_base(const struct cfg *c, int port, char *out, size_t len)
{
	size_t n = strlen(c->public_url);
	if (n)
		snprintf(out, len, "%s%s", c->public_url, c->public_url[n - 1] == '/' ? "" : "/");
	else
		cfg_local_url(c, port, out, len);
}

void cfg_print(const struct cfg *c, void *stdio_file)
{
	FILE *f = stdio_file;
	fprintf(f, "ip = %s\nport = %d\nport-retries = %d\nworkspace = %s\n", c->ip, c->port,
		c->port_retries, c->workspace);
	fprintf(f, "base-url = %s\ncpu-runs = %d\ngpu-runs = %d\nworker-timeout = %d\n", c->base_url,
		c->cpu_runs, c->gpu_runs, c->worker_timeout);
	fprintf(f, "stop-timeout = %d\nmax-queued = %d\nstatic = %s\nexamples = %s\nseed = %s\n",
		c->stop_timeout, c->max_queued, c->static_dir, c->examples_dir,
		c->seed ? "true" : "false");
	for (int i = 0; i < c->nallow_hosts; i++)
		fprintf(f, "allow-host = %s\n", c->allow_hosts[i]);
	fprintf(f, "accounts = %s\nsecure-cookies = %s\nuser-separation = %s\n", c->accounts ? "true" : "false",
		c->secure_cookies ? "true" : "false", c->user_separation ? "true" : "false");
	fprintf(f, "session-idle = %d\nsession-max = %d\nlink-expiry = %d\n", c->session_idle, c->session_max,
		c->link_expiry);
	if (c->public_url[0])
		fprintf(f, "public-url = %s\n", c->public_url);
	for (int i = 0; i < c->ndata_roots; i++)
		fprintf(f, "data-root = %s\n", c->data_roots[i]);
}
