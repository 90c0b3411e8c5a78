/*
 * cmd_export.c — `trainbook export CHECKPOINT --onnx model.onnx`: a trained
 * model as an ONNX file (opset 17) that ONNX Runtime, onnx.checker and
 * other runtimes read; what the file holds is in engine/onnx_export.h and
 * the README.
 *
 * Exit codes: 0 written; 1 the checkpoint cannot be used or the model has
 * a layer without an ONNX form; 2 usage.
 *
 * Threads: the main thread.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"
#include "inference.h"
#include "onnx_export.h"
#include "onnx_graph.h"

static const char usage_text[] =
	"usage: trainbook export CHECKPOINT --onnx OUT.onnx\n"
	"Write the checkpoint's model as ONNX (opset 17). Its input \"input\" is float32 [N, C, H, W]\n"
	"(image bytes / 255) or [N, F] (features); the spec's normalisation is the graph's first nodes;\n"
	"its output \"logits\" is [N, classes]; class names are in the model's metadata.\n";

int cli_export(int argc, char **argv)
{
	static const struct option options[] = {
		{"onnx", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *out = NULL;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", options, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (!out || optind != argc - 1) {
		fputs(usage_text, stderr);
		return 2;
	}
	struct inference inf;
	char err[1024];
	if (inference_open(&inf, argv[optind], 1, err, sizeof(err)) < 0) {
		fprintf(stderr, "trainbook export: %s\n", err);
		return 1;
	}
	int64_t bytes = onnx_export(&inf, out, err, sizeof(err));
	inference_close(&inf);
	if (bytes < 0) {
		fprintf(stderr, "trainbook export: %s\n", err);
		return 1;
	}
	printf("wrote %s (%" PRId64 " bytes, ONNX opset %d)\n", out, bytes, ONNX_OPSET);
	return 0;
}
