/*
 * spec_positions.h — for tests that compare two parsed specs: clear every
 * source position (and the source text pointer), so that specs parsed from
 * different texts compare equal with memcmp when they mean the same thing.
 * Used by tests/unit/test_spec.c and tests/fuzz/spec/fuzz_spec.c.
 */
#ifndef TB_TESTS_SPEC_POSITIONS_H
#define TB_TESTS_SPEC_POSITIONS_H

#include "spec.h"

static inline void spec_clear_positions(struct spec *s)
{
	static const struct spec_pos zero;
	s->data.pos = s->data.dataset_pos = s->data.path_pos = zero;
	for (int i = 0; i < SPEC_MAX_AUGMENT; i++)
		s->data.augment[i].pos = zero;
	s->model.pos = zero;
	for (int i = 0; i < SPEC_MAX_LAYERS; i++) {
		struct spec_layer *l = &s->model.layers[i];
		l->pos = l->value.pos = l->value.key_pos = zero;
		for (int j = 0; j < SPEC_MAX_ARGS; j++)
			l->args[j].pos = l->args[j].key_pos = zero;
	}
	s->loss.pos = s->optimizer.pos = s->schedule.pos = zero;
	s->train.pos = s->checkpoint.pos = zero;
	s->early_stop.pos = s->early_stop.metric_pos = s->sweep.pos = s->sweep.asha.pos = zero;
	for (int i = 0; i < SPEC_SWEEP_MAX_PARAMS; i++)
		s->sweep.params[i].pos = zero;
	s->source = NULL;
}

#endif
