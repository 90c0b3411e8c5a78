/*
 * serve_main.c — `trainbook serve`: options, start-up in dependency order,
 * the start-up URL, and an orderly shutdown on SIGINT/SIGTERM (stop
 * accepting, let workers checkpoint and stop, flush the store, exit 0).
 *
 * What it is not: any request handling; it wires modules together through
 * struct app and the hooks that carry run events and system samples to the
 * live feed.
 *
 * Threads: the main thread. SIGINT/SIGTERM are blocked in every thread
 * (masks are inherited, so they are blocked before the first thread starts)
 * and read from a signalfd by the front-door loop.
 */
#include "serve.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"
#include "board.h"
#include "feed.h"
#include "frontdoor.h"
#include "gpumon.h"
#include "http.h"
#include "memest.h"
#include "runq.h"
#include "sandbox.h"
#include "spec.h"
#include "store.h"
#include "sweeps.h"
#include "sysmon.h"
#include "tb.h"
#include "throttle.h"
#include "util.h"
#include "ws.h"

enum { OPT_LIST_ROUTES = 1000, OPT_PRINT_CONFIG, OPT_NO_SEED, OPT_LIST_FEED };

/* Long options whose name is a config key; the rest are handled by hand. */
static const struct option options[] = {
	{"ip", required_argument, NULL, 'i'},
	{"port", required_argument, NULL, 'p'},
	{"port-retries", required_argument, NULL, 0},
	{"workspace", required_argument, NULL, 'w'},
	{"token", required_argument, NULL, 0},
	{"base-url", required_argument, NULL, 0},
	{"cpu-runs", required_argument, NULL, 0},
	{"gpu-runs", required_argument, NULL, 0},
	{"worker-timeout", required_argument, NULL, 0},
	{"stop-timeout", required_argument, NULL, 0},
	{"max-queued", required_argument, NULL, 0},
	{"worker-memory", required_argument, NULL, 0},
	{"sched", required_argument, NULL, 0},
	{"sched-half-life", required_argument, NULL, 0},
	{"lab-session", required_argument, NULL, 0},
	{"static", required_argument, NULL, 0},
	{"examples", required_argument, NULL, 0},
	{"allow-host", required_argument, NULL, 0},
	{"runs-dir", required_argument, NULL, 0},
	{"executor", required_argument, NULL, 0},
	{"public-url", required_argument, NULL, 0},
	{"token-file", required_argument, NULL, 0},
	{"trusted-proxy", required_argument, NULL, 0},
	{"accounts", no_argument, NULL, 0},
	{"secure-cookies", no_argument, NULL, 0},
	{"user-separation", no_argument, NULL, 0},
	{"session-idle", required_argument, NULL, 0},
	{"session-max", required_argument, NULL, 0},
	{"link-expiry", required_argument, NULL, 0},
	{"data-root", required_argument, NULL, 0},
	{"config", required_argument, NULL, 'c'},
	{"no-seed", no_argument, NULL, OPT_NO_SEED},
	{"list-routes", no_argument, NULL, OPT_LIST_ROUTES},
	{"list-feed", no_argument, NULL, OPT_LIST_FEED},
	{"print-config", no_argument, NULL, OPT_PRINT_CONFIG},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: trainbook serve [options]\n"
		"\n"
		"Serve the notebook page, the API (/api/) and the live feed (/ws) on one port.\n"
		"\n"
		"  -i, --ip ADDR            address to bind (default 127.0.0.1; 0.0.0.0 for all)\n"
		"  -p, --port N             port (default 8888; the next free one is used when busy; 0 = any)\n"
		"      --port-retries N     how many following ports to try (default 50)\n"
		"  -w, --workspace DIR      notebooks and .trainbook/ records (default: current directory)\n"
		"      --token TOKEN        fixed token (default: random; or TRAINBOOK_TOKEN)\n"
		"      --token-file FILE    read the token from FILE (the start-up URL then leaves it out)\n"
		"      --base-url PATH      serve under a prefix, e.g. /trainbook/ behind a proxy\n"
		"      --public-url URL     the address people open behind a proxy (printed at start-up),\n"
		"                           e.g. https://trainbook.example.org/trainbook/\n"
		"      --allow-host NAME    accept this Host header too (repeatable; * = any, unsafe)\n"
		"      --trusted-proxy ADDR believe X-Forwarded-Proto/-For from this address (repeatable)\n"
		"      --cpu-runs N|auto    runs on the CPU at once (default 1; auto, the default with\n"
		"                           --accounts: one per core, as memory allows)\n"
		"      --gpu-runs N         runs per GPU (or MIG instance) at once (default 1)\n"
		"      --worker-timeout S   a worker silent this long is stopped as hung (default 600)\n"
		"      --stop-timeout S     SIGTERM to SIGKILL for a stopping worker (default 120)\n"
		"      --max-queued N       runs waiting at most (default 256)\n"
		"      --runs-dir DIR       run folders and checkpoints (default <workspace>/.trainbook/runs)\n"
		"      --executor KIND      where workers run: local (default) or slurm (slurm-* settings\n"
		"                           in the config file; docs/slurm.md)\n"
		"      --worker-memory SIZE memory one run may use, e.g. 8G (default: the machine's memory less\n"
		"                           10%%, at least 512M); bigger runs are refused, workers end failed\n"
		"                           \"out of memory\" rather than grow past it\n"
		"      --static DIR         page files (default <binary dir>/../static)\n"
		"      --examples DIR       notebooks copied into a new workspace (default <binary dir>/../examples)\n"
		"      --no-seed            do not copy the examples into a new workspace\n"
		"\n"
		"Classroom (docs/classroom.md):\n"
		"      --accounts           users with roles and logins instead of one token\n"
		"                           (create the first: trainbook users add NAME --instructor)\n"
		"      --session-idle S     a session unused this long ends (default 28800, 8 h)\n"
		"      --session-max S      a session ends this long after login (default 604800, 7 days)\n"
		"      --link-expiry S      one-time login links work this long (default 604800)\n"
		"      --public-url URL     how users reach the server, for printed login links\n"
		"      --data-root DIR      a folder of course data students' runs may read (repeatable)\n"
		"      --secure-cookies     mark cookies Secure (behind an https proxy)\n"
		"      --user-separation    sandbox each worker (Landlock): writes only in its run directory\n"
		"      --sched fair|fifo    fair share by decayed usage (default), or first come first served\n"
		"      --sched-half-life S  usage counts half after this long (default 1h)\n"
		"      --lab-session \"DAY HH:MM-HH:MM [priority|exclusive] [users]\"\n"
		"                           a weekly lab session (repeatable); quotas (quota-student-…),\n"
		"                           gpu-memory-margin and more in the config file\n"
		"\n"
		"  -c, --config FILE        read `key = value` settings (keys are the long options); flags win\n"
		"      --print-config       print the settings in config-file form and exit\n"
		"      --list-routes        print the HTTP route table and exit\n"
		"      --list-feed          print the live feed's message types and their access rules, and exit\n"
		"  -h, --help               this help\n"
		"\n"
		"Open the printed URL (it carries the token once, then a cookie does). Scripts send\n"
		"`Authorization: token TOKEN` (with --accounts: a personal API token). Ctrl-C stops:\n"
		"running workers checkpoint first.\n"
		"Environment: TRAINBOOK_TOKEN (token), TRAINBOOK_WORKER_CMD (tests: run this program\n"
		"instead of `trainbook worker`).\n");
}

/* Options in two passes: --config first (so flags override the file), then the rest. */
static int parse_options(struct app *app, int argc, char **argv, int *action)
{
	char err[512];
	*action = 0;
	if (cfg_load_files_named(&app->cfg, argc, argv, err, sizeof err) < 0) {
		fprintf(stderr, "trainbook serve: %s\n", err);
		return 2;
	}
	optind = 1;
	opterr = 1;
	int c, idx;
	while ((c = getopt_long(argc, argv, "i:p:w:c:h", options, &idx)) != -1) {
		const char *key = NULL;
		switch (c) {
		case 0:
			key = options[idx].name;
			if (options[idx].has_arg == no_argument)
				optarg = "true"; /* --accounts is accounts = true */
			break;
		case 'i': key = "ip"; break;
		case 'p': key = "port"; break;
		case 'w': key = "workspace"; break;
		case 'c': continue; /* read in the first pass */
		case OPT_NO_SEED: app->cfg.seed = false; continue;
		case OPT_LIST_ROUTES:
		case OPT_LIST_FEED:
		case OPT_PRINT_CONFIG:
		case 'h': *action = c; continue;
		default: usage(stderr); return 2;
		}
		if (cfg_set(&app->cfg, key, optarg, err, sizeof err) < 0) {
			fprintf(stderr, "trainbook serve: --%s\n", err);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "trainbook serve: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	return 0;
}

/* ---- hooks: module events → live feed --------------------------------- */

static void on_event(void *ctx, int64_t run, int64_t seq, const char *json, size_t len)
{
	struct app *app = ctx;
	if (app->ws)
		ws_publish_event(app->ws, run, seq, json, len);
	sweeps_on_event(app->sweeps, run, json, len);
	if (app->board)
		board_on_event(app->board, run, json, len);
}

static void publish_board(void *ctx, const char *json, size_t len)
{
	struct app *app = ctx;
	if (app->ws)
		ws_publish_board(app->ws, json, len);
}

/* A run message for its owner (and instructors): the summary, or "deleted". */
static void publish_run(struct app *app, json_t *obj, const char *owner)
{
	json_t *msg = json_pack("{s:s, s:o}", "type", "run", "run", obj);
	char *text = json_dumps(msg, JSON_COMPACT | JSON_REAL_PRECISION(10));
	if (text)
		ws_publish_run(app->ws, text, owner);
	free(text);
	json_decref(msg);
}

static json_t *deleted_json(int64_t run)
{
	char rid[32];
	store_format_run_id(run, rid, sizeof rid);
	return json_pack("{s:s, s:s}", "id", rid, "status", "deleted");
}

static void on_run_changed(void *ctx, int64_t run)
{
	struct app *app = ctx;
	if (!app->ws)
		return;
	json_t *obj = store_run_summary_json(app->store, run);
	if (app->board)
		board_on_run(app->board, run, obj);
	const char *owner = json_string_value(json_object_get(obj, "owner"));
	char copy[STORE_NAME_MAX];
	srv_strlcpy(copy, owner ? owner : "", sizeof copy);
	publish_run(app, obj ? obj : deleted_json(run), copy);
}

static void on_run_deleted(void *ctx, int64_t run, const char *owner)
{
	struct app *app = ctx;
	if (app->board)
		board_on_run(app->board, run, NULL);
	if (app->ws)
		publish_run(app, deleted_json(run), owner);
}

/* Right before a worker starts: may its owner still read the data it names? */
static int admit_run(void *ctx, const char *owner, const char *spec, char *err, size_t errlen)
{
	struct app *app = ctx;
	struct store_user u;
	if (store_user_get(app->store, owner, &u) != STORE_OK || u.archived) {
		snprintf(err, errlen, "the user %s is archived or unknown: their runs no longer start", owner);
		return -1;
	}
	struct acct_who who = {.id = u.id, .instructor = u.instructor};
	srv_strlcpy(who.name, u.name, sizeof who.name);
	int line, column;
	char msg[600];
	if (access_spec_data(&app->access, &who, spec, strlen(spec), msg, sizeof msg, &line, &column))
		return 0;
	snprintf(err, errlen, "%s", msg);
	return -1;
}

static bool owner_of_run(void *ctx, int64_t run, char *owner, size_t len)
{
	struct app *app = ctx;
	return store_run_owner(app->store, run, owner, len);
}

static void on_sample(void *ctx, const char *json)
{
	struct app *app = ctx;
	if (app->ws)
		ws_publish_system(app->ws, json);
}

/* The places for GPU runs, as the sampler last read them (runq_sched.c packs runs into them). */
static int gpu_devices(void *ctx, struct gpumon_device *out, int max)
{
	struct app *app = ctx;
	return sysmon_devices(app->sysmon, out, max);
}

/*
 * A run's estimated peak memory on one of its devices, for packing
 * (scheduler.h): the engine's estimate (engine/memest.c, what `trainbook
 * check` prints and /api/validate answers as "memory"), per GPU for a GPU
 * run (its device bytes: the CUDA context, parameters, activations, the
 * data on the GPU), in host memory for a CPU run. 0 = unknown (a spec the
 * estimate cannot read: the scheduler charges such a run an equal share).
 * Called once a run, when it is queued (the store keeps it).
 */
static int64_t estimate_run_bytes(void *ctx, const char *yaml, size_t len, bool gpu)
{
	struct app *app = ctx;
	struct spec s;
	struct spec_errors errs = {0};
	if (spec_parse(yaml, len, "<spec>", NULL, 0, &s, &errs) < 0)
		return 0;
	struct memest_machine mach;
	memest_machine_this(&mach, app->cfg.worker_memory);
	if (gpu) {
		/* device auto means CUDA when the machine has a GPU; the run was placed on one */
		mach.gpus = TB_MAX(sysmon_gpu_count(app->sysmon), 1);
		mach.gpu_memory = (int64_t)sysmon_gpu_memory(app->sysmon);
	}
	struct memest e;
	char err[256];
	int rc = memest_spec(&s, &mach, &e, err, sizeof err);
	spec_free(&s);
	if (rc < 0)
		return 0;
	return gpu ? (e.cuda ? e.device : 0) : e.host;
}

static int64_t run_of_pid(void *ctx, int pid)
{
	struct app *app = ctx;
	return app->runq ? runq_run_of_pid(app->runq, pid) : 0;
}

/* ---- start-up ------------------------------------------------------------ */

/*
 * A workspace that does not exist yet is made, one level only: a service
 * pointed at /var/lib/trainbook/notebooks starts on its first boot, while
 * a typo several folders deep is reported instead of built. Exit status 2
 * (a setting to fix) keeps systemd from restarting into the same error.
 */
static int make_workspace(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	if (stat(dir, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		snprintf(err, errlen, "workspace %s is not a folder", dir);
		return -1;
	}
	if (errno != ENOENT) {
		snprintf(err, errlen, "workspace %s: %s", dir, strerror(errno));
		return -1;
	}
	if (mkdir(dir, 0700) < 0) {
		snprintf(err, errlen, "workspace %s does not exist and cannot be made: %s%s", dir, strerror(errno),
			 errno == ENOENT ? " (its parent folder is missing too; only the last level is made)" : "");
		return -1;
	}
	srv_log("made the workspace %s", dir);
	return 0;
}

static void find_owner(struct app *app)
{
	struct passwd *pw = getpwuid(getuid());
	const char *name = pw ? pw->pw_name : getenv("USER");
	srv_strlcpy(app->owner, name ? name : "user", sizeof app->owner);
}

/* 1000 feed clients need 1000 descriptors; the soft limit is often 1024. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * The start-up lines. Under systemd they land in the journal, so with a
 * token-file the URL leaves the token out (docs/server.md). Behind a
 * proxy the address people open is public-url; the local one is printed
 * too, for checking the proxy_pass line.
 */
static void print_url(const struct app *app)
{
	char local[600];
	cfg_local_url(&app->cfg, app->port, local, sizeof local);
	printf("trainbook serve: workspace %s\n", app->cfg.workspace);
	if (app->cfg.port && app->port != app->cfg.port)
		printf("trainbook serve: port %d is busy, using %d\n", app->cfg.port, app->port);
	const char *open = local;
	if (app->cfg.public_url[0]) {
		printf("trainbook serve: listening on %s (for the proxy)\n", local);
		open = app->cfg.public_url;
	}
	if (app->cfg.accounts)
		printf("trainbook serve: accounts: users log in; add some with `trainbook users add NAME` "
		       "(--workspace %s)\ntrainbook serve: open %s\n", app->cfg.workspace, open);
	else if (app->cfg.token_file[0])
		printf("trainbook serve: open %s with the token in %s\n", open, app->cfg.token_file);
	else
		printf("trainbook serve: open %s?token=%s\n", open, app->auth.token);
	printf("trainbook serve: press Ctrl-C to stop (running workers checkpoint first)\n");
	fflush(stdout);
}

static void teardown(struct app *app)
{
	/* HTTP first: no handler may run once the modules it calls are gone.
	 * The sampler next (it asks the run queue about GPU processes), then
	 * the run queue, whose workers stop while the feed still carries their
	 * last events; the feed after every publisher; the store last. */
	http_free(app->http);
	app->http = NULL;
	sysmon_free(app->sysmon);
	app->sysmon = NULL;
	sweeps_shutdown(app->sweeps); /* it queues and stops runs: before the queue goes */
	runq_free(app->runq);
	app->runq = NULL;
	sweeps_free(app->sweeps);
	app->sweeps = NULL;
	board_free(app->board); /* after its publishers, before the feed it publishes to */
	app->board = NULL;
	ws_free(app->ws);
	app->ws = NULL;
	throttle_free(app->logins);
	app->logins = NULL;
	throttle_free(app->account_logins);
	app->account_logins = NULL;
	nb_free(&app->nb);
	store_free(app->store);
	app->store = NULL;
}

/* Where workers on other machines reach us: the bound address, or this host's name for a wildcard. */
static void set_report_url(struct app *app)
{
	const char *ip = app->cfg.ip;
	char host[256], url[512];
	if (!strcmp(ip, "0.0.0.0") || !strcmp(ip, "::")) {
		if (gethostname(host, sizeof host) < 0)
			snprintf(host, sizeof host, "localhost");
		host[sizeof host - 1] = '\0';
	} else {
		snprintf(host, sizeof host, strchr(ip, ':') ? "[%s]" : "%s", ip);
	}
	snprintf(url, sizeof url, "http://%s:%d%s", host, app->port, app->cfg.base_url);
	runq_set_report_url(app->runq, url);
}

static int start(struct app *app, int stop_fd)
{
	char err[1024], path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/.trainbook", app->cfg.workspace);
	struct stat st;
	bool fresh = stat(path, &st) < 0;
	if (fresh && mkdir(path, 0700) < 0) {
		fprintf(stderr, "trainbook serve: cannot create %s: %s\n", path, strerror(errno));
		return 1;
	}
	snprintf(path, sizeof path, "%s/.trainbook/%s", app->cfg.workspace, SERVE_FRESH_MARK);
	if (unlink(path) == 0)
		fresh = true; /* `trainbook users` made .trainbook/ before the first start */
	snprintf(path, sizeof path, "%s/.trainbook/trainbook.db", app->cfg.workspace);
	if (store_open(path, &app->store, err, sizeof err) < 0) {
		fprintf(stderr, "trainbook serve: %s\n", err);
		return 1;
	}
	/* With accounts, what nobody in particular made has no owner (not the OS user). */
	if (nb_init(&app->nb, app->cfg.workspace, app->store, app->cfg.accounts ? "" : app->owner) != NB_OK ||
	    auth_init(&app->auth, &app->cfg, err, sizeof err) < 0) {
		fprintf(stderr, "trainbook serve: %s\n", err);
		store_free(app->store);
		return 1;
	}
	if (fresh && app->cfg.seed) {
		/* With accounts the examples are course material every student reads. */
		const char *dest = app->cfg.accounts ? "course/examples" : "examples";
		int n = nb_seed_into(&app->nb, app->cfg.examples_dir, dest);
		if (n > 0)
			srv_log("new workspace: copied %d example notebook%s into %s/", n, n == 1 ? "" : "s", dest);
	}
	if (app->cfg.accounts) {
		char course[PATH_MAX + 16];
		snprintf(course, sizeof course, "%s/course", app->cfg.workspace);
		mkdir(course, 0755);
		/* Relative data paths mean the workspace, for the checks and the workers alike. */
		if (chdir(app->cfg.workspace) < 0) {
			fprintf(stderr, "trainbook serve: cannot enter %s: %s\n", app->cfg.workspace, strerror(errno));
			nb_free(&app->nb);
			store_free(app->store);
			return 1;
		}
	}
	if (app->cfg.user_separation) {
		char why[160];
		int abi = sandbox_abi(why, sizeof why);
		if (abi < 1) {
			fprintf(stderr, "trainbook serve: --user-separation needs Landlock: %s\n", why);
			nb_free(&app->nb);
			store_free(app->store);
			return 1;
		}
		srv_log("user separation: workers write only in their run directory (Landlock ABI %d)", abi);
	}
	app->policy = (struct acct_policy){.idle_s = app->cfg.session_idle, .max_s = app->cfg.session_max,
					   .link_s = app->cfg.link_expiry};
	app->access = (struct access_ctx){.accounts = app->cfg.accounts, .store = app->store,
					  .workspace = app->cfg.workspace, .data_roots = app->cfg.data_roots,
					  .ndata_roots = app->cfg.ndata_roots};
	/* Ten wrong tokens back to back, then one more every 2 s (30 a minute)
	 * per client address: a typo never trips it, a guesser gets nowhere.
	 * See docs/server.md for what this means behind a shared NAT. */
	static const struct throttle_policy logins = {.burst = 10, .refill_ms = 2000, .slots = 4096};
	app->logins = throttle_new(&logins);
	/* Per account: ten wrong passwords, then one more every 6 s (10 a
	 * minute) however many addresses they come from. */
	static const struct throttle_policy accounts = {.burst = 10, .refill_ms = 6000, .slots = 4096};
	app->account_logins = throttle_new(&accounts);
	app->ident = (struct ident){.accounts = app->cfg.accounts, .auth = &app->auth, .store = app->store,
				    .policy = &app->policy, .logins = app->logins};
	srv_strlcpy(app->ident.owner, app->owner, sizeof app->ident.owner);
	app->board = board_new(app->store, publish_board, app);
	struct sysmon_hooks sh = {.on_sample = on_sample, .run_of_pid = run_of_pid, .ctx = app,
				  .owner_of_run = app->cfg.accounts ? owner_of_run : NULL};
	app->sysmon = sysmon_new(&sh);
	struct runq_config rc = {
		.workspace = app->cfg.workspace, .runs_dir = app->cfg.runs_dir, .executor = &app->cfg.executor,
		.exe = app->exe, .worker_cmd = app->cfg.worker_cmd,
		.owner = app->owner, .cpu_runs = app->cfg.cpu_runs,
		.gpu_count = sysmon_device_count(app->sysmon), .gpu_runs = app->cfg.gpu_runs,
		.worker_timeout = app->cfg.worker_timeout, .stop_timeout = app->cfg.stop_timeout,
		.max_queued = app->cfg.max_queued, .accounts = app->cfg.accounts,
		.worker_memory = app->cfg.worker_memory,
		.separation = app->cfg.user_separation, .sched = &app->cfg.sched};
	struct runq_hooks rh = {.event = on_event, .run_changed = on_run_changed, .run_deleted = on_run_deleted,
				.admit = app->cfg.accounts ? admit_run : NULL, .devices = gpu_devices,
				.estimate = estimate_run_bytes, .ctx = app};
	int listen_fd = -1;
	bool ok = runq_new(&rc, app->store, &rh, &app->runq, err, sizeof err) == 0 &&
		  (app->sweeps = sweeps_new(app->store, app->runq)) &&
		  (app->ws = ws_new(&app->auth, &app->ident, app->store, app->cfg.base_url, err, sizeof err)) &&
		  (app->http = http_new(app, err, sizeof err)) &&
		  (listen_fd = door_listen(app->cfg.ip, app->cfg.port, app->cfg.port_retries, &app->port, err,
					   sizeof err)) >= 0;
	if (ok) {
		ws_set_board(app->ws, app->board);
		/* Named by the port now bound, before anyone can connect: two
		 * servers on one host keep separate logins. */
		ident_cookie_name(app->port, app->ident.cookie_name, sizeof app->ident.cookie_name);
		cfg_link_base(&app->cfg, app->port, app->policy.link_base, sizeof app->policy.link_base);
		set_report_url(app);
	}
	if (!ok || (ws_start(app->ws) < 0 && snprintf(err, sizeof err, "cannot start the feed thread")) ||
	    (board_start(app->board) < 0 && snprintf(err, sizeof err, "cannot start the board thread")) ||
	    (runq_start(app->runq) < 0 && snprintf(err, sizeof err, "cannot start the supervisor")) ||
	    (sweeps_start(app->sweeps) < 0 && snprintf(err, sizeof err, "cannot start the sweeps thread")) ||
	    (sysmon_start(app->sysmon) < 0 && snprintf(err, sizeof err, "cannot start the sampler"))) {
		fprintf(stderr, "trainbook serve: %s\n", err);
		if (listen_fd >= 0)
			close(listen_fd);
		teardown(app);
		return 1;
	}
	struct door *door = door_new(listen_fd, app->http, app->ws, app->cfg.base_url);
	if (!strcmp(app->cfg.executor.kind, "slurm"))
		srv_log("runs go to Slurm (up to %d jobs at once); workers report to %s", app->cfg.executor.max_jobs,
			app->cfg.executor.report_url[0] ? app->cfg.executor.report_url : "this server");
	else if (sysmon_gpu_count(app->sysmon) == 0 && app->cfg.cpu_runs != CFG_RUNS_AUTO)
		srv_log("no GPU: runs use the CPU (%d at a time)", app->cfg.cpu_runs);
	if (app->cfg.sched.fifo)
		srv_log("sched = fifo: runs start first come, first served (no fair share)");
	print_url(app);
	door_run(door, stop_fd);
	srv_log("shutting down");
	door_free(door); /* stop accepting first */
	teardown(app);
	srv_log("stopped");
	return 0;
}

int serve_main(int argc, char **argv)
{
	struct app *app = tb_xcalloc(1, sizeof *app);
	cfg_defaults(&app->cfg);
	const char *env = getenv("TRAINBOOK_TOKEN");
	char err[512];
	int rc = 0, action = 0;
	if (env && *env && cfg_set(&app->cfg, "token", env, err, sizeof err) < 0) {
		fprintf(stderr, "trainbook serve: TRAINBOOK_TOKEN: %s\n", err);
		rc = 2;
		goto out;
	}
	env = getenv("TRAINBOOK_WORKER_CMD");
	if (env && *env)
		srv_strlcpy(app->cfg.worker_cmd, env, sizeof app->cfg.worker_cmd);
	if ((rc = parse_options(app, argc, argv, &action)) != 0)
		goto out;
	if (action == 'h') {
		usage(stdout);
		goto out;
	}
	if (action == OPT_LIST_ROUTES) {
		http_print_routes(stdout);
		goto out;
	}
	if (action == OPT_LIST_FEED) {
		for (size_t i = 0; i < feed_ntypes; i++)
			printf("%-4s %-20s %-10s %s\n", feed_types[i].dir, feed_types[i].type,
			       feed_rule_names[feed_types[i].rule], feed_types[i].summary);
		goto out;
	}
	tb_self_exe(app->exe, sizeof app->exe);
	if (action != OPT_PRINT_CONFIG && make_workspace(app->cfg.workspace, err, sizeof err) < 0) {
		fprintf(stderr, "trainbook serve: %s\n", err);
		rc = 2;
		goto out;
	}
	if (cfg_finish(&app->cfg, app->exe, err, sizeof err) < 0) {
		fprintf(stderr, "trainbook serve: %s\n", err);
		rc = 2; /* a setting to fix, like a bad flag */
		goto out;
	}
	if (action == OPT_PRINT_CONFIG) {
		cfg_print(&app->cfg, stdout);
		goto out;
	}
	find_owner(app);
	raise_fd_limit();
	app->started = srv_unix_now();
	signal(SIGPIPE, SIG_IGN);
	sigset_t stop_signals;
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGINT);
	sigaddset(&stop_signals, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	int stop_fd = signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK);
	if (stop_fd < 0) {
		fprintf(stderr, "trainbook serve: signalfd: %s\n", strerror(errno));
		rc = 1;
		goto out;
	}
	rc = start(app, stop_fd);
	close(stop_fd);
out:
	free(app);
	return rc;
}
