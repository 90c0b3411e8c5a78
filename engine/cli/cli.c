/*
 * cli.c — the subcommand table and dispatcher (see cli.h).
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#define TB_VERSION "0.1.0"

static const struct cli_command cli_commands[] = {
	{"train", cli_train, "train SPEC [options]         train a model described by a YAML run spec"},
	{"check", cli_check, "check SPEC [--set k=v]       validate a spec and print its layer table"},
	{"worker", cli_train, "worker SPEC --out DIR        train with JSON-lines events (what the server runs)"},
	{"sweep", cli_sweep, "sweep SPEC [--parallel N]    run the trials of a spec's sweep: section, ranked"},
	{"predict", cli_predict, "predict CKPT IMAGE...        classify PNG/JPEG images with a trained checkpoint"},
	{"export", cli_export, "export CKPT --onnx OUT       write a checkpoint's model as ONNX (opset 17)"},
	{"parity", cli_parity, "parity ...                   run one model step from given weights (tests only)"},
	{"reference", cli_reference, "reference [FILE.md]          print the spec reference (or fill FILE's block)"},
	{NULL, NULL, NULL},
};

static void usage(FILE *out, const char *program, const struct cli_command *extra)
{
	fprintf(out, "usage: %s <command> [options]\n\ncommands:\n", program);
	for (const struct cli_command *c = extra; c && c->name; c++)
		fprintf(out, "  %s\n", c->usage);
	for (const struct cli_command *c = cli_commands; c->name; c++)
		fprintf(out, "  %s\n", c->usage);
	fprintf(out,
		"  version                      print the version\n\n"
		"%s train --help shows the training options.\n",
		program);
}

static const struct cli_command *find(const struct cli_command *table, const char *name)
{
	for (const struct cli_command *c = table; c && c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

bool cli_add_override(const char *program, const char **overrides, int *n, const char *value)
{
	if (*n == CLI_MAX_OVERRIDES) {
		fprintf(stderr, "%s: at most %d --set options\n", program, CLI_MAX_OVERRIDES);
		return false;
	}
	overrides[(*n)++] = value;
	return true;
}

int cli_main(const char *program, const struct cli_command *extra, int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr, program, extra);
		return 2;
	}
	const char *cmd = argv[1];
	const struct cli_command *c = find(extra, cmd);
	if (!c)
		c = find(cli_commands, cmd);
	if (c)
		return c->run(argc - 1, argv + 1);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("trainbook %s\n", TB_VERSION);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		usage(stdout, program, extra);
		return 0;
	}
	fprintf(stderr, "%s: unknown command '%s'\n\n", program, cmd);
	usage(stderr, program, extra);
	return 2;
}
