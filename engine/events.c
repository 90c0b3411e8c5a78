/*
 * events.c — the run's event stream (see events.h): one JSON object per
 * line for machines, short readable lines and a progress bar for people.
 */
#include "events.h"

#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "jsonw.h"
#include "tb.h"

void events_init(struct events *ev, bool json, FILE *out)
{
	memset(ev, 0, sizeof(*ev));
	ev->json = json;
	ev->out = out;
	ev->progress = !json && isatty(STDERR_FILENO);
	ev->started = tb_now();
}

static void emit(struct events *ev, struct jsonw *w)
{
	jsonw_end_object(w);
	w->buf[w->len] = '\n';
	fwrite(w->buf, 1, w->len + 1, ev->out);
	fflush(ev->out);
	jsonw_free(w);
}

static void begin(struct jsonw *w, const char *type)
{
	jsonw_init(w);
	jsonw_begin_object(w);
	jsonw_kstr(w, "type", type);
}

/* Terminal output goes to stderr so stdout stays clean for pipes; clear the progress line first. */
static void human(struct events *ev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void human(struct events *ev, const char *fmt, ...)
{
	if (ev->progress)
		fputs("\r\033[K", stderr);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void events_running(struct events *ev, const struct run_info *info)
{
	if (ev->silent)
		return;
	if (!ev->json) {
		/* "cpu (2 threads, 2 cores)" already says "cpu"; "cuda:1" still wants its GPU's name. */
		char where[320];
		if (strncmp(info->device_name, info->device, strlen(info->device)) == 0)
			tb_fmt(where, sizeof(where), "%s", info->device_name);
		else
			tb_fmt(where, sizeof(where), "%s (%s)", info->device, info->device_name);
		human(ev, "training on %s, %s; %lld parameters; %d epoch%s of %lld steps; %lld train / %lld test samples",
		      where, info->precision, (long long)info->params, info->epochs,
		      info->epochs == 1 ? "" : "s", (long long)info->steps_per_epoch, (long long)info->train_size,
		      (long long)info->test_size);
		if (info->note && *info->note)
			human(ev, "note: %s", info->note);
		if (info->start_step)
			human(ev, "resuming at step %lld", (long long)info->start_step);
		return;
	}
	struct jsonw w;
	begin(&w, "status");
	jsonw_kstr(&w, "status", "running");
	jsonw_kstr(&w, "device", info->device);
	jsonw_kstr(&w, "device_name", info->device_name);
	jsonw_kstr(&w, "precision", info->precision);
	if (info->note && *info->note)
		jsonw_kstr(&w, "note", info->note);
	jsonw_kint(&w, "steps_per_epoch", info->steps_per_epoch);
	jsonw_kint(&w, "total_steps", info->total_steps);
	jsonw_kint(&w, "epochs", info->epochs);
	jsonw_kint(&w, "params", info->params);
	jsonw_kint(&w, "train_size", info->train_size);
	jsonw_kint(&w, "test_size", info->test_size);
	jsonw_kint(&w, "validation_size", info->validation_size);
	jsonw_kint(&w, "start_step", info->start_step);
	emit(ev, &w);
}

void events_loading(struct events *ev, const char *detail)
{
	if (ev->silent)
		return;
	if (!ev->json) {
		human(ev, "%s", detail);
		return;
	}
	struct jsonw w;
	begin(&w, "status");
	jsonw_kstr(&w, "status", "running");
	jsonw_kstr(&w, "phase", "loading data");
	jsonw_kstr(&w, "reason", detail);
	emit(ev, &w);
}

void events_metric(struct events *ev, const char *split, int64_t step, int epoch, int n, const char *const *names,
		   const double *values)
{
	if (ev->silent)
		return;
	if (!ev->json) {
		if (strcmp(split, "train") == 0)
			return; /* the progress bar shows training metrics */
		char line[512];
		size_t used = (size_t)snprintf(line, sizeof(line), "epoch %d %s:", epoch, split);
		for (int i = 0; i < n && used < sizeof(line); i++)
			used += (size_t)snprintf(line + used, sizeof(line) - used, " %s %.4f", names[i], values[i]);
		human(ev, "%s", line);
		return;
	}
	struct jsonw w;
	begin(&w, "metric");
	jsonw_kstr(&w, "split", split);
	jsonw_kint(&w, "step", step);
	jsonw_kint(&w, "epoch", epoch);
	if (ev->checkpoint)
		jsonw_kstr(&w, "checkpoint", ev->checkpoint);
	jsonw_key(&w, "time");
	jsonw_fixed(&w, tb_wall(), 3);
	jsonw_key(&w, "values");
	jsonw_begin_object(&w);
	for (int i = 0; i < n; i++)
		jsonw_knum(&w, names[i], values[i]);
	jsonw_end_object(&w);
	emit(ev, &w);
}

void events_phase(struct events *ev, const char *phase, const char *split, int64_t done, int64_t total)
{
	if (ev->silent || !ev->json)
		return;
	struct jsonw w;
	begin(&w, "phase");
	jsonw_kstr(&w, "phase", phase);
	jsonw_kstr(&w, "split", split);
	jsonw_kint(&w, "done", done);
	jsonw_kint(&w, "total", total);
	emit(ev, &w);
}

void events_checkpoint(struct events *ev, int64_t step, int epoch, const char *file, const char *path,
		       int64_t bytes, bool best)
{
	if (ev->silent)
		return;
	if (!ev->json) {
		human(ev, "checkpoint %s (step %lld%s)", path, (long long)step, best ? ", best so far" : "");
		return;
	}
	struct jsonw w;
	begin(&w, "checkpoint");
	jsonw_kint(&w, "step", step);
	jsonw_kint(&w, "epoch", epoch);
	jsonw_kstr(&w, "file", file);
	jsonw_kstr(&w, "path", path);
	jsonw_kint(&w, "bytes", bytes);
	jsonw_kbool(&w, "best", best);
	emit(ev, &w);
}

void events_evaluation(struct events *ev, const char *split, int64_t step, int epoch, int classes,
		       const char *const *class_names, const int64_t *confusion, int c, int h, int w_,
		       const struct eval_sample *samples, int nsamples)
{
	if (ev->silent)
		return;
	if (!ev->json)
		return; /* the confusion matrix is for the page; terminals get the metric line */
	struct jsonw w;
	begin(&w, "evaluation");
	jsonw_kstr(&w, "split", split);
	jsonw_kint(&w, "step", step);
	jsonw_kint(&w, "epoch", epoch);
	if (ev->checkpoint)
		jsonw_kstr(&w, "checkpoint", ev->checkpoint);
	jsonw_key(&w, "classes");
	jsonw_begin_array(&w);
	for (int i = 0; i < classes; i++) {
		char fallback[16];
		jsonw_str(&w, class_names && class_names[i] ? class_names[i] : tb_fmt(fallback, sizeof(fallback), "%d", i));
	}
	jsonw_end_array(&w);
	jsonw_key(&w, "confusion");
	jsonw_begin_array(&w);
	for (int i = 0; i < classes; i++) {
		jsonw_begin_array(&w);
		for (int j = 0; j < classes; j++)
			jsonw_int(&w, confusion[(int64_t)i * classes + j]);
		jsonw_end_array(&w);
	}
	jsonw_end_array(&w);
	jsonw_key(&w, "samples");
	jsonw_begin_array(&w);
	for (int i = 0; i < nsamples; i++) {
		jsonw_begin_object(&w);
		jsonw_kint(&w, "index", samples[i].index);
		jsonw_kint(&w, "label", samples[i].label);
		jsonw_kint(&w, "predicted", samples[i].predicted);
		if (samples[i].pixels) {
			jsonw_key(&w, "shape");
			jsonw_begin_array(&w);
			jsonw_int(&w, c);
			jsonw_int(&w, h);
			jsonw_int(&w, w_);
			jsonw_end_array(&w);
			jsonw_key(&w, "pixels");
			jsonw_base64(&w, samples[i].pixels, (size_t)c * h * w_);
		}
		jsonw_end_object(&w);
	}
	jsonw_end_array(&w);
	emit(ev, &w);
}

void events_log(struct events *ev, const char *level, const char *fmt, ...)
{
	if (ev->silent)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!ev->json) {
		bool info = strcmp(level, "info") == 0;
		human(ev, "%s%s%s", info ? "" : level, info ? "" : ": ", msg);
		return;
	}
	struct jsonw w;
	begin(&w, "log");
	jsonw_kstr(&w, "level", level);
	jsonw_kstr(&w, "message", msg);
	emit(ev, &w);
}

void events_end(struct events *ev, const char *status, const char *reason)
{
	if (ev->silent)
		return;
	if (!ev->json) {
		if (reason && *reason)
			human(ev, "run %s: %s", status, reason);
		else
			human(ev, "run %s", status);
		return;
	}
	struct jsonw w;
	begin(&w, "status");
	jsonw_kstr(&w, "status", status);
	if (reason && *reason)
		jsonw_kstr(&w, "reason", reason);
	emit(ev, &w);
}

void events_summary(struct events *ev, int64_t steps, int epochs, double seconds, double images_per_sec,
		    int n, const char *const *final_names, const double *final_values, const char *best_metric,
		    double best_value, int64_t best_step, const struct device_summary *device)
{
	if (ev->silent)
		return;
	if (!ev->json) {
		char line[640];
		size_t used = (size_t)snprintf(line, sizeof(line), "summary: %lld steps, %d epoch%s, %.1f s, %.0f img/s",
					       (long long)steps, epochs, epochs == 1 ? "" : "s", seconds, images_per_sec);
		for (int i = 0; i < n && used < sizeof(line); i++)
			used += (size_t)snprintf(line + used, sizeof(line) - used, ", %s %.4f", final_names[i],
						 final_values[i]);
		if (device && device->peak_memory_bytes > 0 && used < sizeof(line))
			used += (size_t)snprintf(line + used, sizeof(line) - used, ", peak GPU memory %.0f MiB",
						 (double)device->peak_memory_bytes / (1 << 20));
		if (device && device->loss_scaling && used < sizeof(line))
			snprintf(line + used, sizeof(line) - used, ", loss scale %g (%lld steps skipped)", device->loss_scale,
				 (long long)device->skipped_steps);
		printf("%s\n", line);
		fflush(stdout);
		return;
	}
	struct jsonw w;
	begin(&w, "summary");
	jsonw_kint(&w, "steps", steps);
	jsonw_kint(&w, "epochs", epochs);
	jsonw_knum(&w, "seconds", seconds);
	jsonw_knum(&w, "images_per_sec", images_per_sec);
	jsonw_key(&w, "final");
	jsonw_begin_object(&w);
	for (int i = 0; i < n; i++)
		jsonw_knum(&w, final_names[i], final_values[i]);
	jsonw_end_object(&w);
	if (best_metric) {
		jsonw_key(&w, "best");
		jsonw_begin_object(&w);
		jsonw_kstr(&w, "metric", best_metric);
		jsonw_knum(&w, "value", best_value);
		jsonw_kint(&w, "step", best_step);
		jsonw_end_object(&w);
	}
	if (device && device->peak_memory_bytes > 0)
		jsonw_kint(&w, "peak_memory_bytes", device->peak_memory_bytes);
	if (device && device->loss_scaling) {
		jsonw_knum(&w, "loss_scale", device->loss_scale);
		jsonw_kint(&w, "skipped_steps", device->skipped_steps);
	}
	emit(ev, &w);
}

static void format_eta(double seconds, char *buf, size_t len)
{
	if (!(seconds >= 0) || seconds > 1e7) {
		snprintf(buf, len, "--:--");
		return;
	}
	long s = (long)(seconds + 0.5);
	if (s >= 3600)
		snprintf(buf, len, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
	else
		snprintf(buf, len, "%ld:%02ld", s / 60, s % 60);
}

void events_progress(struct events *ev, int epoch, int epochs, int64_t step_in_epoch, int64_t steps_per_epoch,
		     int64_t step, int64_t total_steps, double loss, double images_per_sec, bool force)
{
	if (ev->silent)
		return;
	if (!ev->progress)
		return;
	double now = tb_now();
	if (!force && now - ev->last_progress < 0.1)
		return;
	ev->last_progress = now;
	enum { WIDTH = 24 };
	char bar[WIDTH + 1];
	int filled = steps_per_epoch ? (int)(WIDTH * step_in_epoch / steps_per_epoch) : 0;
	for (int i = 0; i < WIDTH; i++)
		bar[i] = i < filled ? '#' : '.';
	bar[WIDTH] = 0;
	char eta[32];
	double per_step = step > 0 ? (now - ev->started) / (double)step : 0;
	format_eta(per_step * (double)(total_steps - step), eta, sizeof(eta));
	fprintf(stderr, "\r\033[Kepoch %d/%d [%s] step %lld/%lld  loss %.4f  %.0f img/s  ETA %s", epoch + 1, epochs, bar,
		(long long)step, (long long)total_steps, loss, images_per_sec, eta);
	fflush(stderr);
}
