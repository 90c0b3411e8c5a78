/*
 * spec_internal.h — what the spec parser's files share among themselves:
 * the parse context, YAML node helpers and the table-driven section reader.
 *
 * What it is: private to engine/spec*.c. What it is not: a contract; the
 * public interface is spec.h, and nothing outside the spec parser should
 * include this file (it pulls in libyaml).
 *
 * Threads: everything here works on one parse context owned by the calling
 * thread; no globals.
 */
#ifndef TB_SPEC_INTERNAL_H
#define TB_SPEC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "spec.h"

/* One parse: the YAML tree, where errors go, and which nodes came from --set. */
struct spec_ctx {
	yaml_document_t *doc;
	struct spec_errors *errs;
	const char *const *overrides; /* the --set strings, for error messages */
	int noverrides;
	int text_nodes;               /* node ids 1..text_nodes come from the YAML text */
	int *override_first;          /* override k made node ids [first[k], first[k+1]); noverrides+1 entries */
	struct spec *spec;            /* the sections read so far, for the kinds' finish() */
};

/* ---- nodes (spec_node.c) ---------------------------------------------- */

yaml_node_t *spec_node(const struct spec_ctx *c, int id);
/* Position of a node in the source; {0,0} for nodes an override created. */
struct spec_pos spec_node_pos(const struct spec_ctx *c, const yaml_node_t *n);
/* Report an error at `at` (NULL: no position); names the override that made `at`, if any. */
void spec_fail(struct spec_ctx *c, const yaml_node_t *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

bool spec_is_null(const yaml_node_t *n);        /* ~, null, empty plain scalar */
const char *spec_text(const yaml_node_t *n);    /* scalar value, NULL for collections */
bool spec_is_plain(const yaml_node_t *n);       /* a plain scalar (quoted ones are strings) */
/* "a mapping", "a sequence", "nothing", 12, "text" (quoted, shortened) — for "got …". */
void spec_describe(const yaml_node_t *n, char *buf, size_t size);
/*
 * An optional section whose value must be a mapping (early_stopping:,
 * sweep:): true for a mapping; false when it is absent or null, and false
 * with an error quoting `example` for anything else.
 */
bool spec_section_is_mapping(struct spec_ctx *c, const char *name, const yaml_node_t *value, const char *example);
bool spec_number(const yaml_node_t *n, double *out);
bool spec_integer(const yaml_node_t *n, int64_t *out);
bool spec_unsigned(const yaml_node_t *n, uint64_t *out);
bool spec_bool(const yaml_node_t *n, bool *out);
/* Copy a NUL-terminated name, zero-filling the rest (so equal specs compare equal bytewise). */
void spec_copy_name(char *dst, size_t size, const char *src);
/* A comma-separated list of names, for "expected one of …". */
void spec_join(const char *const *names, int n, char *buf, size_t size);

/*
 * Walk a mapping's pairs against `known` names: a key that is not a name,
 * unknown (with did-you-mean) or repeated is reported; otherwise values[i]
 * and keys[i] (keys may be NULL) get the nodes of known[i]. `path` prefixes
 * messages ("train", "data.augment item 2: normalize"); "" for the top level.
 */
void spec_mapping_read(struct spec_ctx *c, const char *path, const yaml_node_t *map,
		       const char *const *known, int nknown, yaml_node_t **values,
		       yaml_node_t **keys);

/* ---- the table-driven section reader (spec_node.c) ------------------------ */

enum spec_field_kind {
	SPEC_F_INT,    /* int */
	SPEC_F_I64,    /* int64_t */
	SPEC_F_U64,    /* uint64_t */
	SPEC_F_NUM,    /* double */
	SPEC_F_BOOL,   /* bool */
	SPEC_F_CHOICE, /* char[size]: a row name of `registry`; the row index goes to index_offset */
	SPEC_F_TEXT,   /* char[size], any scalar */
	SPEC_F_CUSTOM, /* `custom` reads it */
};

struct spec_field;
typedef void (*spec_custom_fn)(struct spec_ctx *c, const char *path, const yaml_node_t *value,
			       void *section);

/* One of a section's own keys: where its value goes, its type and range, and its docs. */
struct spec_field {
	const char *key;
	enum spec_field_kind kind;
	size_t offset;              /* of the value in the section struct */
	size_t size;                /* CHOICE/TEXT buffer size */
	double lo, hi;
	unsigned range;             /* SPEC_R_* (spec.h) */
	const struct spec_registry *registry; /* CHOICE: the rows to choose from */
	size_t index_offset;        /* CHOICE: where the chosen row's index (int) goes */
	bool per_kind;              /* applies only to the kinds whose row lists it as a FIELD key */
	spec_custom_fn custom;
	size_t pos_offset;          /* where to store the value's spec_pos, 0 = nowhere (no section starts with one) */
	const char *type_text;      /* the docs' "type" column when the kind says too little ("[C, H, W]") */
	const char *def_text;       /* the docs' default when the section's defaults() does not say it well */
	const char *doc;            /* one line for the docs */
};

struct spec_section {
	const char *name;           /* "optimizer", used as the message prefix */
	const struct spec_field *fields;
	int nfields;
	int variant_field;          /* the CHOICE field whose row adds keys (name/dataset/preset), -1 none */
	int default_variant;        /* -1: the variant key is required */
	const char *shorthand;      /* a bare scalar stands for this key; NULL: mapping only */
	void (*defaults)(void *section); /* the section's own defaults, whatever the kind */
	long arg_offset;            /* where the kind's own keys go (double[SPEC_KIND_KEYS]), -1: its kinds have none */
};

#define SPEC_MAX_FIELDS 24

/*
 * Read one section (`value` may be NULL when the section is absent) into
 * `out`: the section's defaults, then the kind's (its row's defaults and
 * its FIELD keys' own defaults), then every key written, each checked
 * against the section's fields or the kind's row; then the row's finish().
 * Returns the kind's index (the default one when the name was wrong, so
 * callers can go on checking). present[i] (nfields entries) gets field i's
 * value node or NULL.
 */
int spec_section_read(struct spec_ctx *c, const struct spec_section *s, const yaml_node_t *key,
		      const yaml_node_t *value, void *out, const yaml_node_t **present);

/* Read a scalar that must name a row of `r` into dst; the row index, or -1. */
int spec_read_choice(struct spec_ctx *c, const char *path, const struct spec_registry *r,
		     const yaml_node_t *value, char *dst, size_t size);

/* Read an integer in [lo, hi]; with SPEC_R_SANITY in `range` hi is a sanity bound (see spec.h). */
bool spec_read_int(struct spec_ctx *c, const char *path, const yaml_node_t *value, int64_t lo,
		   int64_t hi, unsigned range, int64_t *out);
/* Read a number in [lo, hi] with the SPEC_R_* flags of `range`. */
bool spec_read_number(struct spec_ctx *c, const char *path, const yaml_node_t *value, double lo,
		      double hi, unsigned range, double *out);
/* Read a value against one key of a kind's row (NUM, INT or BOOL) into *out. */
bool spec_read_key(struct spec_ctx *c, const char *path, const struct spec_key *k, const yaml_node_t *value,
		   double *out);

/* ---- sections, model, overrides ---------------------------------------------- */

/* Convert the whole document (root must be a mapping) into *s. */
void spec_convert(struct spec_ctx *c, const yaml_node_t *root, struct spec *s);
/* model: preset string, preset mapping or layer list (spec_model.c). */
void spec_model_read(struct spec_ctx *c, const yaml_node_t *key, const yaml_node_t *value,
		     struct spec_model *m);
/* data.augment (spec_augment.c). */
void spec_augment_read(struct spec_ctx *c, const char *path, const yaml_node_t *value,
		       void *data);
/* The key a bare scalar stands for in a section (`loss: mse` = {name: mse}), or NULL. */
const char *spec_section_shorthand(const char *section);
/* Every section in document order, NULL-terminated (spec_sections.c; the docs walk them). */
extern const struct spec_section *const spec_sections[];
/* model: as a mapping (spec_model.c). */
extern const struct spec_section spec_model_section;
/* "1 to 100,000", "above 0, up to 1,000": a range in words, numbers in full (spec_node.c). */
void spec_range_words(double lo, double hi, unsigned range, char *buf, size_t size);
/* early_stopping (spec_stopping.c); `value` NULL or null: disabled. */
void spec_early_stop_read(struct spec_ctx *c, const yaml_node_t *key, const yaml_node_t *value,
			  struct spec_early_stop *es);
/*
 * A watched metric (`metric:` and `mode:` of early_stopping and sweep.stop.asha):
 * one of the evaluation metrics, with mode min|max defaulting by the metric.
 * `metric` NULL gives `fallback`. path prefixes messages ("early_stopping").
 */
void spec_metric_read(struct spec_ctx *c, const char *path, const yaml_node_t *metric,
		      const yaml_node_t *mode, const char *fallback, char *dst, size_t size,
		      bool *maximize);
/* sweep (spec_sweep.c); `value` NULL or null: not a sweep. */
void spec_sweep_read(struct spec_ctx *c, const yaml_node_t *key, const yaml_node_t *value,
		     struct spec_sweep *sw);
/* Apply --set overrides to c->doc (spec_override.c); fills c->override_first. */
void spec_overrides_apply(struct spec_ctx *c);

#endif
