/*
 * check.h — validate a spec and infer its shapes without training: what
 * `trainbook check` prints and what the server's POST /api/validate answers.
 *
 * What it is: spec parse + data probe (headers only) + model build on the
 * host without allocating activations + the memory estimate (memest.h),
 * which refuses a run that cannot fit. What it is not: a data loader; it
 * never reads a whole data set, so it is fast enough to run while a user
 * types.
 *
 * Threads: pure; safe to call from any thread concurrently.
 */
#ifndef TB_CHECK_H
#define TB_CHECK_H

#include <stddef.h>
#include <stdio.h>

#include "spec.h"

struct memest_machine;

/*
 * Check `len` bytes of YAML with optional overrides against `machine`
 * (NULL: this machine, no GPU assumed; memest.h). Returns a malloc'd JSON
 * object (caller frees):
 *   {"ok":true,"input_shape":[1,28,28],"classes":10,"total_params":101770,
 *    "layers":[{"name":"1","type":"linear","output_shape":[128],"params":100480},…],
 *    "memory":{"total_bytes":…,"device":"cpu","host_bytes":…,"limit_bytes":…,"fits":true,
 *              "parts":{"baseline":…,"parameters":…,…}}}
 * or
 *   {"ok":false,"errors":[{"line":3,"column":12,"message":"…"},…]}
 * — with "memory" too when the errors are that the run does not fit.
 * Never returns NULL (aborts on out-of-memory only).
 */
char *check_spec_json(const char *yaml, size_t len, const char *const *overrides, int noverrides,
		      const struct memest_machine *machine);

/*
 * The same check, printing the layer table and the memory estimate (or
 * the errors as "file:line:col: error: message") to `out`. Returns 0 when
 * the spec is valid and the run fits, 2 otherwise (the CLI exit code).
 */
int check_spec_print(const char *path, const char *const *overrides, int noverrides,
		     const struct memest_machine *machine, FILE *out);

#endif
