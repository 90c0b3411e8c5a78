/*
 * spec.h — the run spec: one YAML document (a notebook run cell or a
 * .yaml file) turned into plain C structs, with every error located at
 * line:column.
 *
 * What it is: the parser's contract. It knows the sections (data, model,
 * loss, optimizer, schedule, train, checkpoint, early_stopping, sweep) and
 * their own keys; the kinds a section chooses among (optimizers, losses,
 * schedules, data sets, augmentation steps, precisions, model presets) and
 * the keys each kind takes come from the extension points' registries
 * (struct spec_registry below), so a new kind is a row there and no change
 * here. It does NOT
 * know what each layer type means: a layer is kept as its type name plus
 * raw arguments with positions, and model.c checks those against the layer
 * table (so a new layer needs no parser change either).
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

/* ---- registries: one table per extension point ----------------------------------
 *
 * An extension point (optimizers, losses, schedules, data sets, augmentation
 * steps, precisions, model presets) is one table of rows. Each row is a
 * struct of that point's own (optim.h's struct optim_kind, loss.h's, ...)
 * that starts with a struct spec_kind: the name written in a spec, a docs
 * line and the keys the kind takes with their defaults and ranges. The
 * parser, --set, the error messages ("did you mean", "not used by") and
 * `trainbook-engine reference` (the README's spec tables) read the rows
 * through the point's struct spec_registry; the engine and the backends read
 * the rest of the row. A parsed spec names its kinds by row index, so
 * nothing after parsing compares names.
 */

/* Range flags of a key (and of a section's own numeric keys); the default is [lo, hi]. */
#define SPEC_R_LO_OPEN 1u /* lo itself is refused */
#define SPEC_R_HI_OPEN 2u /* hi itself is refused */
/* hi is a sanity bound, not part of the meaning: below lo the message says
 * "expected ... ≥ lo", above hi "too large (the range is ...)". */
#define SPEC_R_SANITY 4u

enum spec_key_type {
	SPEC_KEY_NUM,      /* a number */
	SPEC_KEY_INT,      /* an integer (held as a double: exact below 2^53) */
	SPEC_KEY_BOOL,     /* true or false, held as 1 or 0 */
	SPEC_KEY_PAIR,     /* [a, b], setting the two keys that follow it (Adam's betas) */
	SPEC_KEY_CHANNELS, /* a number or a list of 1-4 numbers, one per channel (normalize) */
	SPEC_KEY_FIELD,    /* one of the section's own keys (data.path, optimizer.lr) that this kind takes */
};

struct spec_key {
	const char *name;
	enum spec_key_type type;
	double def;           /* default; a FIELD key's only when has_def */
	double lo, hi;        /* the accepted range (flags in `range`) */
	unsigned range;       /* SPEC_R_* */
	bool has_def;         /* FIELD: this kind's own default for the section's key */
	const char *required; /* non-NULL: the key must be given, and this says why ("a path (the CSV file)") */
	const char *def_text; /* the default in words where it is not a number ("optimizer.lr") */
	const char *doc;      /* one line for the docs */
};

#define SPEC_KIND_KEYS 8

struct spec;

struct spec_kind {
	const char *name;                     /* as written in a spec */
	const char *summary;                  /* one line for the docs: what it is, its PyTorch twin */
	struct spec_key keys[SPEC_KIND_KEYS]; /* name NULL ends; values go to the section's arg[] in this order */
	/*
	 * Optional: after every key of the section is read, fill defaults that
	 * depend on other keys or sections and check rules across keys. `s`
	 * holds the sections parsed so far (document order: data, model, loss,
	 * optimizer, schedule, train, checkpoint), this kind's section among
	 * them; `given[i]` says whether key i was written. Returns NULL, or a
	 * message written to msg with *key set to the key it is about (-1: the
	 * kind's name).
	 */
	const char *(*finish)(struct spec *s, const bool *given, int *key, char *msg, size_t len);
};

struct spec_registry {
	const char *what;  /* "optimizer": "unknown optimizer 'x'", "not used by optimizer adam" */
	const char *noun;  /* "optimizer", "data set": "the csv data set needs a path" */
	const void *rows;  /* the table: structs that each start with a struct spec_kind */
	size_t stride;     /* sizeof one row */
	int count;
};

static inline const struct spec_kind *spec_registry_kind(const struct spec_registry *r, int i)
{
	return (const struct spec_kind *)((const char *)r->rows + (size_t)i * r->stride);
}

/* Row index of `name`, or -1 (tools and tests; a parsed spec already holds the index). */
int spec_registry_find(const struct spec_registry *r, const char *name);
/* Index of the kind's key `name`, or -1. */
int spec_kind_key(const struct spec_kind *k, const char *name);
/* The value of key `name` of kind `kind` in `arg` (tests and tools); the key must exist. */
double spec_kind_arg(const struct spec_registry *r, int kind, const double *arg, const char *name);

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
	char preset[SPEC_NAME_MAX]; /* a model_preset_registry row's name (model.h), or "" for a layer list */
	int kind;                   /* that row's index (meaningless for a layer list) */
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
	char name[SPEC_NAME_MAX]; /* an augment_registry row's name (data.h) */
	int kind;                 /* that row's index */
	double value;             /* the step's value (its row's first key): random_crop padding, hflip probability */
	struct spec_pos pos;
};

struct spec_data {
	char dataset[SPEC_NAME_MAX]; /* a data_set_registry row's name (data.h) */
	int kind;                    /* that row's index */
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
	int shape[3];                /* C,H,W; {0,0,0} = the data set's own; tabular data uses {features,1,1} */
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
	char name[SPEC_NAME_MAX];   /* a loss_registry row's name (loss.h) */
	int kind;                   /* that row's index */
	double arg[SPEC_KIND_KEYS]; /* the kind's keys, in its row's order */
	struct spec_pos pos;
};

struct spec_optimizer {
	char name[SPEC_NAME_MAX];   /* an optim_registry row's name (optim.h) */
	int kind;                   /* that row's index */
	double lr;                  /* every optimizer's; the default is the kind's */
	double weight_decay;        /* every optimizer's; the default is the kind's */
	double grad_clip;           /* global-norm clip, 0 = off */
	double arg[SPEC_KIND_KEYS]; /* the kind's own keys, in its row's order */
	struct spec_pos pos;
};

struct spec_schedule {
	char name[SPEC_NAME_MAX];   /* a schedule_registry row's name (schedule.h) */
	int kind;                   /* that row's index */
	int64_t warmup_steps;       /* linear warm-up from 0 before the schedule, default 0 */
	double arg[SPEC_KIND_KEYS]; /* the kind's own keys, in its row's order */
	struct spec_pos pos;
};

struct spec_train {
	int epochs;                 /* default 1 */
	int64_t max_steps;          /* stop after this many steps in total, 0 = no limit */
	char precision[16];         /* a precision_registry row's name (precision.h) */
	int precision_kind;         /* that row's index */
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

/*
 * early_stopping: end the run when an evaluation metric stops improving
 * (engine/early_stop.c). Metric names are those of metric events:
 * <split>.<value>, for the evaluation splits (validation, test).
 */
struct spec_early_stop {
	bool enabled;               /* the section is present */
	char metric[SPEC_NAME_MAX]; /* default validation.loss */
	bool maximize;              /* mode: max; default: min for a loss, max for an accuracy */
	int patience;               /* evaluations without improvement before the run ends, default 3 */
	double min_delta;           /* an improvement beats the best by more than this, default 0 */
	struct spec_pos pos;        /* of the `early_stopping:` key */
	struct spec_pos metric_pos;
};

#define SPEC_SWEEP_MAX_PARAMS 8
#define SPEC_SWEEP_MAX_VALUES 32
#define SPEC_SWEEP_VALUE_MAX 96
#define SPEC_SWEEP_MAX_TRIALS 1000

enum spec_sweep_dist {
	SPEC_DIST_CHOICE,     /* one of `values`, as written */
	SPEC_DIST_UNIFORM,    /* a number in [lo, hi] */
	SPEC_DIST_LOGUNIFORM, /* a number in [lo, hi], uniform in log space */
	SPEC_DIST_RANGE,      /* an integer lo, lo+step, … below hi (Python's range) */
};

/* One swept key: `optimizer.lr: {loguniform: [1.0e-4, 1.0e-2]}`. */
struct spec_sweep_param {
	char path[SPEC_NAME_MAX];   /* a --set key path, e.g. "model.hidden" */
	enum spec_sweep_dist dist;
	double lo, hi, step;        /* uniform/loguniform bounds; range start, stop, step */
	int count;                  /* grid points of a uniform/loguniform in a grid search */
	int nvalues;                /* choice: the values as YAML flow text ("[256, 128]", "0.1") */
	char values[SPEC_SWEEP_MAX_VALUES][SPEC_SWEEP_VALUE_MAX];
	struct spec_pos pos;        /* of the key, where a bad trial value is reported */
};

/* sweep.stop.asha: asynchronous successive halving (engine/asha.c). */
struct spec_asha {
	bool enabled;
	char metric[SPEC_NAME_MAX]; /* default validation.accuracy */
	bool maximize;
	int min_epochs;             /* the first rung, default 1 */
	int reduction;              /* keep the top 1/reduction at each rung, default 3 */
	struct spec_pos pos;
};

/* sweep: the spec becomes a family of trials (engine/sweep.c expands them). */
struct spec_sweep {
	bool enabled;               /* the section is present (and not null: trials set sweep=~) */
	bool grid;                  /* method: grid (every combination) | random (default) */
	int trials;                 /* random: draws, default 10; grid: the product of the counts */
	int parallel;               /* trials at once, default 1 */
	uint64_t seed;              /* default 0 */
	int nparams;
	struct spec_sweep_param params[SPEC_SWEEP_MAX_PARAMS];
	struct spec_asha asha;
	struct spec_pos pos;        /* of the `sweep:` key */
};

struct spec {
	struct spec_data data;
	struct spec_model model;
	struct spec_loss loss;
	struct spec_optimizer optimizer;
	struct spec_schedule schedule;
	struct spec_train train;
	struct spec_checkpoint checkpoint;
	struct spec_early_stop early_stop;
	struct spec_sweep sweep;
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
