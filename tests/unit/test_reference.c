/*
 * test_reference.c — unit tests (cmocka, ASan + UBSan) of the registries
 * and the spec reference generated from them: the README's copy is the
 * generator's output (so no row, key, default or range goes undocumented),
 * every registry a section chooses from is documented, and the tables keep
 * the invariants the parser relies on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"
#include "spec_internal.h"
#include "tb.h"

static char *readme_block(void)
{
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(tb_read_file("README.md", &text, &len), 0);
	char *block = reference_extract(text);
	free(text);
	if (!block)
		fail_msg("README.md has no '%s' ... '%s' block", REFERENCE_BEGIN, REFERENCE_END);
	return block;
}

/* The README holds exactly what `trainbook-engine reference` prints. */
static void test_readme_is_generated(void **state)
{
	(void)state;
	char *block = readme_block(), *want = reference_markdown();
	if (strcmp(block, want) != 0) {
		size_t i = 0;
		while (block[i] && block[i] == want[i])
			i++;
		size_t line = 1;
		for (size_t j = 0; j < i; j++)
			line += want[j] == '\n';
		fail_msg("README.md's spec reference is out of date from generated line %zu on; run "
			 "`build/trainbook-engine reference README.md`",
			 line);
	}
	free(block);
	free(want);
}

/* A row's line in the block: "| `name` | ...". */
static const char *row_line(const char *block, const char *name, char *buf, size_t len)
{
	char head[96];
	snprintf(head, sizeof(head), "\n| `%s` |", name);
	const char *at = strstr(block, head);
	if (!at)
		return NULL;
	at++;
	const char *end = strchr(at, '\n');
	snprintf(buf, len, "%.*s", (int)(end ? end - at : (long)strlen(at)), at);
	return buf;
}

/* Every row of every registry, each of its keys and each key's default are in the README. */
static void test_every_row_key_and_default_documented(void **state)
{
	(void)state;
	char *block = readme_block();
	for (int r = 0; r < reference_registry_count(); r++) {
		const struct spec_registry *reg = reference_registry(r);
		for (int i = 0; i < reg->count; i++) {
			const struct spec_kind *k = spec_registry_kind(reg, i);
			char line[2048], key[96], def[64];
			if (!row_line(block, k->name, line, sizeof(line)))
				fail_msg("%s '%s' is not in README.md's reference", reg->what, k->name);
			assert_non_null(k->summary);
			assert_non_null(strstr(line, k->summary));
			for (int j = 0; j < SPEC_KIND_KEYS && k->keys[j].name; j++) {
				const struct spec_key *sk = &k->keys[j];
				snprintf(key, sizeof(key), "`%s`", sk->name);
				if (!strstr(line, key))
					fail_msg("%s '%s': key '%s' is not in its README row", reg->what, k->name,
						 sk->name);
				bool numeric = sk->type == SPEC_KEY_NUM || sk->type == SPEC_KEY_INT ||
					       (sk->type == SPEC_KEY_FIELD && sk->has_def);
				if (numeric && !sk->def_text && !sk->required) {
					snprintf(key, sizeof(key), "`%s` (%s", sk->name,
						 tb_fmt_number(def, sizeof(def), sk->def));
					if (!strstr(line, key))
						fail_msg("%s '%s': key '%s' lacks its default %s in the README",
							 reg->what, k->name, sk->name, def);
				}
			}
		}
	}
	free(block);
}

/* Every section key is documented, and every registry a section names kinds from is in the reference. */
static void test_every_section_key_and_registry_documented(void **state)
{
	(void)state;
	char *block = readme_block();
	for (const struct spec_section *const *sp = spec_sections; *sp; sp++) {
		for (int i = 0; i < (*sp)->nfields; i++) {
			const struct spec_field *f = &(*sp)->fields[i];
			char key[96];
			snprintf(key, sizeof(key), "| `%s.%s` |", (*sp)->name, f->key);
			if (!strstr(block, key))
				fail_msg("%s.%s is not in README.md's reference", (*sp)->name, f->key);
			assert_non_null(f->doc);
			if (f->kind != SPEC_F_CHOICE)
				continue;
			int r = 0;
			while (r < reference_registry_count() && reference_registry(r) != f->registry)
				r++;
			if (r == reference_registry_count())
				fail_msg("%s.%s chooses from the %s registry, which the reference leaves out",
					 (*sp)->name, f->key, f->registry->what);
		}
	}
	free(block);
}

/* What the parser assumes of the rows: unique names and keys, pairs followed by their two keys,
 * FIELD keys naming a field of their section, bounded numbers. */
static void test_registry_invariants(void **state)
{
	(void)state;
	for (int r = 0; r < reference_registry_count(); r++) {
		const struct spec_registry *reg = reference_registry(r);
		assert_true(reg->count > 0 && reg->what && reg->noun);
		for (int i = 0; i < reg->count; i++) {
			const struct spec_kind *k = spec_registry_kind(reg, i);
			assert_int_equal(spec_registry_find(reg, k->name), i);
			for (int j = 0; j < SPEC_KIND_KEYS && k->keys[j].name; j++) {
				const struct spec_key *sk = &k->keys[j];
				assert_int_equal(spec_kind_key(k, sk->name), j);
				if (sk->type == SPEC_KEY_PAIR) {
					assert_true(j + 2 < SPEC_KIND_KEYS && k->keys[j + 2].name);
					assert_int_equal(k->keys[j + 1].type, SPEC_KEY_NUM);
					assert_int_equal(k->keys[j + 2].type, SPEC_KEY_NUM);
				}
				if (sk->type == SPEC_KEY_NUM || sk->type == SPEC_KEY_INT) {
					assert_true(sk->lo < sk->hi);
					if (!sk->required && !sk->def_text)
						assert_true(sk->def >= sk->lo && sk->def <= sk->hi);
				}
			}
		}
	}
	for (const struct spec_section *const *sp = spec_sections; *sp; sp++) {
		const struct spec_section *s = *sp;
		for (int i = 0; i < s->nfields; i++) {
			const struct spec_field *f = &s->fields[i];
			if (f->kind == SPEC_F_INT || f->kind == SPEC_F_I64 || f->kind == SPEC_F_NUM)
				assert_true(f->lo < f->hi); /* every number is bounded above */
		}
		if (s->variant_field < 0)
			continue;
		const struct spec_registry *reg = s->fields[s->variant_field].registry;
		for (int v = 0; v < reg->count; v++) {
			const struct spec_kind *k = spec_registry_kind(reg, v);
			for (int j = 0; j < SPEC_KIND_KEYS && k->keys[j].name; j++) {
				if (k->keys[j].type != SPEC_KEY_FIELD)
					continue;
				int f = 0;
				while (f < s->nfields && strcmp(s->fields[f].key, k->keys[j].name))
					f++;
				if (f == s->nfields)
					fail_msg("%s %s lists '%s', which the %s section does not have", reg->what,
						 k->name, k->keys[j].name, s->name);
			}
		}
	}
}

/* Numbers for people: integers in full with separators, the rest as %g. */
static void test_fmt_number(void **state)
{
	(void)state;
	char buf[64];
	assert_string_equal(tb_fmt_number(buf, sizeof(buf), 16777216), "16,777,216");
	assert_string_equal(tb_fmt_number(buf, sizeof(buf), 1), "1");
	assert_string_equal(tb_fmt_number(buf, sizeof(buf), 999), "999");
	assert_string_equal(tb_fmt_number(buf, sizeof(buf), 1000), "1,000");
	assert_string_equal(tb_fmt_number(buf, sizeof(buf), -1234567), "-1,234,567");
	assert_string_equal(tb_fmt_number(buf, sizeof(buf), 0.001), "0.001");
	assert_string_equal(tb_fmt_number(buf, sizeof(buf), 1e-8), "1e-08");
	assert_string_equal(tb_fmt_number(buf, sizeof(buf), 1e300), "1e+300");
}

/* The splice the CLI does: only the block changes, and text without markers is refused. */
static void test_splice(void **state)
{
	(void)state;
	const char *text = "head\n" REFERENCE_BEGIN "\nold\n" REFERENCE_END "\ntail\n";
	char *out = reference_splice(text, "new\n");
	assert_string_equal(out, "head\n" REFERENCE_BEGIN "\nnew\n" REFERENCE_END "\ntail\n");
	char *back = reference_extract(out);
	assert_string_equal(back, "new\n");
	free(out);
	free(back);
	assert_null(reference_splice("no markers here", "x"));
	assert_null(reference_extract(REFERENCE_END REFERENCE_BEGIN));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_readme_is_generated),
		cmocka_unit_test(test_every_row_key_and_default_documented),
		cmocka_unit_test(test_every_section_key_and_registry_documented),
		cmocka_unit_test(test_registry_invariants),
		cmocka_unit_test(test_fmt_number),
		cmocka_unit_test(test_splice),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
