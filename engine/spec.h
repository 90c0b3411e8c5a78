/*
 * spec.h — the run spec: one YAML document (a notebook run cell or a
 * .yaml file) turned into plain C structs, with every error located at
 * line:column.
 *
 * What it is: the parser's contract. It knows the sections (data, model,
 * loss, optimizer, schedule, train, checkpoint), their keys, types and
 * ranges, and fills defaults. It does NOT know what each layer type means:
 * a layer is kept as its type name plus raw arguments with positions, and
 * model.c checks those against the layer table (so a new layer needs no
 * parser change).
 *
 * Threads: pure functions, no globals; safe from any thread.
 */
#ifndef TB_SPEC_H
#define TB_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPEC_NAME_MAX 64
#define SPEC_PATH_MAX 512
#define SPEC_MAX_LAYERS 256
#define SPEC_MAX_ARGS 12
#define SPEC_MAX_ERRORS 16
#define SPEC_MAX_AUGMENT 8

/* A position in the YAML source, 1-based; {0,0} means "not in the source". */
struct spec_pos {
	int line;
	int column;
};

struct spec_error {
	struct spec_pos pos;
	char message[256]; /* one line, no trailing newline, no position prefix */
};

struct spec_errors {
	int count;                                /* errors stored, ≤ SPEC_MAX_ERRORS */
	struct spec_error list[SPEC_MAX_ERRORS];
	char filename[SPEC_PATH_MAX];             /* for messages; may be "<cell>" */
};

/* One named argument of a layer: `{conv2d: {out: 32, kernel: 3}}` gives two. */
struct spec_arg {
	char name[SPEC_NAME_MAX];
	double number;          /* numeric value (true/false map to 1/0) */
	char text[SPEC_NAME_MAX]; /* the scalar as written, for string-valued args */
	bool is_number;
	struct spec_pos pos;    /* position of the value */
	struct spec_pos key_pos; /* position of the key, for "unknown argument" */
};

/*
 * One entry of `model:` when it is a list. Three YAML forms:
 *   relu                       -> type "relu", no value, no args
 *   {linear: 128}              -> type "linear", has_value, value.number = 128
 *   {conv2d: {out: 32, k: 3}}  -> type "conv2d", nargs = 2
 */
struct spec_layer {
	char type[SPEC_NAME_MAX];
	char name[SPEC_NAME_MAX]; /* state_dict prefix; "" = index in the list (nn.Sequential naming). Set by presets. */
	struct spec_pos pos;      /* position of the type name */
	bool has_value;
	struct spec_arg value;    /* the scalar shorthand, name "" */
	int nargs;
	struct spec_arg args[SPEC_MAX_ARGS];
};

struct spec_model {
	char preset[SPEC_NAME_MAX]; /* "mlp", "lenet5", "resnet18", "cnn", or "" for a layer list */
	struct spec_pos pos;
	int nlayers;
	struct spec_layer layers[SPEC_MAX_LAYERS];
	/* preset options (`model: {preset: mlp, hidden: [256, 128]}`); 0 = preset default */
	int hidden[8];
	int nhidden;
	double dropout;
};

/* One augmentation step, in the order written. */
struct spec_augment {
	char name[SPEC_NAME_MAX]; /* "random_crop", "hflip", "normalize" */
	double value;             /* random_crop: padding in pixels; hflip: probability (default 0.5) */
	struct spec_pos pos;
};

struct spec_data {
	char dataset[SPEC_NAME_MAX]; /* fashion-mnist | mnist | cifar10 | csv | synthetic | image-folder */
	char path[SPEC_PATH_MAX];    /* directory (idx, cifar10, image-folder) or train file (csv); "" = dataset default */
	char test_path[SPEC_PATH_MAX]; /* csv: test file; "" = split `test_fraction` off the train file */
	int batch_size;              /* default 64 */
	double validation;           /* fraction of the train split held out for validation, default 0 */
	double test_fraction;        /* csv without test_path: fraction used as test, default 0.2 */
	bool shuffle;                /* default true */
	int workers;                 /* loader threads, default 2 */
	/* csv */
	char label_column[SPEC_NAME_MAX]; /* header name or 0-based index as text; default: last column */
	bool header;                 /* default true */
	/* synthetic (also used to force a shape for image-folder) */
	int shape[3];                /* C,H,W; default 1,28,28; tabular data uses {features,1,1} */
	int classes;                 /* default 10 */
	int64_t train_size;          /* default 1024 */
	int64_t test_size;           /* default 256 */
	/* augmentation and normalisation, applied by the loader in order */
	int naugment;
	struct spec_augment augment[SPEC_MAX_AUGMENT];
	int nnormalize;              /* 0 = no explicit mean/std */
	float mean[4];
	float std[4];
	struct spec_pos pos;         /* of the `data:` key */
	struct spec_pos dataset_pos;
	struct spec_pos path_pos;
};

struct spec_loss {
	char name[SPEC_NAME_MAX];   /* cross_entropy (default) | mse */
	double label_smoothing;     /* cross_entropy only, [0,1) */
	struct spec_pos pos;
};

struct spec_optimizer {
	char name[SPEC_NAME_MAX];   /* sgd | adam (default) | adamw */
	double lr;                  /* default 1e-3 (sgd: 0.01) */
	double momentum;            /* sgd */
	double dampening;           /* sgd */
	bool nesterov;              /* sgd */
	double weight_decay;        /* default 0 (adamw: 0.01, as PyTorch) */
	double beta1, beta2, eps;   /* adam/adamw: 0.9, 0.999, 1e-8 */
	double grad_clip;           /* global-norm clip, 0 = off */
	struct spec_pos pos;
};

struct spec_schedule {
	char name[SPEC_NAME_MAX];   /* constant (default) | step | cosine | onecycle | linear */
	int64_t warmup_steps;       /* linear warm-up from 0 before the schedule, default 0 */
	int64_t step_size;          /* step: decay every step_size *epochs* (PyTorch StepLR on epochs) */
	double gamma;               /* step: factor, default 0.1 */
	double min_lr;              /* cosine: eta_min, default 0 */
	double max_lr;              /* onecycle: peak; default = optimizer lr */
	double pct_start;           /* onecycle: default 0.3 */
	double div_factor;          /* onecycle: default 25 */
	double final_div_factor;    /* onecycle: default 1e4 */
	struct spec_pos pos;
};

struct spec_train {
	int epochs;                 /* default 1 */
	int64_t max_steps;          /* stop after this many steps in total, 0 = no limit */
	char precision[16];         /* fp32 (default) | tf32 | bf16 | fp16 */
	char device[32];            /* auto (default) | cpu | cuda | cuda:N */
	int devices;                /* data-parallel replicas, default 1 */
	int nodes;                  /* processes under a cluster launcher, one per node (the server's
				     * Slurm executor asks for this many); default 1 */
	uint64_t seed;              /* default 0 */
	int eval_every;             /* evaluate every N epochs, default 1; 0 = only at the end */
	int threads;                /* CPU threads, 0 = all cores */
	int log_every;              /* metric event every N steps; 0 = automatic (~20/s at most) */
	struct spec_pos pos;
};

struct spec_checkpoint {
	int every;                  /* every N epochs, default 1; 0 = only at the end */
	int64_t every_steps;        /* also every N steps, 0 = off */
	int keep;                   /* keep the last N, default 3 */
	bool keep_best;             /* also keep best.safetensors by validation/test accuracy, default true */
	struct spec_pos pos;
};

struct spec {
	struct spec_data data;
	struct spec_model model;
	struct spec_loss loss;
	struct spec_optimizer optimizer;
	struct spec_schedule schedule;
	struct spec_train train;
	struct spec_checkpoint checkpoint;
	char *source;               /* the YAML text after overrides, malloc'd, owned; for checkpoints */
};

/*
 * Parse `len` bytes of YAML. `overrides` are `key.path=value` strings
 * (`train.epochs=1`, `optimizer.lr=0.01`, `model=resnet18`) applied to the
 * document before it is checked, so they get the same validation.
 * On success returns 0 and fills *out (call spec_free). On failure returns
 * -1, fills errs (at least one error, each with line:column where one
 * exists) and leaves *out freed. Unknown keys are errors, with
 * "did you mean 'X'?" when a known key is close (edit distance ≤ 2).
 */
int spec_parse(const char *text, size_t len, const char *filename,
	       const char *const *overrides, int noverrides,
	       struct spec *out, struct spec_errors *errs);

/* Read a file and parse it; a missing/unreadable file is an error at 0:0. */
int spec_parse_file(const char *path, const char *const *overrides, int noverrides,
		    struct spec *out, struct spec_errors *errs);

void spec_free(struct spec *s);

/* Append an error (ignored past SPEC_MAX_ERRORS). printf-style. */
void spec_error_add(struct spec_errors *errs, struct spec_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Print each error as "file:line:column: error: message\n" (or "file: error: ..." without a position). */
void spec_errors_print(const struct spec_errors *errs, void *stdio_file);

/* Suggest the known name closest to `word` (edit distance ≤ 2), or NULL. */
const char *spec_suggest(const char *word, const char *const *known, int nknown);

#endif
