/*
 * emu_libs.cpp — naive stand-ins for cuBLASLt and cuDNN's convolutions,
 * for the CPU emulator (emu_cuda.h).
 *
 * What it is: the same results the libraries promise, by definition and
 * with double accumulation, plus the checks a real library would make
 * loudly or silently: leading dimensions, shape consistency, the pointer
 * alignment the heuristic was promised, and workspace size. Reduced
 * precision is modelled by rounding the operands (tf32: 10 mantissa bits,
 * bf16, fp16) so the parity tolerances are exercised. Find returns a
 * tensor-op result first and an FMA one second, so the backend's
 * fp32-means-no-TF32 filter is tested, and a used workspace is scribbled
 * over so a buffer that overlaps it shows up as wrong results.
 *
 * What it is not: a check of NVIDIA's argument conventions — these mocks
 * encode the same reading of the documentation as the backend.
 * Threads: one host thread.
 */
#include <cublasLt.h>
#include <cudnn.h>

#include <vector>

#define EMU_TENSOR_OP_WORKSPACE 4096

static float round_mantissa(float v, int keep_bits)
{
	uint32_t u;
	memcpy(&u, &v, 4);
	if (keep_bits >= 23 || (u & 0x7f800000u) == 0x7f800000u)
		return v;
	int drop = 23 - keep_bits;
	uint32_t half = 1u << (drop - 1);
	u += half - 1 + ((u >> drop) & 1);
	u &= ~((1u << drop) - 1);
	memcpy(&v, &u, 4);
	return v;
}

/* ---- cuBLASLt ------------------------------------------------------------------ */

struct emu_lt {
	int unused;
};
struct emu_lt_desc {
	cublasComputeType_t compute;
	cublasOperation_t ta, tb;
	cublasLtEpilogue_t epilogue; /* 0 (never set) behaves as DEFAULT */
	const float *bias;           /* one per row of D, for the BIAS epilogues */
};
struct emu_lt_layout {
	uint64_t rows, cols;
	int64_t ld;
};
struct emu_lt_pref {
	uint32_t align[4];
	uint64_t workspace;
};

cublasStatus_t cublasLtCreate(cublasLtHandle_t *h)
{
	*h = (cublasLtHandle_t)calloc(1, sizeof(struct emu_lt));
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtDestroy(cublasLtHandle_t h)
{
	free(h);
	return CUBLAS_STATUS_SUCCESS;
}

const char *cublasLtGetStatusString(cublasStatus_t s)
{
	return s == CUBLAS_STATUS_SUCCESS ? "CUBLAS_STATUS_SUCCESS" : "CUBLAS_STATUS_INVALID_VALUE (emulated)";
}

cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *d, cublasComputeType_t compute, cudaDataType scale)
{
	if (scale != CUDA_R_32F)
		return CUBLAS_STATUS_NOT_SUPPORTED;
	*d = (cublasLtMatmulDesc_t)calloc(1, sizeof(struct emu_lt_desc));
	(*d)->compute = compute;
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d)
{
	free(d);
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t attr,
					      const void *buf, size_t size)
{
	if (attr == CUBLASLT_MATMUL_DESC_BIAS_POINTER) {
		if (size != sizeof(d->bias))
			return CUBLAS_STATUS_INVALID_VALUE;
		memcpy(&d->bias, buf, size);
		return CUBLAS_STATUS_SUCCESS;
	}
	if (size != sizeof(cublasOperation_t))
		return CUBLAS_STATUS_INVALID_VALUE;
	if (attr == CUBLASLT_MATMUL_DESC_TRANSA)
		memcpy(&d->ta, buf, size);
	else if (attr == CUBLASLT_MATMUL_DESC_TRANSB)
		memcpy(&d->tb, buf, size);
	else if (attr == CUBLASLT_MATMUL_DESC_EPILOGUE)
		memcpy(&d->epilogue, buf, size);
	else
		return CUBLAS_STATUS_INVALID_VALUE;
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *l, cudaDataType type, uint64_t rows,
					  uint64_t cols, int64_t ld)
{
	/* Column-major: the leading dimension covers a column. */
	if (type != CUDA_R_32F || ld < (int64_t)rows || ld < 1)
		return CUBLAS_STATUS_INVALID_VALUE;
	*l = (cublasLtMatrixLayout_t)calloc(1, sizeof(struct emu_lt_layout));
	(*l)->rows = rows;
	(*l)->cols = cols;
	(*l)->ld = ld;
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l)
{
	free(l);
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *p)
{
	*p = (cublasLtMatmulPreference_t)calloc(1, sizeof(struct emu_lt_pref));
	for (int i = 0; i < 4; i++)
		(*p)->align[i] = 256; /* the documented default */
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t p)
{
	free(p);
	return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t p,
						    cublasLtMatmulPreferenceAttributes_t attr, const void *buf, size_t size)
{
	if (attr == CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES && size == 8)
		memcpy(&p->workspace, buf, 8);
	else if (attr >= CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES && attr <= CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES &&
		 size == 4)
		memcpy(&p->align[attr - CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES], buf, 4);
	else
		return CUBLAS_STATUS_INVALID_VALUE;
	return CUBLAS_STATUS_SUCCESS;
}

/* op(X)'s shape from a layout. */
static void op_shape(const struct emu_lt_layout *l, cublasOperation_t t, uint64_t *r, uint64_t *c)
{
	*r = t == CUBLAS_OP_N ? l->rows : l->cols;
	*c = t == CUBLAS_OP_N ? l->cols : l->rows;
}

cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t, cublasLtMatmulDesc_t d, cublasLtMatrixLayout_t a,
					      cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c,
					      cublasLtMatrixLayout_t dl, cublasLtMatmulPreference_t p, int requested,
					      cublasLtMatmulHeuristicResult_t *results, int *returned)
{
	uint64_t ar, ac, br, bc;
	op_shape(a, d->ta, &ar, &ac);
	op_shape(b, d->tb, &br, &bc);
	if (ac != br || c->rows != ar || c->cols != bc || dl->rows != c->rows || dl->cols != c->cols || requested < 1)
		return CUBLAS_STATUS_INVALID_VALUE;
	memset(&results[0], 0, sizeof(results[0]));
	memcpy(results[0].algo.data, p->align, sizeof(p->align)); /* remembered for cublasLtMatmul's check */
	results[0].state = CUBLAS_STATUS_SUCCESS;
	*returned = 1;
	return CUBLAS_STATUS_SUCCESS;
}

static bool aligned(const void *ptr, uint64_t promised)
{
	return promised == 0 || ((uintptr_t)ptr % promised) == 0;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t, cublasLtMatmulDesc_t d, const void *alpha, const void *A,
			      cublasLtMatrixLayout_t a, const void *B, cublasLtMatrixLayout_t b, const void *beta,
			      const void *C, cublasLtMatrixLayout_t c, void *D, cublasLtMatrixLayout_t dl,
			      const cublasLtMatmulAlgo_t *algo, void *workspace, size_t, cudaStream_t stream)
{
	uint32_t promised[4];
	memcpy(promised, algo->data, sizeof(promised));
	if (!aligned(A, promised[0]) || !aligned(B, promised[1]) || !aligned(C, promised[2]) || !aligned(D, promised[3]))
		emu_fatal("cublasLtMatmul: operand less aligned than the heuristic was told");
	if (!workspace)
		emu_fatal("cublasLtMatmul: no workspace");
	uint64_t m, k, k2, n;
	op_shape(a, d->ta, &m, &k);
	op_shape(b, d->tb, &k2, &n);
	if (k != k2 || c->rows != m || c->cols != n || dl->ld != c->ld)
		return CUBLAS_STATUS_INVALID_VALUE;
	int keep = d->compute == CUBLAS_COMPUTE_32F_FAST_TF32 ? 10
		   : d->compute == CUBLAS_COMPUTE_32F_FAST_16BF ? 7
		   : d->compute == CUBLAS_COMPUTE_32F_FAST_16F ? 10
							       : 23;
	/* As with host pointer mode on a GPU: scalars and descriptors are read now, the data when the work runs. */
	const float *pa = (const float *)A, *pb = (const float *)B, *pc = (const float *)C;
	float *pd = (float *)D, al = *(const float *)alpha, be = *(const float *)beta;
	cublasOperation_t ta = d->ta, tb = d->tb;
	bool relu = d->epilogue == CUBLASLT_EPILOGUE_RELU || d->epilogue == CUBLASLT_EPILOGUE_RELU_BIAS;
	const float *bias = d->epilogue == CUBLASLT_EPILOGUE_BIAS || d->epilogue == CUBLASLT_EPILOGUE_RELU_BIAS ? d->bias
														  : NULL;
	if ((d->epilogue == CUBLASLT_EPILOGUE_BIAS || d->epilogue == CUBLASLT_EPILOGUE_RELU_BIAS) && !bias)
		emu_fatal("cublasLtMatmul: a BIAS epilogue without CUBLASLT_MATMUL_DESC_BIAS_POINTER");
	uint64_t lda = a->ld, ldb = b->ld, ldc = c->ld, ldd = dl->ld;
	emu_stream_work(stream, [=]() {
		for (uint64_t j = 0; j < n; j++) {
			for (uint64_t i = 0; i < m; i++) {
				double acc = 0;
				for (uint64_t p = 0; p < k; p++) {
					float x = ta == CUBLAS_OP_N ? pa[i + p * lda] : pa[p + i * lda];
					float y = tb == CUBLAS_OP_N ? pb[p + j * ldb] : pb[j + p * ldb];
					acc += (double)round_mantissa(x, keep) * round_mantissa(y, keep);
				}
				double old = be == 0 ? 0.0 : (double)be * pc[i + j * ldc];
				/* The epilogue works on the fp32 result: bias along D's rows, then ReLU. */
				float v = (float)(al * acc + old);
				if (bias)
					v += bias[i];
				if (relu && !(v > 0))
					v = 0;
				pd[i + j * ldd] = v;
			}
		}
	}, "cublasLtMatmul");
	return CUBLAS_STATUS_SUCCESS;
}

/* ---- cuDNN convolutions ---------------------------------------------------------------- */

struct emu_dnn {
	cudaStream_t stream; /* cudnnSetStream's: calls run there, or are recorded while it captures */
};
struct emu_tensor_desc {
	cudnnDataType_t type;
	int n, c, h, w; /* filters: k, c, r, s */
};
struct emu_conv_desc {
	int ph, pw, sh, sw, dh, dw;
	cudnnMathType_t math;
};

cudnnStatus_t cudnnCreate(cudnnHandle_t *h)
{
	*h = (cudnnHandle_t)calloc(1, sizeof(struct emu_dnn));
	return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroy(cudnnHandle_t h)
{
	free(h);
	return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetStream(cudnnHandle_t h, cudaStream_t s)
{
	((struct emu_dnn *)h)->stream = s;
	return CUDNN_STATUS_SUCCESS;
}

const char *cudnnGetErrorString(cudnnStatus_t s)
{
	return s == CUDNN_STATUS_SUCCESS ? "CUDNN_STATUS_SUCCESS" : "CUDNN_STATUS_BAD_PARAM (emulated)";
}

size_t cudnnGetVersion(void)
{
	return 91900;
}

cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *d)
{
	*d = (cudnnTensorDescriptor_t)calloc(1, sizeof(struct emu_tensor_desc));
	return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t d)
{
	free(d);
	return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, cudnnTensorFormat_t, cudnnDataType_t t, int n,
					 int c, int h, int w)
{
	if (n < 1 || c < 1 || h < 1 || w < 1)
		return CUDNN_STATUS_BAD_PARAM;
	*d = {t, n, c, h, w};
	return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t *d)
{
	return cudnnCreateTensorDescriptor(d);
}

cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t d)
{
	return cudnnDestroyTensorDescriptor(d);
}

cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, cudnnDataType_t t, cudnnTensorFormat_t f, int k,
					 int c, int h, int w)
{
	return cudnnSetTensor4dDescriptor(d, f, t, k, c, h, w);
}

cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t *d)
{
	*d = (cudnnConvolutionDescriptor_t)calloc(1, sizeof(struct emu_conv_desc));
	return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t d)
{
	free(d);
	return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int pad_h, int pad_w, int u, int v,
					      int dil_h, int dil_w, cudnnConvolutionMode_t mode, cudnnDataType_t compute)
{
	if (mode != CUDNN_CROSS_CORRELATION || compute != CUDNN_DATA_FLOAT || u < 1 || v < 1 || dil_h < 1 || dil_w < 1)
		return CUDNN_STATUS_BAD_PARAM;
	d->ph = pad_h;
	d->pw = pad_w;
	d->sh = u;
	d->sw = v;
	d->dh = dil_h;
	d->dw = dil_w;
	return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t d, cudnnMathType_t m)
{
	d->math = m;
	return CUDNN_STATUS_SUCCESS;
}

/* x, w, y must agree: channels, output size, one data type. */
static bool conv_consistent(const struct emu_tensor_desc *x, const struct emu_tensor_desc *w,
			    const struct emu_tensor_desc *y, const struct emu_conv_desc *cd)
{
	int p = (x->h + 2 * cd->ph - cd->dh * (w->h - 1) - 1) / cd->sh + 1;
	int q = (x->w + 2 * cd->pw - cd->dw * (w->w - 1) - 1) / cd->sw + 1;
	return x->c == w->c && y->c == w->n && y->n == x->n && y->h == p && y->w == q && x->type == w->type &&
	       x->type == y->type;
}

template <typename P> static int emu_find(cudnnStatus_t ok, int requested, int *returned, P *perf)
{
	if (ok != CUDNN_STATUS_SUCCESS)
		return ok;
	/* A fast tensor-op result first (TF32 on fp32 data), then a plain FMA one. */
	memset(perf, 0, sizeof(P) * (size_t)(requested < 2 ? requested : 2));
	perf[0].algo = (decltype(perf[0].algo))1;
	perf[0].status = CUDNN_STATUS_SUCCESS;
	perf[0].time = 0.1f;
	perf[0].memory = EMU_TENSOR_OP_WORKSPACE;
	perf[0].mathType = CUDNN_TENSOR_OP_MATH;
	if (requested > 1) {
		perf[1].algo = (decltype(perf[1].algo))0;
		perf[1].status = CUDNN_STATUS_SUCCESS;
		perf[1].time = 0.2f;
		perf[1].memory = 0;
		perf[1].mathType = CUDNN_FMA_MATH;
	}
	*returned = requested < 2 ? requested : 2;
	return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnFindConvolutionForwardAlgorithmEx(cudnnHandle_t, cudnnTensorDescriptor_t xd, const void *,
						     cudnnFilterDescriptor_t wd, const void *, cudnnConvolutionDescriptor_t cd,
						     cudnnTensorDescriptor_t yd, void *, int requested, int *returned,
						     cudnnConvolutionFwdAlgoPerf_t *perf, void *, size_t)
{
	return (cudnnStatus_t)emu_find(conv_consistent(xd, wd, yd, cd) ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_BAD_PARAM,
				       requested, returned, perf);
}

cudnnStatus_t cudnnFindConvolutionBackwardDataAlgorithmEx(cudnnHandle_t, cudnnFilterDescriptor_t wd, const void *,
							  cudnnTensorDescriptor_t dyd, const void *,
							  cudnnConvolutionDescriptor_t cd, cudnnTensorDescriptor_t dxd,
							  void *, int requested, int *returned,
							  cudnnConvolutionBwdDataAlgoPerf_t *perf, void *, size_t)
{
	return (cudnnStatus_t)emu_find(conv_consistent(dxd, wd, dyd, cd) ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_BAD_PARAM,
				       requested, returned, perf);
}

cudnnStatus_t cudnnFindConvolutionBackwardFilterAlgorithmEx(cudnnHandle_t, cudnnTensorDescriptor_t xd, const void *,
							    cudnnTensorDescriptor_t dyd, const void *,
							    cudnnConvolutionDescriptor_t cd, cudnnFilterDescriptor_t dwd,
							    void *, int requested, int *returned,
							    cudnnConvolutionBwdFilterAlgoPerf_t *perf, void *, size_t)
{
	return (cudnnStatus_t)emu_find(conv_consistent(xd, dwd, dyd, cd) ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_BAD_PARAM,
				       requested, returned, perf);
}

static size_t algo_workspace(int algo)
{
	return algo == 1 ? EMU_TENSOR_OP_WORKSPACE : 0;
}

cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t, cudnnTensorDescriptor_t, cudnnFilterDescriptor_t,
						      cudnnConvolutionDescriptor_t, cudnnTensorDescriptor_t,
						      cudnnConvolutionFwdAlgo_t a, size_t *bytes)
{
	*bytes = algo_workspace(a);
	return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionBackwardDataWorkspaceSize(cudnnHandle_t, cudnnFilterDescriptor_t,
							   cudnnTensorDescriptor_t, cudnnConvolutionDescriptor_t,
							   cudnnTensorDescriptor_t, cudnnConvolutionBwdDataAlgo_t a,
							   size_t *bytes)
{
	*bytes = algo_workspace(a);
	return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnGetConvolutionBackwardFilterWorkspaceSize(cudnnHandle_t, cudnnTensorDescriptor_t,
							     cudnnTensorDescriptor_t, cudnnConvolutionDescriptor_t,
							     cudnnFilterDescriptor_t, cudnnConvolutionBwdFilterAlgo_t a,
							     size_t *bytes)
{
	*bytes = algo_workspace(a);
	return CUDNN_STATUS_SUCCESS;
}

static float load(const void *p, cudnnDataType_t t, int64_t i)
{
	if (t == CUDNN_DATA_FLOAT)
		return ((const float *)p)[i];
	if (t == CUDNN_DATA_BFLOAT16)
		return __bfloat162float(((const __nv_bfloat16 *)p)[i]);
	return __half2float(((const __half *)p)[i]);
}

static void store(void *p, cudnnDataType_t t, int64_t i, float v)
{
	if (t == CUDNN_DATA_FLOAT)
		((float *)p)[i] = v;
	else if (t == CUDNN_DATA_BFLOAT16)
		((__nv_bfloat16 *)p)[i] = __float2bfloat16_rn(v);
	else
		((__half *)p)[i] = __float2half_rn(v);
}

/* Check the workspace, then scribble on it as a real kernel would. */
static void use_workspace(int algo, void *ws, size_t bytes)
{
	size_t need = algo_workspace(algo);
	if (need > bytes || (need && !ws))
		emu_fatal("cuDNN call with a smaller workspace than its algorithm needs");
	if (need)
		memset(ws, 0xff, need);
}

/*
 * The one loop nest all three directions share: visit every (output
 * position, weight) pair with its input position, call f(xi, wi, yi).
 */
template <typename F> static void conv_pairs(const struct emu_tensor_desc *x, const struct emu_tensor_desc *w,
					     const struct emu_tensor_desc *y, const struct emu_conv_desc *cd, F f)
{
	for (int n = 0; n < y->n; n++)
		for (int k = 0; k < y->c; k++)
			for (int p = 0; p < y->h; p++)
				for (int q = 0; q < y->w; q++)
					for (int c = 0; c < x->c; c++)
						for (int r = 0; r < w->h; r++) {
							int hh = p * cd->sh - cd->ph + r * cd->dh;
							if (hh < 0 || hh >= x->h)
								continue;
							for (int s = 0; s < w->w; s++) {
								int ww = q * cd->sw - cd->pw + s * cd->dw;
								if (ww < 0 || ww >= x->w)
									continue;
								int64_t xi = (((int64_t)n * x->c + c) * x->h + hh) * x->w + ww;
								int64_t wi = (((int64_t)k * w->c + c) * w->h + r) * w->w + s;
								int64_t yi = (((int64_t)n * y->c + k) * y->h + p) * y->w + q;
								f(xi, wi, yi);
							}
						}
}

static int64_t count(const struct emu_tensor_desc *d)
{
	return (int64_t)d->n * d->c * d->h * d->w;
}

/* TF32 rounding of fp32 operands when a tensor-op algorithm runs on fp32 data. */
static int keep_bits(const struct emu_conv_desc *cd, cudnnDataType_t t)
{
	return t == CUDNN_DATA_FLOAT && cd->math != CUDNN_FMA_MATH ? 10 : 23;
}

/*
 * The three convolutions share one body: acc[out] += in1 * in2 over the
 * index pairs of the convolution, then out = alpha * acc + beta * out.
 * Descriptors and scalars are copied now (a GPU library reads them at the
 * call), the data is read when the work runs (now, or at graph replay).
 */
enum conv_dir { CONV_FWD, CONV_BWD_DATA, CONV_BWD_FILTER };

static cudnnStatus_t conv_call(cudnnHandle_t h, enum conv_dir dir, const void *alpha, const void *beta,
			       const struct emu_tensor_desc *xd, const void *x, const struct emu_tensor_desc *wd,
			       const void *w, const struct emu_tensor_desc *yd, const void *y, void *out, int algo,
			       void *ws, size_t ws_bytes, const struct emu_conv_desc *cd)
{
	if (!conv_consistent(xd, wd, yd, cd))
		return CUDNN_STATUS_BAD_PARAM;
	struct emu_tensor_desc X = *xd, W = *wd, Y = *yd;
	struct emu_conv_desc C = *cd;
	int keep = keep_bits(cd, xd->type);
	float al = *(const float *)alpha, be = *(const float *)beta;
	emu_stream_work(((struct emu_dnn *)h)->stream, [=]() {
		use_workspace(algo, ws, ws_bytes);
		const struct emu_tensor_desc *od = dir == CONV_FWD ? &Y : dir == CONV_BWD_DATA ? &X : &W;
		std::vector<double> acc((size_t)count(od), 0.0);
		conv_pairs(&X, &W, &Y, &C, [&](int64_t xi, int64_t wi, int64_t yi) {
			float xv = dir == CONV_BWD_DATA ? 0 : load(x, X.type, xi);
			float wv = dir == CONV_BWD_FILTER ? 0 : load(w, W.type, wi);
			float yv = dir == CONV_FWD ? 0 : load(y, Y.type, yi);
			if (dir == CONV_FWD)
				acc[yi] += (double)round_mantissa(xv, keep) * round_mantissa(wv, keep);
			else if (dir == CONV_BWD_DATA)
				acc[xi] += (double)round_mantissa(yv, keep) * round_mantissa(wv, keep);
			else
				acc[wi] += (double)round_mantissa(xv, keep) * round_mantissa(yv, keep);
		});
		for (int64_t i = 0; i < count(od); i++)
			store(out, od->type, i, (float)(al * acc[i] + (be == 0 ? 0.0 : be * load(out, od->type, i))));
	}, dir == CONV_FWD ? "cudnnConvolutionForward" : dir == CONV_BWD_DATA ? "cudnnConvolutionBackwardData"
									: "cudnnConvolutionBackwardFilter");
	return CUDNN_STATUS_SUCCESS;
}

cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t h, const void *alpha, cudnnTensorDescriptor_t xd, const void *x,
				      cudnnFilterDescriptor_t wd, const void *w, cudnnConvolutionDescriptor_t cd,
				      cudnnConvolutionFwdAlgo_t a, void *ws, size_t ws_bytes, const void *beta,
				      cudnnTensorDescriptor_t yd, void *y)
{
	return conv_call(h, CONV_FWD, alpha, beta, xd, x, wd, w, yd, NULL, y, a, ws, ws_bytes, cd);
}

cudnnStatus_t cudnnConvolutionBackwardData(cudnnHandle_t h, const void *alpha, cudnnFilterDescriptor_t wd,
					   const void *w, cudnnTensorDescriptor_t dyd, const void *dy,
					   cudnnConvolutionDescriptor_t cd, cudnnConvolutionBwdDataAlgo_t a, void *ws,
					   size_t ws_bytes, const void *beta, cudnnTensorDescriptor_t dxd, void *dx)
{
	return conv_call(h, CONV_BWD_DATA, alpha, beta, dxd, NULL, wd, w, dyd, dy, dx, a, ws, ws_bytes, cd);
}

cudnnStatus_t cudnnConvolutionBackwardFilter(cudnnHandle_t h, const void *alpha, cudnnTensorDescriptor_t xd,
					     const void *x, cudnnTensorDescriptor_t dyd, const void *dy,
					     cudnnConvolutionDescriptor_t cd, cudnnConvolutionBwdFilterAlgo_t a, void *ws,
					     size_t ws_bytes, const void *beta, cudnnFilterDescriptor_t dwd, void *dw)
{
	return conv_call(h, CONV_BWD_FILTER, alpha, beta, xd, x, dwd, NULL, dyd, dy, dw, a, ws, ws_bytes, cd);
}
