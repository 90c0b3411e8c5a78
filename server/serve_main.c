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
#include "frontdoor.h"
#include "http.h"
#include "runq.h"
#include "store.h"
#include "sysmon.h"
#include "tb.h"
#include "util.h"
#include "ws.h"

enum { OPT_LIST_ROUTES = 1000, OPT_PRINT_CONFIG, OPT_NO_SEED };

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
	{"static", required_argument, NULL, 0},
	{"examples", required_argument, NULL, 0},
	{"allow-host", required_argument, NULL, 0},
	{"config", required_argument, NULL, 'c'},
	{"no-seed", no_argument, NULL, OPT_NO_SEED},
	{"list-routes", no_argument, NULL, OPT_LIST_ROUTES},
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
		"      --base-url PATH      serve under a prefix, e.g. /trainbook/ behind a proxy\n"
		"      --allow-host NAME    accept this Host header too (repeatable; * = any)\n"
		"      --cpu-runs N         runs on the CPU at once (default 1)\n"
		"      --gpu-runs N         runs per GPU at once (default 1)\n"
		"      --worker-timeout S   a worker silent this long is stopped as hung (default 600)\n"
		"      --stop-timeout S     SIGTERM to SIGKILL for a stopping worker (default 120)\n"
		"      --max-queued N       runs waiting at most (default 256)\n"
		"      --worker-memory SIZE memory one run may use, e.g. 8G (default: the machine's memory less\n"
		"                           10%%, at least 512M); bigger runs are refused, workers end failed\n"
		"                           \"out of memory\" rather than grow past it\n"
		"      --static DIR         page files (default <binary dir>/../static)\n"
		"      --examples DIR       notebooks copied into a new workspace (default <binary dir>/../examples)\n"
		"      --no-seed            do not copy the examples into a new workspace\n"
		"  -c, --config FILE        read `key = value` settings (keys are the long options); flags win\n"
		"      --print-config       print the settings in config-file form and exit\n"
		"      --list-routes        print the HTTP route table and exit\n"
		"  -h, --help               this help\n"
		"\n"
		"Open the printed URL (it carries the token once, then a cookie does). Scripts send\n"
		"`Authorization: token TOKEN`. Ctrl-C stops: running workers checkpoint first.\n"
		"Environment: TRAINBOOK_TOKEN (token), TRAINBOOK_WORKER_CMD (tests: run this program\n"
		"instead of `trainbook worker`).\n");
}

/* Options in two passes: --config first (so flags override the file), then the rest. */
static int parse_options(struct app *app, int argc, char **argv, int *action)
{
	char err[512];
	*action = 0;
	for (int i = 1; i < argc; i++) {
		const char *file = NULL;
		if ((!strcmp(argv[i], "--config") || !strcmp(argv[i], "-c")) && i + 1 < argc)
			file = argv[i + 1];
		else if (!strncmp(argv[i], "--config=", 9))
			file = argv[i] + 9;
		if (file && cfg_load_file(&app->cfg, file, err, sizeof err) < 0) {
			fprintf(stderr, "trainbook serve: %s\n", err);
			return 2;
		}
	}
	optind = 1;
	opterr = 1;
	int c, idx;
	while ((c = getopt_long(argc, argv, "i:p:w:c:h", options, &idx)) != -1) {
		const char *key = NULL;
		switch (c) {
		case 0: key = options[idx].name; break;
		case 'i': key = "ip"; break;
		case 'p': key = "port"; break;
		case 'w': key = "workspace"; break;
		case 'c': continue; /* read in the first pass */
		case OPT_NO_SEED: app->cfg.seed = false; continue;
		case OPT_LIST_ROUTES:
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
}

static void on_run_changed(void *ctx, int64_t run)
{
	struct app *app = ctx;
	if (!app->ws)
		return;
	json_t *obj = store_run_json(app->store, run);
	if (!obj) {
		char rid[32];
		store_format_run_id(run, rid, sizeof rid);
		obj = json_pack("{s:s, s:s}", "id", rid, "status", "deleted");
	}
	json_t *msg = json_pack("{s:s, s:o}", "type", "run", "run", obj);
	char *text = json_dumps(msg, JSON_COMPACT | JSON_REAL_PRECISION(10));
	if (text)
		ws_publish_run(app->ws, text);
	free(text);
	json_decref(msg);
}

static void on_sample(void *ctx, const char *json)
{
	struct app *app = ctx;
	if (app->ws)
		ws_publish_system(app->ws, json);
}

static int64_t run_of_pid(void *ctx, int pid)
{
	struct app *app = ctx;
	return app->runq ? runq_run_of_pid(app->runq, pid) : 0;
}

/* ---- start-up ------------------------------------------------------------ */

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

static void print_url(const struct app *app)
{
	const char *ip = app->cfg.ip;
	const char *host = !strcmp(ip, "0.0.0.0") || !strcmp(ip, "::") ? "127.0.0.1" : ip;
	bool v6 = strchr(host, ':') != NULL;
	printf("trainbook serve: workspace %s\n", app->cfg.workspace);
	if (app->cfg.port && app->port != app->cfg.port)
		printf("trainbook serve: port %d is busy, using %d\n", app->cfg.port, app->port);
	printf("trainbook serve: open http://%s%s%s:%d%s?token=%s\n", v6 ? "[" : "", host, v6 ? "]" : "",
	       app->port, app->cfg.base_url, app->auth.token);
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
	runq_free(app->runq);
	app->runq = NULL;
	ws_free(app->ws);
	app->ws = NULL;
	nb_free(&app->nb);
	store_free(app->store);
	app->store = NULL;
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
	snprintf(path, sizeof path, "%s/.trainbook/trainbook.db", app->cfg.workspace);
	if (store_open(path, &app->store, err, sizeof err) < 0) {
		fprintf(stderr, "trainbook serve: %s\n", err);
		return 1;
	}
	if (nb_init(&app->nb, app->cfg.workspace, app->store, app->owner) != NB_OK ||
	    auth_init(&app->auth, &app->cfg, err, sizeof err) < 0) {
		fprintf(stderr, "trainbook serve: %s\n", err);
		store_free(app->store);
		return 1;
	}
	if (fresh && app->cfg.seed) {
		int n = nb_seed(&app->nb, app->cfg.examples_dir);
		if (n > 0)
			srv_log("new workspace: copied %d example notebook%s into examples/", n, n == 1 ? "" : "s");
	}
	struct sysmon_hooks sh = {.on_sample = on_sample, .run_of_pid = run_of_pid, .ctx = app};
	app->sysmon = sysmon_new(&sh);
	struct runq_config rc = {
		.workspace = app->cfg.workspace, .exe = app->exe, .worker_cmd = app->cfg.worker_cmd,
		.owner = app->owner, .cpu_runs = app->cfg.cpu_runs,
		.gpu_count = sysmon_gpu_count(app->sysmon), .gpu_runs = app->cfg.gpu_runs,
		.worker_timeout = app->cfg.worker_timeout, .stop_timeout = app->cfg.stop_timeout,
		.max_queued = app->cfg.max_queued, .worker_memory = app->cfg.worker_memory};
	struct runq_hooks rh = {.event = on_event, .run_changed = on_run_changed, .ctx = app};
	int listen_fd = -1;
	if (runq_new(&rc, app->store, &rh, &app->runq, err, sizeof err) < 0 ||
	    !(app->ws = ws_new(&app->auth, app->store, app->cfg.base_url, err, sizeof err)) ||
	    !(app->http = http_new(app, err, sizeof err)) ||
	    (listen_fd = door_listen(app->cfg.ip, app->cfg.port, app->cfg.port_retries, &app->port, err,
				     sizeof err)) < 0 ||
	    (ws_start(app->ws) < 0 && snprintf(err, sizeof err, "cannot start the feed thread")) ||
	    (runq_start(app->runq) < 0 && snprintf(err, sizeof err, "cannot start the supervisor")) ||
	    (sysmon_start(app->sysmon) < 0 && snprintf(err, sizeof err, "cannot start the sampler"))) {
		fprintf(stderr, "trainbook serve: %s\n", err);
		if (listen_fd >= 0)
			close(listen_fd);
		teardown(app);
		return 1;
	}
	struct door *door = door_new(listen_fd, app->http, app->ws, app->cfg.base_url);
	if (sysmon_gpu_count(app->sysmon) == 0)
		srv_log("no GPU: runs use the CPU (%d at a time)", app->cfg.cpu_runs);
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
	ssize_t n = readlink("/proc/self/exe", app->exe, sizeof app->exe - 1);
	if (n > 0)
		app->exe[n] = '\0';
	if (cfg_finish(&app->cfg, app->exe, err, sizeof err) < 0) {
		fprintf(stderr, "trainbook serve: %s\n", err);
		rc = 1;
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
