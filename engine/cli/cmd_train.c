/*
 * cmd_train.c — `trainbook train` and `trainbook worker`.
 *
 * train:  a person at a terminal: progress bar, readable lines, summary.
 * worker: the server's child process: JSON-lines events on stdout
 *         (docs/api.md), nothing else on stdout; or, started by a cluster
 *         (the Slurm executor), events appended to --events-file and sent
 *         home by report.c (--report URL with the run's --secret-file).
 * Both: SIGINT/SIGTERM finish the current step, write a checkpoint and end
 * the run as "stopped" (while the data loads: at once, without one); a
 * second signal ends the process at once. An allocation that does not fit
 * ends the run "failed", out of memory (on_out_of_memory).
 *
 * Threads: main thread; signal handlers only set a flag.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checkpoint.h"
#include "cli.h"
#include "dist.h"
#include "report.h"
#include "memlimit.h"
#include "spec.h"
#include "tb.h"
#include "train.h"

/* The one piece of process-global state: set from signal handlers, read by the loop. */
static volatile sig_atomic_t stop_requested;
/* Set once before training: the worker reports in JSON lines, to oom_out
 * (stdout, or a cluster worker's --events-file), for on_out_of_memory. */
static bool events_json;
static FILE *oom_out;

/*
 * An allocation that does not fit (tb.h's memory policy: the budget of
 * memlimit.h, or malloc giving up) ends the run "failed" with the reason —
 * "out of memory: the run needs ~X" — instead of SIGABRT. It runs on the
 * thread that failed (a loader thread, the training thread) and calls
 * nothing that allocates: the reason is formatted on the stack, and the
 * line is written with stdout locked and flushed, so it cannot land inside
 * an event another thread is writing.
 */
static void on_out_of_memory(size_t bytes)
{
	char reason[400], line[512];
	memlimit_reason(reason, sizeof(reason), bytes);
	int n = events_json ? snprintf(line, sizeof(line), "{\"type\":\"status\",\"status\":\"failed\",\"reason\":\"%s\"}\n", reason)
			    : snprintf(line, sizeof(line), "trainbook: run failed: %s\n", reason);
	n = n < 0 ? 0 : n >= (int)sizeof(line) ? (int)sizeof(line) - 1 : n;
	FILE *out = oom_out ? oom_out : stderr;
	flockfile(out);
	fflush_unlocked(out);
	ssize_t written = write(fileno(out), line, (size_t)n);
	(void)written;
	_exit(1);
}

/* Set before the handlers: a worker under a cluster launcher (--events-file). */
static int cluster_worker;

static void on_stop_signal(int sig)
{
	stop_requested = 1;
	/* A second Ctrl-C should not wait for the checkpoint. Under Slurm, though,
	 * srun forwards a time limit's SIGTERM and then sends its own at once:
	 * there the checkpoint must still be written, and SIGKILL (KillWait
	 * later) is the cluster's way to insist. */
	if (!(cluster_worker && sig == SIGTERM))
		signal(sig, SIG_DFL);
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* The server may go away; a failed write must not kill a run that can still checkpoint. */
	signal(SIGPIPE, SIG_IGN);
}

static void usage(FILE *out, const char *cmd)
{
	fprintf(out,
		"usage: trainbook %s SPEC [options]\n"
		"       trainbook %s --resume CHECKPOINT [options]\n"
		"       trainbook %s --evaluate CHECKPOINT [SPEC] [options]\n"
		"\n"
		"  --set key.path=value   override a spec value (repeatable), e.g. --set train.epochs=1\n"
		"  --out DIR              where checkpoints go (default runs/<spec name>-<date>)\n"
		"  --json                 JSON-lines events on stdout instead of a progress bar\n"
		"  --resume CHECKPOINT    continue a run from a step-*.safetensors checkpoint\n"
		"                         (without SPEC, the spec stored in the checkpoint is used)\n"
		"  --evaluate CHECKPOINT  evaluate a checkpoint on the test split and train nothing\n"
		"  --events-file FILE     append the JSON-lines events to FILE instead of stdout\n"
		"  --report URL           send the events in FILE to the server at URL as well\n"
		"                         (what the Slurm executor starts; docs/slurm.md)\n"
		"  --secret-file FILE     the run's secret for --report\n"
		"  --report-drain S       at the end, wait up to S seconds for the server (default 120)\n"
		"\n"
		"SIGINT/SIGTERM finish the current step, write a checkpoint and stop.\n",
		cmd, cmd, cmd);
}

static void default_out_dir(const char *spec_path, char *out, size_t len)
{
	const char *base = spec_path ? strrchr(spec_path, '/') : NULL;
	base = base ? base + 1 : (spec_path ? spec_path : "resumed");
	char stem[128];
	snprintf(stem, sizeof(stem), "%s", base);
	char *dot = strrchr(stem, '.');
	if (dot && dot != stem)
		*dot = 0;
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	char date[32];
	strftime(date, sizeof(date), "%Y%m%d-%H%M%S", &tm);
	snprintf(out, len, "runs/%s-%s", stem, date);
}

/* Parse the spec from a file, or from the checkpoint when only --resume is given. */
static int load_spec(const char *spec_path, const char *resume, const char *const *overrides, int noverrides,
		     struct spec *s)
{
	struct spec_errors errs;
	memset(&errs, 0, sizeof(errs));
	if (spec_path) {
		snprintf(errs.filename, sizeof(errs.filename), "%s", spec_path);
		if (spec_parse_file(spec_path, overrides, noverrides, s, &errs) < 0) {
			spec_errors_print(&errs, stderr);
			return -1;
		}
		return 0;
	}
	char *text = NULL, err[512];
	if (checkpoint_read_spec(resume, &text, err, sizeof(err)) < 0) {
		fprintf(stderr, "trainbook: %s\n", err);
		return -1;
	}
	snprintf(errs.filename, sizeof(errs.filename), "%s (stored spec)", resume);
	int rc = spec_parse(text, strlen(text), errs.filename, overrides, noverrides, s, &errs);
	if (rc < 0)
		spec_errors_print(&errs, stderr);
	free(text);
	return rc;
}

/*
 * Events to a file (and home through report.c). Only process 0 of a
 * multi-process run reports; the others train silently (train.c) and
 * leave the file alone.
 */
static int open_events(const char *path, const char *url, const char *secret_file, FILE **out,
		       struct report **rep)
{
	struct dist_env d;
	char err[512];
	if (dist_env_detect(&d, err, sizeof(err)) < 0) {
		fprintf(stderr, "trainbook: %s\n", err);
		return -1;
	}
	if (d.rank != 0)
		return 0;
	*out = fopen(path, "a");
	if (!*out) {
		fprintf(stderr, "trainbook: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!url)
		return 0;
	char secret[128] = "";
	FILE *f = fopen(secret_file, "r");
	if (!f || !fgets(secret, sizeof(secret), f)) {
		fprintf(stderr, "trainbook: %s: %s\n", secret_file, f ? "empty" : strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	secret[strcspn(secret, "\r\n")] = 0;
	*rep = report_start(url, secret, path, err, sizeof(err));
	if (!*rep) {
		fprintf(stderr, "trainbook: %s\n", err);
		return -1;
	}
	return 0;
}

int cli_train(int argc, char **argv)
{
	bool worker = strcmp(argv[0], "worker") == 0;
	static const struct option options[] = {
		{"set", required_argument, NULL, 's'},  {"out", required_argument, NULL, 'o'},
		{"json", no_argument, NULL, 'j'},       {"resume", required_argument, NULL, 'r'},
		{"evaluate", required_argument, NULL, 'e'}, {"help", no_argument, NULL, 'h'},
		{"events-file", required_argument, NULL, 'E'}, {"report", required_argument, NULL, 'R'},
		{"secret-file", required_argument, NULL, 'S'}, {"report-drain", required_argument, NULL, 'D'},
		{NULL, 0, NULL, 0},
	};
	const char *overrides[CLI_MAX_OVERRIDES];
	int noverrides = 0, c;
	const char *out_dir = NULL, *resume = NULL, *events_file = NULL, *report_url = NULL, *secret_file = NULL;
	double drain_s = 120;
	bool json = worker, evaluate = false;
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:o:jr:e:h", options, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!cli_add_override("trainbook", overrides, &noverrides, optarg))
				return 2;
			break;
		case 'o': out_dir = optarg; break;
		case 'j': json = true; break;
		case 'r': resume = optarg; break;
		case 'e': resume = optarg; evaluate = true; break;
		case 'E': events_file = optarg; json = true; break;
		case 'R': report_url = optarg; break;
		case 'S': secret_file = optarg; break;
		case 'D': drain_s = atof(optarg); break;
		case 'h': usage(stdout, argv[0]); return 0;
		default: usage(stderr, argv[0]); return 2;
		}
	}
	const char *spec_path = optind < argc ? argv[optind] : NULL;
	if (optind < argc - 1 || (!spec_path && !resume)) {
		usage(stderr, argv[0]);
		return 2;
	}
	if (report_url && (!events_file || !secret_file)) {
		fprintf(stderr, "trainbook: --report needs --events-file and --secret-file\n");
		return 2;
	}
	struct spec s;
	if (load_spec(spec_path, resume, overrides, noverrides, &s) < 0)
		return 2;
	if (s.sweep.enabled) {
		fprintf(stderr, "%s: error: the spec has a sweep: section: run it with trainbook sweep "
				"(or add --set sweep=null to train it as one run)\n", spec_path ? spec_path : resume);
		spec_free(&s);
		return 2;
	}
	char dir[512];
	if (!out_dir) {
		default_out_dir(spec_path, dir, sizeof(dir));
		out_dir = dir;
	}
	if (!json)
		fprintf(stderr, "checkpoints: %s/\n", out_dir);
	cluster_worker = events_file != NULL;
	install_signals();
	FILE *events_out = stdout;
	struct report *rep = NULL;
	if (events_file && open_events(events_file, report_url, secret_file, &events_out, &rep) < 0) {
		spec_free(&s);
		return 2;
	}
	events_json = json;
	oom_out = json ? events_out : stderr;
	tb_set_memory_policy(&(struct tb_memory_policy){.admit = memlimit_admit, .fail = on_out_of_memory});
	struct train_options opt = {
		.out_dir = out_dir, .json = json, .events_out = events_out, .resume = resume, .stop = &stop_requested,
		.evaluate_only = evaluate,
	};
	enum train_result r = train_run(&s, &opt);
	spec_free(&s);
	if (events_out != stdout)
		fclose(events_out);
	long unsent = report_finish(rep, drain_s);
	if (unsent)
		fprintf(stderr, "trainbook: %ld event%s not acknowledged by the server; they stay in %s\n", unsent,
			unsent == 1 ? "" : "s", events_file);
	switch (r) {
	case TRAIN_COMPLETED:
	case TRAIN_STOPPED: return 0;
	case TRAIN_SETUP_ERROR: return 2;
	default: return 1;
	}
}
