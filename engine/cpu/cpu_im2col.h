/*
 * cpu_im2col.h — how a convolution pass is cut into blocks of output
 * pixels, and the copies between images and a block's column matrix
 * (cpu_im2col.c). Used by cpu_conv.c only.
 * Threads: the *_team functions share their work out among the threads of
 * the enclosing OpenMP region (all must call); the others run on the calling
 * thread (one block is one thread's work).
 */
#ifndef TB_CPU_IM2COL_H
#define TB_CPU_IM2COL_H

#include <stdbool.h>
#include <stdint.h>

#include "backend.h"

/* A pass cut into blocks; every field depends only on the shape. */
struct conv_tiling {
	int64_t crs;     /* rows of the column matrix: C*R*S */
	int64_t pq;      /* output pixels per sample */
	int64_t chw;     /* input floats per sample */
	int64_t kpq;     /* output floats per sample */
	int group;       /* samples per block, side by side (1: a block is a slice of one sample) */
	int64_t slice;   /* pixels of each sample a block covers (pq when group > 1) */
	int64_t slices;  /* blocks per sample (1 when group > 1) */
	int64_t nblocks;
	int64_t cols;    /* the most columns a block has: group * slice */
	bool direct;     /* 1×1, stride 1, unpadded: the input is its own column matrix */
};

/* One block: pixels [j0, j0 + len) of samples [i0, i0 + g); its columns are g*len. */
struct conv_block {
	int64_t i0, j0, len;
	int g;
};

/*
 * Blocks of about max(cols_min, min(cols_max, block_floats / (C*R*S)))
 * columns. `slices` false keeps samples whole (for col2im, whose windows
 * overlap across a sample's pixels).
 */
struct conv_tiling conv_tiling_make(const struct conv_shape *cs, int64_t cols_min, int64_t cols_max,
				    int64_t block_floats, bool slices);
struct conv_block conv_block_at(const struct conv_tiling *t, int n, int64_t b);

/* col[crs][g*len] ← the block's input windows (zeros outside the image). */
void im2col_block(const struct conv_shape *cs, const struct conv_tiling *t, const float *x, struct conv_block bl,
		  float *col);
void im2col_block_team(const struct conv_shape *cs, const struct conv_tiling *t, const float *x,
		       struct conv_block bl, float *col);
/* dx of the block's whole samples = the scatter-add of col (each plane summed in a fixed order). */
void col2im_block(const struct conv_shape *cs, const struct conv_tiling *t, const float *col, float *dx,
		  struct conv_block bl);

/* Between NCHW ([n][k][pq]) and a block's [k][g*len] layout, for `k` channels. */
void block_to_nchw(const struct conv_tiling *t, int k, const float *blk, float *nchw, struct conv_block bl);
void block_from_nchw(const struct conv_tiling *t, int k, const float *nchw, float *blk, struct conv_block bl);
void layout_from_nchw_team(const struct conv_tiling *t, int k, const float *nchw, float *blk, struct conv_block bl);

#endif
