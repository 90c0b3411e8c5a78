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

static int load_cuda_module(char *err, size_t errlen)
{
	if (cuda_module.handle)
		return 0;
	char path[PATH_MAX];
	const char *env = getenv("TRAINBOOK_CUDA_LIB");
	if (env && *env) {
		snprintf(path, sizeof(path), "%s", env);
		if (access(path, R_OK) != 0) {
			tb_fmt(err, errlen, "TRAINBOOK_CUDA_LIB=%s not found", path);
			return -1;
		}
	} else {
		char exe[PATH_MAX];
		tb_self_exe(exe, sizeof exe);
		if (!tb_find_beside_exe(exe, cuda_module_places, path, sizeof path)) {
			tb_fmt(err, errlen,
			       "libtrainbook-cuda.so not found beside %s or in ../lib/trainbook/ "
			       "(trainbook was built without CUDA: install the CUDA toolkit and run make)",
			       *exe ? exe : "the trainbook binary");
			return -1;
		}
	}
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
