/*
 * precision.c — the precision registry (see precision.h).
 */
#include "precision.h"

/* Rows laid out by hand, a key per line: clang-format 14 would give every field a line of its own. */
/* clang-format off */
const struct precision_kind precision_kinds[PRECISION_KINDS] = {
	[PRECISION_FP32] = {.spec = {.name = "fp32", .summary = "float32 everywhere, no TF32 (comparable with the CPU bit for bit)"}},
	[PRECISION_TF32] = {.spec = {.name = "tf32",
				     .summary = "float32 storage, TF32 tensor-core matrix products and convolutions"}},
	[PRECISION_BF16] = {.spec = {.name = "bf16",
				     .summary = "bfloat16 operands for matrix products and convolutions, fp32 master weights"},
			    .half_operands = true},
	[PRECISION_FP16] = {.spec = {.name = "fp16",
				     .summary = "float16 operands, fp32 master weights, dynamic loss scaling (GradScaler)"},
			    .loss_scaling = true,
			    .half_operands = true},
};
/* clang-format on */

const struct spec_registry precision_registry = {
	"precision", "precision", precision_kinds, sizeof(precision_kinds[0]), PRECISION_KINDS,
};
