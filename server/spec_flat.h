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

/*
 * What a spec trains, in a word for a run's default name: the model preset
 * ("cnn", "resnet18"), or for a layer list "cnn" when it has a convolution
 * and "mlp" otherwise; "model" when the spec says nothing readable.
 */
void spec_run_label(const char *yaml, size_t len, char *out, size_t outlen);
/* data.dataset, or "" when the spec names none. */
void spec_dataset(const char *yaml, size_t len, char *out, size_t outlen);

#endif
