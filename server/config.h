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

#include "labs.h"
#include "quota.h"
#include "scheduler.h"

#define CFG_MAX_ALLOW_HOSTS 16
#define CFG_MAX_TRUSTED_PROXIES 8
#define CFG_MAX_DATA_ROOTS 16
#define CFG_TOKEN_MAX 128
#define CFG_MAX_EXTRA_ARGS 16

/* Where workers run (server/executor.h); the slurm-* keys matter only for kind slurm. */
struct exec_config {
	char kind[16];                     /* "local" (default) or "slurm" */
	char partition[64];                /* sbatch --partition; "" = the cluster's default */
	char account[64];                  /* sbatch --account; "" = the user's default */
	char qos[64];                      /* sbatch --qos; "" = none */
	char gres[128];                    /* --gres for GPU runs, "{devices}" = GPUs per task; default "gpu:{devices}" */
	char time_limit[32];               /* sbatch --time; "" = the partition's limit */
	char extra_args[CFG_MAX_EXTRA_ARGS][256]; /* more sbatch arguments, one per entry */
	int nextra_args;
	char worker[PATH_MAX];             /* engine binary on the compute nodes; "" = trainbook-engine beside this one */
	char report_url[512];              /* where workers dial home; "" = http://<hostname>:<port><base-url> */
	char events[8];                    /* "http" (workers POST events) or "file" (the server follows events.jsonl) */
	int max_jobs;                      /* runs handed to Slurm at once, default 64 */
	int gpus_per_node;                 /* GPUs a node has, for "device: auto" and admission; default 0 */
	int cpus_per_task;                 /* sbatch --cpus-per-task; default 2 */
	int poll_s;                        /* seconds between squeue polls, default 5 */
};

#define CFG_RUNS_AUTO (-1)    /* cpu-runs = auto: one per core, as memory allows (runq_new decides) */
#define CFG_RUNS_DEFAULT (-2) /* cpu-runs not given: 1, or auto with accounts (cfg_finish decides) */

/* The scheduler's settings (scheduler.h; docs/classroom.md, "Scheduling"). */
struct sched_config {
	bool fifo;                         /* sched = fifo: first come, first served (for comparison); default fair */
	bool instructors_first;            /* sched-instructors-first: their runs before students', default false */
	int half_life;                     /* sched-half-life: seconds for usage to halve, default 3600 */
	int backfill_wait;                 /* sched-backfill-wait: seconds a run waits for room before runs
					    * behind it may no longer pass it; default 0 = never */
	int64_t gpu_margin;                /* gpu-memory-margin: bytes kept free on each GPU, default 512 MiB */
	struct sched_lab labs[LABS_MAX];   /* lab-session lines */
	int nlabs;
	struct quota_config quotas;        /* quota-<role>-<kind> limits */
};

struct cfg {
	char ip[64];                       /* address to bind, default 127.0.0.1 */
	int port;                          /* first port to try, default 8888 */
	int port_retries;                  /* how many following ports to try when busy, default 50 */
	char workspace[PATH_MAX];          /* notebooks and .trainbook/ live here; default cwd */
	char token[CFG_TOKEN_MAX + 1];     /* fixed token; "" = random at start-up */
	char token_file[PATH_MAX];         /* read the token from this file (cfg_finish); "" = none */
	char base_url[256];                /* prefix the app lives under, "/" or "/x/" */
	char public_url[512];              /* the URL people open behind a proxy, ending in base_url; "" = none */
	int cpu_runs;                      /* runs on the CPU at once, or CFG_RUNS_AUTO; default 1 (auto with accounts) */
	int gpu_runs;                      /* runs per GPU at once, default 1 */
	int worker_timeout;                /* seconds without an event before a worker is hung, default 600 */
	int stop_timeout;                  /* seconds a stopping worker gets before SIGKILL, default 120 */
	int max_queued;                    /* runs waiting for a slot, default 256 */
	int64_t worker_memory;             /* bytes one worker may use, below the machine's allowance
					      (memlimit.h); 0 = that allowance */
	char static_dir[PATH_MAX];         /* page files; "" = <exe dir>/../static */
	char examples_dir[PATH_MAX];       /* seed notebooks; "" = <exe dir>/../examples */
	char worker_cmd[PATH_MAX];         /* test hook: program run instead of "<exe> worker" */
	char runs_dir[PATH_MAX];           /* run folders (checkpoints); "" = <workspace>/.trainbook/runs.
					    * Under Slurm: a path every compute node sees */
	struct exec_config executor;       /* local processes or Slurm jobs */
	struct sched_config sched;         /* fair share, quotas, lab sessions */
	char allow_hosts[CFG_MAX_ALLOW_HOSTS][256]; /* extra Host names accepted ("*" = any) */
	int nallow_hosts;
	char trusted_proxies[CFG_MAX_TRUSTED_PROXIES][64]; /* peers whose X-Forwarded-* we believe (IP addresses) */
	int ntrusted_proxies;
	bool seed;                         /* copy examples into a new workspace, default true */
	/* classroom accounts (docs/classroom.md) */
	bool accounts;                     /* users, roles and sessions instead of one token, default false */
	bool secure_cookies;               /* mark cookies Secure whatever the request came over, default false */
	bool user_separation;              /* sandbox each worker (Landlock) to its run directory, default false */
	int session_idle;                  /* seconds a session lives unused, default 28800 (8 h) */
	int session_max;                   /* seconds a session lives at most, default 604800 (7 days) */
	int link_expiry;                   /* seconds a one-time login link stays valid, default 604800 */
	char data_roots[CFG_MAX_DATA_ROOTS][PATH_MAX]; /* folders of course data students may read */
	int ndata_roots;
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
 * Read a config file: `key = value` (or `key: value`) lines, `#`
 * comments, blank lines; `_` in a key reads as `-` (data_roots is
 * data-roots). Errors name the file and line.
 */
int cfg_load_file(struct cfg *c, const char *path, char *err, size_t errlen);

/*
 * Read every file that argv names with --config FILE, -c FILE or
 * --config=FILE, in order: the first pass of a command whose flags then
 * override the files.
 */
int cfg_load_files_named(struct cfg *c, int argc, char **argv, char *err, size_t errlen);

/*
 * Finish after all sources are read: resolve static/examples relative to
 * the executable's directory when not given (the build tree's
 * <exe>/../static, or an installed <prefix>/share/trainbook/static), make
 * the workspace absolute, read token-file, and check that public-url ends
 * in base-url; make the data roots absolute (they must exist).
 */
int cfg_finish(struct cfg *c, const char *exe_path, char *err, size_t errlen);

/* http://ip:port<base> as a browser on this machine reaches the server (0.0.0.0 → 127.0.0.1). */
void cfg_local_url(const struct cfg *c, int port, char *out, size_t len);
/* Where login links point: public-url (with a final '/'), else cfg_local_url. */
void cfg_link_base(const struct cfg *c, int port, char *out, size_t len);

/* Print every key with its current value in config-file form. */
void cfg_print(const struct cfg *c, void *stdio_file);

#endif
