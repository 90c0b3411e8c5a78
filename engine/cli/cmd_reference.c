/*
 * cmd_reference.c — `trainbook reference [FILE]`: print the spec reference
 * generated from the engine's tables (reference.h), or with FILE, rewrite
 * the part of FILE between its reference markers (the README) atomically.
 *
 * Threads: the main thread.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "cli.h"
#include "reference.h"
#include "tb.h"

int cli_reference(int argc, char **argv)
{
	if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
		fprintf(stderr, "usage: trainbook reference [FILE.md]\n");
		return 2;
	}
	char *ref = reference_markdown();
	if (argc == 1) {
		fputs(ref, stdout);
		free(ref);
		return 0;
	}
	char *text = NULL, *out = NULL, err[512];
	size_t len = 0;
	int rc = 1;
	if (tb_read_file(argv[1], &text, &len) < 0) {
		fprintf(stderr, "trainbook: cannot read %s: %s\n", argv[1], strerror(errno));
		goto done;
	}
	out = reference_splice(text, ref);
	if (!out) {
		fprintf(stderr, "trainbook: %s has no '%s' ... '%s' block to fill\n", argv[1], REFERENCE_BEGIN,
			REFERENCE_END);
		goto done;
	}
	if (strcmp(out, text) == 0) {
		rc = 0;
		goto done;
	}
	if (atomic_write(argv[1], out, strlen(out), false, err, sizeof(err)) < 0) {
		fprintf(stderr, "trainbook: %s\n", err);
		goto done;
	}
	fprintf(stderr, "trainbook: updated the spec reference in %s\n", argv[1]);
	rc = 0;
done:
	free(ref);
	free(text);
	free(out);
	return rc;
}
