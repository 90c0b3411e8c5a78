/*
 * test_config.c — defaults, the setter shared by flags and the file, and
 * `key = value` files with their errors (server/config.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "server/config.h"

static void defaults(void **state)
{
	(void)state;
	struct cfg c;
	cfg_defaults(&c);
	assert_string_equal(c.ip, "127.0.0.1");
	assert_int_equal(c.port, 8888);
	assert_int_equal(c.worker_timeout, 600);
	assert_string_equal(c.base_url, "/");
	assert_true(c.seed);
	/* cpu-runs: one at a time for one person, shared out by the cores on a lab server. */
	char err[256];
	assert_int_equal(cfg_finish(&c, "/nonexistent/bin/trainbook", err, sizeof err), 0);
	assert_int_equal(c.cpu_runs, 1);
	cfg_defaults(&c);
	assert_int_equal(cfg_set(&c, "accounts", "true", err, sizeof err), 0);
	assert_int_equal(cfg_finish(&c, "/nonexistent/bin/trainbook", err, sizeof err), 0);
	assert_int_equal(c.cpu_runs, CFG_RUNS_AUTO);
	cfg_defaults(&c);
	assert_int_equal(cfg_set(&c, "accounts", "true", err, sizeof err), 0);
	assert_int_equal(cfg_set(&c, "cpu-runs", "3", err, sizeof err), 0);
	assert_int_equal(cfg_finish(&c, "/nonexistent/bin/trainbook", err, sizeof err), 0);
	assert_int_equal(c.cpu_runs, 3);
	/* The scheduler's defaults. */
	assert_false(c.sched.fifo);
	assert_int_equal(c.sched.half_life, 3600);
	assert_int_equal(c.sched.gpu_margin, 512 << 20);
	assert_int_equal(c.sched.quotas.role[QUOTA_STUDENT].v[QUOTA_GPU_MINUTES_DAY], QUOTA_NONE);
}

static void sched_keys(void **state)
{
	(void)state;
	struct cfg c;
	char err[256];
	cfg_defaults(&c);
	assert_int_equal(cfg_set(&c, "sched", "fifo", err, sizeof err), 0);
	assert_true(c.sched.fifo);
	assert_int_equal(cfg_set(&c, "sched", "lottery", err, sizeof err), -1);
	assert_non_null(strstr(err, "expected fair or fifo"));
	assert_int_equal(cfg_set(&c, "sched-half-life", "30m", err, sizeof err), 0);
	assert_int_equal(c.sched.half_life, 1800);
	assert_int_equal(cfg_set(&c, "sched-half-life", "0", err, sizeof err), -1);
	assert_int_equal(cfg_set(&c, "gpu-memory-margin", "1G", err, sizeof err), 0);
	assert_int_equal(c.sched.gpu_margin, 1 << 30);
	assert_int_equal(cfg_set(&c, "cpu-runs", "auto", err, sizeof err), 0);
	assert_int_equal(c.cpu_runs, CFG_RUNS_AUTO);
	assert_int_equal(cfg_set(&c, "cpu-runs", "many", err, sizeof err), -1);
	assert_int_equal(cfg_set(&c, "lab-session", "tue 14:00-16:00 exclusive", err, sizeof err), 0);
	assert_int_equal(c.sched.nlabs, 1);
	assert_int_equal(cfg_set(&c, "lab-session", "tue 16:00-14:00", err, sizeof err), -1);
	assert_int_equal(cfg_set(&c, "quota-student-concurrent-runs", "2", err, sizeof err), 0);
	assert_int_equal(c.sched.quotas.role[QUOTA_STUDENT].v[QUOTA_CONCURRENT_RUNS], 2);
	assert_int_equal(cfg_set(&c, "quota-student-colour", "2", err, sizeof err), -1);
	assert_non_null(strstr(err, "unknown setting 'quota-student-colour'"));
}

static void setter(void **state)
{
	(void)state;
	struct cfg c;
	char err[256];
	cfg_defaults(&c);
	assert_int_equal(cfg_set(&c, "port", "9000", err, sizeof err), 0);
	assert_int_equal(c.port, 9000);
	assert_int_equal(cfg_set(&c, "port", "70000", err, sizeof err), -1);
	assert_non_null(strstr(err, "port"));
	assert_int_equal(cfg_set(&c, "port", "12ab", err, sizeof err), -1);
	assert_int_equal(cfg_set(&c, "colour", "blue", err, sizeof err), -1);
	assert_non_null(strstr(err, "unknown setting"));
	assert_int_equal(cfg_set(&c, "token", "has space", err, sizeof err), -1);
	assert_int_equal(cfg_set(&c, "seed", "no", err, sizeof err), 0);
	assert_false(c.seed);
	assert_int_equal(cfg_set(&c, "seed", "maybe", err, sizeof err), -1);
}

static void base_url(void **state)
{
	(void)state;
	struct cfg c;
	char err[256];
	cfg_defaults(&c);
	const char *in[] = {"trainbook", "/trainbook", "trainbook/", "//trainbook//", "/a/b"};
	const char *out[] = {"/trainbook/", "/trainbook/", "/trainbook/", "/trainbook/", "/a/b/"};
	for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
		assert_int_equal(cfg_set(&c, "base-url", in[i], err, sizeof err), 0);
		assert_string_equal(c.base_url, out[i]);
	}
	assert_int_equal(cfg_set(&c, "base-url", "/", err, sizeof err), 0);
	assert_string_equal(c.base_url, "/");
	assert_int_equal(cfg_set(&c, "base-url", "/a/../b", err, sizeof err), -1);
	assert_int_equal(cfg_set(&c, "base-url", "/a b", err, sizeof err), -1);
	assert_int_equal(cfg_set(&c, "base-url", "/x\"y", err, sizeof err), -1);
}

static char *write_temp(const char *text)
{
	char *path = strdup("/tmp/tb-cfg-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void file(void **state)
{
	(void)state;
	struct cfg c;
	char err[256];
	cfg_defaults(&c);
	char *p = write_temp("# comment\n\nport = 7000  # trailing\nip=0.0.0.0\nallow-host = a.example\n"
			     "allow-host = b.example\nbase-url = \"/nb/\"\n");
	assert_int_equal(cfg_load_file(&c, p, err, sizeof err), 0);
	assert_int_equal(c.port, 7000);
	assert_string_equal(c.ip, "0.0.0.0");
	assert_int_equal(c.nallow_hosts, 2);
	assert_string_equal(c.allow_hosts[1], "b.example");
	assert_string_equal(c.base_url, "/nb/");
	unlink(p);
	free(p);

	p = write_temp("port = 7000\nthis line has no equals sign\n");
	assert_int_equal(cfg_load_file(&c, p, err, sizeof err), -1);
	assert_non_null(strstr(err, ":2:"));
	unlink(p);
	free(p);

	p = write_temp("cpu-runs = lots\n");
	assert_int_equal(cfg_load_file(&c, p, err, sizeof err), -1);
	assert_non_null(strstr(err, ":1: cpu-runs"));
	unlink(p);
	free(p);

	assert_int_equal(cfg_load_file(&c, "/nonexistent/tb.conf", err, sizeof err), -1);
}

/* The executor is picked from the registry; slurm-* settings are checked as they are read. */
static void executor_settings(void **state)
{
	(void)state;
	struct cfg c;
	char err[256];
	cfg_defaults(&c);
	assert_string_equal(c.executor.kind, "local");
	assert_int_equal(cfg_set(&c, "executor", "pbs", err, sizeof err), -1);
	assert_non_null(strstr(err, "local, slurm"));
	assert_int_equal(cfg_set(&c, "executor", "slurm", err, sizeof err), 0);
	assert_string_equal(c.executor.kind, "slurm");
	assert_int_equal(cfg_set(&c, "slurm-partition", "gpu", err, sizeof err), 0);
	assert_string_equal(c.executor.partition, "gpu");
	assert_int_equal(cfg_set(&c, "slurm-events", "carrier-pigeon", err, sizeof err), -1);
	assert_int_equal(cfg_set(&c, "slurm-report-url", "ftp://x/", err, sizeof err), -1);
	assert_int_equal(cfg_set(&c, "slurm-max-jobs", "0", err, sizeof err), -1);
	assert_int_equal(cfg_set(&c, "slurm-extra-arg", "--constraint=h100", err, sizeof err), 0);
	assert_int_equal(cfg_set(&c, "slurm-extra-arg", "--exclusive", err, sizeof err), 0);
	assert_int_equal(c.executor.nextra_args, 2);
	assert_string_equal(c.executor.extra_args[1], "--exclusive");
	assert_int_equal(cfg_set(&c, "slurm-colour", "blue", err, sizeof err), -1);
	assert_non_null(strstr(err, "unknown setting"));
}

/* The proxy settings of issue 20: trusted-proxy, public-url, token-file. */
static void proxy_settings(void **state)
{
	(void)state;
	struct cfg c;
	char err[256];
	cfg_defaults(&c);
	assert_int_equal(cfg_set(&c, "trusted-proxy", "127.0.0.1", err, sizeof err), 0);
	assert_int_equal(cfg_set(&c, "trusted-proxy", "::1", err, sizeof err), 0);
	assert_int_equal(c.ntrusted_proxies, 2);
	assert_int_equal(cfg_set(&c, "trusted-proxy", "nginx.local", err, sizeof err), -1);
	assert_non_null(strstr(err, "IP address"));
	assert_int_equal(cfg_set(&c, "trusted-proxy", "10.0.0.0/8", err, sizeof err), -1);
	assert_int_equal(cfg_set(&c, "public-url", "ftp://x/", err, sizeof err), -1);
	assert_int_equal(cfg_set(&c, "public-url", "https:///trainbook/", err, sizeof err), -1);
	assert_int_equal(cfg_set(&c, "public-url", "https://x/a b/", err, sizeof err), -1);
	assert_int_equal(cfg_set(&c, "public-url", "https://x/?token=1", err, sizeof err), -1);

	/* public-url's path must be base-url; the stored URL ends in it. */
	char ws[] = "/tmp/tb-cfg-ws-XXXXXX";
	assert_non_null(mkdtemp(ws));
	assert_int_equal(cfg_set(&c, "workspace", ws, err, sizeof err), 0);
	assert_int_equal(cfg_set(&c, "public-url", "https://nb.example.org:18443/trainbook", err, sizeof err), 0);
	assert_int_equal(cfg_finish(&c, NULL, err, sizeof err), -1);
	assert_non_null(strstr(err, "must be base-url"));
	assert_int_equal(cfg_set(&c, "base-url", "/trainbook/", err, sizeof err), 0);
	assert_int_equal(cfg_finish(&c, NULL, err, sizeof err), 0);
	assert_string_equal(c.public_url, "https://nb.example.org:18443/trainbook/");

	/* token-file: the token without the newline; not together with a token. */
	char *p = write_temp("  s3cret-from-file\n\n");
	assert_int_equal(cfg_set(&c, "token-file", p, err, sizeof err), 0);
	assert_int_equal(cfg_finish(&c, NULL, err, sizeof err), 0);
	assert_string_equal(c.token, "s3cret-from-file");
	assert_int_equal(cfg_finish(&c, NULL, err, sizeof err), -1);
	assert_non_null(strstr(err, "keep one"));
	unlink(p);
	free(p);
	c.token[0] = '\0';
	p = write_temp("\n");
	assert_int_equal(cfg_set(&c, "token-file", p, err, sizeof err), 0);
	assert_int_equal(cfg_finish(&c, NULL, err, sizeof err), -1);
	assert_non_null(strstr(err, "is empty"));
	unlink(p);
	free(p);
	assert_int_equal(cfg_set(&c, "token-file", "/nonexistent/token", err, sizeof err), 0);
	assert_int_equal(cfg_finish(&c, NULL, err, sizeof err), -1);
	assert_non_null(strstr(err, "/nonexistent/token"));
	rmdir(ws);
}

/* The classroom keys, `key: value` lines, `_` in keys, data roots as a list. */
static void accounts_keys(void **state)
{
	(void)state;
	struct cfg c;
	char err[256];
	cfg_defaults(&c);
	assert_false(c.accounts);
	assert_int_equal(c.session_idle, 28800);
	assert_int_equal(c.session_max, 604800);
	char *p = write_temp("accounts: true\nsession_idle: 60\ndata_roots: /tmp, /\n"
			     "public-url = https://lab.example/tb\nsecure-cookies = yes\n");
	assert_int_equal(cfg_load_file(&c, p, err, sizeof err), 0);
	assert_true(c.accounts);
	assert_true(c.secure_cookies);
	assert_int_equal(c.session_idle, 60);
	assert_int_equal(c.ndata_roots, 2);
	assert_string_equal(c.data_roots[0], "/tmp");
	assert_string_equal(c.data_roots[1], "/");
	char base[600];
	cfg_link_base(&c, 8888, base, sizeof base);
	assert_string_equal(base, "https://lab.example/tb/");
	unlink(p);
	free(p);
	assert_int_equal(cfg_set(&c, "data-root", "relative/dir", err, sizeof err), -1);
	assert_int_equal(cfg_set(&c, "public-url", "ftp://x", err, sizeof err), -1);
	assert_int_equal(cfg_set(&c, "session-max", "0", err, sizeof err), -1);
	cfg_defaults(&c);
	cfg_link_base(&c, 9000, base, sizeof base);
	assert_string_equal(base, "http://127.0.0.1:9000/");
	/* A data root that does not exist stops the server at start-up. */
	assert_int_equal(cfg_set(&c, "data-root", "/nonexistent/data", err, sizeof err), 0);
	assert_int_equal(cfg_finish(&c, NULL, err, sizeof err), -1);
	assert_non_null(strstr(err, "/nonexistent/data"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults), cmocka_unit_test(sched_keys), cmocka_unit_test(setter), cmocka_unit_test(base_url),
		cmocka_unit_test(file), cmocka_unit_test(executor_settings), cmocka_unit_test(proxy_settings),
		cmocka_unit_test(accounts_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
