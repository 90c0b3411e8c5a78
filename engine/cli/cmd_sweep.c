/*
 * cmd_sweep.c — `trainbook sweep SPEC [--parallel N] [--set k=v] [--out DIR]`:
 * run a sweep's trials from the shell, one after another or N at a time,
 * stop the bad ones with ASHA when the spec asks, and print the results
 * table sorted by the sweep's metric (also written to DIR/results.md).
 * Also the sweep preview that `trainbook check` prints.
 *
 * Each trial is a forked child running train_run with its JSON events in
 * DIR/trial-NNN/events.jsonl and its checkpoints beside them. The child
 * reports each evaluation on a pipe as one text line; at an ASHA rung it
 * waits for the parent's answer ('c' continue, 's' stop), so a decision
 * is taken at exactly the rung's step and a stopped trial ends there with
 * a checkpoint, as on SIGTERM.
 *
 * Threads: the parent is one thread (poll loop); each child trains on its
 * own. Signal handlers only set flags.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "asha.h"
#include "cli.h"
#include "early_stop.h"
#include "spec.h"
#include "sweep.h"
#include "tb.h"
#include "train.h"

#define LINE_MAX_LEN 256

static volatile sig_atomic_t stop_requested; /* parent: stop the sweep; child: stop the trial */

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

enum trial_state { TRIAL_WAITING, TRIAL_RUNNING, TRIAL_DONE };

struct trial_run {
	const struct sweep_trial *trial;
	enum trial_state state;
	pid_t pid;
	int from_child, to_child; /* evaluation lines in; ASHA answers out */
	char line[LINE_MAX_LEN];  /* a partial line from the child */
	size_t len;
	int epochs; /* evaluations seen: epochs done at the last one */
	double metric, test_accuracy;
	bool have_metric;
	int asha_stopped_at; /* the rung epoch ASHA stopped it at, 0 = not stopped */
	int exit_code;       /* train_result of the child, or -1 when it died */
	double started, seconds;
};

struct sweep_cli {
	const struct spec *base;
	const char *text; /* the spec file's text */
	size_t len;
	const char *path;
	const char *const *overrides;
	int noverrides;
	char out_dir[512];
	const char *metric; /* the sweep's metric: ASHA's, early stopping's, or validation.accuracy */
	bool maximize;
	bool has_validation;
	struct asha asha;
	int rungs[ASHA_MAX_RUNGS];
	int nrungs;
	struct trial_run *runs;
	int nruns;
};

/* ---- the child ------------------------------------------------------------------- */

struct child_ctx {
	int to_parent, from_parent;
	const struct sweep_cli *sc;
};

static void child_on_eval(void *p, const char *split, int epochs_done, double loss, double accuracy)
{
	struct child_ctx *c = p;
	const struct sweep_cli *sc = c->sc;
	bool wait = sc->nrungs > 0 && strcmp(split, early_stop_split(sc->metric, sc->has_validation)) == 0 &&
		    asha_rung_at(&sc->asha, epochs_done) >= 0;
	dprintf(c->to_parent, "%s %d %.17g %.17g %d\n", split, epochs_done, loss, accuracy, wait ? 1 : 0);
	if (!wait)
		return;
	char answer = 'c';
	ssize_t n;
	do
		n = read(c->from_parent, &answer, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1 || answer == 's')
		stop_requested = 1; /* the loop stops after this step, with a checkpoint */
}

static _Noreturn void child_main(const struct sweep_cli *sc, struct trial_run *r, int to_parent, int from_parent)
{
	char dir[600], events[700];
	struct spec *s = tb_xmalloc(sizeof(*s));
	struct spec_errors *errs = tb_xmalloc(sizeof(*errs));
	stop_requested = 0;
	tb_fmt(dir, sizeof(dir), "%s/trial-%03d", sc->out_dir, r->trial->index + 1);
	tb_fmt(events, sizeof(events), "%s/events.jsonl", dir);
	if (sweep_trial_parse(sc->text, sc->len, sc->path, sc->overrides, sc->noverrides, r->trial, s, errs) < 0) {
		spec_errors_print(errs, stderr); /* sweep_check passed: only a broken invariant gets here */
		_exit(TRAIN_SETUP_ERROR);
	}
	mkdir(dir, 0755);
	FILE *ev = fopen(events, "w");
	if (!ev) {
		fprintf(stderr, "trainbook sweep: %s: %s\n", events, strerror(errno));
		_exit(TRAIN_SETUP_ERROR);
	}
	struct child_ctx ctx = {to_parent, from_parent, sc};
	struct train_options opt = {
		.out_dir = dir,
		.json = true,
		.events_out = ev,
		.stop = &stop_requested,
		.on_eval = child_on_eval,
		.on_eval_ctx = &ctx,
	};
	enum train_result res = train_run(s, &opt);
	fclose(ev);
	_exit(res);
}

/* ---- the parent ---------------------------------------------------------------------- */

static void trial_label(const struct sweep_cli *sc, const struct sweep_trial *t, char *buf, size_t size)
{
	size_t used = 0;
	buf[0] = '\0';
	for (int j = 0; j < t->nparams && used < size; j++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s=%s", j ? " " : "",
					 sc->base->sweep.params[j].path, t->values[j]);
}

static int trial_start(struct sweep_cli *sc, struct trial_run *r)
{
	int up[2], down[2];
	char label[512];
	if (pipe(up) < 0)
		return -1;
	if (pipe(down) < 0) {
		close(up[0]);
		close(up[1]);
		return -1;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(up[0]);
		close(up[1]);
		close(down[0]);
		close(down[1]);
		return -1;
	}
	if (pid == 0) {
		close(up[0]);
		close(down[1]);
		for (int i = 0; i < sc->nruns; i++) /* the other trials' pipes are not this child's */
			if (sc->runs[i].state == TRIAL_RUNNING) {
				close(sc->runs[i].from_child);
				close(sc->runs[i].to_child);
			}
		child_main(sc, r, up[1], down[0]);
	}
	close(up[1]);
	close(down[0]);
	r->pid = pid;
	r->from_child = up[0];
	r->to_child = down[1];
	r->state = TRIAL_RUNNING;
	r->started = tb_now();
	trial_label(sc, r->trial, label, sizeof(label));
	fprintf(stderr, "trial %d/%d started: %s\n", r->trial->index + 1, sc->nruns, label);
	return 0;
}

/* One evaluation line from a child: record the metric, answer at a rung. */
static void trial_line(struct sweep_cli *sc, struct trial_run *r, const char *line)
{
	char split[32];
	int epoch, wait;
	double loss, acc;
	if (sscanf(line, "%31s %d %lf %lf %d", split, &epoch, &loss, &acc, &wait) != 5)
		return;
	if (!strcmp(split, "test"))
		r->test_accuracy = acc;
	if (!strcmp(split, early_stop_split(sc->metric, sc->has_validation))) {
		struct eval_results er = {.has_validation = sc->has_validation};
		double *v = strcmp(split, "test") ? er.validation : er.test;
		v[0] = loss;
		v[1] = acc;
		r->metric = early_stop_value(sc->metric, &er);
		r->have_metric = true;
		r->epochs = epoch;
		fprintf(stderr, "trial %d epoch %d: %s %.4f\n", r->trial->index + 1, epoch, sc->metric, r->metric);
	}
	if (!wait)
		return;
	bool go_on = asha_report(&sc->asha, epoch, r->metric);
	if (!go_on) {
		r->asha_stopped_at = epoch;
		fprintf(stderr, "trial %d stopped by ASHA at epoch %d (not in the top 1/%d)\n", r->trial->index + 1,
			epoch, sc->base->sweep.asha.reduction);
	}
	char answer = go_on ? 'c' : 's';
	if (write(r->to_child, &answer, 1) != 1)
		fprintf(stderr, "trainbook sweep: trial %d: cannot answer: %s\n", r->trial->index + 1, strerror(errno));
}

/* Read what a child wrote; at end of file, reap it. */
static void trial_read(struct sweep_cli *sc, struct trial_run *r)
{
	ssize_t n = read(r->from_child, r->line + r->len, sizeof(r->line) - 1 - r->len);
	if (n < 0 && errno == EINTR)
		return;
	if (n > 0) {
		r->len += (size_t)n;
		r->line[r->len] = '\0';
		char *nl;
		while ((nl = strchr(r->line, '\n'))) {
			*nl = '\0';
			trial_line(sc, r, r->line);
			r->len -= (size_t)(nl + 1 - r->line);
			memmove(r->line, nl + 1, r->len + 1);
		}
		if (r->len == sizeof(r->line) - 1)
			r->len = 0; /* a line this long is not ours: drop it */
		return;
	}
	int status = 0;
	close(r->from_child);
	close(r->to_child);
	while (waitpid(r->pid, &status, 0) < 0 && errno == EINTR)
		;
	r->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	r->seconds = tb_now() - r->started;
	r->state = TRIAL_DONE;
	fprintf(stderr, "trial %d/%d %s after %.0f s\n", r->trial->index + 1, sc->nruns,
		r->exit_code == TRAIN_COMPLETED ? "completed"
		: r->exit_code == TRAIN_STOPPED ? "stopped"
						: "failed",
		r->seconds);
}

static void status_text(const struct trial_run *r, char *buf, size_t size)
{
	if (r->asha_stopped_at)
		tb_fmt(buf, size, "stopped by ASHA at epoch %d", r->asha_stopped_at);
	else if (r->state != TRIAL_DONE)
		tb_fmt(buf, size, "not run");
	else if (r->exit_code == TRAIN_COMPLETED)
		tb_fmt(buf, size, "completed");
	else if (r->exit_code == TRAIN_STOPPED)
		tb_fmt(buf, size, "stopped");
	else
		tb_fmt(buf, size, "failed (see trial-%03d/events.jsonl)", r->trial->index + 1);
}

static const struct sweep_cli *sort_ctx;

/* Best metric first; trials without one last, in trial order. */
static int by_metric(const void *pa, const void *pb)
{
	const struct trial_run *a = *(const struct trial_run *const *)pa, *b = *(const struct trial_run *const *)pb;
	bool ha = a->have_metric && !isnan(a->metric), hb = b->have_metric && !isnan(b->metric);
	if (ha != hb)
		return ha ? -1 : 1;
	if (ha && a->metric != b->metric) {
		bool a_first = sort_ctx->maximize ? a->metric > b->metric : a->metric < b->metric;
		return a_first ? -1 : 1;
	}
	return a->trial->index - b->trial->index;
}

static void results_print(const struct sweep_cli *sc, FILE *out)
{
	const struct spec_sweep *sw = &sc->base->sweep;
	const struct trial_run **order = tb_xcalloc((size_t)sc->nruns, sizeof(*order));
	for (int i = 0; i < sc->nruns; i++)
		order[i] = &sc->runs[i];
	sort_ctx = sc;
	qsort(order, (size_t)sc->nruns, sizeof(*order), by_metric);
	fprintf(out, "| rank | trial |");
	for (int j = 0; j < sw->nparams; j++)
		fprintf(out, " %s |", sw->params[j].path);
	fprintf(out, " %s | test.accuracy | epochs | status |\n|---:|---:|", sc->metric);
	for (int j = 0; j < sw->nparams; j++)
		fprintf(out, "---|");
	fprintf(out, "---:|---:|---:|---|\n");
	for (int i = 0; i < sc->nruns; i++) {
		const struct trial_run *r = order[i];
		char status[96];
		status_text(r, status, sizeof(status));
		fprintf(out, "| %d | %d |", i + 1, r->trial->index + 1);
		for (int j = 0; j < sw->nparams; j++)
			fprintf(out, " %s |", r->trial->values[j]);
		if (r->have_metric)
			fprintf(out, " %.4f | %.4f | %d | %s |\n", r->metric, r->test_accuracy, r->epochs, status);
		else
			fprintf(out, " – | – | – | %s |\n", status);
	}
	free(order);
}

/* The poll loop: keep `parallel` trials running until all are done or the sweep is stopped. */
static void sweep_loop(struct sweep_cli *sc, int parallel)
{
	int next = 0, running = 0;
	struct pollfd *fds = tb_xcalloc((size_t)sc->nruns, sizeof(*fds));
	int *which = tb_xcalloc((size_t)sc->nruns, sizeof(*which));
	bool forwarded = false;
	for (;;) {
		while (!stop_requested && running < parallel && next < sc->nruns) {
			if (trial_start(sc, &sc->runs[next]) < 0) {
				fprintf(stderr, "trainbook sweep: cannot start trial %d: %s\n", next + 1,
					strerror(errno));
				stop_requested = 1;
				break;
			}
			next++;
			running++;
		}
		if (running == 0)
			break;
		if (stop_requested && !forwarded) {
			for (int i = 0; i < sc->nruns; i++)
				if (sc->runs[i].state == TRIAL_RUNNING)
					kill(sc->runs[i].pid, SIGTERM); /* each finishes its step and checkpoints */
			forwarded = true;
		}
		int n = 0;
		for (int i = 0; i < sc->nruns; i++) {
			if (sc->runs[i].state == TRIAL_RUNNING) {
				fds[n] = (struct pollfd){.fd = sc->runs[i].from_child, .events = POLLIN};
				which[n++] = i;
			}
		}
		if (poll(fds, (nfds_t)n, 1000) < 0 && errno != EINTR)
			break;
		for (int k = 0; k < n; k++) {
			if (fds[k].revents & (POLLIN | POLLHUP | POLLERR)) {
				struct trial_run *r = &sc->runs[which[k]];
				trial_read(sc, r);
				if (r->state == TRIAL_DONE)
					running--;
			}
		}
	}
	free(fds);
	free(which);
}

/* ---- shared set-up -------------------------------------------------------------------- */

static void default_out_dir(const char *spec_path, char *out, size_t len)
{
	const char *base = strrchr(spec_path, '/');
	base = base ? base + 1 : spec_path;
	char stem[128], date[32];
	tb_fmt(stem, sizeof(stem), "%s", base);
	char *dot = strrchr(stem, '.');
	if (dot && dot != stem)
		*dot = 0;
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%Y%m%d-%H%M%S", &tm);
	tb_fmt(out, len, "runs/%s-sweep-%s", stem, date);
}

/*
 * Read and parse the spec, expand and check its trials. Returns 0 (and
 * fills the outputs; free *text, *trials, spec_free(s)), 1 when the spec
 * has no sweep, 2 after printing errors.
 */
static int sweep_load(const char *path, const char *const *overrides, int noverrides, char **text, size_t *len,
		      struct spec *s, struct sweep_trial **trials, int *ntrials)
{
	struct spec_errors *errs = tb_xmalloc(sizeof(*errs));
	int rc = 2;
	*text = NULL;
	*trials = NULL;
	if (tb_read_file(path, text, len) < 0) {
		fprintf(stderr, "%s: error: cannot read the spec: %s\n", path, strerror(errno));
		goto out;
	}
	if (spec_parse(*text, *len, path, overrides, noverrides, s, errs) < 0) {
		spec_errors_print(errs, stderr);
		goto out;
	}
	if (!s->sweep.enabled) {
		rc = 1;
		goto out;
	}
	*ntrials = sweep_expand(&s->sweep, trials);
	if (sweep_check(*text, *len, path, overrides, noverrides, &s->sweep, *trials, *ntrials, errs) < 0) {
		spec_errors_print(errs, stderr);
		goto out;
	}
	free(errs);
	return 0;
out:
	if (rc != 1)
		spec_free(s);
	free(errs);
	free(*text);
	free(*trials);
	*text = NULL;
	*trials = NULL;
	return rc;
}

int cli_sweep_preview(const char *path, const char *const *overrides, int noverrides, void *stdio_file)
{
	FILE *out = stdio_file;
	struct spec *s = tb_xmalloc(sizeof(*s));
	char *text;
	size_t len;
	struct sweep_trial *trials;
	int ntrials;
	int rc = sweep_load(path, overrides, noverrides, &text, &len, s, &trials, &ntrials);
	if (rc == 0)
		sweep_preview_print(&s->sweep, s->train.epochs, trials, ntrials, out);
	if (rc != 2)
		spec_free(s);
	free(s);
	free(text);
	free(trials);
	return rc == 1 ? 0 : rc;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: trainbook sweep SPEC [options]\n"
		     "\n"
		     "Run the trials of a spec's sweep: section and print them ranked by the sweep's\n"
		     "metric (sweep.stop.asha.metric, else early_stopping.metric, else validation.accuracy).\n"
		     "\n"
		     "  --parallel N           trials at once (default sweep.parallel)\n"
		     "  --set key.path=value   override a spec value for every trial (repeatable)\n"
		     "  --out DIR              trial-NNN/ folders and results.md go here\n"
		     "                         (default runs/<spec name>-sweep-<date>)\n"
		     "\n"
		     "trainbook check SPEC previews the trials. SIGINT/SIGTERM stop every running trial\n"
		     "(each writes a checkpoint) and print the table so far.\n");
}

int cli_sweep(int argc, char **argv)
{
	static const struct option options[] = {
		{"set", required_argument, NULL, 's'},
		{"out", required_argument, NULL, 'o'},
		{"parallel", required_argument, NULL, 'p'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *overrides[CLI_MAX_OVERRIDES], *out_dir = NULL;
	int noverrides = 0, parallel = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:o:p:h", options, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!cli_add_override("trainbook sweep", overrides, &noverrides, optarg))
				return 2;
			break;
		case 'o':
			out_dir = optarg;
			break;
		case 'p':
			parallel = atoi(optarg);
			if (parallel < 1 || parallel > 64) {
				fprintf(stderr, "trainbook sweep: --parallel takes 1 to 64, got '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	const char *path = argv[optind];
	struct spec *s = tb_xmalloc(sizeof(*s));
	struct sweep_cli sc = {.base = s, .path = path, .overrides = overrides, .noverrides = noverrides};
	char *text;
	struct sweep_trial *trials;
	int rc = sweep_load(path, overrides, noverrides, &text, &sc.len, s, &trials, &sc.nruns);
	if (rc != 0) {
		if (rc == 1) {
			fprintf(stderr, "%s: error: the spec has no sweep: section (trainbook train runs it)\n", path);
			spec_free(s);
		}
		free(s);
		return 2;
	}
	sc.text = text;
	if (out_dir)
		tb_fmt(sc.out_dir, sizeof(sc.out_dir), "%s", out_dir);
	else
		default_out_dir(path, sc.out_dir, sizeof(sc.out_dir));
	char cmd[600];
	tb_fmt(cmd, sizeof(cmd), "%s", sc.out_dir);
	for (char *p = cmd + 1; *p; p++) { /* mkdir -p */
		if (*p == '/') {
			*p = '\0';
			mkdir(cmd, 0755);
			*p = '/';
		}
	}
	if (mkdir(sc.out_dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "trainbook sweep: cannot create %s: %s\n", sc.out_dir, strerror(errno));
		rc = 2;
		goto out;
	}
	const struct spec_sweep *sw = &s->sweep;
	sc.metric = sweep_metric(s, &sc.maximize);
	sc.has_validation = s->data.validation > 0;
	asha_init(&sc.asha, &sw->asha, s->train.epochs);
	sc.nrungs = sc.asha.nrungs;
	sc.runs = tb_xcalloc((size_t)sc.nruns, sizeof(*sc.runs));
	for (int i = 0; i < sc.nruns; i++)
		sc.runs[i] = (struct trial_run){.trial = &trials[i], .exit_code = -1};
	fprintf(stderr, "sweep: %d trial%s, %d at a time, into %s/\n", sc.nruns, sc.nruns == 1 ? "" : "s",
		parallel ? parallel : sw->parallel, sc.out_dir);
	install_signals();
	sweep_loop(&sc, parallel ? parallel : sw->parallel);

	char results[600];
	tb_fmt(results, sizeof(results), "%s/results.md", sc.out_dir);
	FILE *f = fopen(results, "w");
	if (f) {
		results_print(&sc, f);
		fclose(f);
	}
	printf("\n");
	results_print(&sc, stdout);
	rc = 1;
	for (int i = 0; i < sc.nruns; i++)
		if (sc.runs[i].exit_code == TRAIN_COMPLETED || sc.runs[i].exit_code == TRAIN_STOPPED)
			rc = 0;
	asha_free(&sc.asha);
	free(sc.runs);
out:
	spec_free(s);
	free(s);
	free(text);
	free(trials);
	return rc;
}
