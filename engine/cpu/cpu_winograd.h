/*
 * cpu_winograd.h — 3×3 stride-1 "same" convolutions by Winograd's minimal
 * filtering F(2×2, 3×3) (cpu_winograd.c), for cpu_conv.c.
 * Threads: winograd_forward fans out with OpenMP and joins before it returns.
 */
#ifndef TB_CPU_WINOGRAD_H
#define TB_CPU_WINOGRAD_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"

/* Whether winograd_forward takes the shape: 3×3, stride 1, dilation 1, padding 1, and where it pays. */
bool winograd_fits(const struct conv_shape *cs);
/* Floats of scratch winograd_forward needs with `threads` threads. */
int64_t winograd_floats(const struct conv_shape *cs, int threads);
/* y = conv(x, w) for a shape winograd_fits accepts; bits independent of `threads`. */
void winograd_forward(const struct conv_shape *cs, const float *x, const float *w, float *y, float *scratch,
		      int threads);

#endif
