/*
 * backend.c — choosing and opening a backend by device name.
 *
 * The CUDA backend is a separate shared object (libtrainbook-cuda.so)
 * loaded with dlopen only when a run asks for a GPU, so the CPU path and
 * the server never need CUDA libraries installed. It is looked for beside
 * the running binary (the build tree), in ../lib/trainbook/ from it (an
 * installed prefix: `make install`), or at $TRAINBOOK_CUDA_LIB.
 *
 * Threads: called once per run (or per replica) before training starts.
 */
#include "backend.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend_ext.h"
#include "collective.h"
#include "precision.h"
#include "tb.h"

typedef struct backend *(*cuda_new_fn)(int device, int precision, char *err, size_t errlen);
typedef int (*cuda_count_fn)(char *err, size_t errlen);
typedef int (*nccl_id_fn)(void *id, char *err, size_t errlen);
typedef int (*nccl_open_fn)(struct backend **bes, int n, int rank_base, int world, const void *id,
			    struct collective **out, char *err, size_t errlen);

/* The loaded module; dlopen'ed once per process and never closed (backends point into it). */
static struct {
	void *handle;
	cuda_new_fn backend_new;
	cuda_count_fn device_count;
	nccl_id_fn nccl_unique_id;     /* may be NULL: built without NCCL support */
	nccl_open_fn nccl_open;
} cuda_module;

/* Where the module is looked for beside the running binary: the build tree, then an installed prefix. */
static const char *const cuda_module_places[] = {"libtrainbook-cuda.so", "../lib/trainbook/libtrainbook-cuda.so",
						  NULL};

/* $TRAINBOOK_CUDA_LIB, or the first of cuda_module_places that exists; false (and err) when none does. */
static bool cuda_module_path(char *path, size_t len, char *err, size_t errlen)
{
	const char *env = getenv("TRAINBOOK_CUDA_LIB");
	if (env && *env) {
		snprintf(path, len, "%s", env);
		if (access(path, R_OK) == 0)
			return true;
		tb_fmt(err, errlen, "TRAINBOOK_CUDA_LIB=%s not found", path);
		return false;
	}
	char exe[PATH_MAX];
	tb_self_exe(exe, sizeof exe);
	if (tb_find_beside_exe(exe, cuda_module_places, path, len))
		return true;
	tb_fmt(err, errlen,
	       "libtrainbook-cuda.so not found beside %s or in ../lib/trainbook/ "
	       "(trainbook was built without CUDA: install the CUDA toolkit and run make)",
	       *exe ? exe : "the trainbook binary");
	return false;
}

bool backend_cuda_module_present(void)
{
	char path[PATH_MAX], err[8];
	return cuda_module_path(path, sizeof path, err, sizeof err);
}

static int load_cuda_module(char *err, size_t errlen)
{
	if (cuda_module.handle)
		return 0;
	char path[PATH_MAX];
	if (!cuda_module_path(path, sizeof path, err, errlen))
		return -1;
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		tb_fmt(err, errlen, "cannot load %s: %s", path, dlerror());
		return -1;
	}
	cuda_module.backend_new = (cuda_new_fn)dlsym(h, "tb_cuda_backend_new");
	cuda_module.device_count = (cuda_count_fn)dlsym(h, "tb_cuda_device_count");
	cuda_module.nccl_unique_id = (nccl_id_fn)dlsym(h, "tb_cuda_nccl_unique_id");
	cuda_module.nccl_open = (nccl_open_fn)dlsym(h, "tb_cuda_nccl_open");
	if (!cuda_module.backend_new || !cuda_module.device_count) {
		tb_fmt(err, errlen, "%s does not export tb_cuda_backend_new/tb_cuda_device_count", path);
		dlclose(h);
		return -1;
	}
	cuda_module.handle = h;
	return 0;
}

static struct backend *open_cpu(int precision, int threads, char *note, size_t notelen)
{
	if (precision != PRECISION_FP32)
		tb_fmt(note, notelen, "the CPU computes in fp32 (precision %s applies to GPUs only)",
		       precision_kinds[precision].spec.name);
	return backend_cpu_new(threads);
}

struct backend *backend_open(const char *device, int precision, int cpu_threads, char *note,
			     size_t notelen, char *err, size_t errlen)
{
	if (note && notelen)
		note[0] = 0;
	TB_ASSERT(precision >= 0 && precision < PRECISION_KINDS);
	if (!device || !*device || strcmp(device, "cpu") == 0)
		return open_cpu(precision, cpu_threads, note, notelen);
	bool is_auto = strcmp(device, "auto") == 0;
	int index = 0;
	if (!is_auto) {
		if (strncmp(device, "cuda", 4) != 0 || (device[4] && (device[4] != ':' || sscanf(device + 5, "%d", &index) != 1))) {
			tb_fmt(err, errlen, "unknown device '%s' (expected auto, cpu, cuda or cuda:N)", device);
			return NULL;
		}
	}
	char why[512];
	if (load_cuda_module(why, sizeof(why)) < 0)
		goto no_gpu;
	int count = cuda_module.device_count(why, sizeof(why));
	if (count <= 0) {
		if (count == 0)
			tb_fmt(why, sizeof(why), "no CUDA device found");
		goto no_gpu;
	}
	if (index < 0 || index >= count) {
		tb_fmt(err, errlen, "device cuda:%d does not exist (this machine has %d GPU%s)", index, count,
		       count == 1 ? "" : "s");
		return NULL;
	}
	struct backend *be = cuda_module.backend_new(index, precision, why, sizeof(why));
	if (be)
		return be;
no_gpu:
	if (is_auto) {
		tb_fmt(note, notelen, "running on the CPU: %s", why);
		return open_cpu(PRECISION_FP32, cpu_threads, NULL, 0);
	}
	tb_fmt(err, errlen, "device %s is not usable: %s", device, why);
	return NULL;
}

/*
 * The CUDA backend's convolution scratch (cuda_conv.cu) is cuDNN's
 * workspace for the algorithms Find chose, then, in bf16/fp16, 16-bit
 * copies of x, w and y. Which algorithms Find picks is only known on the
 * GPU, so cuDNN's part is estimated as the larger of the fp32 input and
 * output (what the implicit-GEMM and FFT algorithms that win on large
 * layers ask for), capped where cuda_conv.cu caps tuning (1 GiB).
 */
#define CUDA_CONV_TUNE_MAX ((int64_t)1 << 30)

static int64_t align256(int64_t bytes)
{
	return (bytes + 255) / 256 * 256;
}

size_t backend_conv2d_scratch(const struct backend_target *t, const struct conv_shape *cs)
{
	if (!t->cuda)
		return backend_cpu_conv2d_scratch(cs, t->threads);
	int64_t x = (int64_t)cs->n * cs->c * cs->h * cs->w, w = (int64_t)cs->k * cs->c * cs->r * cs->s;
	int64_t y = (int64_t)cs->n * cs->k * cs->p * cs->q;
	int64_t bytes = align256(TB_MIN(TB_MAX(x, y) * (int64_t)sizeof(float), CUDA_CONV_TUNE_MAX));
	if (t->lowp)
		bytes += align256(x * 2) + align256(w * 2) + align256(y * 2);
	return (size_t)bytes;
}

/* cuBLASLt works in its fixed workspace (memest counts it once); the CPU packs operands in its scratch. */
size_t backend_linear_scratch(const struct backend_target *t, int batch, int in, int out, bool need_dx)
{
	if (t->cuda)
		return 0;
	size_t forward = backend_cpu_gemm_scratch(batch, out, in, t->threads);
	size_t weight_grad = backend_cpu_gemm_scratch(out, in, batch, t->threads);
	size_t input_grad = need_dx ? backend_cpu_gemm_scratch(batch, in, out, t->threads) : 0;
	return TB_MAX(forward, TB_MAX(weight_grad, input_grad));
}

void backend_destroy(struct backend *be)
{
	if (be)
		be->destroy(be);
}

void backend_device_name(struct backend *be, char *buf, size_t len)
{
	be->describe(be, buf, len);
}

size_t backend_peak_memory(struct backend *be)
{
	return be->ext && be->ext->peak_memory ? be->ext->peak_memory(be) : 0;
}

size_t backend_device_memory(struct backend *be)
{
	return be->ext && be->ext->memory_total ? be->ext->memory_total(be) : 0;
}

int collective_nccl_unique_id(void *id, char *err, size_t errlen)
{
	if (load_cuda_module(err, errlen) < 0)
		return -1;
	if (!cuda_module.nccl_unique_id) {
		tb_fmt(err, errlen, "libtrainbook-cuda.so was built without the NCCL collective");
		return -1;
	}
	return cuda_module.nccl_unique_id(id, err, errlen);
}

int collective_nccl_open(struct backend **bes, int n, int rank_base, int world, const void *id,
			 struct collective **out, char *err, size_t errlen)
{
	if (load_cuda_module(err, errlen) < 0)
		return -1;
	if (!cuda_module.nccl_open) {
		tb_fmt(err, errlen, "libtrainbook-cuda.so was built without the NCCL collective");
		return -1;
	}
	return cuda_module.nccl_open(bes, n, rank_base, world, id, out, err, errlen);
}
