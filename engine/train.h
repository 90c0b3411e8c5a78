/*
 * train.h — the training loop: spec in, events and checkpoints out.
 *
 * What it is: everything `trainbook train` and `trainbook worker` do once
 * the spec is parsed — open the backend, load data, build and initialise
 * (or resume) the model, run epochs of steps, evaluate, checkpoint, and
 * report through events.h. What it is not: argument parsing or signal
 * handling (engine/cli/), which hand it a stop flag.
 *
 * Threads: runs on the caller's thread; the data loader owns its own
 * prefetch threads.
 */
#ifndef TB_TRAIN_H
#define TB_TRAIN_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "spec.h"

struct train_options {
	const char *out_dir;                 /* checkpoints go here (created if missing) */
	bool json;                           /* JSON-lines events instead of human output */
	FILE *events_out;                    /* where JSON events go (stdout) */
	const char *resume;                  /* checkpoint to continue from, or NULL */
	bool evaluate_only;                  /* load `resume`, evaluate it on the test split, train nothing */
	volatile sig_atomic_t *stop;         /* set asynchronously: finish the step, checkpoint, stop */
	/* After each evaluation, or NULL: how `trainbook sweep` follows its trials (cli/cmd_sweep.c). */
	void (*on_eval)(void *ctx, const char *split, int epochs_done, double loss, double accuracy);
	void *on_eval_ctx;
};

enum train_result {
	TRAIN_COMPLETED = 0,
	TRAIN_STOPPED = 1,
	TRAIN_SETUP_ERROR = 2, /* bad data, device, resume file: nothing trained */
	TRAIN_FAILED = 3,      /* diverged, or a checkpoint could not be written */
};

/* Train as the spec says. Every outcome is reported as events (a final
 * status event always), so the caller only maps the result to an exit code. */
enum train_result train_run(const struct spec *spec, const struct train_options *opt);

#endif
