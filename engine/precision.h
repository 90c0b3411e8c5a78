/*
 * precision.h — the precisions a run may ask for (train.precision), one
 * registry row each, and what the engine must do differently for each.
 *
 * What it is: the identity every backend understands (the CUDA module
 * switches its math on enum precision; the CPU computes in fp32 whatever
 * was asked) and the row's flags the engine reads instead of comparing
 * names. What it is not: the conversions themselves (engine/cuda/).
 *
 * Threads: const tables; any thread.
 */
#ifndef TB_PRECISION_H
#define TB_PRECISION_H

#include <stdbool.h>

#include "spec.h"

/* A precision's identity: its row in precision_kinds[] and what the CUDA module is opened with. */
enum precision { PRECISION_FP32, PRECISION_TF32, PRECISION_BF16, PRECISION_FP16, PRECISION_KINDS };

struct precision_kind {
	struct spec_kind spec; /* name, docs */
	bool loss_scaling;     /* gradients underflow without a dynamic loss scale (fp16) */
	bool half_operands;    /* 16-bit copies of matrix-product and convolution operands (the memory estimate) */
};

extern const struct precision_kind precision_kinds[PRECISION_KINDS];
extern const struct spec_registry precision_registry;

#endif
