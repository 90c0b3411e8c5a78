/*
 * main.c — `trainbook`: dispatch to a subcommand.
 *
 * Built twice: build/trainbook (with -DTB_WITH_SERVER=1, adds `serve`) and
 * build/trainbook-engine (engine commands only, so a GPU box without the
 * web libraries can still train).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

#ifdef TB_WITH_SERVER
#include "server/serve.h"
#endif

#define TB_VERSION "0.1.0"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: trainbook <command> [options]\n"
		"\n"
		"commands:\n"
#ifdef TB_WITH_SERVER
		"  serve [options]              serve the notebook page and API (trainbook serve --help)\n"
		"  users <command> [options]    classroom accounts: add, import, token, … (trainbook users --help)\n"
#endif
		"  train SPEC [options]         train a model described by a YAML run spec\n"
		"  check SPEC [--set k=v]       validate a spec and print its layer table\n"
		"  worker SPEC --out DIR        train with JSON-lines events (what the server runs)\n"
		"  predict CKPT IMAGE...        classify PNG/JPEG images with a trained checkpoint\n"
		"  export CKPT --onnx OUT       write a checkpoint's model as ONNX (opset 17)\n"
		"  parity ...                   run one model step from given weights (tests only)\n"
		"  version                      print the version\n"
		"\n"
		"trainbook train --help shows the training options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "train") == 0 || strcmp(cmd, "worker") == 0)
		return cli_train(argc - 1, argv + 1);
	if (strcmp(cmd, "check") == 0)
		return cli_check(argc - 1, argv + 1);
	if (strcmp(cmd, "parity") == 0)
		return cli_parity(argc - 1, argv + 1);
	if (strcmp(cmd, "predict") == 0)
		return cli_predict(argc - 1, argv + 1);
	if (strcmp(cmd, "export") == 0)
		return cli_export(argc - 1, argv + 1);
#ifdef TB_WITH_SERVER
	if (strcmp(cmd, "serve") == 0)
		return serve_main(argc - 1, argv + 1);
	if (strcmp(cmd, "users") == 0)
		return users_main(argc - 1, argv + 1);
#endif
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("trainbook %s\n", TB_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "trainbook: unknown command '%s'\n\n", cmd);
	usage(stderr);
	return 2;
}
