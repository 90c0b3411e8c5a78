/*
 * test_sysmon.c — /proc parsing and the no-GPU system sample
 * (server/sysmon.c, server/gpumon.c). This machine has no NVIDIA driver,
 * so the GPU path is checked for its plain "no GPU" answer.
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "server/gpumon.h"
#include "server/sysmon.h"

static void proc_parsing(void **state)
{
	(void)state;
	uint64_t busy, all;
	assert_int_equal(sysmon_parse_stat("cpu  10 0 5 80 5 0 0 0 0 0\ncpu0 1 2 3 4\n", &busy, &all), 0);
	assert_int_equal(all, 100);
	assert_int_equal(busy, 15);
	assert_int_equal(sysmon_parse_stat("intr 1 2 3", &busy, &all), -1);
}

static int samples;
static void on_sample(void *ctx, const char *json)
{
	(void)ctx;
	assert_non_null(strstr(json, "\"memory\""));
	samples++;
}

static void sample_without_gpu(void **state)
{
	(void)state;
	struct sysmon_hooks hooks = {.on_sample = on_sample};
	struct sysmon *m = sysmon_new(&hooks);
	char *text = sysmon_json(m);
	json_t *j = json_loads(text, 0, NULL);
	assert_non_null(j);
	char note[160];
	struct gpumon *g = gpumon_open(note, sizeof note);
	if (!g) {
		assert_int_equal(sysmon_gpu_count(m), 0);
		assert_int_equal(json_array_size(json_object_get(j, "gpus")), 0);
		const char *shown = json_string_value(json_object_get(j, "gpu_note"));
		assert_string_equal(shown, note);
		/* Without the driver's NVML the page says so in words, not with a library's file name. */
		void *nvml = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
		if (!nvml)
			assert_string_equal(note, "no NVIDIA driver found");
		else
			dlclose(nvml);
	} else {
		assert_true(json_array_size(json_object_get(j, "gpus")) > 0);
		gpumon_close(g);
	}
	/* One reading cannot give a utilisation: null, not a made-up number. */
	assert_true(json_is_null(json_object_get(json_object_get(j, "cpu"), "utilization")));
	assert_true(json_integer_value(json_object_get(json_object_get(j, "memory"), "total")) > 0);
	assert_true(json_integer_value(json_object_get(json_object_get(j, "cpu"), "cores")) > 0);
	json_decref(j);
	free(text);
	assert_int_equal(samples, 0); /* the first sample is taken before anyone listens */
	assert_int_equal(sysmon_start(m), 0);
	for (int i = 0; i < 40 && samples < 2; i++)
		usleep(100000);
	assert_true(samples >= 2);
	text = sysmon_json(m);
	j = json_loads(text, 0, NULL);
	json_t *u = json_object_get(json_object_get(j, "cpu"), "utilization");
	assert_true(json_is_number(u));
	assert_true(json_number_value(u) >= 0 && json_number_value(u) <= 100);
	json_decref(j);
	free(text);
	sysmon_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(proc_parsing), cmocka_unit_test(sample_without_gpu)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
