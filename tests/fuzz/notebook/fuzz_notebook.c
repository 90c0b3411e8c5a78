/*
 * fuzz_notebook.c — the nbformat 4 validator every saved or uploaded
 * notebook goes through (nb_validate, server/notebooks.c), and the run-cell
 * extraction that POST /api/runs {notebook, cell} does on what it accepted
 * (nb_cell_source).
 *
 * Input: the bytes of a .ipynb file. Properties: no crash, leak or UB;
 * the answer is NB_OK or NB_EINVALID with a message; a notebook that
 * validates is JSON whose every cell id gives a code cell's source or a
 * refusal with a message, and an unknown id is refused. (Messages may quote
 * the input, line breaks and all: they go into JSON error bodies; that
 * they survive the trip is checked end to end by the http target.)
 *
 * Threads: one.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "server/notebooks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512] = "";
	int rc = nb_validate((const char *)data, size, err, sizeof err);
	if (rc == NB_EINVALID) {
		if (!err[0])
			fuzz_fail("nb_validate refused a notebook without a message");
		return 0;
	}
	if (rc != NB_OK)
		fuzz_fail("nb_validate returned %d", rc);
	json_t *nb = json_loadb((const char *)data, size, 0, NULL);
	if (!nb)
		fuzz_fail("a notebook that validates is not JSON");
	size_t i;
	json_t *cell;
	json_array_foreach(json_object_get(nb, "cells"), i, cell)
	{
		const char *id = json_string_value(json_object_get(cell, "id"));
		if (!id)
			continue;
		err[0] = '\0';
		char *source = nb_cell_source(nb, id, err, sizeof err);
		if (!source && !err[0])
			fuzz_fail("nb_cell_source refused cell %s without a message", id);
		free(source);
	}
	err[0] = '\0';
	char *none = nb_cell_source(nb, "\x01no such cell", err, sizeof err);
	if (none)
		fuzz_fail("nb_cell_source found a cell that is not there");
	if (!err[0])
		fuzz_fail("nb_cell_source refused an unknown cell without a message");
	json_decref(nb);
	return 0;
}
