/*
 * config.h — the settings of `trainbook serve`: defaults, the `key = value`
 * config file, and the same keys given as command-line flags.
 *
 * What it is: one struct with a comment on every field and a setter keyed
 * by the long option name, so the file format and the flags cannot drift
 * apart. What it is not: the getopt table (serve_main.c) or validation of
 * the workspace (serve_main.c opens it).
 *
 * Threads: filled by the main thread before any other thread starts, then
 * read-only.
 */
#ifndef TB_SERVER_CONFIG_H
#define TB_SERVER_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CFG_MAX_ALLOW_HOSTS 16
#define CFG_TOKEN_MAX 128

struct cfg {
	char ip[64];                       /* address to bind, default 127.0.0.1 */
	int port;                          /* first port to try, default 8888 */
	int port_retries;                  /* how many following ports to try when busy, default 50 */
	char workspace[PATH_MAX];          /* notebooks and .trainbook/ live here; default cwd */
	char token[CFG_TOKEN_MAX + 1];     /* fixed token; "" = random at start-up */
	char base_url[256];                /* prefix the app lives under, "/" or "/x/" */
	int cpu_runs;                      /* runs on the CPU at once, default 1 */
	int gpu_runs;                      /* runs per GPU at once, default 1 */
	int worker_timeout;                /* seconds without an event before a worker is hung, default 600 */
	int stop_timeout;                  /* seconds a stopping worker gets before SIGKILL, default 120 */
	int max_queued;                    /* runs waiting for a slot, default 256 */
	int64_t worker_memory;             /* bytes one worker may use, below the machine's allowance
					      (memlimit.h); 0 = that allowance */
	char static_dir[PATH_MAX];         /* page files; "" = <exe dir>/../static */
	char examples_dir[PATH_MAX];       /* seed notebooks; "" = <exe dir>/../examples */
	char worker_cmd[PATH_MAX];         /* test hook: program run instead of "<exe> worker" */
	char allow_hosts[CFG_MAX_ALLOW_HOSTS][256]; /* extra Host names accepted ("*" = any) */
	int nallow_hosts;
	bool seed;                         /* copy examples into a new workspace, default true */
	bool list_routes;                  /* print the route table and exit */
};

/* Fill the defaults (workspace = current directory). */
void cfg_defaults(struct cfg *c);

/*
 * Set one key from the file or the command line. Keys are the long option
 * names (`port`, `base-url`, `allow-host`, …). Returns 0, or -1 with a
 * one-line message in err.
 */
int cfg_set(struct cfg *c, const char *key, const char *value, char *err, size_t errlen);

/*
 * Read a config file: `key = value` lines, `#` comments, blank lines.
 * Errors name the file and line.
 */
int cfg_load_file(struct cfg *c, const char *path, char *err, size_t errlen);

/*
 * Finish after all sources are read: resolve static/examples relative to
 * the executable's directory when not given, make the workspace absolute.
 */
int cfg_finish(struct cfg *c, const char *exe_path, char *err, size_t errlen);

/* Print every key with its current value in config-file form. */
void cfg_print(const struct cfg *c, void *stdio_file);

#endif
