/*
 * cmd_check.c — `trainbook check SPEC [--set key=value]...`: print the
 * layer table and the estimated peak memory, or the errors
 * (file:line:column), exit 2 on error or when the run cannot fit.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cli.h"
#include "memest.h"
#include "memlimit.h"

int cli_check(int argc, char **argv)
{
	static const struct option options[] = {
		{"set", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *overrides[CLI_MAX_OVERRIDES];
	int noverrides = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "s:h", options, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!cli_add_override("trainbook check", overrides, &noverrides, optarg))
				return 2;
			break;
		case 'h':
			printf("usage: trainbook check SPEC [--set key.path=value]...\n"
			       "Validate a run spec and print the model's layers, output shapes and parameter counts,\n"
			       "and its estimated peak memory, part by part.\n"
			       "Exits 2 and prints file:line:column errors when the spec is not valid or the run\n"
			       "cannot fit this machine (TRAINBOOK_MEMORY_LIMIT=SIZE checks against less).\n");
			return 0;
		default:
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: trainbook check SPEC [--set key.path=value]...\n");
		return 2;
	}
	/* The machine as a worker would see it: TRAINBOOK_MEMORY_LIMIT lowers what a run may use. */
	int64_t budget;
	char err[256];
	if (memlimit_env_budget(&budget, err, sizeof(err)) < 0) {
		fprintf(stderr, "trainbook check: %s\n", err);
		return 2;
	}
	struct memest_machine machine;
	memest_machine_this(&machine, budget);
	int rc = check_spec_print(argv[optind], overrides, noverrides, &machine, stdout);
	return rc ? rc : cli_sweep_preview(argv[optind], overrides, noverrides, stdout);
}
