/*
 * fuzz_data.h — the part of the data-reader targets (idx, cifar, csv,
 * images) that is the same for all four: parse a spec that points
 * data.path at the files the target wrote, then probe and load them the
 * way `trainbook check` and a run do, and check what came out.
 *
 * Properties checked for every input: no crash, leak or UB; probe and load
 * either succeed or fail with a one-line message; a load that succeeds
 * gives a non-empty train split, positive shapes, finite f32 samples and
 * every label in 0..classes-1 (the loss indexes with it); when both
 * succeed, probe's shape and class count are the load's (check must not
 * promise a model the run cannot build).
 *
 * Threads: one.
 */
#ifndef TB_TESTS_FUZZ_DATA_H
#define TB_TESTS_FUZZ_DATA_H

/* yaml is a whole spec (data + model) written by the target: it must
 * parse (the spec target fuzzes the parser, not this). */
void fuzz_data_run(const char *yaml);

#endif
