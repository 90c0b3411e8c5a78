/*
 * memest.h — the estimated peak memory of a run, from its spec alone.
 *
 * What it is: the sum, part by part, of what a worker will hold at its
 * busiest — the process itself, the model's parameters, gradients and
 * optimizer state, what each layer keeps for backward at the batch size
 * (layer.h's `memory` slot), the backend's scratch, the data set as the
 * loader stores it, the loader's prefetched batches, the host copies a
 * checkpoint is written from, and what the data readers hold only while
 * they load — for the CPU or a CUDA device. It is what `trainbook check`
 * prints, what POST /api/validate answers, what refuses a run that cannot
 * fit (check.c, the worker at start) and what admission and GPU packing
 * will use (DESIGN.md, "Classroom and cluster"). tests/cli checks it
 * against the measured peak RSS of the examples (±25%).
 * What it is not: a measurement, or a limit (memlimit.h).
 *
 * Threads: pure; any thread.
 */
#ifndef TB_MEMEST_H
#define TB_MEMEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "data.h"
#include "model.h"
#include "spec.h"

enum memest_part {
	MEMEST_BASELINE,   /* the worker process: code, libraries, threads */
	MEMEST_CONTEXT,    /* CUDA: the context and the cuBLAS/cuDNN handles, on the GPU */
	MEMEST_PARAMETERS, /* weights and buffers (running statistics) */
	MEMEST_GRADIENTS,
	MEMEST_OPTIMIZER,   /* the optimizer's state buffers (its row's nstate): momentum, Adam's moments, ... */
	MEMEST_ACTIVATIONS, /* what each layer keeps for backward, input gradients, the batch on the device */
	MEMEST_WORKSPACE,   /* the backend's scratch: im2col, Winograd, packing (CPU); cuDNN, cuBLASLt (CUDA) */
	MEMEST_DATA,        /* the data set in memory: train, validation, test */
	MEMEST_DEVICE_DATA, /* CUDA: the training set copied to the GPU */
	MEMEST_LOADER,      /* prefetched batches, epoch orders, evaluation's confusion matrix */
	MEMEST_CHECKPOINT,  /* host copies of parameters and optimizer state while a checkpoint is written */
	MEMEST_LOADING,     /* held only while the data loads (file text, split copies), beyond the rest */
	MEMEST_NPARTS,
};

/* The machine a run is checked against. */
struct memest_machine {
	int64_t host_total;     /* MemTotal, bytes; 0 = unknown */
	int64_t host_allowance; /* what one run may use (memlimit_allowance, or a smaller worker budget); 0 = no check */
	int gpus;               /* GPUs there are (device auto means CUDA when > 0) */
	int64_t gpu_memory;     /* the smallest GPU's memory, bytes; 0 = unknown: no GPU check */
};

struct memest {
	int64_t part[MEMEST_NPARTS];   /* bytes */
	bool on_device[MEMEST_NPARTS]; /* the part lives in GPU memory (CUDA runs) */
	bool cuda;                     /* estimated for a CUDA device; else the CPU */
	int64_t total;                 /* the peak: every part */
	int64_t host, device;          /* the peak in host memory and in each GPU's memory */
	int64_t biggest_layer_bytes;   /* what the costliest top-level layer adds (parameters, their */
	int biggest_layer;             /* gradients and state, its buffers), and its index, for errors */
};

/* "parameters", "device_data", …: the JSON keys and the printed names. */
const char *memest_part_name(enum memest_part p);

/* The machine this process runs on: MemTotal and the allowance (no more than `budget`
 * when that is not 0, memlimit_with_budget); no GPU is assumed. */
void memest_machine_this(struct memest_machine *out, int64_t budget);

/*
 * Estimate a run of spec `s` with data `di` (data_probe) and model `m`
 * (model_build, with or without a backend) on machine `mach` (NULL: the
 * CPU unless the spec names cuda).
 */
void memest_compute(const struct spec *s, const struct data_info *di, const struct model *m,
		    const struct memest_machine *mach, struct memest *out);

/*
 * Probe the data, build the model's shapes and estimate, for a worker
 * before it loads anything. -1 with err when the spec's data or model is
 * not valid (the caller reports it as a spec error would be).
 */
int memest_spec(const struct spec *s, const struct memest_machine *mach, struct memest *out, char *err, size_t errlen);

/*
 * Does the estimate fit the machine? 0, or -1 with a sentence in msg:
 * "not enough memory: the run needs ~7.6 TiB (optimizer 3.8 TiB, gradients
 * 1.9 TiB, parameters 1.9 TiB), this machine has 23.5 GiB (a run may use
 * 21.2 GiB)", or the same for a GPU.
 */
int memest_fits(const struct memest *e, const struct memest_machine *mach, char *msg, size_t len);

/* "412 MiB (parameters 1.2 MiB, …)": the total and the largest `n` parts. */
void memest_summary(const struct memest *e, int n, char *buf, size_t len);

#endif
