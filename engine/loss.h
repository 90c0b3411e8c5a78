/*
 * loss.h — the losses a spec may name, one registry row each, and the one
 * call the training loop, evaluation and `trainbook-engine parity` make.
 *
 * What it is: rows (name, keys, docs, and how the loss is computed: which
 * fused backend operation, with which of the kind's keys). What it is not:
 * the arithmetic — each backend's softmax_xent and mse (backend.h).
 *
 * Threads: the caller's (a replica's training thread); the table is const.
 */
#ifndef TB_LOSS_H
#define TB_LOSS_H

#include <stdint.h>

#include "backend.h"
#include "spec.h"

struct loss_kind {
	struct spec_kind spec; /* name, keys, docs */
	/*
	 * Loss over logits [n, classes] against labels, mean over the batch:
	 * the *sum* of per-sample losses and the correct count are added to
	 * stats (backend memory); dlogits (may be NULL) gets the gradient of
	 * the mean times grad_scale; predictions (may be NULL) each sample's
	 * argmax where the backend operation writes them. `arg` holds the
	 * kind's keys in its row's order.
	 */
	void (*apply)(struct backend *be, const double *arg, const float *logits, const int32_t *labels, int n,
		      int classes, float grad_scale, float *dlogits, float *stats, int32_t *predictions);
};

extern const struct spec_registry loss_registry;

/* The spec's loss on one batch (see loss_kind.apply). */
void loss_apply(struct backend *be, const struct spec_loss *loss, const float *logits, const int32_t *labels, int n,
		int classes, float grad_scale, float *dlogits, float *stats, int32_t *predictions);

#endif
