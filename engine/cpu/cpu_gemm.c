/*
 * cpu_gemm.c — the matrix products of convolutions (cpu_conv.c,
 * cpu_winograd.c) and linear layers (cpu_backend.c): an AVX-512 packed
 * sgemm where the CPU has AVX-512, OpenBLAS elsewhere.
 *
 * What it is: C[m, n] (+)= A · op(B), single-threaded per call (callers
 * run one call per block on each thread). Why not only OpenBLAS: a pass
 * multiplies the same weights by dozens of column blocks, and OpenBLAS
 * packs the weights again for every call; here they are packed once per
 * pass (cpu_gemm_pack_a). And OpenBLAS runs its AVX2 kernels wherever it is
 * told to or its CPU table says so (OPENBLAS_CORETYPE=Haswell, as set on
 * this project's build machine, or CPUs newer than Debian's 0.3.21) while
 * the CPU executes AVX-512 at twice the width: on an AMD Zen 5 core this
 * kernel measured 1.8-2× OpenBLAS-Haswell's GFLOP/s on ResNet-18's shapes
 * (and ~1.1× OpenBLAS's own AVX-512 kernels). What it is not: a general
 * BLAS — row-major, alpha 1, beta 0 or 1.
 *
 * The method is BLIS's: A in panels of MR rows, op(B) in panels of NR
 * columns over a slice of at most KC of the k dimension (so a B panel stays
 * in L1 while every A panel of the slice streams from L2), and an MR × NR
 * register tile of C updated by one FMA per element and k. Edges are padded
 * with zeros when packed and masked when stored.
 *
 * Determinism: C[i][j] is accumulated in k order, one fused multiply-add
 * at a time, within each slice; the slices (their count depends only on k)
 * are added to C in order. Nothing depends on the thread, the block or the
 * position of the element in its tile, so any split of the work that keeps
 * (m, n, k) per call gives the same bits.
 *
 * Threads: cpu_gemm and cpu_gemm_pack_a run on the calling thread;
 * cpu_gemm_pack_a_team shares the panels out among the enclosing team.
 */
#include "cpu_gemm.h"

#include <cblas.h>

#include "tb.h"

#if defined(__GNUC__) && defined(__x86_64__)
#define GEMM_HAVE_AVX512 1
#include <immintrin.h>
#define AVX512 __attribute__((target("avx512f")))
#else
#define GEMM_HAVE_AVX512 0
#endif

enum {
	MR = 8,    /* rows of a register tile: one broadcast each per k */
	NR = 32,   /* columns: two 16-float vectors */
	KC = 256,  /* the most k per slice: a B panel (KC × NR floats, 32 KB) fits L1 */
	NC = 1024, /* the most columns packed at once */
};

static bool kernel_disabled; /* tests only: cpu_gemm_disable_kernel */

bool cpu_gemm_avx512(void)
{
#if GEMM_HAVE_AVX512
	return !kernel_disabled && __builtin_cpu_supports("avx512f");
#else
	return false;
#endif
}

void cpu_gemm_disable_kernel(bool disable)
{
	kernel_disabled = disable;
}

static int64_t round_up(int64_t v, int64_t to)
{
	return (v + to - 1) / to * to;
}

int64_t cpu_gemm_a_floats(int64_t m, int64_t k)
{
	return cpu_gemm_avx512() ? round_up(m, MR) * k : 0;
}

int64_t cpu_gemm_b_floats(int64_t k, int64_t n)
{
	return cpu_gemm_avx512() ? TB_MIN(k, (int64_t)KC) * round_up(TB_MIN(n, (int64_t)NC), NR) : 0;
}

void cpu_gemm_a_init(struct cpu_gemm_a *ga, bool trans, int64_t m, int64_t k, const float *a, int64_t lda,
		     float *pack)
{
	ga->a = a;
	ga->lda = lda;
	ga->trans = trans;
	ga->m = m;
	ga->k = k;
	ga->packed = cpu_gemm_avx512() ? pack : NULL;
}

bool cpu_gemm_kernel_fits(int64_t n)
{
	return cpu_gemm_avx512() && n >= NR / 2;
}

/* Panel p of A: dst[kk][i] = op(A)[p*MR + i][kk], zero past row m. */
static void pack_a_panel(const struct cpu_gemm_a *ga, int64_t p)
{
	float *dst = ga->packed + p * MR * ga->k;
	const int64_t k = ga->k, row0 = p * MR;
	const int rows = (int)TB_MIN((int64_t)MR, ga->m - row0);
	if (ga->trans) {
		/* op(A)[i][kk] = a[kk][i]: MR neighbours per kk. */
		for (int64_t kk = 0; kk < k; kk++) {
			const float *src = ga->a + kk * ga->lda + row0;
			float *d = dst + kk * MR;
			for (int i = 0; i < rows; i++)
				d[i] = src[i];
			for (int i = rows; i < MR; i++)
				d[i] = 0;
		}
		return;
	}
	for (int i = 0; i < MR; i++) {
		if (i >= rows) {
			for (int64_t kk = 0; kk < k; kk++)
				dst[kk * MR + i] = 0;
			continue;
		}
		const float *src = ga->a + (row0 + i) * ga->lda;
		for (int64_t kk = 0; kk < k; kk++)
			dst[kk * MR + i] = src[kk];
	}
}

void cpu_gemm_pack_a(const struct cpu_gemm_a *ga)
{
	if (!ga->packed)
		return;
	for (int64_t p = 0; p < (ga->m + MR - 1) / MR; p++)
		pack_a_panel(ga, p);
}

void cpu_gemm_pack_a_team(const struct cpu_gemm_a *ga)
{
	if (!ga->packed)
		return;
	const int64_t panels = (ga->m + MR - 1) / MR;
#pragma omp for schedule(static)
	for (int64_t p = 0; p < panels; p++)
		pack_a_panel(ga, p);
}

struct cpu_gemm_a cpu_gemm_a_rows(const struct cpu_gemm_a *ga, int64_t lo, int64_t len)
{
	TB_ASSERT(lo % MR == 0 && lo >= 0 && lo + len <= ga->m);
	struct cpu_gemm_a sub = *ga;
	sub.a = ga->trans ? ga->a + lo : ga->a + lo * ga->lda;
	sub.m = len;
	if (ga->packed)
		sub.packed = ga->packed + lo * ga->k;
	return sub;
}

#if GEMM_HAVE_AVX512

/* r[i][j] ↔ r[j][i] for a 16 × 16 block in registers. */
AVX512 static inline void transpose16(__m512 r[16])
{
	__m512 t[16];
	for (int i = 0; i < 8; i++) {
		t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
		t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
	}
	for (int i = 0; i < 4; i++) {
		__m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
		__m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
		r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
		r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
		r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
		r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
	}
	for (int i = 0; i < 4; i++) {
		t[i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0x88);
		t[4 + i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0xdd);
		t[8 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0x88);
		t[12 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0xdd);
	}
	for (int i = 0; i < 4; i++) {
		r[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
		r[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xdd);
		r[4 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0x88);
		r[12 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0xdd);
	}
}

/* dst[kk][0..16) = b[row0 + j][pc + kk] for the `valid` rows j (zeros past them): a transpose, 16 × 16 at a time. */
AVX512 static void pack_b_transposed16(const float *b, int64_t ldb, int64_t row0, int valid, int64_t pc, int64_t kc,
				       float *dst)
{
	int64_t kk = 0;
	for (; kk + 16 <= kc; kk += 16) {
		__m512 r[16];
		for (int j = 0; j < 16; j++)
			r[j] = j < valid ? _mm512_loadu_ps(b + (row0 + j) * ldb + pc + kk) : _mm512_setzero_ps();
		transpose16(r);
		for (int i = 0; i < 16; i++)
			_mm512_storeu_ps(dst + (kk + i) * NR, r[i]);
	}
	for (; kk < kc; kk++)
		for (int j = 0; j < 16; j++)
			dst[kk * NR + j] = j < valid ? b[(row0 + j) * ldb + pc + kk] : 0.0f;
}

/* Columns [jc, jc+nc) of op(B) rows [pc, pc+kc) as panels dst[jp][kk][NR], zero past column nc. */
AVX512 static void pack_b(bool tb, const float *b, int64_t ldb, int64_t pc, int64_t kc, int64_t jc, int64_t nc,
			  float *dst)
{
	for (int64_t jp = 0; jp * NR < nc; jp++, dst += kc * NR) {
		const int cols = (int)TB_MIN((int64_t)NR, nc - jp * NR);
		const int64_t col0 = jc + jp * NR;
		if (tb) {
			/* op(B)[kk][j] = b[j][kk]: panel column j is row col0 + j of b. */
			pack_b_transposed16(b, ldb, col0, TB_MIN(cols, 16), pc, kc, dst);
			pack_b_transposed16(b, ldb, col0 + 16, TB_MAX(cols - 16, 0), pc, kc, dst + 16);
			continue;
		}
		const __mmask16 m0 = cols >= 16 ? 0xffff : (__mmask16)((1u << cols) - 1);
		const __mmask16 m1 = cols >= 32 ? 0xffff : cols > 16 ? (__mmask16)((1u << (cols - 16)) - 1) : 0;
		for (int64_t kk = 0; kk < kc; kk++) {
			const float *src = b + (pc + kk) * ldb + col0;
			_mm512_storeu_ps(dst + kk * NR, _mm512_maskz_loadu_ps(m0, src));
			_mm512_storeu_ps(dst + kk * NR + 16, _mm512_maskz_loadu_ps(m1, src + 16));
		}
	}
}

AVX512 static inline void store_row(float *c, __m512 v0, __m512 v1, __mmask16 m0, __mmask16 m1, bool add)
{
	if (add) {
		v0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, c), v0);
		v1 = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, c + 16), v1);
	}
	_mm512_mask_storeu_ps(c, m0, v0);
	_mm512_mask_storeu_ps(c + 16, m1, v1);
}

/* C[rows][cols] (+)= Σ_kk a[kk][0..MR) ⊗ b[kk][0..NR), the tile in registers. */
AVX512 static void kernel_8x32(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int rows, int cols,
			       bool add)
{
	__m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
	__m512 c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
	for (int64_t kk = 0; kk < kc; kk++, a += MR, b += NR) {
		const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
		__m512 ai;
#define GEMM_ROW(i)                                       \
	ai = _mm512_set1_ps(a[i]);                        \
	c##i##0 = _mm512_fmadd_ps(ai, b0, c##i##0);       \
	c##i##1 = _mm512_fmadd_ps(ai, b1, c##i##1)
		GEMM_ROW(0);
		GEMM_ROW(1);
		GEMM_ROW(2);
		GEMM_ROW(3);
		GEMM_ROW(4);
		GEMM_ROW(5);
		GEMM_ROW(6);
		GEMM_ROW(7);
#undef GEMM_ROW
	}
	const __mmask16 m0 = cols >= 16 ? 0xffff : (__mmask16)((1u << cols) - 1);
	const __mmask16 m1 = cols >= 32 ? 0xffff : cols > 16 ? (__mmask16)((1u << (cols - 16)) - 1) : 0;
	const __m512 rows0[MR] = {c00, c10, c20, c30, c40, c50, c60, c70};
	const __m512 rows1[MR] = {c01, c11, c21, c31, c41, c51, c61, c71};
	for (int i = 0; i < rows; i++)
		store_row(c + i * ldc, rows0[i], rows1[i], m0, m1, add);
}

AVX512 static void gemm_avx512(const struct cpu_gemm_a *ga, bool tb, int64_t n, const float *b, int64_t ldb,
			       bool accumulate, float *c, int64_t ldc, float *scratch)
{
	const int64_t m = ga->m, k = ga->k, panels = (m + MR - 1) / MR;
	const int64_t slices = (k + KC - 1) / KC;
	for (int64_t jc = 0; jc < n; jc += NC) {
		const int64_t nc = TB_MIN((int64_t)NC, n - jc);
		for (int64_t s = 0; s < slices; s++) {
			/* Even slices: their bounds depend only on k. */
			const int64_t pc = k * s / slices, kc = k * (s + 1) / slices - pc;
			pack_b(tb, b, ldb, pc, kc, jc, nc, scratch);
			const bool add = accumulate || s > 0;
			for (int64_t jp = 0; jp * NR < nc; jp++) {
				const int cols = (int)TB_MIN((int64_t)NR, nc - jp * NR);
				const float *bp = scratch + jp * kc * NR;
				for (int64_t ip = 0; ip < panels; ip++) {
					const int rows = (int)TB_MIN((int64_t)MR, m - ip * MR);
					kernel_8x32(kc, ga->packed + ip * MR * k + pc * MR, bp,
						    c + ip * MR * ldc + jc + jp * NR, ldc, rows, cols, add);
				}
			}
		}
	}
}

#endif

void cpu_gemm(const struct cpu_gemm_a *ga, bool tb, int64_t n, const float *b, int64_t ldb, bool accumulate,
	      float *c, int64_t ldc, float *scratch)
{
#if GEMM_HAVE_AVX512
	if (ga->packed && cpu_gemm_kernel_fits(n)) {
		gemm_avx512(ga, tb, n, b, ldb, accumulate, c, ldc, scratch);
		return;
	}
#endif
	(void)scratch;
	cblas_sgemm(CblasRowMajor, ga->trans ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)ga->m,
		    (int)n, (int)ga->k, 1.0f, ga->a, (int)ga->lda, b, (int)ldb, accumulate ? 1.0f : 0.0f, c, (int)ldc);
}
