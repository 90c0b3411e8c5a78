/*
 * data_cifar.c — CIFAR-10 in its "binary version": data_batch_1.bin ..
 * data_batch_5.bin (train) and test_batch.bin (test), each a run of
 * 3073-byte records (one label byte, then 1024 red, 1024 green and 1024 blue
 * bytes of a 32×32 image, row-major), which is already the NCHW layout the
 * engine stores. Class names come from batches.meta.txt when present.
 *
 * What it is not: a reader for the Python pickle version or CIFAR-100.
 * A file whose size is not a whole number of records, or a label ≥ 10, is
 * an error naming the file; so is any of the six batches missing.
 *
 * Threads: caller's thread only.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data_internal.h"
#include "tb.h"

#define CIFAR_SIDE 32
#define CIFAR_CHANNELS 3
#define CIFAR_PIXELS (CIFAR_CHANNELS * CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR_RECORD (1 + CIFAR_PIXELS)
#define CIFAR_CLASSES 10
#define CIFAR_TRAIN_BATCHES 5
/* Records read per fread: ~3 MB, a tenth of a batch file. */
#define CIFAR_CHUNK_RECORDS 1024

static const char *const cifar_default_names[CIFAR_CLASSES] = {
	"airplane", "automobile", "bird", "cat", "deer",
	"dog",      "frog",       "horse", "ship", "truck",
};

static const char *const cifar_train_files[CIFAR_TRAIN_BATCHES] = {
	"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
	"data_batch_4.bin", "data_batch_5.bin",
};

static const char *const cifar_test_file = "test_batch.bin";

#define CIFAR_DEFAULT_DIR "/usr/share/datasets/cifar10"
#define CIFAR_HOW_TO_GET                                                                 \
	"download the CIFAR-10 binary version (cifar-10-binary.tar.gz), unpack it and set " \
	"data.path to its cifar-10-batches-bin folder"

/*
 * The folder holding the batches: data.path (or the default), or its
 * cifar-10-batches-bin subfolder, which is what the archive unpacks to, so
 * pointing data.path at the unpack location also works.
 */
static void cifar_dir(const struct spec_data *spec, char *dir, size_t len)
{
	const char *base = spec->path[0] ? spec->path : CIFAR_DEFAULT_DIR;
	char probe[DATA_PATH_MAX];
	if (data_join(probe, sizeof(probe), base, cifar_train_files[0]) == 0 &&
	    !data_is_file(probe) &&
	    data_join(dir, len, base, "cifar-10-batches-bin") == 0 && data_is_dir(dir))
		return;
	size_t n = strlen(base) < len ? strlen(base) : len - 1;
	memcpy(dir, base, n);
	dir[n] = 0;
}

/* Size of one batch file in records, after checking it is a whole, non-zero
 * number of them. */
static int cifar_records(const char *path, int64_t *records, char *err, size_t errlen)
{
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return data_fail(err, errlen, "cifar10: %s not found (%s)", path, CIFAR_HOW_TO_GET);
	if (st.st_size == 0 || st.st_size % CIFAR_RECORD != 0)
		return data_fail(err, errlen,
				 "%s: truncated or not a CIFAR-10 binary batch: %lld bytes is not a "
				 "whole number of %d-byte records (1 label byte + %d pixel bytes)",
				 path, (long long)st.st_size, CIFAR_RECORD, CIFAR_PIXELS);
	*records = st.st_size / CIFAR_RECORD;
	return 0;
}

/* Read `records` records of one file into d starting at sample `first`. */
static int cifar_read_batch(const char *path, int64_t records, struct dataset *d, int64_t first,
			    uint8_t *chunk, const volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return data_fail(err, errlen, "%s: cannot open", path);
	int64_t done = 0;
	while (done < records) {
		if (data_stopped(stop, err, errlen)) {
			fclose(f);
			return -1;
		}
		int64_t want = records - done;
		if (want > CIFAR_CHUNK_RECORDS)
			want = CIFAR_CHUNK_RECORDS;
		size_t got = fread(chunk, CIFAR_RECORD, (size_t)want, f);
		if ((int64_t)got != want) {
			fclose(f);
			/* The size was checked a moment ago; the file shrank
			 * or could not be read. */
			return data_fail(err, errlen, "%s: truncated: expected %lld bytes, got %lld",
					 path, (long long)(records * CIFAR_RECORD),
					 (long long)((done + (int64_t)got) * CIFAR_RECORD));
		}
		for (int64_t r = 0; r < want; r++) {
			const uint8_t *rec = chunk + r * CIFAR_RECORD;
			int64_t i = first + done + r;
			if (rec[0] >= CIFAR_CLASSES) {
				fclose(f);
				return data_fail(err, errlen,
						 "%s: label %u of record %lld is out of range 0..%d",
						 path, rec[0], (long long)(done + r), CIFAR_CLASSES - 1);
			}
			d->labels[i] = rec[0];
			memcpy(d->u8 + i * CIFAR_PIXELS, rec + 1, CIFAR_PIXELS);
		}
		done += want;
	}
	fclose(f);
	return 0;
}

/* Load the listed batch files, concatenated, into one split. */
static int cifar_load_split(const char *dir, const char *const *files, int nfiles,
			    const char *split, const volatile sig_atomic_t *stop, struct dataset *d, char *err,
			    size_t errlen)
{
	char path[DATA_PATH_MAX];
	int64_t records[CIFAR_TRAIN_BATCHES] = {0}, total = 0;
	uint8_t *chunk = NULL;
	memset(d, 0, sizeof(*d));
	for (int i = 0; i < nfiles; i++) {
		data_join(path, sizeof(path), dir, files[i]);
		if (cifar_records(path, &records[i], err, errlen))
			return -1;
		total += records[i];
	}
	char name[SPEC_NAME_MAX];
	snprintf(name, sizeof(name), "cifar10/%s", split);
	if (data_dataset_alloc(d, name, DATASET_U8, total, CIFAR_CHANNELS, CIFAR_SIDE, CIFAR_SIDE,
			       CIFAR_CLASSES, dir, err, errlen))
		return -1;
	chunk = tb_xmalloc((size_t)CIFAR_CHUNK_RECORDS * CIFAR_RECORD);
	int64_t first = 0;
	for (int i = 0; i < nfiles; i++) {
		data_join(path, sizeof(path), dir, files[i]);
		if (cifar_read_batch(path, records[i], d, first, chunk, stop, err, errlen))
			goto fail;
		first += records[i];
	}
	free(chunk);
	return 0;
fail:
	free(chunk);
	dataset_free(d);
	return -1;
}

/*
 * Class names from batches.meta.txt (one per line, as shipped with the
 * binary version). Anything other than at least ten non-empty lines falls
 * back to the standard names rather than failing: the names are labels for
 * people, not data the run depends on.
 */
static char **cifar_class_names(const char *dir)
{
	char path[DATA_PATH_MAX];
	data_join(path, sizeof(path), dir, "batches.meta.txt");
	char *text = NULL;
	size_t len = 0;
	const char *names[CIFAR_CLASSES];
	int count = 0;
	if (tb_read_file(path, &text, &len) == 0) {
		char *save = NULL;
		for (char *line = strtok_r(text, "\r\n", &save); line && count < CIFAR_CLASSES;
		     line = strtok_r(NULL, "\r\n", &save)) {
			while (isspace((unsigned char)*line))
				line++;
			char *end = line + strlen(line);
			while (end > line && isspace((unsigned char)end[-1]))
				*--end = 0;
			if (*line)
				names[count++] = line;
		}
	}
	char **out = data_class_names_copy(count == CIFAR_CLASSES ? names : cifar_default_names,
					   CIFAR_CLASSES);
	free(text);
	return out;
}

int data_cifar_load(const struct spec_data *spec, const volatile sig_atomic_t *stop,
		    struct data_splits *out, char *err, size_t errlen)
{
	char dir[DATA_PATH_MAX];
	cifar_dir(spec, dir, sizeof(dir));
	if (cifar_load_split(dir, cifar_train_files, CIFAR_TRAIN_BATCHES, "train", stop, &out->train, err,
			     errlen) ||
	    cifar_load_split(dir, &cifar_test_file, 1, "test", stop, &out->test, err, errlen))
		return -1;
	out->train.class_names = cifar_class_names(dir);
	out->test.class_names = cifar_class_names(dir);
	return 0;
}

int data_cifar_probe(const struct spec_data *spec, struct data_info *out, char *err, size_t errlen)
{
	char dir[DATA_PATH_MAX], path[DATA_PATH_MAX];
	int64_t records = 0, train = 0;
	cifar_dir(spec, dir, sizeof(dir));
	/* Sizes are a stat each: cheap enough to check all six files, which
	 * catches a partial download while the user is still typing. */
	for (int i = 0; i <= CIFAR_TRAIN_BATCHES; i++) {
		data_join(path, sizeof(path), dir,
			  i < CIFAR_TRAIN_BATCHES ? cifar_train_files[i] : cifar_test_file);
		if (cifar_records(path, &records, err, errlen))
			return -1;
		train += i < CIFAR_TRAIN_BATCHES ? records : 0;
	}
	*out = (struct data_info){
		.c = CIFAR_CHANNELS, .h = CIFAR_SIDE, .w = CIFAR_SIDE, .classes = CIFAR_CLASSES,
		.storage = DATASET_U8, .train_n = train, .test_n = records,
		.reader_bytes = (int64_t)CIFAR_CHUNK_RECORDS * CIFAR_RECORD,
	};
	return 0;
}
