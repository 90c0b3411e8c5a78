/*
 * quota.h — what each user may use: limits per role (config file keys
 * `quota-<role>-<kind>`) overridden per role and per user by instructors
 * (PUT /api/quotas, kept in the store), the use they are measured against,
 * and the checks: at submission (429 "quota" naming the quota, the use and
 * the limit), before a queued run starts (a used-up minutes quota holds
 * it), and the duration a run may train (runq stops it past that).
 *
 * What it is: one table of kinds (quota_kinds[]) read by the config
 * parser, the JSON forms and the checks, so a new kind is one row. What it
 * is not: storage (store_sched.c) or the HTTP routes (routes_quota.c).
 *
 * Threads: pure; any thread.
 */
#ifndef TB_SERVER_QUOTA_H
#define TB_SERVER_QUOTA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum quota_kind {
	QUOTA_CONCURRENT_RUNS,  /* runs running at once (the scheduler holds the rest) */
	QUOTA_QUEUED_RUNS,      /* runs waiting at once (submission) */
	QUOTA_GPU_MINUTES_DAY,  /* GPU-minutes since local midnight (submission, start) */
	QUOTA_GPU_MINUTES_WEEK, /* … since Monday 00:00 */
	QUOTA_CPU_MINUTES_DAY,  /* minutes of CPU slots */
	QUOTA_CPU_MINUTES_WEEK,
	QUOTA_MAX_RUN_SECONDS,  /* how long one start of a run may train (runq stops it) */
	QUOTA_CHECKPOINT_BYTES, /* checkpoints kept by the user's runs (submission) */
	QUOTA_NKINDS
};

enum quota_unit { QUOTA_UNIT_RUNS, QUOTA_UNIT_MINUTES, QUOTA_UNIT_SECONDS, QUOTA_UNIT_BYTES };

struct quota_kind_info {
	const char *key; /* JSON key; the config key is quota-<role>-<key with '-' for '_'> */
	enum quota_unit unit;
	const char *words; /* "GPU minutes per day": how messages name it */
};
extern const struct quota_kind_info quota_kinds[QUOTA_NKINDS];

#define QUOTA_NONE (-1) /* no limit */

struct quota_limits {
	int64_t v[QUOTA_NKINDS]; /* QUOTA_NONE or ≥ 0 (runs, minutes, seconds, bytes) */
};

/* Some of the limits: what an instructor set for a role or a user. */
struct quota_override {
	bool set[QUOTA_NKINDS];
	int64_t v[QUOTA_NKINDS];
};

enum quota_role { QUOTA_STUDENT, QUOTA_INSTRUCTOR, QUOTA_NROLES };
extern const char *const quota_role_names[QUOTA_NROLES];

/* The config file's limits per role (unset = no limit). */
struct quota_config {
	struct quota_limits role[QUOTA_NROLES];
};

void quota_limits_none(struct quota_limits *l);
void quota_config_init(struct quota_config *c);

/*
 * One config key "quota-<role>-<kind>" = value: a count, minutes, a
 * duration ("7200", "90m", "2h", "1h30m"), a size ("5G", "512M") or
 * "none". 1 when the key is a quota key and was set, 0 when it is not a
 * quota key, -1 with err for a bad value.
 */
int quota_cfg_set(struct quota_config *c, const char *key, const char *value, char *err, size_t errlen);
/* The quota-* lines of --print-config (set ones only). */
void quota_cfg_print(const struct quota_config *c, void *stdio_file);

/* Limits with the override laid over them. */
void quota_apply(struct quota_limits *l, const struct quota_override *o);

/* {"concurrent_runs": 2, "queued_runs": null, …}: every kind, null = no limit. */
json_t *quota_limits_json(const struct quota_limits *l);
/* Only the kinds an override sets (null = no limit there). */
json_t *quota_override_json(const struct quota_override *o);
/* Parse an override object; unknown keys and bad values are refused with err. */
int quota_override_from_json(const json_t *obj, struct quota_override *o, char *err, size_t errlen);

/* What a user is measured against, as of now. */
struct quota_use {
	int running, queued;          /* runs */
	double gpu_s_day, gpu_s_week; /* device-seconds since local midnight / Monday */
	double cpu_s_day, cpu_s_week;
	int64_t checkpoint_bytes;
};
/* {"running":…, "queued":…, "gpu_minutes_per_day":…, …} in the limits' units. */
json_t *quota_use_json(const struct quota_use *u);

/*
 * May a new run (on the GPU when `gpu`) be queued? 0, or -1 with the kind
 * refused and a message naming the quota, the use and the limit. A limit
 * is reached when the use equals it: a user with 10 runs waiting and a
 * limit of 10 may not queue an 11th.
 */
int quota_check_submit(const struct quota_limits *l, const struct quota_use *u, bool gpu, enum quota_kind *which,
		       char *msg, size_t len);

/* Why no run of this user on the GPU (`gpu`) or CPU may start now ("" when they may). */
void quota_start_block(const struct quota_limits *l, const struct quota_use *u, bool gpu, char *msg, size_t len);

/* "2 h", "1 h 30 min", "45 min", "30 s": a duration for people. */
void quota_fmt_duration(int64_t seconds, char *buf, size_t len);

/* "90m" → 5400 and "5G" → 5 GiB, as the config file takes them; -1 on anything else. */
int quota_parse_duration(const char *text, int64_t *seconds);
int quota_parse_bytes(const char *text, int64_t *bytes);

#endif
