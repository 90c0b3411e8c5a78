/*
 * loss.c — the loss registry (see loss.h): one row per loss a spec may
 * name, each calling its backend operation with its keys.
 */
#include "loss.h"

#include "tb.h"

enum { XENT_LABEL_SMOOTHING };

static void cross_entropy_apply(struct backend *be, const double *arg, const float *logits, const int32_t *labels,
				int n, int classes, float grad_scale, float *dlogits, float *stats,
				int32_t *predictions)
{
	be->softmax_xent(be, logits, labels, n, classes, (float)arg[XENT_LABEL_SMOOTHING], grad_scale, dlogits, stats,
			 predictions);
}

/* Against one-hot labels; mse writes no predictions (the evaluation then has no confusion matrix). */
static void mse_apply(struct backend *be, const double *arg, const float *logits, const int32_t *labels, int n,
		      int classes, float grad_scale, float *dlogits, float *stats, int32_t *predictions)
{
	(void)arg;
	(void)predictions;
	be->mse(be, logits, labels, NULL, n, classes, grad_scale, dlogits, stats);
}

/* Rows laid out by hand, a key per line: clang-format 14 would give every field a line of its own. */
/* clang-format off */
static const struct loss_kind loss_kinds[] = {
	{.spec = {.name = "cross_entropy",
		  .summary = "torch.nn.CrossEntropyLoss on the logits (softmax inside), mean over the batch",
		  .keys = {[XENT_LABEL_SMOOTHING] = {.name = "label_smoothing", .type = SPEC_KEY_NUM, .lo = 0, .hi = 1,
						     .range = SPEC_R_HI_OPEN,
						     .doc = "share of the target spread evenly over all classes"}}},
	 .apply = cross_entropy_apply},
	{.spec = {.name = "mse", .summary = "torch.nn.MSELoss against one-hot labels, mean over every output"},
	 .apply = mse_apply},
};
/* clang-format on */

const struct spec_registry loss_registry = {
	"loss", "loss", loss_kinds, sizeof(loss_kinds[0]), (int)TB_ARRAY_LEN(loss_kinds),
};

void loss_apply(struct backend *be, const struct spec_loss *loss, const float *logits, const int32_t *labels, int n,
		int classes, float grad_scale, float *dlogits, float *stats, int32_t *predictions)
{
	TB_ASSERT(loss->kind >= 0 && loss->kind < loss_registry.count);
	loss_kinds[loss->kind].apply(be, loss->arg, logits, labels, n, classes, grad_scale, dlogits, stats,
				     predictions);
}
