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

#include "memlimit.h"
#include "util.h"

/* Smaller budgets would refuse even an empty run (the worker process alone holds 8-14 MiB). */
#define CFG_WORKER_MEMORY_MIN ((int64_t)16 << 20)

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
	if (!strcmp(key, "worker-memory")) {
		if (memlimit_parse_bytes(value, &c->worker_memory) < 0 ||
		    (c->worker_memory && c->worker_memory < CFG_WORKER_MEMORY_MIN)) {
			snprintf(err, errlen, "worker-memory: expected a size of at least 16M (e.g. 512M, 8G) or 0, got '%s'",
				 value);
			return -1;
		}
		return 0;
	}
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
	if (!strcmp(key, "seed")) {
		if (parse_bool(value, &c->seed) < 0) {
			snprintf(err, errlen, "seed: expected true or false, got '%s'", value);
			return -1;
		}
		return 0;
	}
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
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%d: expected 'key = value'", path, lineno);
			rc = -1;
			break;
		}
		*eq = '\0';
		char *key = trim(s), *value = trim(eq + 1);
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
	if (c->static_dir[0] && realpath(c->static_dir, real))
		srv_strlcpy(c->static_dir, real, sizeof c->static_dir);
	return 0;
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
	fprintf(f, "worker-memory = %lld\n", (long long)c->worker_memory);
	for (int i = 0; i < c->nallow_hosts; i++)
		fprintf(f, "allow-host = %s\n", c->allow_hosts[i]);
}
