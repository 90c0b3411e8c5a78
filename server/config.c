/*
 * config.c — defaults, `key = value` files and one setter shared with the
 * command line (see config.h).
 *
 * Threads: main thread only, before the server starts.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "executor.h"
#include "memlimit.h"
#include "runq.h"
#include "tb.h"
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
	c->cpu_runs = CFG_RUNS_DEFAULT;
	c->gpu_runs = 1;
	c->worker_timeout = 600;
	c->stop_timeout = 120;
	c->max_queued = 256;
	c->seed = true;
	c->session_idle = 8 * 3600;
	c->session_max = 7 * 86400;
	c->link_expiry = 7 * 86400;
	strcpy(c->executor.kind, "local");
	strcpy(c->executor.gres, "gpu:{devices}");
	strcpy(c->executor.events, "http");
	c->executor.max_jobs = 64;
	c->executor.cpus_per_task = 2;
	c->executor.poll_s = 5;
	c->sched.half_life = 3600;
	c->sched.gpu_margin = (int64_t)512 << 20;
	quota_config_init(&c->sched.quotas);
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
static int normalize_prefix(const char *v, char *out, size_t outlen)
{
	char buf[256];
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
	if (strstr(buf, "/../") || strstr(buf, "/./") || n + 1 > outlen)
		return -1;
	memcpy(out, buf, n + 1);
	return 0;
}

/*
 * Where the path of a public URL starts: after "http(s)://" and a host
 * (name, IPv4 or [IPv6], optional :port). NULL when the URL is not of
 * that shape; the path itself is checked by normalize_prefix.
 */
static const char *public_url_path(const char *v)
{
	const char *p;
	if (!strncmp(v, "https://", 8))
		p = v + 8;
	else if (!strncmp(v, "http://", 7))
		p = v + 7;
	else
		return NULL;
	const char *host = p;
	while (*p && *p != '/') {
		if (!isalnum((unsigned char)*p) && !strchr(".-:[]", *p))
			return NULL;
		p++;
	}
	return p > host ? p : NULL;
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

#define COPY_EXEC(field)                                                                  \
	do {                                                                              \
		if (!srv_strlcpy(c->executor.field, value, sizeof c->executor.field)) {   \
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

/* The slurm-* keys (docs/slurm.md). */
static int set_slurm(struct cfg *c, const char *key, const char *value, char *err, size_t errlen)
{
	if (!strcmp(key, "slurm-partition"))
		COPY_EXEC(partition);
	if (!strcmp(key, "slurm-account"))
		COPY_EXEC(account);
	if (!strcmp(key, "slurm-qos"))
		COPY_EXEC(qos);
	if (!strcmp(key, "slurm-gres"))
		COPY_EXEC(gres);
	if (!strcmp(key, "slurm-time-limit"))
		COPY_EXEC(time_limit);
	if (!strcmp(key, "slurm-worker"))
		COPY_EXEC(worker);
	if (!strcmp(key, "slurm-report-url")) {
		if (*value && strncmp(value, "http://", 7)) {
			snprintf(err, errlen, "slurm-report-url: expected http://HOST:PORT/…, got '%s'", value);
			return -1;
		}
		COPY_EXEC(report_url);
	}
	if (!strcmp(key, "slurm-events")) {
		if (strcmp(value, "http") && strcmp(value, "file")) {
			snprintf(err, errlen, "slurm-events: expected http or file, got '%s'", value);
			return -1;
		}
		COPY_EXEC(events);
	}
	if (!strcmp(key, "slurm-extra-arg")) {
		struct exec_config *e = &c->executor;
		if (e->nextra_args >= CFG_MAX_EXTRA_ARGS) {
			snprintf(err, errlen, "slurm-extra-arg: at most %d", CFG_MAX_EXTRA_ARGS);
			return -1;
		}
		if (!srv_strlcpy(e->extra_args[e->nextra_args], value, sizeof e->extra_args[0])) {
			snprintf(err, errlen, "slurm-extra-arg: value too long");
			return -1;
		}
		e->nextra_args++;
		return 0;
	}
	if (!strcmp(key, "slurm-max-jobs"))
		SET_INT(executor.max_jobs, 1, RUNQ_MAX_WORKERS);
	if (!strcmp(key, "slurm-gpus-per-node"))
		SET_INT(executor.gpus_per_node, 0, 64);
	if (!strcmp(key, "slurm-cpus-per-task"))
		SET_INT(executor.cpus_per_task, 1, 1024);
	if (!strcmp(key, "slurm-poll"))
		SET_INT(executor.poll_s, 1, 3600);
	snprintf(err, errlen, "unknown setting '%s'", key);
	return -1;
}

/* The scheduler's keys (sched-*, gpu-memory-margin, lab-session); 0 handled, 1 not ours, -1 error. */
static int set_sched(struct cfg *c, const char *key, const char *value, char *err, size_t errlen)
{
	struct sched_config *sc = &c->sched;
	int64_t v;
	if (!strcmp(key, "sched")) {
		if (strcmp(value, "fair") && strcmp(value, "fifo")) {
			snprintf(err, errlen, "sched: expected fair or fifo, got '%s'", value);
			return -1;
		}
		sc->fifo = !strcmp(value, "fifo");
		return 0;
	}
	if (!strcmp(key, "sched-instructors-first")) {
		if (parse_bool(value, &sc->instructors_first) < 0) {
			snprintf(err, errlen, "%s: expected true or false, got '%s'", key, value);
			return -1;
		}
		return 0;
	}
	if (!strcmp(key, "sched-half-life") || !strcmp(key, "sched-backfill-wait")) {
		bool half = !strcmp(key, "sched-half-life");
		if (quota_parse_duration(value, &v) < 0 || v > 30 * 86400 || (half && v < 1)) {
			snprintf(err, errlen, "%s: expected a duration such as 3600, 30m or 1h%s, got '%s'", key,
				 half ? "" : " (0 = off)", value);
			return -1;
		}
		*(half ? &sc->half_life : &sc->backfill_wait) = (int)v;
		return 0;
	}
	if (!strcmp(key, "gpu-memory-margin")) {
		if (quota_parse_bytes(value, &v) < 0) {
			snprintf(err, errlen, "%s: expected a size such as 512M or 1G, got '%s'", key, value);
			return -1;
		}
		sc->gpu_margin = v;
		return 0;
	}
	if (!strcmp(key, "lab-session")) {
		if (sc->nlabs >= LABS_MAX) {
			snprintf(err, errlen, "lab-session: at most %d", LABS_MAX);
			return -1;
		}
		if (labs_parse(value, &sc->labs[sc->nlabs], err, errlen) < 0)
			return -1;
		sc->nlabs++;
		return 0;
	}
	int q = quota_cfg_set(&sc->quotas, key, value, err, errlen);
	return q < 0 ? -1 : q > 0 ? 0 : 1;
}

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
	if (!strcmp(key, "token-file"))
		COPY_STR(token_file);
	if (!strcmp(key, "base-url")) {
		if (normalize_prefix(value, c->base_url, sizeof c->base_url) < 0) {
			snprintf(err, errlen, "base-url: expected a path like /trainbook/, got '%s'", value);
			return -1;
		}
		return 0;
	}
	if (!strcmp(key, "public-url")) {
		char path[256];
		const char *rest = public_url_path(value);
		if (*value && (!rest || normalize_prefix(rest, path, sizeof path) < 0)) {
			snprintf(err, errlen, "public-url: expected a URL like https://host/trainbook/, got '%s'", value);
			return -1;
		}
		COPY_STR(public_url);
	}
	if (!strcmp(key, "cpu-runs")) {
		if (!strcmp(value, "auto")) {
			c->cpu_runs = CFG_RUNS_AUTO;
			return 0;
		}
		if (parse_int(value, 0, 256, &c->cpu_runs) < 0) {
			snprintf(err, errlen, "cpu-runs: expected auto or a number from 0 to 256, got '%s'", value);
			return -1;
		}
		return 0;
	}
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
	if (!strcmp(key, "runs-dir"))
		COPY_STR(runs_dir);
	if (!strcmp(key, "executor")) {
		if (!executor_find(value)) {
			snprintf(err, errlen, "executor: expected one of %s, got '%s'", executor_names(), value);
			return -1;
		}
		COPY_EXEC(kind);
	}
	if (!strncmp(key, "slurm-", 6))
		return set_slurm(c, key, value, err, errlen);
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
	if (!strcmp(key, "trusted-proxy")) {
		unsigned char bin[16];
		if (inet_pton(AF_INET, value, bin) != 1 && inet_pton(AF_INET6, value, bin) != 1) {
			snprintf(err, errlen, "trusted-proxy: expected the proxy's IP address, got '%s'", value);
			return -1;
		}
		if (c->ntrusted_proxies >= CFG_MAX_TRUSTED_PROXIES) {
			snprintf(err, errlen, "trusted-proxy: at most %d addresses", CFG_MAX_TRUSTED_PROXIES);
			return -1;
		}
		srv_strlcpy(c->trusted_proxies[c->ntrusted_proxies++], value, sizeof c->trusted_proxies[0]);
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
	if (!strcmp(key, "data-root"))
		return add_data_root(c, value, err, errlen);
	if (!strcmp(key, "data-roots"))
		return add_data_roots(c, value, err, errlen);
	int rc = set_sched(c, key, value, err, errlen);
	if (rc <= 0)
		return rc;
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

/* The token from token-file: the file's text without surrounding white space. */
static int read_token_file(struct cfg *c, char *err, size_t errlen)
{
	if (c->token[0]) {
		snprintf(err, errlen, "token-file %s: a token is set as well (token, --token or TRAINBOOK_TOKEN); keep one",
			 c->token_file);
		return -1;
	}
	char *data = NULL, msg[256];
	size_t len = 0;
	if (srv_read_file(c->token_file, 4096, &data, &len) < 0) {
		snprintf(err, errlen, "token-file %s: %s", c->token_file,
			 errno == EFBIG ? "longer than a token can be" : strerror(errno));
		return -1;
	}
	char *t = trim(data);
	int rc = 0;
	if (!*t) {
		snprintf(err, errlen, "token-file %s is empty", c->token_file);
		rc = -1;
	} else if (cfg_set(c, "token", t, msg, sizeof msg) < 0) {
		snprintf(err, errlen, "token-file %s: %s", c->token_file, msg);
		rc = -1;
	}
	free(data);
	return rc;
}

/* Page files and examples in the build tree (<repo>/build/trainbook) or an installed prefix (<prefix>/bin/trainbook). */
static const char *const static_places[] = {"../share/trainbook/static", "../static", NULL};
static const char *const examples_places[] = {"../share/trainbook/examples", "../examples", NULL};

int cfg_finish(struct cfg *c, const char *exe_path, char *err, size_t errlen)
{
	/* A lab server shares the cores out by default; a personal one runs one thing at a time, as always. */
	if (c->cpu_runs == CFG_RUNS_DEFAULT)
		c->cpu_runs = c->accounts ? CFG_RUNS_AUTO : 1;
	if (!c->static_dir[0])
		tb_find_beside_exe(exe_path, static_places, c->static_dir, sizeof c->static_dir);
	if (!c->examples_dir[0])
		tb_find_beside_exe(exe_path, examples_places, c->examples_dir, sizeof c->examples_dir);
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
	if (!c->runs_dir[0]) {
		snprintf(c->runs_dir, sizeof c->runs_dir, "%s/.trainbook/runs", c->workspace);
	} else if (c->runs_dir[0] != '/') {
		snprintf(err, errlen, "runs-dir %s: expected an absolute path", c->runs_dir);
		return -1;
	}
	if (c->static_dir[0] && realpath(c->static_dir, real))
		srv_strlcpy(c->static_dir, real, sizeof c->static_dir);
	if (c->token_file[0] && realpath(c->token_file, real))
		srv_strlcpy(c->token_file, real, sizeof c->token_file); /* the start-up line names it */
	if (c->token_file[0] && read_token_file(c, err, errlen) < 0)
		return -1;
	if (c->public_url[0]) {
		/* The proxy passes the prefix through unchanged (docs/server.md), so
		 * the public path and base-url are one path: a mismatch would print
		 * a URL that leads nowhere. */
		const char *path = public_url_path(c->public_url);
		char norm[256], url[sizeof c->public_url];
		normalize_prefix(path, norm, sizeof norm);
		if (strcmp(norm, c->base_url)) {
			snprintf(err, errlen, "public-url %s: its path must be base-url (%s)", c->public_url, c->base_url);
			return -1;
		}
		snprintf(url, sizeof url, "%.*s%s", (int)(path - c->public_url), c->public_url, c->base_url);
		srv_strlcpy(c->public_url, url, sizeof c->public_url);
	}
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
	char runs[16];
	snprintf(runs, sizeof runs, "%d", c->cpu_runs);
	fprintf(f, "base-url = %s\ncpu-runs = %s\ngpu-runs = %d\nworker-timeout = %d\n", c->base_url,
		c->cpu_runs == CFG_RUNS_AUTO ? "auto" : runs, c->gpu_runs, c->worker_timeout);
	fprintf(f, "stop-timeout = %d\nmax-queued = %d\nstatic = %s\nexamples = %s\nseed = %s\n",
		c->stop_timeout, c->max_queued, c->static_dir, c->examples_dir,
		c->seed ? "true" : "false");
	fprintf(f, "public-url = %s\ntoken-file = %s\n", c->public_url, c->token_file);
	fprintf(f, "worker-memory = %lld\n", (long long)c->worker_memory);
	for (int i = 0; i < c->nallow_hosts; i++)
		fprintf(f, "allow-host = %s\n", c->allow_hosts[i]);
	for (int i = 0; i < c->ntrusted_proxies; i++)
		fprintf(f, "trusted-proxy = %s\n", c->trusted_proxies[i]);
	fprintf(f, "accounts = %s\nsecure-cookies = %s\nuser-separation = %s\n", c->accounts ? "true" : "false",
		c->secure_cookies ? "true" : "false", c->user_separation ? "true" : "false");
	fprintf(f, "session-idle = %d\nsession-max = %d\nlink-expiry = %d\n", c->session_idle, c->session_max,
		c->link_expiry);
	for (int i = 0; i < c->ndata_roots; i++)
		fprintf(f, "data-root = %s\n", c->data_roots[i]);
	const struct sched_config *sc = &c->sched;
	fprintf(f, "sched = %s\nsched-instructors-first = %s\nsched-half-life = %d\nsched-backfill-wait = %d\n",
		sc->fifo ? "fifo" : "fair", sc->instructors_first ? "true" : "false", sc->half_life, sc->backfill_wait);
	fprintf(f, "gpu-memory-margin = %lld\n", (long long)sc->gpu_margin);
	for (int i = 0; i < sc->nlabs; i++) {
		char line[700];
		labs_format(&sc->labs[i], line, sizeof line);
		fprintf(f, "lab-session = %s\n", line);
	}
	quota_cfg_print(&sc->quotas, f);
	const struct exec_config *e = &c->executor;
	fprintf(f, "runs-dir = %s\nexecutor = %s\n", c->runs_dir, e->kind);
	if (strcmp(e->kind, "slurm"))
		return;
	fprintf(f, "slurm-partition = %s\nslurm-account = %s\nslurm-qos = %s\nslurm-gres = %s\n", e->partition,
		e->account, e->qos, e->gres);
	fprintf(f, "slurm-time-limit = %s\nslurm-worker = %s\nslurm-report-url = %s\nslurm-events = %s\n",
		e->time_limit, e->worker, e->report_url, e->events);
	fprintf(f, "slurm-max-jobs = %d\nslurm-gpus-per-node = %d\nslurm-cpus-per-task = %d\nslurm-poll = %d\n",
		e->max_jobs, e->gpus_per_node, e->cpus_per_task, e->poll_s);
	for (int i = 0; i < e->nextra_args; i++)
		fprintf(f, "slurm-extra-arg = %s\n", e->extra_args[i]);
}
