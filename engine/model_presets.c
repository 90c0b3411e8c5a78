/*
 * model_presets.c — the named models (`model: mlp | lenet5 | cnn |
 * resnet18`), one registry row each, written out as layer lists, with the layer names of the
 * matching PyTorch modules so their checkpoints load with
 * load_state_dict (the modules are spelled out in tests/parity/models.py
 * and the README).
 *
 * Threads: pure; any thread.
 */
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "tb.h"

struct layer_list {
	struct spec_layer *items;
	int n, cap;
	struct spec_pos pos; /* errors inside a preset point at `model:` */
};

/* Append a layer; `args` is "name=value name=value" (numbers only). */
static void push(struct layer_list *ll, const char *type, const char *name, const char *args)
{
	if (ll->n == ll->cap) {
		ll->cap = ll->cap ? ll->cap * 2 : 16;
		ll->items = tb_xrealloc(ll->items, (size_t)ll->cap * sizeof(*ll->items));
	}
	struct spec_layer *sl = &ll->items[ll->n++];
	memset(sl, 0, sizeof(*sl));
	snprintf(sl->type, sizeof(sl->type), "%s", type);
	snprintf(sl->name, sizeof(sl->name), "%s", name);
	sl->pos = ll->pos;
	const char *p = args;
	while (p && *p) {
		struct spec_arg *a = &sl->args[sl->nargs];
		int used = 0;
		if (sscanf(p, " %63[^=]=%lf%n", a->name, &a->number, &used) != 2)
			break;
		TB_ASSERT(sl->nargs < SPEC_MAX_ARGS - 1);
		a->is_number = true;
		a->pos = a->key_pos = ll->pos;
		snprintf(a->text, sizeof(a->text), "%g", a->number);
		sl->nargs++;
		p += used;
	}
}

static void push_fmt(struct layer_list *ll, const char *type, const char *name, const char *fmt, int a, int b)
{
	char args[128];
	snprintf(args, sizeof(args), fmt, a, b);
	push(ll, type, name, args);
}

/* flatten → (linear → relu [→ dropout])* → linear, nn.Sequential naming. */
static void preset_mlp(const struct spec_model *sm, int classes, struct layer_list *ll)
{
	int hidden[8] = {128};
	int nhidden = 1;
	if (sm->nhidden > 0) {
		nhidden = sm->nhidden;
		memcpy(hidden, sm->hidden, sizeof(int) * (size_t)nhidden);
	}
	char idx[16];
	int i = 0;
#define NEXT_NAME() (snprintf(idx, sizeof(idx), "%d", i++), idx)
	push(ll, "flatten", NEXT_NAME(), "");
	for (int h = 0; h < nhidden; h++) {
		push_fmt(ll, "linear", NEXT_NAME(), "out=%d", hidden[h], 0);
		push(ll, "relu", NEXT_NAME(), "");
		if (sm->dropout > 0) {
			char args[32];
			snprintf(args, sizeof(args), "p=%g", sm->dropout);
			push(ll, "dropout", NEXT_NAME(), args);
		}
	}
	push_fmt(ll, "linear", NEXT_NAME(), "out=%d", classes, 0);
#undef NEXT_NAME
}

/* conv{i} [→ bn{i}] → relu{i} → pool{i} (2×2 max-pool): a stage of LeNet-5 and of the small CNN. */
static void push_conv_stage(struct layer_list *ll, int i, const char *conv_args, bool batchnorm)
{
	char name[16];
	snprintf(name, sizeof(name), "conv%d", i);
	push(ll, "conv2d", name, conv_args);
	if (batchnorm) {
		snprintf(name, sizeof(name), "bn%d", i);
		push(ll, "batchnorm2d", name, "");
	}
	snprintf(name, sizeof(name), "relu%d", i);
	push(ll, "relu", name, "");
	snprintf(name, sizeof(name), "pool%d", i);
	push(ll, "maxpool2d", name, "kernel=2");
}

/* LeNet-5 (ReLU, max-pool); 28×28 inputs get padding 2 so the shapes match the 32×32 original. */
static void preset_lenet5(struct shape input, int classes, struct layer_list *ll)
{
	char conv1[64];
	snprintf(conv1, sizeof(conv1), "out=6 kernel=5 padding=%d", input.ndim == 3 && input.d[1] < 32 ? 2 : 0);
	push_conv_stage(ll, 1, conv1, false);
	push_conv_stage(ll, 2, "out=16 kernel=5", false);
	push(ll, "flatten", "flatten", "");
	push(ll, "linear", "fc1", "out=120");
	push(ll, "relu", "relu3", "");
	push(ll, "linear", "fc2", "out=84");
	push(ll, "relu", "relu4", "");
	push_fmt(ll, "linear", "fc3", "out=%d", classes, 0);
}

/* A small two-block CNN for (Fashion-)MNIST: conv-bn-relu-pool twice, then two linear layers. */
static void preset_cnn(int classes, struct layer_list *ll)
{
	push_conv_stage(ll, 1, "out=32 kernel=3 padding=1 bias=0", true);
	push_conv_stage(ll, 2, "out=64 kernel=3 padding=1 bias=0", true);
	push(ll, "flatten", "flatten", "");
	push(ll, "linear", "fc1", "out=128");
	push(ll, "relu", "relu3", "");
	push(ll, "dropout", "dropout", "p=0.25");
	push_fmt(ll, "linear", "fc2", "out=%d", classes, 0);
}

/* CIFAR-style ResNet-18: 3×3 stem, no max-pool, stages 64-128-256-512 of two BasicBlocks each. */
static void preset_resnet18(int classes, struct layer_list *ll)
{
	push(ll, "conv2d", "conv1", "out=64 kernel=3 padding=1 bias=0");
	push(ll, "batchnorm2d", "bn1", "");
	push(ll, "relu", "relu", "");
	static const int widths[4] = {64, 128, 256, 512};
	for (int stage = 0; stage < 4; stage++) {
		for (int block = 0; block < 2; block++) {
			char name[32];
			snprintf(name, sizeof(name), "layer%d.%d", stage + 1, block);
			int stride = stage > 0 && block == 0 ? 2 : 1;
			push_fmt(ll, "basic_block", name, "out=%d stride=%d", widths[stage], stride);
		}
	}
	push(ll, "global_avgpool", "avgpool", "");
	push(ll, "flatten", "flatten", "");
	push_fmt(ll, "linear", "linear", "out=%d", classes, 0);
}

/* ---- the registry ------------------------------------------------------------- */

struct model_preset {
	struct spec_kind spec; /* name, docs, the model section's keys it takes */
	bool images;           /* needs [C, H, W] input */
	void (*expand)(const struct spec_model *sm, struct shape input, int classes, struct layer_list *ll);
};

static void expand_mlp(const struct spec_model *sm, struct shape input, int classes, struct layer_list *ll)
{
	(void)input;
	preset_mlp(sm, classes, ll);
}

static void expand_lenet5(const struct spec_model *sm, struct shape input, int classes, struct layer_list *ll)
{
	(void)sm;
	preset_lenet5(input, classes, ll);
}

static void expand_cnn(const struct spec_model *sm, struct shape input, int classes, struct layer_list *ll)
{
	(void)sm;
	(void)input;
	preset_cnn(classes, ll);
}

static void expand_resnet18(const struct spec_model *sm, struct shape input, int classes, struct layer_list *ll)
{
	(void)sm;
	(void)input;
	preset_resnet18(classes, ll);
}

static const struct model_preset model_presets[] = {
	{.spec = {.name = "mlp",
		  .summary = "flatten, then linear + relu (+ dropout) per hidden size, then linear to the classes",
		  .keys = {{.name = "hidden", .type = SPEC_KEY_FIELD}, {.name = "dropout", .type = SPEC_KEY_FIELD}}},
	 .expand = expand_mlp},
	{.spec = {.name = "lenet5", .summary = "LeNet-5 with ReLU and max-pooling (28×28 inputs padded to the original 32×32)"},
	 .images = true, .expand = expand_lenet5},
	{.spec = {.name = "resnet18", .summary = "ResNet-18, CIFAR variant: 3×3 stem, no max-pool, 4 stages of 2 basic blocks"},
	 .images = true, .expand = expand_resnet18},
	{.spec = {.name = "cnn",
		  .summary = "two conv-batchnorm-relu-maxpool blocks (32, 64 channels), linear 128, dropout 0.25, linear"},
	 .images = true, .expand = expand_cnn},
};

const struct spec_registry model_preset_registry = {
	"preset", "preset", model_presets, sizeof(model_presets[0]), (int)TB_ARRAY_LEN(model_presets),
};

int model_preset_expand(const struct spec_model *sm, struct shape input, int classes, struct spec_layer **layers,
			int *nlayers, struct spec_errors *errs)
{
	TB_ASSERT(sm->kind >= 0 && sm->kind < model_preset_registry.count); /* the parser stored a row index */
	const struct model_preset *p = &model_presets[sm->kind];
	struct layer_list ll = {.pos = sm->pos};
	if (p->images && input.ndim != 3) {
		spec_error_add(errs, sm->pos, "model '%s' needs image input [C, H, W], but the data is a feature vector",
			       p->spec.name);
		return -1;
	}
	p->expand(sm, input, classes, &ll);
	*layers = ll.items;
	*nlayers = ll.n;
	return 0;
}
