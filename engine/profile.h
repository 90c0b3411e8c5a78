/*
 * profile.h — where a training step's time goes, per layer kind and pass
 * (TRAINBOOK_PROFILE=1): "conv2d backward 41% of the step", as
 * torch.profiler's key_averages table tells a PyTorch user.
 *
 * What it is: marks around every layer's forward and backward (children
 * of a composite layer included), the loss, the optimizer and the batch
 * upload. Time between two marks belongs to the innermost open section,
 * so a residual block's own row holds only its adds and ReLUs. On a GPU
 * the marks are CUDA events on the backend's stream (device time); on the
 * CPU, whose operations finish before they return, the wall clock. What it
 * is not: a kernel-level profiler (use Nsight Compute for that), nor free:
 * steps are not captured as CUDA graphs while it is on, and each step ends
 * with a host synchronisation.
 *
 * Threads: the replica's training thread (replica 0 only).
 */
#ifndef TB_PROFILE_H
#define TB_PROFILE_H

#include <stdbool.h>
#include <stdio.h>

struct backend;
struct profile;

enum profile_pass { PROFILE_FORWARD, PROFILE_BACKWARD, PROFILE_OTHER };

/* TRAINBOOK_PROFILE set and not "0": a profile of `be`'s steps; otherwise NULL (every call below accepts NULL). */
struct profile *profile_new(struct backend *be);
void profile_free(struct profile *p);

/* A training step starts: sections opened until profile_step_end count (outside a step, as
 * in evaluation, enter and leave do nothing). */
void profile_step_begin(struct profile *p);
/* Open a section named (name, pass); `name` must outlive the profile (a kind's name, a literal). */
void profile_enter(struct profile *p, const char *name, enum profile_pass pass);
void profile_leave(struct profile *p);
/* The step ended: its sections are added up (the first two steps, warm-up, are not). */
void profile_step_end(struct profile *p);

/* The table: milliseconds per step and share of the step, by section, most first. */
void profile_report(const struct profile *p, FILE *out);

#endif
