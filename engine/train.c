/*
 * train.c — the training loop (see train.h).
 *
 * One step: upload the batch, forward, fused loss (writes dlogits and adds
 * loss/correct counts to a device-side stats pair), backward, optimizer.
 * Metrics are averaged over the steps since the last metric event; events
 * go out every `train.log_every` steps, or at most ~20 a second when that
 * is 0, so a fast run cannot flood the server. On a GPU the sums come home
 * without stopping the GPU (emit_train_metric).
 *
 * Everything random is a pure function of (seed, epoch, position, step),
 * so a run resumed from a checkpoint continues bit for bit.
 */
#include "train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend.h"
#include "checkpoint.h"
#include "data.h"
#include "dist.h"
#include "early_stop.h"
#include "events.h"
#include "gpu_step.h"
#include "loss.h"
#include "memest.h"
#include "memlimit.h"
#include "model.h"
#include "optim.h"
#include "precision.h"
#include "preprocess.h"
#include "profile.h"
#include "replica.h"
#include "schedule.h"
#include "tb.h"

#define METRIC_INTERVAL 0.05 /* seconds between automatic metric events (≤ 20/s) */
#define METRIC_LAG 0.25      /* seconds a GPU metric snapshot may take before the host waits for it */
#define EVAL_SAMPLES 16      /* sample predictions per evaluation event */

/* The steps a train metric covers, as the host counted them. */
struct metric_interval {
	int64_t step, samples;
	double seconds;
};

struct trainer {
	const struct spec *spec;
	const struct train_options *opt;
	struct events ev;
	struct data_splits data;
	struct replica_group group; /* one replica per device; replica 0 evaluates and checkpoints */
	struct replica *r0;
	struct backend *be;       /* r0's */
	struct model *m;          /* r0's */
	struct schedule sched;
	bool cheap_sync;          /* host reads are free (CPU): check the loss every step */
	int64_t steps_per_epoch, total_steps;
	struct checkpoint_state cs;
	struct preprocess_meta input_meta; /* the model's input contract, in every checkpoint (preprocess.h) */
	char out_dir[4096];
	char reason[512];
	/* metric accumulation since the last train metric event */
	double acc_loss;
	int64_t acc_correct, acc_samples, acc_steps;
	double interval_start;
	double last_loss;          /* for the progress bar */
	double train_seconds;      /* time inside training steps (excludes evaluation) */
	int64_t images_trained;
	double last_eval_loss, last_eval_acc;
	bool quiet;                /* not process 0 of a multi-node run: no checkpoints, no output */
	bool have_eval;
	bool gpu_data;             /* the training set lives on the GPUs (gpu_step.h) */
	bool async_metrics;        /* GPU: train metrics come home without a host sync */
	bool metric_pending;       /* a snapshot of the device's sums is on its way ... */
	struct metric_interval pending; /* ... covering these steps */
	double pending_since;
};

static int mkdir_p(const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p == '/') {
			*p = 0;
			if (mkdir(buf, 0755) < 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
	}
	return mkdir(buf, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

/* Evaluation loss on replica 0 (no gradient), with per-sample predictions. */
static void eval_loss(struct trainer *t, const float *logits, int n)
{
	struct replica *r = t->r0;
	loss_apply(r->be, &t->spec->loss, logits, r->y_dev, n, t->m->classes, 1.0f, NULL, r->stats_dev, r->pred_dev);
}

static void read_stats(struct trainer *t, double *loss_sum, int64_t *correct)
{
	replica_group_read_stats(&t->group, loss_sum, correct);
}

static void send_train_metric(struct trainer *t, const struct metric_interval *iv, double loss_sum, int64_t correct)
{
	double values[4] = {
		loss_sum / (double)iv->samples,
		(double)correct / (double)iv->samples,
		schedule_lr(&t->sched, iv->step - 1),
		iv->seconds > 0 ? (double)iv->samples / iv->seconds : 0,
	};
	static const char *const names[4] = {"loss", "accuracy", "lr", "images_per_sec"};
	events_metric(&t->ev, "train", iv->step, (int)(iv->step / t->steps_per_epoch), 4, names, values);
	t->last_loss = values[0];
}

/* End the interval since the last metric at `step`; the host's counts restart. */
static struct metric_interval close_interval(struct trainer *t, int64_t step)
{
	double now = tb_now();
	struct metric_interval iv = {step, t->acc_samples, now - t->interval_start};
	t->acc_loss = 0;
	t->acc_correct = t->acc_samples = t->acc_steps = 0;
	t->interval_start = now;
	return iv;
}

/* The snapshot on its way goes out once it has landed (wait: block until it has). */
static void land_metric(struct trainer *t, bool wait)
{
	double loss;
	int64_t correct;
	if (t->metric_pending && replica_group_stats_poll(&t->group, wait, &loss, &correct)) {
		t->metric_pending = false;
		send_train_metric(t, &t->pending, loss, correct);
	}
}

/*
 * The train metric for the steps since the last one. The CPU counted them
 * as they ran. A GPU keeps the sums on the device: mid-epoch they are sent
 * home through pinned memory while the GPU carries on, and go out when
 * they have landed, one interval later at most; a snapshot still on its
 * way after METRIC_LAG seconds is waited for, so the host never runs far
 * ahead of the GPU (images/s stays the GPU's rate). `now` (epoch end, last
 * step, before evaluation): everything up to `step` goes out before return.
 */
static void emit_train_metric(struct trainer *t, int64_t step, bool now)
{
	if (t->cheap_sync) {
		if (t->acc_samples == 0)
			return;
		double loss = t->acc_loss;
		int64_t correct = t->acc_correct;
		struct metric_interval iv = close_interval(t, step);
		send_train_metric(t, &iv, loss, correct);
		return;
	}
	land_metric(t, now || (t->metric_pending && tb_now() - t->pending_since > METRIC_LAG));
	if (t->metric_pending || t->acc_samples == 0)
		return; /* the device keeps summing until the last snapshot is home */
	if (!now && t->async_metrics) {
		if (replica_group_stats_start(&t->group)) {
			t->pending = close_interval(t, step);
			t->pending_since = tb_now();
			t->metric_pending = true;
			return;
		}
		t->async_metrics = false; /* the module cannot: read synchronously from now on */
	}
	double loss;
	int64_t correct;
	read_stats(t, &loss, &correct);
	struct metric_interval iv = close_interval(t, step);
	send_train_metric(t, &iv, loss, correct);
}

/* Evaluate on a split: metric event, confusion matrix and sample predictions. */
static int evaluate(struct trainer *t, const struct dataset *d, const char *split, int epochs_done, double *acc_out)
{
	struct loader_options lo = {
		.batch_size = t->spec->data.batch_size, .shuffle = false, .drop_last = false,
		.augment = false, .workers = TB_MAX(t->spec->data.workers, 1), .prefetch = 4,
		.seed = t->spec->train.seed,
	};
	char err[512];
	struct loader *l = loader_new(d, &t->spec->data, &lo, 0, 0, err, sizeof(err));
	if (!l) {
		tb_fmt(t->reason, sizeof(t->reason), "evaluation on %s: %s", split, err);
		return -1;
	}
	int classes = t->m->classes;
	int64_t *confusion = tb_xcalloc((size_t)classes * classes, sizeof(int64_t));
	int32_t *pred = tb_xmalloc((size_t)lo.batch_size * sizeof(int32_t));
	struct eval_sample samples[EVAL_SAMPLES];
	int nwrong = 0, nright = 0;
	struct eval_sample right[EVAL_SAMPLES];
	double loss_sum = 0;
	int64_t correct = 0, seen = 0;
	t->be->fill(t->be, t->r0->stats_dev, 0.0f, 2);
	struct batch b;
	struct replica *r = t->r0;
	/* The page shows "evaluating on test…" with progress instead of a silent ETA of 0 s. */
	double shown = tb_now();
	events_phase(&t->ev, "evaluating", split, 0, d->n);
	while (loader_next(l, &b) == 0) {
		size_t sample = (size_t)shape_numel(t->m->input);
		r->be->upload(r->be, r->x_dev, b.x, (size_t)b.n * sample * sizeof(float));
		r->be->upload(r->be, r->y_dev, b.y, (size_t)b.n * sizeof(int32_t));
		const float *logits = model_forward(t->m, r->x_dev, b.n, false);
		eval_loss(t, logits, b.n);
		r->be->download(r->be, pred, r->pred_dev, (size_t)b.n * sizeof(int32_t));
		for (int i = 0; i < b.n; i++) {
			confusion[(int64_t)b.y[i] * classes + pred[i]]++;
			const uint8_t *pixels = d->u8 ? d->u8 + b.index[i] * dataset_sample_size(d) : NULL;
			struct eval_sample s = {b.index[i], b.y[i], pred[i], pixels};
			/* Mistakes are the interesting part; fill up with correct ones. */
			if (pred[i] != b.y[i] && nwrong < EVAL_SAMPLES / 2)
				samples[nwrong++] = s;
			else if (pred[i] == b.y[i] && nright < EVAL_SAMPLES)
				right[nright++] = s;
		}
		seen += b.n;
		if (tb_now() - shown >= 0.5) {
			shown = tb_now();
			events_phase(&t->ev, "evaluating", split, seen, d->n);
		}
	}
	read_stats(t, &loss_sum, &correct);
	loader_free(l);
	gpu_step_invalidate(r->gpu); /* evaluation shapes may have regrown scratch a step graph points into */
	int nsamples = nwrong;
	for (int i = 0; i < nright && nsamples < EVAL_SAMPLES; i++)
		samples[nsamples++] = right[i];
	double values[2] = {seen ? loss_sum / (double)seen : 0, seen ? (double)correct / (double)seen : 0};
	static const char *const names[2] = {"loss", "accuracy"};
	events_metric(&t->ev, split, t->cs.step, epochs_done, 2, names, values);
	events_evaluation(&t->ev, split, t->cs.step, epochs_done, classes, (const char *const *)d->class_names, confusion, d->c,
			  d->h, d->w, samples, nsamples);
	free(confusion);
	free(pred);
	if (t->opt->on_eval)
		t->opt->on_eval(t->opt->on_eval_ctx, split, epochs_done, values[0], values[1]);
	t->last_eval_loss = values[0];
	t->last_eval_acc = values[1];
	t->have_eval = true;
	*acc_out = values[1];
	return 0;
}

static int save_checkpoint(struct trainer *t, const char *file, bool best)
{
	char path[4600], err[512];
	if (t->quiet)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", t->out_dir, file);
	replica_group_settle(&t->group);
	int64_t bytes = checkpoint_save(path, t->m, t->r0->o, t->spec->source, t->input_meta.meta, t->input_meta.n,
					&t->cs, err, sizeof(err));
	if (bytes < 0) {
		tb_fmt(t->reason, sizeof(t->reason), "cannot write checkpoint: %s", err);
		return -1;
	}
	if (strncmp(file, "step-", 5) == 0) {
		events_checkpoint(&t->ev, t->cs.step, t->cs.epoch, file, path, bytes, best);
		checkpoint_prune(t->out_dir, t->spec->checkpoint.keep);
	}
	return 0;
}

static int checkpoint_step(struct trainer *t, bool best)
{
	char file[64];
	snprintf(file, sizeof(file), "step-%09lld.safetensors", (long long)t->cs.step);
	if (save_checkpoint(t, file, best) < 0)
		return -1;
	if (best && t->spec->checkpoint.keep_best)
		return save_checkpoint(t, "best.safetensors", false);
	return 0;
}

/* Evaluate on the validation split (when there is one) and the test split. */
static int evaluate_splits(struct trainer *t, int epochs_done, struct eval_results *r)
{
	double acc;
	r->has_validation = t->data.validation.n > 0;
	if (r->has_validation) {
		if (evaluate(t, &t->data.validation, "validation", epochs_done, &acc) < 0)
			return -1;
		r->validation[0] = t->last_eval_loss;
		r->validation[1] = t->last_eval_acc;
	}
	if (evaluate(t, &t->data.test, "test", epochs_done, &acc) < 0)
		return -1;
	r->test[0] = t->last_eval_loss;
	r->test[1] = t->last_eval_acc;
	return 0;
}

/*
 * End of an epoch: evaluate when due, checkpoint when due. The best
 * checkpoint is the best accuracy (validation, else test), or with early
 * stopping the best value of its metric; an early stop checkpoints too.
 */
static int end_of_epoch(struct trainer *t, int epochs_done, bool last)
{
	const struct spec *s = t->spec;
	bool eval_due = last || (s->train.eval_every > 0 && epochs_done % s->train.eval_every == 0);
	bool best = false;
	if (eval_due) {
		struct eval_results r;
		if (evaluate_splits(t, epochs_done, &r) < 0)
			return -1;
		if (s->early_stop.enabled) {
			best = early_stop_observe(&s->early_stop, &t->cs, early_stop_value(s->early_stop.metric, &r),
						  epochs_done, t->cs.step);
		} else {
			double acc = r.has_validation ? r.validation[1] : r.test[1];
			if (!t->cs.has_best || acc > t->cs.best_value) {
				t->cs.has_best = true;
				t->cs.best_value = acc;
				t->cs.best_step = t->cs.step;
				t->cs.best_epoch = epochs_done;
				best = true;
			}
		}
	}
	bool ckpt_due = last || t->cs.early_stopped ||
			(s->checkpoint.every > 0 && epochs_done % s->checkpoint.every == 0);
	if (ckpt_due || best)
		return checkpoint_step(t, best);
	return 0;
}

/* One optimizer step on a batch; returns -1 when the loss is not finite. */
static int train_step(struct trainer *t, const struct batch *b)
{
	double t0 = tb_now();
	replica_group_step(&t->group, t->spec, b, t->cs.step, schedule_lr(&t->sched, t->cs.step));
	if (t->cheap_sync) {
		double loss;
		int64_t correct;
		read_stats(t, &loss, &correct);
		if (!isfinite(loss))
			return -1;
		t->acc_loss += loss;
		t->acc_correct += correct;
	}
	t->cs.step++;
	t->cs.position++;
	t->acc_samples += b->n;
	t->acc_steps++;
	t->images_trained += b->n;
	t->train_seconds += tb_now() - t0;
	return 0;
}

static bool metric_due(struct trainer *t)
{
	int every = t->spec->train.log_every;
	if (every > 0)
		return t->cs.step % every == 0;
	return tb_now() - t->interval_start >= METRIC_INTERVAL;
}

static struct loader_options train_loader_options(const struct spec *s)
{
	return (struct loader_options){
		.batch_size = s->data.batch_size, .shuffle = s->data.shuffle, .drop_last = false, .augment = true,
		.workers = TB_MAX(s->data.workers, 1), .prefetch = 4, .seed = s->train.seed,
	};
}

/*
 * The next training batch: from the loader, or — when the training set
 * lives on the GPUs — a batch that only says where it is (epoch,
 * position, size; x == NULL) and the replicas assemble it on the device.
 * Returns 1 at the end of an epoch, as loader_next.
 */
static int next_batch(struct trainer *t, struct loader *l, struct batch *b)
{
	if (l)
		return loader_next(l, b);
	if (t->cs.position >= t->steps_per_epoch)
		return 1;
	int64_t first = t->cs.position * t->spec->data.batch_size;
	*b = (struct batch){
		.n = (int)TB_MIN((int64_t)t->spec->data.batch_size, t->data.train.n - first),
		.epoch = (int)t->cs.epoch,
		.position = t->cs.position,
	};
	return 0;
}

static enum train_result run_epochs(struct trainer *t)
{
	const struct spec *s = t->spec;
	struct loader_options lo = train_loader_options(s);
	char err[512];
	struct loader *l = NULL;
	if (!t->gpu_data) {
		l = loader_new(&t->data.train, &s->data, &lo, t->cs.epoch, t->cs.position, err, sizeof(err));
		if (!l) {
			tb_fmt(t->reason, sizeof(t->reason), "%s", err);
			return TRAIN_SETUP_ERROR;
		}
	}
	enum train_result result = TRAIN_COMPLETED;
	t->interval_start = tb_now();
	while (t->cs.step < t->total_steps) {
		struct batch b;
		if (next_batch(t, l, &b) != 0) {
			/* End of epoch: the loader has moved on to the next one. */
			t->cs.epoch++;
			t->cs.position = 0;
			emit_train_metric(t, t->cs.step, true);
			if (end_of_epoch(t, t->cs.epoch, false) < 0) {
				result = TRAIN_FAILED;
				break;
			}
			if (t->cs.early_stopped) {
				early_stop_reason(&s->early_stop, &t->cs, t->reason, sizeof(t->reason));
				break;
			}
			continue;
		}
		if (train_step(t, &b) < 0) {
			tb_fmt(t->reason, sizeof(t->reason), "diverged at step %lld (loss is not finite)",
			       (long long)t->cs.step + 1);
			result = TRAIN_FAILED;
			break;
		}
		bool epoch_done = t->cs.position == t->steps_per_epoch;
		bool last = t->cs.step == t->total_steps;
		if (metric_due(t) || epoch_done || last) {
			emit_train_metric(t, t->cs.step, epoch_done || last);
			if (!isfinite(t->last_loss)) {
				tb_fmt(t->reason, sizeof(t->reason), "diverged at step %lld (loss is not finite)",
				       (long long)t->cs.step);
				result = TRAIN_FAILED;
				break;
			}
		}
		events_progress(&t->ev, t->cs.epoch, s->train.epochs, t->cs.position, t->steps_per_epoch, t->cs.step,
				t->total_steps, t->last_loss, t->train_seconds > 0 ? t->images_trained / t->train_seconds : 0,
				false);
		if (s->checkpoint.every_steps > 0 && t->cs.step % s->checkpoint.every_steps == 0 && !epoch_done &&
		    checkpoint_step(t, false) < 0) {
			result = TRAIN_FAILED;
			break;
		}
		if (t->opt->stop && *t->opt->stop) {
			emit_train_metric(t, t->cs.step, true); /* the curve ends where the run stopped */
			if (epoch_done) {
				t->cs.epoch++;
				t->cs.position = 0;
			}
			result = checkpoint_step(t, false) < 0 ? TRAIN_FAILED : TRAIN_STOPPED;
			if (result == TRAIN_STOPPED)
				tb_fmt(t->reason, sizeof(t->reason), "stopped at step %lld", (long long)t->cs.step);
			break;
		}
	}
	loader_free(l);
	if (result == TRAIN_COMPLETED && !t->cs.early_stopped) {
		/* The last epoch's end (or max_steps) gets the final evaluation and checkpoint. */
		if (t->cs.position == t->steps_per_epoch) {
			t->cs.epoch++;
			t->cs.position = 0;
		}
		if (end_of_epoch(t, t->cs.epoch, true) < 0)
			result = TRAIN_FAILED;
	}
	return result;
}

/* setup's outcomes besides 0. */
enum { SETUP_FAILED = -1, SETUP_STOPPED = -2 };

static bool stop_asked(const struct trainer *t)
{
	return t->opt->stop && *t->opt->stop;
}

/*
 * Before anything is loaded, the estimate (memest.h) against what this
 * worker may use (the machine's allowance, or TRAINBOOK_MEMORY_LIMIT when
 * smaller: the server's --worker-memory), so a run that cannot fit ends at once with the reason
 * instead of dying half-way. Device `auto` may still land on a GPU, where
 * the model is not in host memory: it is refused only when the host part
 * fits neither way (the device part is checked once the GPU is open).
 * Then the allocators' budget is set (tb_admit), and the loading event
 * says what is happening and how much it will take.
 */
static int check_memory(struct trainer *t, struct memest_machine *mach)
{
	const struct spec *s = t->spec;
	char msg[512];
	struct memest est;
	int64_t budget;
	if (memlimit_env_budget(&budget, t->reason, sizeof(t->reason)) < 0)
		return -1;
	memest_machine_this(mach, budget);
	if (memest_spec(s, mach, &est, t->reason, sizeof(t->reason)) < 0)
		return -1;
	if (memest_fits(&est, mach, msg, sizeof(msg)) < 0) {
		struct memest_machine gpu = *mach;
		struct memest on_gpu;
		gpu.gpus = 1;
		if (strcmp(s->train.device, "auto") != 0 || memest_spec(s, &gpu, &on_gpu, NULL, 0) < 0 ||
		    memest_fits(&on_gpu, &gpu, NULL, 0) < 0) {
			tb_fmt(t->reason, sizeof(t->reason), "%s", msg);
			return -1;
		}
	}
	memlimit_set(mach->host_allowance, est.host);
	/* Process 0 of a multi-node run reports for all (setup silences the others later). */
	struct dist_env d;
	if (dist_env_detect(&d, NULL, 0) == 0 && d.rank > 0)
		return 0;
	char summary[400];
	memest_summary(&est, 3, summary, sizeof(summary));
	tb_fmt(msg, sizeof(msg), "loading the data; estimated peak memory %s", summary);
	events_loading(&t->ev, msg);
	return 0;
}

/*
 * Once the device is open, the estimate for it: a GPU's share against its
 * memory, or — device auto that found no GPU — the whole run against the
 * host, which check_memory let pass while a GPU might still have taken the
 * model.
 */
static int check_device_memory(struct trainer *t, struct memest_machine *mach)
{
	if (t->cheap_sync && strcmp(t->spec->train.device, "auto") != 0)
		return 0; /* the CPU by name: check_memory saw it all */
	struct memest est;
	mach->gpus = t->cheap_sync ? 0 : t->group.n;
	mach->gpu_memory = t->cheap_sync ? 0 : (int64_t)backend_device_memory(t->be);
	if (memest_spec(t->spec, mach, &est, t->reason, sizeof(t->reason)) < 0 ||
	    memest_fits(&est, mach, t->reason, sizeof(t->reason)) < 0)
		return -1;
	return 0;
}

static int setup(struct trainer *t)
{
	const struct spec *s = t->spec;
	char err[512], note[512] = "";
	struct memest_machine mach;
	if (check_memory(t, &mach) < 0)
		return SETUP_FAILED;
	if (data_load_stoppable(&s->data, s->train.seed, t->opt->stop, &t->data, err, sizeof(err)) < 0) {
		if (stop_asked(t)) {
			tb_fmt(t->reason, sizeof(t->reason), "stopped while loading the data, before any step");
			return SETUP_STOPPED;
		}
		tb_fmt(t->reason, sizeof(t->reason), "%s", err);
		return SETUP_FAILED;
	}
	const struct dataset *train = &t->data.train;
	struct preprocess pre;
	if (preprocess_from_data(&pre, train, &s->data, err, sizeof(err)) < 0) {
		tb_fmt(t->reason, sizeof(t->reason), "%s", err);
		return -1;
	}
	preprocess_meta(&pre, &t->input_meta);
	preprocess_free(&pre);
	struct shape input = train->h == 1 && train->w == 1 ? shape_vec(train->c) : shape_chw(train->c, train->h, train->w);
	if (replica_group_open(&t->group, s, input, train->classes, note, sizeof(note), err, sizeof(err)) < 0) {
		tb_fmt(t->reason, sizeof(t->reason), "%s", err);
		return -1;
	}
	t->r0 = &t->group.r[0];
	if (t->group.process_rank > 0) {
		/* Other processes of a multi-node run train silently; process 0 reports and checkpoints. */
		t->ev.silent = true;
		t->quiet = true;
	}
	t->be = t->r0->be;
	t->m = t->r0->m;
	t->cheap_sync = t->be->host_memory;
	t->async_metrics = !t->cheap_sync;
	if (check_device_memory(t, &mach) < 0)
		return SETUP_FAILED;
	int batch = s->data.batch_size;
	t->steps_per_epoch = loader_batches_per_epoch(train, batch, false);
	if (t->steps_per_epoch < 1) {
		tb_fmt(t->reason, sizeof(t->reason), "the training split is empty");
		return -1;
	}
	t->total_steps = t->steps_per_epoch * s->train.epochs;
	if (s->train.max_steps > 0 && s->train.max_steps < t->total_steps)
		t->total_steps = s->train.max_steps;
	schedule_init(&t->sched, &s->schedule, s->optimizer.lr, t->total_steps, t->steps_per_epoch);

	for (int i = 0; t->opt->resume && i < t->group.n; i++) {
		struct replica *r = &t->group.r[i];
		if (checkpoint_load(t->opt->resume, r->m, r->o, &t->cs, err, sizeof(err)) < 0) {
			tb_fmt(t->reason, sizeof(t->reason), "cannot resume: %s", err);
			return -1;
		}
	}
	snprintf(t->out_dir, sizeof(t->out_dir), "%s", t->opt->out_dir ? t->opt->out_dir : "runs/latest");
	if (mkdir_p(t->out_dir) < 0) {
		tb_fmt(t->reason, sizeof(t->reason), "cannot create %s: %s", t->out_dir, strerror(errno));
		return -1;
	}
	if (t->r0->gpu) {
		struct loader_options lo = train_loader_options(s);
		char why[256], features[256];
		t->gpu_data = replica_group_use_gpu_data(&t->group, train, &s->data, &lo, why, sizeof(why));
		gpu_step_describe(t->r0->gpu, features, sizeof(features));
		size_t used = strlen(note);
		tb_fmt(note + used, sizeof(note) - used, "%s%s%s%s", used ? "; " : "", features, *why ? "; " : "", why);
	}
	char device_name[256];
	backend_device_name(t->be, device_name, sizeof(device_name));
	struct run_info info = {
		.device = t->be->host_memory ? "cpu" : s->train.device,
		.device_name = device_name,
		.precision = precision_kinds[t->be->precision].spec.name,
		.note = note,
		.steps_per_epoch = t->steps_per_epoch,
		.total_steps = t->total_steps,
		.epochs = s->train.epochs,
		.params = model_param_count(t->m),
		.train_size = train->n,
		.test_size = t->data.test.n,
		.validation_size = t->data.validation.n,
		.start_step = t->cs.step,
	};
	events_running(&t->ev, &info);
	if (s->early_stop.enabled && t->data.validation.n == 0 && strncmp(s->early_stop.metric, "validation.", 11) == 0)
		events_log(&t->ev, "warning",
			   "early_stopping watches %s but there is no validation split (data.validation); "
			   "watching the test split instead", s->early_stop.metric);
	return 0;
}

static void teardown(struct trainer *t)
{
	replica_group_close(&t->group);
	data_splits_free(&t->data);
	preprocess_meta_free(&t->input_meta);
}

static void summarize(struct trainer *t)
{
	const struct spec_early_stop *es = &t->spec->early_stop;
	const char *names[2] = {"test.loss", "test.accuracy"};
	double values[2] = {t->last_eval_loss, t->last_eval_acc};
	double seconds = tb_now() - t->ev.started;
	double ips = t->train_seconds > 0 ? (double)t->images_trained / t->train_seconds : 0;
	struct device_summary device = {.peak_memory_bytes = (int64_t)backend_peak_memory(t->be)};
	device.loss_scaling = gpu_step_amp_stats(t->r0->gpu, &device.loss_scale, &device.skipped_steps);
	events_summary(&t->ev, t->cs.step, t->cs.epoch, seconds, ips, t->have_eval ? 2 : 0, names, values,
		       t->cs.has_best ? (es->enabled ? es->metric : "test.accuracy") : NULL, t->cs.best_value, t->cs.best_step,
		       t->cheap_sync ? NULL : &device);
	if (!t->quiet)
		profile_report(t->r0->profile, stderr); /* TRAINBOOK_PROFILE: where the steps' time went */
}

enum train_result train_run(const struct spec *spec, const struct train_options *opt)
{
	struct trainer t = {.spec = spec, .opt = opt};
	events_init(&t.ev, opt->json, opt->events_out ? opt->events_out : stdout);
	enum train_result result;
	int set_up = setup(&t);
	if (set_up == SETUP_STOPPED) {
		result = TRAIN_STOPPED;
	} else if (set_up < 0) {
		result = TRAIN_SETUP_ERROR;
	} else if (opt->evaluate_only) {
		/* Evaluate the checkpoint as it is; no summary, which is the training's. */
		const char *base = strrchr(opt->resume, '/');
		t.ev.checkpoint = base ? base + 1 : opt->resume;
		double acc;
		result = evaluate(&t, &t.data.test, "test", (int)t.cs.epoch, &acc) < 0 ? TRAIN_FAILED : TRAIN_COMPLETED;
		t.ev.checkpoint = NULL;
		events_end(&t.ev, result == TRAIN_COMPLETED ? "completed" : "failed", t.reason);
		teardown(&t);
		return result;
	} else if (t.cs.early_stopped) {
		/* The run had ended: report how the checkpoint does, train no further. */
		struct eval_results r;
		early_stop_reason(&spec->early_stop, &t.cs, t.reason, sizeof(t.reason));
		size_t used = strlen(t.reason);
		tb_fmt(t.reason + used, sizeof(t.reason) - used, "; resumed: evaluated only");
		result = evaluate_splits(&t, t.cs.epoch, &r) < 0 ? TRAIN_FAILED : TRAIN_COMPLETED;
	} else if (t.cs.step >= t.total_steps) {
		tb_fmt(t.reason, sizeof(t.reason), "nothing to do: the checkpoint is at step %lld of %lld",
		       (long long)t.cs.step, (long long)t.total_steps);
		result = TRAIN_COMPLETED;
	} else if (stop_asked(&t)) {
		/* Stopped while the model was built: no step ran, so no checkpoint to write. */
		tb_fmt(t.reason, sizeof(t.reason), "stopped before its first step");
		result = TRAIN_STOPPED;
	} else {
		result = run_epochs(&t);
	}
	if (set_up == 0 && (result == TRAIN_COMPLETED || result == TRAIN_STOPPED))
		summarize(&t);
	static const char *const status[] = {"completed", "stopped", "failed", "failed"};
	events_end(&t.ev, status[result], t.reason);
	teardown(&t);
	return result;
}
