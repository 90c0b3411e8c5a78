/*
 * memest.c — the estimated peak memory of a run (see memest.h).
 *
 * The peak is the larger of two moments. Loading: the process, the data
 * set and what its reader holds besides (file text, parsed rows, the copy
 * a split makes). Training: the process, the data set, the model on every
 * replica, the loaders (two at once when an evaluation runs before the
 * last epoch: the training loader stays alive) and the host copies of a
 * checkpoint being written. The parts are the training moment's; when
 * loading is the larger, `loading` carries the difference, so the parts
 * always add up to the total.
 *
 * The process baselines below were measured on this project's build
 * machine (`trainbook worker` on a 64-sample synthetic set: RSS sampled
 * while it trains, and its peak from getrusage; tests/cli checks the whole
 * estimate against the examples):
 *   - a CPU worker with device cpu holds 8 MiB while it trains, and peaks
 *     at 14 MiB as it exits, when library destructors touch more of their
 *     pages (by then the data and the model are freed);
 *   - with device auto, 158 MiB and 213 MiB: `auto` loads
 *     libtrainbook-cuda.so to look for a GPU, and with it cuBLAS and cuDNN,
 *     whose pages stay mapped even when the run falls back to the CPU
 *     (CUDA 12, cuDNN 9).
 * So the baseline part is the running figure, raised to the exit figure
 * when everything else is smaller than the difference.
 * The CUDA context figures (host and device) could not be measured without
 * a GPU; they are what a CUDA 12 context with cuBLAS and cuDNN handles
 * typically takes on a Hopper card, and are labelled as such below.
 *
 * Threads: pure.
 */
#include "memest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memlimit.h"
#include "optim.h"
#include "precision.h"
#include "tb.h"

#define MIB ((int64_t)1 << 20)
#define MEMEST_PROCESS_CPU (8 * MIB)           /* measured, see the header: while training */
#define MEMEST_EXIT_CPU (14 * MIB)             /* ... and at exit */
#define MEMEST_CUDA_LIBRARIES (150 * MIB)      /* measured: auto minus cpu while training */
#define MEMEST_CUDA_LIBRARIES_EXIT (199 * MIB) /* ... and at exit */
#define MEMEST_CUDA_CONTEXT_HOST (256 * MIB)   /* not measured here: see the header */
#define MEMEST_CUDA_CONTEXT_DEVICE (512 * MIB) /* not measured here: see the header */
#define MEMEST_CUBLASLT_WORKSPACE (32 * MIB)   /* cuda_backend.cu's CUDA_LT_WORKSPACE */
#define MEMEST_GPU_DATA_MAX ((int64_t)4 << 30) /* gpu_step.c's GPU_DATA_MAX_BYTES */
/* train.c's loaders: batches buffered ahead (prefetch 4, as loader_options says). */
#define MEMEST_PREFETCH 4

static const char *const part_names[MEMEST_NPARTS] = {
	[MEMEST_BASELINE] = "baseline",       [MEMEST_CONTEXT] = "context",
	[MEMEST_PARAMETERS] = "parameters",   [MEMEST_GRADIENTS] = "gradients",
	[MEMEST_OPTIMIZER] = "optimizer",     [MEMEST_ACTIVATIONS] = "activations",
	[MEMEST_WORKSPACE] = "workspace",     [MEMEST_DATA] = "data",
	[MEMEST_DEVICE_DATA] = "device_data", [MEMEST_LOADER] = "loader",
	[MEMEST_CHECKPOINT] = "checkpoint",   [MEMEST_LOADING] = "loading",
};

const char *memest_part_name(enum memest_part p)
{
	return (unsigned)p < MEMEST_NPARTS ? part_names[p] : "?";
}

void memest_machine_this(struct memest_machine *out, int64_t budget)
{
	int64_t available;
	memset(out, 0, sizeof(*out));
	if (memlimit_machine(&out->host_total, &available) == 0)
		out->host_allowance = memlimit_allowance(out->host_total);
	out->host_allowance = memlimit_with_budget(out->host_allowance, budget);
}

/* What the run will be placed on: the device the spec names, `auto` resolved by the machine. */
static bool run_on_cuda(const struct spec *s, const struct memest_machine *mach)
{
	const char *dev = s->train.device;
	if (strncmp(dev, "cuda", 4) == 0)
		return true;
	return strcmp(dev, "auto") == 0 && mach && mach->gpus > 0;
}

static int cpu_threads(const struct spec *s)
{
	if (s->train.threads > 0)
		return s->train.threads;
	const char *omp = getenv("OMP_NUM_THREADS");
	int n = omp ? atoi(omp) : 0;
	if (n > 0)
		return n;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	return cores > 0 ? (int)cores : 1;
}

struct replica_cost {
	int64_t activations, scratch;
};

/* One replica's per-batch buffers (replica.c's open_replica, model_reserve) for `batch` samples. */
static struct replica_cost replica_cost(const struct model *m, const struct backend_target *t, int batch)
{
	struct layer_memory lm = {0};
	for (int i = 0; i < m->nlayers; i++)
		layer_memory(&m->layers[i], m->layers[i].need_dx, t, batch, &lm);
	int64_t sample = shape_numel(m->input);
	/* x, labels, dlogits, predictions, the loss/accuracy pair */
	lm.kept += (int64_t)batch * (sample * 4 + 4 + (int64_t)m->classes * 4 + 4) + 8;
	return (struct replica_cost){lm.kept, lm.scratch};
}

/* The top-level layer whose parameters cost the most (parameters, gradients, optimizer state). */
static void biggest_layer(const struct model *m, int nstate, struct memest *out)
{
	out->biggest_layer = -1;
	for (int i = 0; i < m->nlayers; i++) {
		int64_t bytes = m->layers[i].nparams * (int64_t)sizeof(float) * (2 + nstate);
		if (out->biggest_layer < 0 || bytes > out->biggest_layer_bytes) {
			out->biggest_layer = i;
			out->biggest_layer_bytes = bytes;
		}
	}
}

/* A loader's ring (loader.c loader_new): batch_size samples per slot, plus a sample per worker. */
static int64_t loader_ring(const struct spec *s, int64_t sample_floats)
{
	int64_t bs = s->data.batch_size, workers = TB_MAX(s->data.workers, 1);
	return (MEMEST_PREFETCH * bs + workers) * sample_floats * 4 + MEMEST_PREFETCH * bs * (4 + 8);
}

/*
 * Past 2^60 bytes (1 EiB) the exact sums below could overflow int64 — a
 * spec can ask for 2^31 samples per batch of a 4096×65535×65535 image — so
 * a run that large is estimated in floating point first, by the same parts
 * with generous factors, and reported capped: it is refused either way.
 */
#define MEMEST_CAP ((double)((int64_t)1 << 60))

struct rough {
	double activations;
	int batch;
};

static void rough_layer(const struct layer *l, int depth, void *ctx)
{
	(void)depth;
	struct rough *r = ctx;
	/* y, dx and what a kind keeps (masks, argmax, saved copies) are each at most an in or out per sample. */
	r->activations += 4.0 * 4.0 * r->batch * ((double)shape_numel(l->in) + (double)shape_numel(l->out));
}

/* True (and out filled, capped) when the run is beyond MEMEST_CAP. */
static bool too_large(const struct spec *s, const struct data_info *di, const struct model *m, int batch,
		      struct memest *out)
{
	struct rough r = {0, batch};
	model_visit(m, rough_layer, &r);
	double sample = (double)di->c * di->h * di->w;
	double parts[MEMEST_NPARTS] = {0};
	parts[MEMEST_PARAMETERS] = 4.0 * ((double)m->n_weights + (double)m->n_buffers) * TB_MAX(s->train.devices, 1);
	parts[MEMEST_GRADIENTS] = parts[MEMEST_OPTIMIZER] = 2 * parts[MEMEST_PARAMETERS];
	parts[MEMEST_ACTIVATIONS] = r.activations * TB_MAX(s->train.devices, 1);
	parts[MEMEST_DATA] = ((double)di->train_n + (double)di->test_n) * (sample * 4 + 4) * 3;
	parts[MEMEST_LOADER] = (double)batch * (sample + 1) * 4 * 16 + (double)di->classes * di->classes * 8 +
			       (double)di->train_n * 8 * 4;
	double total = 0;
	for (int p = 0; p < MEMEST_NPARTS; p++)
		total += parts[p];
	if (total < MEMEST_CAP)
		return false;
	for (int p = 0; p < MEMEST_NPARTS; p++) {
		out->part[p] = (int64_t)TB_MIN(parts[p], MEMEST_CAP);
		out->host += out->part[p];
	}
	out->total = out->host;
	out->biggest_layer = -1;
	return true;
}

void memest_compute(const struct spec *s, const struct data_info *di, const struct model *m,
		    const struct memest_machine *mach, struct memest *out)
{
	memset(out, 0, sizeof(*out));
	int64_t *part = out->part;
	out->cuda = run_on_cuda(s, mach);
	if (too_large(s, di, m, TB_MAX(s->data.batch_size, 1), out)) {
		out->cuda = false; /* all counted on the host: refused by any machine */
		return;
	}
	int replicas = TB_MAX(s->train.devices, 1), batch = TB_MAX(s->data.batch_size, 1);
	int threads = cpu_threads(s);
	struct backend_target t = {
		.cuda = out->cuda,
		.threads = TB_MAX(1, replicas > 1 ? threads / replicas : threads),
		.lowp = precision_kinds[s->train.precision_kind].half_operands,
	};
	int nstate = optim_state_count(&s->optimizer);
	int64_t weights = model_param_count(m) * 4, buffers = m->n_buffers * 4;

	/* The model on each replica: replica 0 holds the whole batch (it also evaluates), the others
	 * a shard. GPUs hold one replica each, so a GPU's share is replica 0's. */
	int shard = (int)(((int64_t)batch + replicas - 1) / replicas);
	int copies = out->cuda ? 1 : replicas;
	struct replica_cost first = replica_cost(m, &t, batch), rest = replica_cost(m, &t, shard);
	part[MEMEST_PARAMETERS] = copies * (weights + buffers);
	part[MEMEST_GRADIENTS] = copies * weights;
	part[MEMEST_OPTIMIZER] = copies * weights * nstate;
	part[MEMEST_ACTIVATIONS] = first.activations + (copies - 1) * rest.activations;
	/* One scratch per backend; on the CPU each replica has its own backend. */
	part[MEMEST_WORKSPACE] =
		first.scratch + (copies - 1) * rest.scratch + (out->cuda ? MEMEST_CUBLASLT_WORKSPACE : 0);
	biggest_layer(m, nstate, out);

	/* The data set as the loader stores it: u8 images or f32 rows, int32 labels. */
	int64_t sample = (int64_t)di->c * di->h * di->w;
	int64_t per_sample = sample * (di->storage == DATASET_U8 ? 1 : 4) + 4;
	int64_t n = di->train_n + di->test_n;
	int64_t val = s->data.validation > 0 ? TB_MAX((int64_t)((double)di->train_n * s->data.validation), 1) : 0;
	int64_t train_n = di->train_n - val;
	part[MEMEST_DATA] = n * per_sample;
	bool gpu_data = out->cuda && train_n * (per_sample - 4) <= MEMEST_GPU_DATA_MAX;
	if (gpu_data) /* the values and labels, and each epoch's order there and on the host */
		part[MEMEST_DEVICE_DATA] = train_n * per_sample + (s->data.shuffle ? train_n * 8 : 0);

	/* Loaders: the training one (its epoch orders too) unless the set is on the GPU; an
	 * evaluation one, at the same time as the training one when an epoch ends before the last. */
	int64_t steps_per_epoch = (train_n + batch - 1) / batch;
	int64_t total_steps = steps_per_epoch * TB_MAX(s->train.epochs, 1);
	if (s->train.max_steps > 0 && s->train.max_steps < total_steps)
		total_steps = s->train.max_steps;
	int64_t orders = 0;
	if (s->data.shuffle && steps_per_epoch > 0)
		orders = TB_MIN(MEMEST_PREFETCH, (MEMEST_PREFETCH - 1) / steps_per_epoch + 2) * train_n * 8;
	int64_t train_loader = gpu_data ? (s->data.shuffle ? train_n * 8 : 0) : loader_ring(s, sample) + orders;
	int64_t eval = loader_ring(s, sample) + (int64_t)di->classes * di->classes * 8 + (int64_t)batch * 4;
	bool eval_early = total_steps > steps_per_epoch && (s->train.eval_every > 0 || val > 0);
	part[MEMEST_LOADER] = eval_early ? train_loader + eval : TB_MAX(train_loader, eval);

	/* checkpoint.c downloads the optimizer state, frees it, then the parameters. */
	part[MEMEST_CHECKPOINT] = TB_MAX(weights * nstate, weights + buffers);

	int64_t process = MEMEST_PROCESS_CPU;
	bool module = out->cuda || (strcmp(s->train.device, "auto") == 0 && backend_cuda_module_present());
	part[MEMEST_BASELINE] =
		process + (module ? MEMEST_CUDA_LIBRARIES : 0) + (out->cuda ? MEMEST_CUDA_CONTEXT_HOST : 0);
	int64_t at_exit = MEMEST_EXIT_CPU + (module ? MEMEST_CUDA_LIBRARIES_EXIT : 0) +
			  (out->cuda ? MEMEST_CUDA_CONTEXT_HOST : 0);

	/* Loading happens before the backend opens: the CPU process, the data, the reader's
	 * buffers with a carved test split's copy (inside the reader), then the validation
	 * split's copy (after it). A split copies the whole and keeps a permutation and marks. */
	int64_t test_split = di->test_carved ? n * per_sample + n * 9 : 0;
	int64_t val_split = val ? di->train_n * per_sample + di->train_n * 9 : 0;
	int64_t loading = process + part[MEMEST_DATA] + TB_MAX(di->reader_bytes + test_split, val_split);

	if (out->cuda) {
		enum memest_part device_parts[] = {MEMEST_CONTEXT,    MEMEST_PARAMETERS,  MEMEST_GRADIENTS,
						   MEMEST_OPTIMIZER,  MEMEST_ACTIVATIONS, MEMEST_WORKSPACE,
						   MEMEST_DEVICE_DATA};
		for (size_t i = 0; i < TB_ARRAY_LEN(device_parts); i++)
			out->on_device[device_parts[i]] = true;
		part[MEMEST_CONTEXT] = MEMEST_CUDA_CONTEXT_DEVICE;
	}
	for (int p = 0; p < MEMEST_NPARTS; p++) {
		if (out->on_device[p])
			out->device += part[p];
		else
			out->host += part[p];
	}
	if (loading > out->host) {
		part[MEMEST_LOADING] = loading - out->host;
		out->host = loading;
	}
	if (at_exit > out->host) {
		part[MEMEST_BASELINE] += at_exit - out->host;
		out->host = at_exit;
	}
	out->total = out->host + out->device;
}

int memest_spec(const struct spec *s, const struct memest_machine *mach, struct memest *out, char *err, size_t errlen)
{
	struct data_info di;
	if (data_probe(&s->data, &di, err, errlen) < 0)
		return -1;
	struct shape input = di.h == 1 && di.w == 1 ? shape_vec(di.c) : shape_chw(di.c, di.h, di.w);
	struct spec_errors *errs = tb_xcalloc(1, sizeof(*errs));
	struct model *m = model_build(&s->model, input, di.classes, NULL, errs);
	if (!m) {
		tb_fmt(err, errlen, "%d:%d: %s", errs->list[0].pos.line, errs->list[0].pos.column,
		       errs->list[0].message);
		free(errs);
		return -1;
	}
	free(errs);
	memest_compute(s, &di, m, mach, out);
	model_free(m);
	return 0;
}

/* The parts of one kind (host or device) from largest to smallest, at most n, as "a 1 GiB, b 2 MiB". */
static void largest_parts(const struct memest *e, bool device, int n, char *buf, size_t len)
{
	bool used[MEMEST_NPARTS] = {false};
	size_t off = 0;
	buf[0] = 0;
	for (int k = 0; k < n; k++) {
		int best = -1;
		for (int p = 0; p < MEMEST_NPARTS; p++)
			if (!used[p] && e->on_device[p] == device && e->part[p] > 0 &&
			    (best < 0 || e->part[p] > e->part[best]))
				best = p;
		if (best < 0)
			break;
		used[best] = true;
		char size[32];
		int w = snprintf(buf + off, len - off, "%s%s %s", k ? ", " : "", part_names[best],
				 memlimit_format(e->part[best], size, sizeof(size)));
		if (w < 0 || (size_t)w >= len - off)
			break;
		off += (size_t)w;
	}
}

int memest_fits(const struct memest *e, const struct memest_machine *mach, char *msg, size_t len)
{
	char needs[32], has[32], may[32], parts[256];
	if (mach && mach->host_allowance > 0 && e->host > mach->host_allowance) {
		largest_parts(e, false, 3, parts, sizeof(parts));
		tb_fmt(msg, len, "not enough memory: the run needs ~%s (%s), this machine has %s (a run may use %s)",
		       memlimit_format(e->host, needs, sizeof(needs)), parts,
		       memlimit_format(mach->host_total ? mach->host_total : mach->host_allowance, has, sizeof(has)),
		       memlimit_format(mach->host_allowance, may, sizeof(may)));
		return -1;
	}
	if (e->cuda && mach && mach->gpu_memory > 0 && e->device > mach->gpu_memory) {
		largest_parts(e, true, 3, parts, sizeof(parts));
		tb_fmt(msg, len, "not enough GPU memory: the run needs ~%s on each GPU (%s), the GPU has %s",
		       memlimit_format(e->device, needs, sizeof(needs)), parts,
		       memlimit_format(mach->gpu_memory, has, sizeof(has)));
		return -1;
	}
	return 0;
}

void memest_summary(const struct memest *e, int n, char *buf, size_t len)
{
	char total[32], parts[256] = "", device_parts[256] = "";
	largest_parts(e, false, n, parts, sizeof(parts));
	if (!e->cuda) {
		tb_fmt(buf, len, "%s (%s)", memlimit_format(e->total, total, sizeof(total)), parts);
		return;
	}
	char host[32], device[32];
	largest_parts(e, true, n, device_parts, sizeof(device_parts));
	tb_fmt(buf, len, "%s: %s on each GPU (%s) and %s on the host (%s)",
	       memlimit_format(e->total, total, sizeof(total)), memlimit_format(e->device, device, sizeof(device)),
	       device_parts, memlimit_format(e->host, host, sizeof(host)), parts);
}
