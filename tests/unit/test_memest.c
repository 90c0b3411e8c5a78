/*
 * test_memest.c — the memory estimate and the memory budget.
 *
 * The estimate's layer part is checked against the truth: models are
 * reserved on a CPU backend whose alloc counts bytes, and one training step
 * grows the backend's shared scratch, so every kind's `memory` slot must
 * agree with what its `reserve` and its calls really take. The run-level
 * parts are checked for the rules they follow (optimizer state per
 * optimizer, data per storage, replicas), sizes print and parse, a run
 * that cannot fit is refused with the estimate and the limit, and an
 * allocation over the budget reaches the memory policy instead of malloc.
 * The whole estimate against measured peak RSS is tests/cli's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend.h"
#include "cpu/cpu_internal.h"
#include "memest.h"
#include "memlimit.h"
#include "model.h"
#include "rng.h"
#include "spec.h"
#include "tb.h"

/* ---- a CPU backend that counts what alloc hands out --------------------- */

static struct backend *cpu;     /* the real one */
static struct backend counting; /* its table with alloc wrapped */
static int64_t allocated;       /* bytes asked of counting.alloc */

static void *count_alloc(struct backend *be, size_t bytes)
{
	(void)be;
	allocated += (int64_t)bytes;
	return cpu->alloc(cpu, bytes);
}

static int setup(void **state)
{
	(void)state;
	cpu = backend_cpu_new(2);
	counting = *cpu;
	counting.alloc = count_alloc;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	cpu->destroy(cpu);
	return 0;
}

static struct spec *parse(const char *text)
{
	struct spec *s = calloc(1, sizeof(*s));
	struct spec_errors errs;
	memset(&errs, 0, sizeof(errs));
	assert_non_null(s);
	if (spec_parse(text, strlen(text), "t.yaml", NULL, 0, s, &errs) != 0) {
		free(s);
		fail_msg("spec does not parse: %s", errs.count ? errs.list[0].message : "?");
	}
	return s;
}

static void free_spec(struct spec *s)
{
	spec_free(s);
	free(s);
}

static void fill_random(struct backend *be, float *dev, int64_t n, uint64_t seed)
{
	float *host = tb_xmalloc((size_t)n * sizeof(float));
	struct rng r;
	rng_seed(&r, seed);
	for (int64_t i = 0; i < n; i++)
		host[i] = rng_uniform(&r) - 0.5f;
	be->upload(be, dev, host, (size_t)n * sizeof(float));
	free(host);
}

/*
 * Reserve `model` for `batch` samples on the counting backend and run one
 * forward and backward: the bytes reserve allocated must be the layers'
 * `kept`, and the CPU scratch the largest `scratch` any layer reported.
 */
static void expect_layers_agree(const char *model, struct shape in, int batch)
{
	char text[1024];
	snprintf(text, sizeof(text), "data: {dataset: synthetic}\nmodel: %s\n", model);
	struct spec *s = parse(text);
	struct spec_errors errs;
	memset(&errs, 0, sizeof(errs));
	struct model *m = model_build(&s->model, in, 10, &counting, &errs);
	if (!m)
		fail_msg("%s: %s", model, errs.count ? errs.list[0].message : "?");
	model_init(m, 1);
	struct backend_target t = {.cuda = false, .threads = 2};
	struct layer_memory want = {0};
	for (int i = 0; i < m->nlayers; i++)
		layer_memory(&m->layers[i], m->layers[i].need_dx, &t, batch, &want);
	allocated = 0;
	model_reserve(m, batch);
	if (allocated != want.kept)
		fail_msg("%s: reserve allocated %lld bytes, the memory slots say %lld", model, (long long)allocated,
			 (long long)want.kept);

	int64_t sample = shape_numel(in);
	float *x = cpu->alloc(cpu, (size_t)(batch * sample) * sizeof(float));
	float *dy = cpu->alloc(cpu, (size_t)batch * 10 * sizeof(float));
	fill_random(cpu, x, batch * sample, 3);
	fill_random(cpu, dy, batch * 10, 4);
	model_forward(m, x, batch, true);
	model_backward(m, x, dy, batch);
	const struct cpu_backend *impl = cpu->impl;
	int64_t scratch = (int64_t)impl->scratch_floats * (int64_t)sizeof(float);
	if (scratch != want.scratch)
		fail_msg("%s: the CPU scratch grew to %lld bytes, the memory slots say %lld", model, (long long)scratch,
			 (long long)want.scratch);
	cpu->free(cpu, x);
	cpu->free(cpu, dy);
	model_free(m);
	free_spec(s);
	/* The next model starts from an empty scratch, as a new worker's backend would. */
	cpu->destroy(cpu);
	setup(NULL);
}

static void layer_memory_matches_reserve(void **state)
{
	(void)state;
	/* Dense kinds: linear products big enough for the packed kernel, dropout's mask,
	 * batchnorm1d, and the leading flatten (a view). */
	expect_layers_agree("[flatten, {linear: 256}, batchnorm1d, relu, {dropout: 0.5}, {linear: 128}, gelu, "
			    "{linear: 10}]",
			    shape_chw(1, 16, 16), 64);
	/* Convolutions (im2col and Winograd shapes), batchnorm2d with and without a dx to
	 * pass on, max pooling's argmax, average pooling. */
	expect_layers_agree(
		"[{conv2d: {out: 8, padding: 1, bias: false}}, batchnorm2d, relu, {maxpool2d: 2}, "
		"{conv2d: {out: 16, kernel: 5, stride: 2, padding: 2}}, {avgpool2d: 2}, flatten, {linear: 10}]",
		shape_chw(3, 16, 16), 16);
	/* Residual blocks: children (a projection shortcut in the second), their dx rule, dsum. */
	expect_layers_agree("[{conv2d: {out: 8, padding: 1}}, {basic_block: 8}, {basic_block: {out: 16, stride: 2}}, "
			    "global_avgpool, flatten, {linear: 10}]",
			    shape_chw(3, 12, 12), 8);
	/* A block as the first layer: its convolutions need no input gradient. */
	expect_layers_agree("[{basic_block: {out: 8, stride: 2}}, global_avgpool, flatten, {linear: 10}]",
			    shape_chw(4, 8, 8), 4);
}

/* ---- run-level parts ---------------------------------------------------- */

static void estimate(const char *text, struct memest *out)
{
	struct spec *s = parse(text);
	char err[256] = "";
	struct memest_machine cpu_only = {0};
	if (memest_spec(s, &cpu_only, out, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	free_spec(s);
}

#define MLP_DATA                                                                                                       \
	"data: {dataset: synthetic, shape: [1, 8, 8], classes: 10, train_size: 1000, test_size: 200, batch_size: 50}\n"
#define MLP_MODEL "model: [flatten, {linear: 100}, relu, {linear: 10}]\n"
#define MLP_WEIGHTS ((64 * 100 + 100 + 100 * 10 + 10) * 4)

static void parts_follow_the_spec(void **state)
{
	(void)state;
	struct memest sgd, momentum, adam, two, val;
	estimate(MLP_DATA MLP_MODEL "optimizer: {name: sgd, lr: 0.1}\ntrain: {device: cpu}\n", &sgd);
	estimate(MLP_DATA MLP_MODEL "optimizer: {name: sgd, lr: 0.1, momentum: 0.9}\ntrain: {device: cpu}\n",
		 &momentum);
	estimate(MLP_DATA MLP_MODEL "optimizer: {name: adamw}\ntrain: {device: cpu}\n", &adam);
	assert_false(sgd.cuda);
	assert_int_equal(sgd.part[MEMEST_PARAMETERS], MLP_WEIGHTS);
	assert_int_equal(sgd.part[MEMEST_GRADIENTS], MLP_WEIGHTS);
	assert_int_equal(sgd.part[MEMEST_OPTIMIZER], 0);
	assert_int_equal(momentum.part[MEMEST_OPTIMIZER], MLP_WEIGHTS);
	assert_int_equal(adam.part[MEMEST_OPTIMIZER], 2 * MLP_WEIGHTS);
	/* f32 samples of 64 features and an int32 label, train and test. */
	assert_int_equal(sgd.part[MEMEST_DATA], 1200 * (64 * 4 + 4));
	int64_t sum = 0;
	for (int p = 0; p < MEMEST_NPARTS; p++)
		sum += sgd.part[p];
	assert_int_equal(sum, sgd.total);
	assert_int_equal(sgd.total, sgd.host);
	assert_int_equal(sgd.device, 0);

	/* Two CPU replicas: two models, the second with half the batch. */
	estimate(MLP_DATA MLP_MODEL "optimizer: {name: sgd, lr: 0.1}\ntrain: {device: cpu, devices: 2}\n", &two);
	assert_int_equal(two.part[MEMEST_PARAMETERS], 2 * MLP_WEIGHTS);
	assert_true(two.part[MEMEST_ACTIVATIONS] > sgd.part[MEMEST_ACTIVATIONS] &&
		    two.part[MEMEST_ACTIVATIONS] < 2 * sgd.part[MEMEST_ACTIVATIONS]);

	/* A validation split copies the train set while it splits: with 20 MB of data, loading
	 * is the peak, and the estimate holds the data twice. */
	estimate(
		"data: {dataset: synthetic, shape: [1, 8, 8], train_size: 80000, test_size: 10, validation: 0.1}\n" MLP_MODEL
		"train: {device: cpu}\n",
		&val);
	assert_true(val.part[MEMEST_LOADING] > 0);
	assert_true(val.total >= 2 * (int64_t)80000 * (64 * 4 + 4));
}

static void cuda_parts_live_on_the_device(void **state)
{
	(void)state;
	struct spec *s = parse(MLP_DATA "model: [flatten, {linear: 100}, relu, {linear: 10}]\n"
					"train: {device: auto, precision: bf16}\n");
	struct memest_machine gpu = {.host_total = (int64_t)64 << 30,
				     .host_allowance = (int64_t)60 << 30,
				     .gpus = 1,
				     .gpu_memory = (int64_t)80 << 30};
	struct memest e;
	char msg[512];
	assert_int_equal(memest_spec(s, &gpu, &e, msg, sizeof(msg)), 0);
	assert_true(e.cuda); /* auto with a GPU there */
	assert_true(e.on_device[MEMEST_PARAMETERS] && e.on_device[MEMEST_ACTIVATIONS] && !e.on_device[MEMEST_DATA]);
	assert_true(e.part[MEMEST_DEVICE_DATA] >= 1000 * (64 * 4 + 4)); /* the training set, on the GPU */
	assert_int_equal(e.host + e.device, e.total);
	int64_t sum = 0, on_gpu = 0;
	for (int p = 0; p < MEMEST_NPARTS; p++) {
		sum += e.part[p];
		on_gpu += e.on_device[p] ? e.part[p] : 0;
	}
	assert_int_equal(sum, e.total);
	assert_int_equal(on_gpu, e.device);
	assert_true(e.on_device[MEMEST_CONTEXT] && e.part[MEMEST_CONTEXT] > 0);
	assert_int_equal(memest_fits(&e, &gpu, msg, sizeof(msg)), 0);
	gpu.gpu_memory = (int64_t)256 << 20;
	assert_int_equal(memest_fits(&e, &gpu, msg, sizeof(msg)), -1);
	if (!strstr(msg, "not enough GPU memory: the run needs ~") || !strstr(msg, "the GPU has 256 MiB"))
		fail_msg("%s", msg);
	free_spec(s);
}

/* Estimate s (then free it) for `mach`: it must be refused with a message holding both texts. */
static struct memest expect_refused(struct spec *s, const struct memest_machine *mach, const char *text1,
				    const char *text2)
{
	struct memest e;
	char msg[512];
	assert_int_equal(memest_spec(s, mach, &e, msg, sizeof(msg)), 0);
	assert_int_equal(memest_fits(&e, mach, msg, sizeof(msg)), -1);
	if (!strstr(msg, text1) || !strstr(msg, text2))
		fail_msg("%s", msg);
	free_spec(s);
	return e;
}

static void too_big_is_refused_with_the_numbers(void **state)
{
	(void)state;
	struct spec *s = parse("data: {dataset: synthetic, shape: [1, 4, 4]}\n"
			       "model: [flatten, {linear: 16000000}, {linear: 16000000}, {linear: 10}]\n"
			       "train: {device: cpu}\n");
	struct memest_machine small = {.host_total = (int64_t)24 << 30,
				       .host_allowance = memlimit_allowance((int64_t)24 << 30)};
	struct memest e = expect_refused(s, &small, "not enough memory: the run needs ~5.5 PiB (optimizer 1.8 PiB",
					 "this machine has 24.0 GiB (a run may use 21.6 GiB)");
	assert_int_equal(e.biggest_layer, 2); /* 16e6 × 16e6 weights */
}

/* A run past 2^60 bytes is estimated without integer overflow (UBSan would stop the test) and refused. */
static void absurd_sizes_do_not_overflow(void **state)
{
	(void)state;
	/* Every size within its spec bound (batch ≤ 2^20, a synthetic set ≤ 2^31 values), yet the
	 * convolution's output is 2^20 samples × 2^16 channels × 2^29 pixels: 2^67 bytes. */
	struct spec *s = parse("data: {dataset: synthetic, shape: [1, 32768, 16384], train_size: 1, test_size: 1,\n"
			       "       batch_size: 1048576}\n"
			       "model: [{conv2d: {out: 65536, kernel: 3, padding: 1}}, global_avgpool, flatten,\n"
			       "        {linear: 10}]\n"
			       "train: {device: cpu}\n");
	struct memest_machine big = {.host_total = (int64_t)1 << 50, .host_allowance = (int64_t)1 << 49};
	struct memest e = expect_refused(s, &big, " EiB", " EiB");
	assert_true(e.total >= (int64_t)1 << 60);
}

/* ---- sizes and the budget ------------------------------------------------ */

static void sizes_print_and_parse(void **state)
{
	(void)state;
	char buf[32];
	assert_string_equal(memlimit_format(1000, buf, sizeof(buf)), "1000 bytes");
	assert_string_equal(memlimit_format((int64_t)412 << 20, buf, sizeof(buf)), "412 MiB");
	assert_string_equal(memlimit_format((int64_t)1258291, buf, sizeof(buf)), "1.2 MiB");
	assert_string_equal(memlimit_format((int64_t)8356000000000, buf, sizeof(buf)), "7.6 TiB");
	int64_t v;
	assert_int_equal(memlimit_parse_bytes("2G", &v), 0);
	assert_int_equal(v, (int64_t)2 << 30);
	assert_int_equal(memlimit_parse_bytes("512MiB", &v), 0);
	assert_int_equal(v, (int64_t)512 << 20);
	assert_int_equal(memlimit_parse_bytes("65536", &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(memlimit_parse_bytes("12X", &v), -1);
	assert_int_equal(memlimit_parse_bytes("-1G", &v), -1);
	assert_int_equal(memlimit_parse_bytes("", &v), -1);
	int64_t total, avail;
	assert_int_equal(memlimit_parse_meminfo("MemTotal:       1000 kB\nMemFree: 10 kB\nMemAvailable:    250 kB\n",
						&total, &avail),
			 0);
	assert_int_equal(total, 1024000);
	assert_int_equal(avail, 256000);
	assert_int_equal(memlimit_parse_meminfo("MemTotal: 5 kB\n", &total, &avail), -1);
	/* 10% margin, at least 512 MiB. */
	assert_int_equal(memlimit_allowance((int64_t)100 << 30), (int64_t)90 << 30);
	assert_int_equal(memlimit_allowance((int64_t)2 << 30), ((int64_t)2 << 30) - ((int64_t)512 << 20));
	assert_int_equal(memlimit_with_budget((int64_t)8 << 30, (int64_t)1 << 30), (int64_t)1 << 30);
	assert_int_equal(memlimit_with_budget((int64_t)8 << 30, (int64_t)16 << 30), (int64_t)8 << 30);
	assert_int_equal(memlimit_with_budget((int64_t)8 << 30, 0), (int64_t)8 << 30);
}

/* A run placed beside others: its placement and a quarter more (at least 128 MiB), within the allowance. */
static void packed_runs_may_use_their_placement_and_a_quarter(void **state)
{
	(void)state;
	const int64_t gib = (int64_t)1 << 30, mib = (int64_t)1 << 20;
	assert_int_equal(memlimit_packed(20 * gib, 4 * gib), 5 * gib);
	assert_int_equal(memlimit_packed(20 * gib, 100 * mib), 228 * mib);
	assert_int_equal(memlimit_packed(20 * gib, 18 * gib), 20 * gib);
	assert_int_equal(memlimit_packed(20 * gib, 0), 20 * gib);
	assert_int_equal(memlimit_packed(0, 4 * gib), 5 * gib);
	assert_int_equal(memlimit_packed(20 * gib, INT64_MAX - 1), 20 * gib);
}

static void on_fail_exit_42(size_t n)
{
	char reason[400];
	memlimit_reason(reason, sizeof(reason), n);
	/* The parent reads the reason from the pipe on fd 1. */
	ssize_t w = write(STDOUT_FILENO, reason, strlen(reason));
	(void)w;
	_exit(42);
}

/*
 * In a child: a 32 MiB budget, then a 64 MiB tb_xmalloc. The allocator must
 * ask the budget, and the refusal reach the policy's fail (exit 42) with
 * the run's needs in the reason; below the budget it allocates.
 */
static void over_budget_reaches_the_policy(void **state)
{
	(void)state;
	int pipefd[2];
	assert_int_equal(pipe(pipefd), 0);
	fflush(stdout);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		memlimit_set((int64_t)32 << 20, (int64_t)20 << 20);
		tb_set_memory_policy(&(struct tb_memory_policy){.admit = memlimit_admit, .fail = on_fail_exit_42});
		free(tb_xmalloc((size_t)4 << 20)); /* fits */
		void *p = tb_xmalloc((size_t)64 << 20);
		(void)p;
		_exit(0); /* not reached when the budget holds */
	}
	close(pipefd[1]);
	char reason[512] = "";
	ssize_t n = read(pipefd[0], reason, sizeof(reason) - 1);
	close(pipefd[0]);
	reason[n > 0 ? n : 0] = 0;
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 42);
	if (!strstr(reason, "out of memory: the run needs ~64.") || !strstr(reason, "this worker may use 32.0 MiB"))
		fail_msg("reason: %s", reason);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(layer_memory_matches_reserve, setup, teardown),
		cmocka_unit_test(parts_follow_the_spec),
		cmocka_unit_test(cuda_parts_live_on_the_device),
		cmocka_unit_test(too_big_is_refused_with_the_numbers),
		cmocka_unit_test(absurd_sizes_do_not_overflow),
		cmocka_unit_test(sizes_print_and_parse),
		cmocka_unit_test(packed_runs_may_use_their_placement_and_a_quarter),
		cmocka_unit_test(over_budget_reaches_the_policy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
