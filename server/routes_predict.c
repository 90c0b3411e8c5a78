/*
 * routes_predict.c — using a run's checkpoints: classify an uploaded image
 * (POST /api/runs/<id>/predict) and download a checkpoint as ONNX
 * (GET /api/runs/<id>/checkpoints/<file>/model.onnx).
 *
 * Both run `trainbook predict …` / `trainbook export …` as a short-lived
 * worker process (worker_job.h) with the request parked meanwhile, so the
 * server never holds model weights and libmicrohttpd's thread never
 * waits. The handler is called twice: first it checks the request and
 * starts the job, then (r->job set) it answers from the job's result.
 * Bad images are the worker's to find (it refuses a header's oversized
 * dimensions before decoding); what this file refuses itself is what is
 * cheap to see: a missing, oversized or non-PNG/JPEG upload.
 *
 * Threads: libmicrohttpd's polling thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"
#include "atomic_file.h"
#include "routes.h"
#include "store.h"
#include "tb.h"
#include "upload.h"
#include "worker_job.h"

#define PREDICT_IMAGE_MAX (8u << 20) /* bytes of PNG or JPEG */
#define PREDICT_TOP_MAX 20
#define PREDICT_TIMEOUT_MS 30000
#define PREDICT_OUTPUT_MAX (4u << 20) /* one JSON line: logits and the seen image */
#define EXPORT_TIMEOUT_MS 300000      /* a large model on a busy machine */
#define EXPORT_OUTPUT_MAX (64u << 10)

/* What the worker's exit code means for the client (cmd_predict.c / cmd_export.c). */
static const struct {
	int code;
	unsigned status;
	const char *error;
} worker_exits[] = {
	{1, 500, "bad_checkpoint"},
	{3, 400, "bad_image"},
	{4, 422, "not_images"},
};

/*
 * The checkpoint `file` of run `id` as a path the worker may open: a
 * recorded file, or best.safetensors (which the worker keeps beside the
 * step files without an event of its own), still inside the run's folder.
 * For NULL: best.safetensors when there is one, else the newest. Its name
 * goes to name.
 */
static int find_checkpoint(struct app *app, int64_t id, const char *file, char *path, size_t len, char *name,
			   size_t namelen)
{
	static const char best[] = "best.safetensors";
	struct stat st;
	int fd = -1;
	if (!file || !strcmp(file, best)) {
		char dir[PATH_MAX];
		app_run_dir(app, id, dir, sizeof dir);
		snprintf(path, len, "%s/%s", dir, best);
		fd = route_checkpoint_open(app, id, path, &st);
	}
	if (fd < 0 && (file ? store_checkpoint_path(app->store, id, file, path, len)
			    : store_last_checkpoint(app->store, id, path, len)) == 0)
		fd = route_checkpoint_open(app, id, path, &st);
	if (fd < 0)
		return -1;
	close(fd);
	const char *base = strrchr(path, '/');
	srv_strlcpy(name, base ? base + 1 : path, namelen);
	return 0;
}

static bool is_png_or_jpeg(const unsigned char *b, size_t n)
{
	static const unsigned char png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	return (n >= 8 && memcmp(b, png, 8) == 0) || (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff);
}

/* The image, checkpoint name and top-k of a predict request, from either body form. */
struct predict_request {
	unsigned char *image; /* owned when from base64, else points into the body */
	bool image_owned;
	size_t len;
	char checkpoint[256]; /* "" = default */
	int top;
};

static enum MHD_Result bad(struct http_req *r, const char *msg)
{
	return http_error(r, 400, "bad_request", "%s", msg);
}

static int read_multipart(struct http_req *r, const char *ctype, struct predict_request *pr, enum MHD_Result *reply)
{
	char err[256];
	struct upload_part part;
	int rc = upload_multipart_part(ctype, r->body.data, r->body.len, "image", &part, err, sizeof err);
	if (rc <= 0) {
		*reply = bad(r, rc < 0 ? err : "the form has no part named \"image\" (the PNG or JPEG file)");
		return -1;
	}
	pr->image = (unsigned char *)part.data;
	pr->len = part.len;
	if (upload_multipart_part(ctype, r->body.data, r->body.len, "checkpoint", &part, err, sizeof err) == 1)
		snprintf(pr->checkpoint, sizeof pr->checkpoint, "%.*s", (int)TB_MIN(part.len, 255), part.data);
	if (upload_multipart_part(ctype, r->body.data, r->body.len, "top", &part, err, sizeof err) == 1) {
		char num[16];
		snprintf(num, sizeof num, "%.*s", (int)TB_MIN(part.len, 15), part.data);
		pr->top = atoi(num);
	}
	return 0;
}

static int read_json(struct http_req *r, struct predict_request *pr, enum MHD_Result *reply)
{
	json_t *body = http_body_json(r, reply);
	if (!body)
		return -1;
	int rc = -1;
	json_t *image = json_object_get(body, "image"), *ckpt = json_object_get(body, "checkpoint");
	json_t *top = json_object_get(body, "top");
	char err[256];
	if (!json_is_string(image)) {
		*reply = bad(r,
			     "expected {\"image\": \"<base64 PNG or JPEG>\"} (or a multipart form with an image part)");
	} else if (ckpt && !json_is_string(ckpt)) {
		*reply = bad(r, "checkpoint must be a file name such as best.safetensors");
	} else if (top && !json_is_integer(top)) {
		*reply = bad(r, "top must be a whole number");
	} else if (!(pr->image =
			     upload_base64(json_string_value(image), PREDICT_IMAGE_MAX, &pr->len, err, sizeof err))) {
		*reply = pr->len > PREDICT_IMAGE_MAX
				 ? http_error(r, 413, "too_large", "the image is %zu bytes, more than %u", pr->len,
					      PREDICT_IMAGE_MAX)
				 : bad(r, err);
	} else {
		pr->image_owned = true;
		if (ckpt)
			srv_strlcpy(pr->checkpoint, json_string_value(ckpt), sizeof pr->checkpoint);
		if (top)
			pr->top = (int)json_integer_value(top);
		rc = 0;
	}
	json_decref(body);
	return rc;
}

static enum MHD_Result predict_start(struct http_req *r)
{
	enum MHD_Result reply;
	int64_t id = route_existing_run(r, &reply);
	if (id < 0)
		return reply;
	const char *ctype = http_header(r, "Content-Type");
	struct predict_request pr = {.top = 5};
	if ((upload_is_multipart(ctype) ? read_multipart(r, ctype, &pr, &reply) : read_json(r, &pr, &reply)) < 0)
		return reply;
	char path[PATH_MAX], name[256], err[512];
	struct wjob *job = NULL;
	if (pr.len == 0) {
		reply = bad(r, "the image is empty");
	} else if (pr.len > PREDICT_IMAGE_MAX) {
		reply = http_error(r, 413, "too_large", "the image is %zu bytes, more than %u", pr.len,
				   PREDICT_IMAGE_MAX);
	} else if (!is_png_or_jpeg(pr.image, pr.len)) {
		reply = bad(r, "the upload is not a PNG or JPEG image");
	} else if (pr.top < 1 || pr.top > PREDICT_TOP_MAX) {
		reply = http_error(r, 400, "bad_request", "top must be from 1 to %d", PREDICT_TOP_MAX);
	} else if (find_checkpoint(r->app, id, pr.checkpoint[0] ? pr.checkpoint : NULL, path, sizeof path, name,
				   sizeof name) < 0) {
		reply = http_error(r, 404, "not_found",
				   pr.checkpoint[0] ? "run %s has no checkpoint %s" : "run %s has no checkpoint yet%s",
				   r->params[0], pr.checkpoint);
	} else if (!(job = wjob_new(r, err, sizeof err))) {
		reply = http_error(r, 500, "internal", "%s", err);
	} else {
		char image[PATH_MAX + 16], top[16];
		snprintf(image, sizeof image, "%s/image", job->dir);
		snprintf(top, sizeof top, "%d", pr.top);
		srv_strlcpy(job->label, name, sizeof job->label);
		const char *argv[] = {r->app->exe, "predict", path,        image, "--json",
				      "--top",     top,       "--threads", "1",   NULL};
		/* One thread: a single image is too small to share, and training runs keep the cores. */
		if (atomic_write(image, pr.image, pr.len, false, NULL, 0) < 0)
			reply = http_error(r, 500, "internal", "cannot store the upload: %s", strerror(errno));
		else if (wjob_start(job, argv, 1, PREDICT_OUTPUT_MAX, PREDICT_TIMEOUT_MS, err, sizeof err) < 0)
			reply = http_error(r, 500, "internal", "cannot start the worker: %s", err);
		else
			reply = MHD_YES;
	}
	if (pr.image_owned)
		free(pr.image);
	return reply;
}

/* `text` with every occurrence of `what` replaced by `with` (malloc'd). */
static char *replace_all(const char *text, const char *what, const char *with)
{
	struct srv_buf b = {0};
	size_t wl = strlen(what);
	const char *p;
	while (wl && (p = strstr(text, what))) {
		srv_buf_append(&b, text, (size_t)(p - text));
		srv_buf_puts(&b, with);
		text = p + wl;
	}
	srv_buf_puts(&b, text);
	return srv_buf_steal(&b);
}

/* A job that did not end on its own terms: the answer says why. */
static bool job_failed(struct http_req *r, const struct wjob *job, const char *what, enum MHD_Result *reply)
{
	if (job->timed_out)
		*reply = http_error(r, 504, "timeout", "%s took longer than %d s", what, job->timeout_ms / 1000);
	else if (job->cancelled)
		*reply = http_error(r, 503, "shutting_down", "the server is stopping");
	else if (job->too_much_output)
		*reply = http_error(r, 500, "internal", "%s wrote more than %zu bytes", what, job->out_max);
	else if (job->signal)
		*reply = http_error(r, 500, "worker_crashed", "%s ended by signal %d: %s", what, job->signal,
				    job->err_tail);
	else
		return false;
	return true;
}

/* An error the worker reported (its JSON line, or stderr), by exit code. */
static enum MHD_Result worker_error(struct http_req *r, const struct wjob *job, const char *what, const char *message)
{
	char image[PATH_MAX + 16];
	snprintf(image, sizeof image, "%s/image", job->dir);
	char *clean = replace_all(message && *message ? message : job->err_tail, image, "the image");
	enum MHD_Result reply = MHD_NO;
	bool known = false;
	for (size_t i = 0; i < TB_ARRAY_LEN(worker_exits) && !known; i++)
		if (worker_exits[i].code == job->exit_code) {
			reply = http_error(r, worker_exits[i].status, worker_exits[i].error, "%s", clean);
			known = true;
		}
	if (!known)
		reply = http_error(r, 500, "internal", "%s exited with code %d: %s", what, job->exit_code, clean);
	free(clean);
	return reply;
}

static enum MHD_Result predict_answer(struct http_req *r)
{
	const struct wjob *job = r->job;
	enum MHD_Result reply;
	if (job_failed(r, job, "the prediction", &reply))
		return reply;
	json_error_t jerr;
	json_t *line = job->out.len ? json_loadb(job->out.data, strcspn(job->out.data, "\n"), 0, &jerr) : NULL;
	if (job->exit_code != 0 || !json_object_get(line, "top")) {
		reply = worker_error(r, job, "the prediction", json_string_value(json_object_get(line, "message")));
		json_decref(line);
		return reply;
	}
	json_object_del(line, "image"); /* the temporary file's name */
	json_object_set_new(line, "checkpoint", json_string(job->label));
	json_object_set(line, "model_ms", json_object_get(line, "ms"));
	json_object_del(line, "ms");
	json_object_set_new(line, "worker_ms", json_integer(job->ms));
	return http_json(r, 200, line);
}

enum MHD_Result route_run_predict(struct http_req *r)
{
	return r->job ? predict_answer(r) : predict_start(r);
}

static enum MHD_Result onnx_start(struct http_req *r)
{
	enum MHD_Result reply;
	int64_t id = route_existing_run(r, &reply);
	if (id < 0)
		return reply;
	char path[PATH_MAX], name[256], err[512];
	if (find_checkpoint(r->app, id, r->params[1], path, sizeof path, name, sizeof name) < 0)
		return http_error(r, 404, "not_found", "run %s has no checkpoint %s", r->params[0], r->params[1]);
	struct wjob *job = wjob_new(r, err, sizeof err);
	if (!job)
		return http_error(r, 500, "internal", "%s", err);
	char out[PATH_MAX + 16];
	snprintf(out, sizeof out, "%s/model.onnx", job->dir);
	/* The download's name: r12-best.onnx. */
	size_t stem = strlen(name) > 12 && !strcmp(name + strlen(name) - 12, ".safetensors") ? strlen(name) - 12
											     : strlen(name);
	snprintf(job->label, sizeof job->label, "%s-%.*s.onnx", r->params[0], (int)stem, name);
	for (char *p = job->label; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			*p = '_';
	const char *argv[] = {r->app->exe, "export", path, "--onnx", out, NULL};
	if (wjob_start(job, argv, 1, EXPORT_OUTPUT_MAX, EXPORT_TIMEOUT_MS, err, sizeof err) < 0)
		return http_error(r, 500, "internal", "cannot start the worker: %s", err);
	return MHD_YES;
}

static enum MHD_Result onnx_answer(struct http_req *r)
{
	const struct wjob *job = r->job;
	enum MHD_Result reply;
	if (job_failed(r, job, "the export", &reply))
		return reply;
	if (job->exit_code != 0)
		return worker_error(r, job, "the export", NULL);
	char out[PATH_MAX + 16];
	snprintf(out, sizeof out, "%s/model.onnx", job->dir);
	int fd = open(out, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		if (fd >= 0)
			close(fd);
		return http_error(r, 500, "internal", "the export wrote no file");
	}
	/* The folder goes when the request ends; the open file stays readable until then. */
	struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
	if (!resp) {
		close(fd);
		return http_error(r, 500, "internal", "cannot send the file");
	}
	char disp[PATH_MAX + 64];
	snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", job->label);
	MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
	MHD_add_response_header(resp, "Content-Disposition", disp);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	return http_send(r, 200, resp);
}

enum MHD_Result route_checkpoint_onnx(struct http_req *r)
{
	return r->job ? onnx_answer(r) : onnx_start(r);
}
