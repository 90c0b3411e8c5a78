/*
 * spec_flat.h — a run spec as flat "section.key" → value pairs, for run
 * lists, run summaries and hyperparameter tables: {"optimizer.lr": 0.001,
 * "model": "[flatten, {linear: 128}, relu, {linear: 10}]", …}.
 *
 * Only what the YAML says (no defaults); the engine's parser decides what
 * a spec means. Broken YAML gives an empty object, never an error: specs
 * reach here after validation.
 *
 * Threads: any.
 */
#ifndef TB_SERVER_SPEC_FLAT_H
#define TB_SERVER_SPEC_FLAT_H

#include <jansson.h>
#include <stddef.h>

/* Every scalar under nested mappings; sequences and deep mappings as folded text. New reference. */
json_t *spec_flat(const char *yaml, size_t len);

/* The few keys a run summary carries (dataset, model, optimizer, lr, batch size, …). New reference. */
json_t *spec_summary_params(const char *yaml, size_t len);

#endif
