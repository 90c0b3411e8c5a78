/*
 * reference.h — the spec reference as Markdown, generated from the tables:
 * every section's own keys (spec_sections.c), every registry's rows with
 * their keys, defaults and ranges (optimizers, schedules, losses, data
 * sets, augmentation steps, precisions, model presets) and every layer
 * kind with its arguments. `trainbook-engine reference` prints it or
 * writes it into the README, and a unit test fails when the README's copy
 * is out of date, so a new row cannot go undocumented.
 *
 * Threads: any; reads const tables only.
 */
#ifndef TB_REFERENCE_H
#define TB_REFERENCE_H

#include <stddef.h>

/* Where the generated text sits in a Markdown file. */
#define REFERENCE_BEGIN "<!-- spec reference: begin -->"
#define REFERENCE_END "<!-- spec reference: end -->"

struct spec_registry;

/* The extension points the reference documents (tests check none is missing). */
int reference_registry_count(void);
const struct spec_registry *reference_registry(int i);

/* The reference (malloc'd, the caller frees), without the markers. */
char *reference_markdown(void);

/*
 * Replace what lies between the markers in `text` with `reference`. Returns
 * a malloc'd new text, or NULL when the markers are missing or out of order.
 */
char *reference_splice(const char *text, const char *reference);

/* The part of `text` between the markers (malloc'd), or NULL without them. */
char *reference_extract(const char *text);

#endif
