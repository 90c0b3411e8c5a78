/*
 * events.h — what a training run tells the world: JSON lines for the
 * server (`--json`, the worker) or a progress bar and readable lines for a
 * person at a terminal. The event shapes are the contract in docs/api.md
 * ("Worker events").
 *
 * Threads: the training thread only. Each JSON event is written with one
 * fwrite + fflush so a reader never sees half a line.
 */
#ifndef TB_EVENTS_H
#define TB_EVENTS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct events {
	bool json;            /* JSON lines on `out` */
	bool progress;        /* a live progress line on stderr (terminal only) */
	bool silent;          /* report nothing (non-zero processes of a multi-node run) */
	FILE *out;
	double last_progress; /* when the progress line was last redrawn */
	double started;
	const char *checkpoint; /* evaluating a checkpoint (--evaluate): named in its metric and evaluation events */
};

void events_init(struct events *ev, bool json, FILE *out);

struct run_info {
	const char *device;        /* "cpu", "cuda:0" */
	const char *device_name;
	const char *precision;
	const char *note;          /* why auto chose the CPU, precision notes, … ("" = none) */
	int64_t steps_per_epoch, total_steps;
	int epochs;
	int64_t params;
	int64_t train_size, test_size, validation_size;
	int64_t start_step;        /* > 0 when resuming */
};
void events_running(struct events *ev, const struct run_info *info);
/*
 * The worker has started and loads its data: status "running" with phase
 * "loading data" and `detail` as the reason, before events_running, so a
 * run that spends minutes loading shows as running, and why.
 */
void events_loading(struct events *ev, const char *detail);

/* A metric event; names and values are parallel arrays. */
void events_metric(struct events *ev, const char *split, int64_t step, int epoch, int n, const char *const *names,
		   const double *values);

void events_checkpoint(struct events *ev, int64_t step, int epoch, const char *file, const char *path,
		       int64_t bytes, bool best);

struct eval_sample {
	int64_t index;
	int label, predicted;
	const uint8_t *pixels;    /* c*h*w bytes, or NULL */
};
void events_evaluation(struct events *ev, const char *split, int64_t step, int epoch, int classes,
		       const char *const *class_names, const int64_t *confusion, int c, int h, int w,
		       const struct eval_sample *samples, int nsamples);

/* What the run is doing besides training, e.g. "evaluating" `split`: done of total samples (JSON only). */
void events_phase(struct events *ev, const char *phase, const char *split, int64_t done, int64_t total);

/* A log line: level "info" or "warning" (early stopping without a validation split, train.c). */
void events_log(struct events *ev, const char *level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Final status: "completed", "failed", "stopped" with an optional reason. */
void events_end(struct events *ev, const char *status, const char *reason);

/* What a GPU run adds to its summary; NULL for the CPU. */
struct device_summary {
	int64_t peak_memory_bytes;  /* 0 = unknown */
	bool loss_scaling;          /* fp16: the two fields below are meaningful */
	double loss_scale;
	int64_t skipped_steps;
};
void events_summary(struct events *ev, int64_t steps, int epochs, double seconds, double images_per_sec,
		    int n, const char *const *final_names, const double *final_values, const char *best_metric,
		    double best_value, int64_t best_step, const struct device_summary *device);

/* Redraw the terminal progress line (rate-limited; no-op unless ev->progress). */
void events_progress(struct events *ev, int epoch, int epochs, int64_t step_in_epoch, int64_t steps_per_epoch,
		     int64_t step, int64_t total_steps, double loss, double images_per_sec, bool force);

#endif
