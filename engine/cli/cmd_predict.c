/*
 * cmd_predict.c — `trainbook predict CHECKPOINT IMAGE...`: the most probable
 * classes of each image (PNG or JPEG) under a trained model, with the
 * preprocessing and class names its checkpoint records.
 *
 *   trainbook predict runs/latest/best.safetensors shoe.png --top 3
 *   trainbook predict CKPT a.png --json     one JSON object per image (what the server reads)
 *
 * Exit codes (the server maps them to HTTP statuses): 0 every image
 * classified; 1 the checkpoint cannot be used; 2 usage; 3 an image is not
 * a readable PNG or JPEG (the others are still classified); 4 the model
 * does not take images (tabular data).
 *
 * Threads: the main thread (the CPU backend's own threads inside).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "inference.h"
#include "jsonw.h"
#include "tb.h"

#define PREDICT_TOP_MAX 100

enum { PREDICT_OK = 0, PREDICT_BAD_CHECKPOINT = 1, PREDICT_USAGE = 2, PREDICT_BAD_IMAGE = 3, PREDICT_NOT_IMAGES = 4 };

static const char usage_text[] =
	"usage: trainbook predict CHECKPOINT IMAGE... [--top K] [--json] [--threads N]\n"
	"Classify PNG or JPEG images with a trained checkpoint: each image is converted and resized to\n"
	"the model's input as its data set was, and the K most probable classes are printed.\n"
	"  --top K        classes to show (default 5)\n"
	"  --json         one JSON object per image: top, logits, the image as the model saw it\n"
	"  --threads N    CPU threads (default 1: one image is too small to share)\n"
	"Exit codes: 0 ok, 1 unusable checkpoint, 2 usage, 3 a bad image, 4 the model takes no images.\n";

static void print_json_error(const char *image, const char *code, const char *message)
{
	struct jsonw w;
	jsonw_init(&w);
	jsonw_begin_object(&w);
	if (image)
		jsonw_kstr(&w, "image", image);
	jsonw_kstr(&w, "error", code);
	jsonw_kstr(&w, "message", message);
	jsonw_end_object(&w);
	printf("%s\n", w.buf);
	jsonw_free(&w);
}

static void print_json(const struct inference *inf, const char *image, const struct prediction *p, const int *top,
		       int k, double ms)
{
	const struct preprocess *pre = &inf->pre;
	struct jsonw w;
	jsonw_init(&w);
	jsonw_begin_object(&w);
	jsonw_kstr(&w, "image", image);
	jsonw_key(&w, "top");
	jsonw_begin_array(&w);
	for (int i = 0; i < k; i++) {
		jsonw_begin_object(&w);
		jsonw_kstr(&w, "class", pre->class_names[top[i]]);
		jsonw_kint(&w, "index", top[i]);
		jsonw_knum(&w, "p", p->prob[top[i]]);
		jsonw_end_object(&w);
	}
	jsonw_end_array(&w);
	jsonw_key(&w, "logits");
	jsonw_begin_array(&w);
	for (int i = 0; i < p->classes; i++)
		jsonw_num(&w, p->logits[i]);
	jsonw_end_array(&w);
	jsonw_key(&w, "seen");
	jsonw_begin_object(&w);
	jsonw_key(&w, "shape");
	jsonw_begin_array(&w);
	jsonw_int(&w, pre->c);
	jsonw_int(&w, pre->h);
	jsonw_int(&w, pre->w);
	jsonw_end_array(&w);
	jsonw_key(&w, "pixels");
	jsonw_base64(&w, p->seen, (size_t)pre->c * pre->h * pre->w);
	jsonw_end_object(&w);
	jsonw_key(&w, "source");
	jsonw_begin_object(&w);
	jsonw_kint(&w, "width", p->src_w);
	jsonw_kint(&w, "height", p->src_h);
	jsonw_end_object(&w);
	jsonw_key(&w, "ms");
	jsonw_fixed(&w, ms, 3);
	jsonw_end_object(&w);
	printf("%s\n", w.buf);
	jsonw_free(&w);
}

static void print_text(const struct inference *inf, const char *image, const struct prediction *p, const int *top,
		       int k)
{
	const struct preprocess *pre = &inf->pre;
	printf("%s (%d x %d, seen as %d x %d %s)\n", image, p->src_w, p->src_h, pre->w, pre->h,
	       pre->c == 3 ? "RGB" : "gray");
	for (int i = 0; i < k; i++)
		printf("  %6.2f%%  %s\n", 100.0 * p->prob[top[i]], pre->class_names[top[i]]);
}

int cli_predict(int argc, char **argv)
{
	static const struct option options[] = {
		{"top", required_argument, NULL, 'k'},
		{"json", no_argument, NULL, 'j'},
		{"threads", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int topk = 5, threads = 1, c;
	bool json = false;
	char *end;
	optind = 1;
	while ((c = getopt_long(argc, argv, "k:jt:h", options, NULL)) != -1) {
		switch (c) {
		case 'k':
			topk = (int)strtol(optarg, &end, 10);
			if (*end || topk < 1 || topk > PREDICT_TOP_MAX) {
				fprintf(stderr, "trainbook predict: --top takes 1 to %d, not '%s'\n", PREDICT_TOP_MAX,
					optarg);
				return PREDICT_USAGE;
			}
			break;
		case 'j':
			json = true;
			break;
		case 't':
			threads = (int)strtol(optarg, &end, 10);
			if (*end || threads < 0 || threads > 1024) {
				fprintf(stderr, "trainbook predict: --threads takes 0 (all cores) to 1024, not '%s'\n",
					optarg);
				return PREDICT_USAGE;
			}
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			return PREDICT_USAGE;
		}
	}
	if (argc - optind < 2) {
		fputs(usage_text, stderr);
		return PREDICT_USAGE;
	}
	struct inference inf;
	char err[1024];
	if (inference_open(&inf, argv[optind], threads, err, sizeof(err)) < 0) {
		if (json)
			print_json_error(NULL, "bad_checkpoint", err);
		fprintf(stderr, "trainbook predict: %s\n", err);
		return PREDICT_BAD_CHECKPOINT;
	}
	int rc = PREDICT_OK, top[PREDICT_TOP_MAX];
	for (int i = optind + 1; i < argc; i++) {
		struct prediction p;
		double t0 = tb_now();
		enum inference_error e = inference_predict(&inf, argv[i], &p, err, sizeof(err));
		double ms = 1000.0 * (tb_now() - t0);
		if (e != INFERENCE_OK) {
			static const char *const codes[] = {"", "bad_image", "not_images", "failed"};
			static const int exits[] = {PREDICT_OK, PREDICT_BAD_IMAGE, PREDICT_NOT_IMAGES,
						    PREDICT_BAD_CHECKPOINT};
			if (json)
				print_json_error(argv[i], codes[e], err);
			fprintf(stderr, "trainbook predict: %s\n", err);
			/* The first problem decides the exit code; a model without images fails them all. */
			if (rc == PREDICT_OK)
				rc = exits[e];
			if (e == INFERENCE_NOT_IMAGES)
				break;
			continue;
		}
		int k = prediction_top(&p, topk, top);
		if (json)
			print_json(&inf, argv[i], &p, top, k, ms);
		else
			print_text(&inf, argv[i], &p, top, k);
		fflush(stdout);
		prediction_free(&p);
	}
	inference_close(&inf);
	return rc;
}
