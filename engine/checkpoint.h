/*
 * checkpoint.h — saving and restoring a run.
 *
 * Layout (documented in the README): `step-000000938.safetensors` holds the
 * model's state_dict under PyTorch names and layouts (loadable with
 * safetensors.torch.load_file + load_state_dict) and, as metadata, the
 * spec, step, epoch and position; `step-000000938.state.safetensors` holds
 * the optimizer state (`<param>.exp_avg`, `<param>.exp_avg_sq` or
 * `<param>.momentum_buffer`) and the same metadata. Random streams are
 * pure functions of (seed, step, epoch, position), so nothing else is
 * needed for a bit-identical resume. Both files are written atomically,
 * the state file first, so a weights file always has its state beside it.
 *
 * Threads: the training thread.
 */
#ifndef TB_CHECKPOINT_H
#define TB_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct model;
struct optim;
struct spec;
struct st_meta;

struct checkpoint_state {
	int64_t step;       /* optimizer steps done */
	int epoch;          /* epoch in progress, 0-based */
	int64_t position;   /* batches of that epoch already consumed */
	bool has_best;
	double best_value;  /* best evaluation accuracy so far (with early stopping: its metric) */
	int64_t best_step;
	/* early stopping (early_stop.h), so a resumed run counts on where it was */
	int best_epoch;     /* epochs done at the best evaluation */
	int bad_evals;      /* evaluations since the best */
	bool early_stopped; /* the run ended early: resuming it only evaluates */
	int stopped_epoch;
};

/*
 * Write `path` (weights) and its state sidecar. Returns the weights file's
 * size, or -1. The weights file's metadata holds the spec, the progress
 * (trainbook.step, …), `extra` (nextra entries: the input preprocessing,
 * preprocess.h) and, from the model itself,
 *   trainbook.module  {"preset": "cnn" | null, "layers": [{"name", "type",
 *                      "args": {…}, "in": [...], "out": [...]}]}: the module,
 *                     layer by layer, to rebuild it outside trainbook (a layer
 *                     list is an nn.Sequential whose indices are the
 *                     state_dict names; examples/pytorch_load.py)
 */
int64_t checkpoint_save(const char *path, struct model *m, const struct optim *o, const char *spec_source,
			const struct st_meta *extra, int nextra, const struct checkpoint_state *cs, char *err,
			size_t errlen);

/* Restore weights and buffers (and optimizer state and progress when `o` is not NULL). */
int checkpoint_load(const char *path, struct model *m, struct optim *o, struct checkpoint_state *cs, char *err,
		    size_t errlen);

/* The spec text stored in a checkpoint (malloc'd). */
int checkpoint_read_spec(const char *path, char **spec_source, char *err, size_t errlen);

/* The sidecar name for a weights file: "x.safetensors" -> "x.state.safetensors". */
void checkpoint_state_path(const char *path, char *out, size_t len);

/* Keep the newest `keep` step-*.safetensors files (and sidecars) in dir. */
void checkpoint_prune(const char *dir, int keep);

#endif
