/*
 * data_idx.c — MNIST and Fashion-MNIST from IDX files (LeCun's format: a
 * 4-byte magic 00 00 <dtype> <ndims>, big-endian uint32 dimensions, then
 * the raw data), gzip-compressed or plain.
 *
 * What it is: the four-file layout (train-images-idx3-ubyte, train-labels-
 * idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte), each with or
 * without .gz, read through zlib's gzread, which passes plain files through
 * unchanged. Every header field, count and length is checked; a short file
 * is reported with the byte count it should have had.
 * What it is not: a general IDX reader; only unsigned-byte data (dtype 0x08)
 * with 3-dimensional images and 1-dimensional labels is accepted.
 *
 * Threads: caller's thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "data_internal.h"
#include "tb.h"

#define IDX_DTYPE_U8 0x08
#define IDX_CLASSES 10
/* gzread takes an unsigned int count; reading in 1 GiB pieces keeps every
 * call far from that limit whatever the file size. */
#define IDX_READ_CHUNK (1u << 30)
/* deflate's best case codes 258 bytes in 2 bits: no gzip file holds more
 * than 1032 bytes of data per byte of its own. */
#define IDX_MAX_INFLATE 1032u
/* The payload is read in pieces this size with a look at the stop flag
 * between them (a piece takes tens of milliseconds to inflate). */
#define IDX_STOP_PIECE ((uint64_t)64 << 20)
/* What zlib holds while reading: gzbuffer's input buffer, twice that for
 * output, and the inflate window and state. */
#define IDX_GZ_BYTES ((int64_t)3 << 17 | (int64_t)1 << 16)

static const char *const idx_fashion_names[IDX_CLASSES] = {
	"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot",
};

static const char *const idx_digit_names[IDX_CLASSES] = {
	"0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
};

/* What differs between the two IDX data sets: where they live by default,
 * what to tell a user who does not have them, and the class names. */
struct idx_source {
	const char *dataset;
	const char *default_dir;
	const char *how_to_get;
	const char *const *class_names;
};

const struct idx_source data_idx_fashion_mnist = {
	"fashion-mnist", "/usr/share/datasets/fashion-mnist",
	"install the Debian package dataset-fashion-mnist, or set data.path to a folder "
	"holding the four Fashion-MNIST IDX files",
	idx_fashion_names,
};

const struct idx_source data_idx_mnist = {
	"mnist", "/usr/share/datasets/mnist",
	"put the four MNIST IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
	"t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) in /usr/share/datasets/mnist, "
	"or set data.path",
	idx_digit_names,
};

/* The file stems of one split; both the official names and the dotted
 * variant some mirrors use ("train-images.idx3-ubyte") are accepted. */
struct idx_split_files {
	const char *images[2];
	const char *labels[2];
};

static const struct idx_split_files idx_train_files = {
	{"train-images-idx3-ubyte", "train-images.idx3-ubyte"},
	{"train-labels-idx1-ubyte", "train-labels.idx1-ubyte"},
};

static const struct idx_split_files idx_test_files = {
	{"t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"},
	{"t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"},
};

/* The source of the IDX set `spec` names: its data set row's. */
static const struct idx_source *idx_source_of(const struct spec_data *spec)
{
	const struct idx_source *src = data_kind(spec)->source;
	TB_ASSERT(src); /* only the IDX rows point here, and they carry one */
	return src;
}

static const char *idx_dir(const struct spec_data *spec, const struct idx_source *src)
{
	return spec->path[0] ? spec->path : src->default_dir;
}

/*
 * Find one file by trying each stem with .gz and then plain. On failure
 * the message names the first (canonical, compressed) candidate, the one
 * the user is most likely to go looking for.
 */
static int idx_find(const struct idx_source *src, const char *dir, const char *const stems[2],
		    char *path, size_t pathlen, char *err, size_t errlen)
{
	static const char *const suffixes[] = {".gz", ""};
	for (int s = 0; s < 2; s++) {
		for (int k = 0; k < 2; k++) {
			snprintf(path, pathlen, "%s/%s%s", dir, stems[s], suffixes[k]);
			if (data_is_file(path))
				return 0;
		}
	}
	return data_fail(err, errlen, "%s: %s/%s.gz not found (%s)", src->dataset, dir, stems[0],
			 src->how_to_get);
}

/* Read up to n bytes; returns the count read (short only at end of data or
 * on error, which the caller tells apart with gzerror). */
static uint64_t idx_read(gzFile gz, void *buf, uint64_t n)
{
	uint64_t done = 0;
	while (done < n) {
		uint64_t want = n - done;
		unsigned chunk = want > IDX_READ_CHUNK ? IDX_READ_CHUNK : (unsigned)want;
		int got = gzread(gz, (char *)buf + done, chunk);
		if (got <= 0)
			break;
		done += (uint64_t)got;
	}
	return done;
}

/* The message for a file that ended early: the byte counts, plus zlib's
 * own words when the gzip stream itself is damaged rather than cut. */
static int idx_short(gzFile gz, const char *path, uint64_t expected, uint64_t got, char *err,
		     size_t errlen)
{
	int zerr = Z_OK;
	const char *zmsg = gzerror(gz, &zerr);
	if (zerr != Z_OK && zerr != Z_BUF_ERROR && zmsg && zmsg[0])
		return data_fail(err, errlen, "%s: corrupt gzip data (%s) after %llu bytes", path,
				 zmsg, (unsigned long long)got);
	return data_fail(err, errlen, "%s: truncated: expected %llu bytes, got %llu", path,
			 (unsigned long long)expected, (unsigned long long)got);
}

/*
 * Open an IDX file and check its header: unsigned bytes, `ndims`
 * dimensions, none zero. Fills dims and, in *header, the header length.
 */
static gzFile idx_open(const char *path, int ndims, uint32_t *dims, uint64_t *header, char *err,
		       size_t errlen)
{
	gzFile gz = gzopen(path, "rb");
	if (!gz) {
		data_fail(err, errlen, "%s: cannot open", path);
		return NULL;
	}
	gzbuffer(gz, 1u << 17);
	uint8_t head[4 + 4 * 3];
	uint64_t want = 4 + 4 * (uint64_t)ndims;
	uint64_t got = idx_read(gz, head, 4);
	if (got < 4) {
		idx_short(gz, path, want, got, err, errlen);
		goto fail;
	}
	if (head[0] != 0 || head[1] != 0) {
		data_fail(err, errlen,
			  "%s: not an IDX file (magic bytes %02x %02x %02x %02x, expected 00 00 08 %02x)",
			  path, head[0], head[1], head[2], head[3], ndims);
		goto fail;
	}
	if (head[2] != IDX_DTYPE_U8) {
		data_fail(err, errlen,
			  "%s: unsupported IDX data type 0x%02x (only unsigned bytes, 0x08)", path,
			  head[2]);
		goto fail;
	}
	if (head[3] != ndims) {
		data_fail(err, errlen, "%s: expected %d IDX dimensions (%s), got %d", path, ndims,
			  ndims == 3 ? "count, rows, columns" : "count", head[3]);
		goto fail;
	}
	got += idx_read(gz, head + 4, 4 * (uint64_t)ndims);
	if (got < want) {
		idx_short(gz, path, want, got, err, errlen);
		goto fail;
	}
	for (int i = 0; i < ndims; i++) {
		const uint8_t *p = head + 4 + 4 * i;
		dims[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	}
	for (int i = 1; i < ndims; i++) {
		if (dims[i] == 0 || dims[i] > DATA_MAX_SIDE) {
			data_fail(err, errlen, "%s: unsupported image size %u x %u", path, dims[1],
				  dims[2]);
			goto fail;
		}
	}
	*header = want;
	return gz;
fail:
	gzclose(gz);
	return NULL;
}

/*
 * Can the file hold the `total` bytes its header announces? The header is
 * read before the data, and allocating for a count that the file is far
 * too small to hold would let a 20-byte file ask for gigabytes (found by
 * tests/fuzz/idx). Plain files must be that long; gzip ones at least
 * 1/IDX_MAX_INFLATE of it. Call after the header is read (gzdirect needs a
 * read to know).
 */
static int idx_check_size(gzFile gz, const char *path, uint64_t total, char *err, size_t errlen)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return 0; /* the read that follows reports it */
	uint64_t size = (uint64_t)st.st_size;
	if (gzdirect(gz) && total > size)
		return data_fail(err, errlen, "%s: truncated: expected %llu bytes, got %llu", path,
				 (unsigned long long)total, (unsigned long long)size);
	if (!gzdirect(gz) && total / IDX_MAX_INFLATE > size)
		return data_fail(err, errlen,
				 "%s: truncated: expected %llu bytes, more than a gzip file of %llu "
				 "bytes can hold",
				 path, (unsigned long long)total, (unsigned long long)size);
	return 0;
}

/* Read exactly `n` payload bytes after the header, then insist the file
 * ends there: extra bytes mean the header and the data disagree. */
static int idx_read_payload(gzFile gz, const char *path, uint64_t header, void *buf, uint64_t n,
			    const volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	uint64_t got = 0;
	while (got < n) {
		if (data_stopped(stop, err, errlen))
			return -1;
		uint64_t piece = n - got < IDX_STOP_PIECE ? n - got : IDX_STOP_PIECE;
		uint64_t read = idx_read(gz, (char *)buf + got, piece);
		got += read;
		if (read < piece)
			break;
	}
	if (got < n)
		return idx_short(gz, path, header + n, header + got, err, errlen);
	uint8_t extra;
	if (idx_read(gz, &extra, 1) != 0)
		return data_fail(err, errlen,
				 "%s: longer than its header says (expected %llu bytes in all)",
				 path, (unsigned long long)(header + n));
	return 0;
}

static int idx_load_split(const struct idx_source *src, const char *dir,
			  const struct idx_split_files *files, const char *split,
			  const volatile sig_atomic_t *stop, struct dataset *d, char *err, size_t errlen)
{
	char images_path[DATA_PATH_MAX], labels_path[DATA_PATH_MAX];
	gzFile gz = NULL;
	uint8_t *raw = NULL; /* labels as stored (bytes), widened to int32 below */
	uint32_t idims[3], ldims[1];
	uint64_t header;
	memset(d, 0, sizeof(*d));
	if (idx_find(src, dir, files->images, images_path, sizeof(images_path), err, errlen) ||
	    idx_find(src, dir, files->labels, labels_path, sizeof(labels_path), err, errlen))
		return -1;

	gz = idx_open(images_path, 3, idims, &header, err, errlen);
	if (!gz)
		return -1;
	char name[SPEC_NAME_MAX];
	snprintf(name, sizeof(name), "%.40s/%s", src->dataset, split);
	if (idx_check_size(gz, images_path, header + (uint64_t)idims[0] * idims[1] * idims[2], err,
			   errlen))
		goto fail;
	if (data_dataset_alloc(d, name, DATASET_U8, idims[0], 1, (int)idims[1], (int)idims[2],
			       IDX_CLASSES, images_path, err, errlen))
		goto fail;
	if (idx_read_payload(gz, images_path, header,
			     d->u8, (uint64_t)idims[0] * idims[1] * idims[2], stop, err, errlen))
		goto fail;
	gzclose(gz);

	gz = idx_open(labels_path, 1, ldims, &header, err, errlen);
	if (!gz)
		goto fail;
	if (ldims[0] != idims[0]) {
		data_fail(err, errlen, "%s has %u labels but %s has %u images", labels_path,
			  ldims[0], images_path, idims[0]);
		goto fail;
	}
	if (idx_check_size(gz, labels_path, header + ldims[0], err, errlen))
		goto fail;
	raw = tb_xmalloc(d->n ? (size_t)d->n : 1);
	if (idx_read_payload(gz, labels_path, header, raw, ldims[0], stop, err, errlen))
		goto fail;
	gzclose(gz);
	gz = NULL;
	for (int64_t i = 0; i < d->n; i++) {
		if (raw[i] >= IDX_CLASSES) {
			data_fail(err, errlen, "%s: label %u of sample %lld is out of range 0..%d",
				  labels_path, raw[i], (long long)i, IDX_CLASSES - 1);
			goto fail;
		}
		d->labels[i] = raw[i];
	}
	free(raw);
	d->class_names = data_class_names_copy(src->class_names, IDX_CLASSES);
	return 0;
fail:
	free(raw);
	if (gz)
		gzclose(gz);
	dataset_free(d);
	return -1;
}

int data_idx_load(const struct spec_data *spec, const volatile sig_atomic_t *stop,
		  struct data_splits *out, char *err, size_t errlen)
{
	const struct idx_source *src = idx_source_of(spec);
	const char *dir = idx_dir(spec, src);
	if (idx_load_split(src, dir, &idx_train_files, "train", stop, &out->train, err, errlen) ||
	    idx_load_split(src, dir, &idx_test_files, "test", stop, &out->test, err, errlen))
		return -1;
	if (out->test.h != out->train.h || out->test.w != out->train.w)
		return data_fail(err, errlen, "%s: test images are %d x %d but train images are %d x %d",
				 src->dataset, out->test.h, out->test.w, out->train.h, out->train.w);
	return 0;
}

/* The image count of one IDX images file, from its header. */
static int idx_count(const char *path, uint32_t *dims, char *err, size_t errlen)
{
	uint64_t header;
	gzFile gz = idx_open(path, 3, dims, &header, err, errlen);
	if (!gz)
		return -1;
	gzclose(gz);
	return 0;
}

int data_idx_probe(const struct spec_data *spec, struct data_info *out, char *err, size_t errlen)
{
	const struct idx_source *src = idx_source_of(spec);
	const char *dir = idx_dir(spec, src);
	char path[DATA_PATH_MAX], test[DATA_PATH_MAX], other[DATA_PATH_MAX];
	/* Missing files are what a user typing a spec most needs to hear
	 * about, so check all four exist; the two image headers give the counts. */
	if (idx_find(src, dir, idx_train_files.images, path, sizeof(path), err, errlen) ||
	    idx_find(src, dir, idx_train_files.labels, other, sizeof(other), err, errlen) ||
	    idx_find(src, dir, idx_test_files.images, test, sizeof(test), err, errlen) ||
	    idx_find(src, dir, idx_test_files.labels, other, sizeof(other), err, errlen))
		return -1;
	uint32_t dims[3], test_dims[3];
	if (idx_count(path, dims, err, errlen) || idx_count(test, test_dims, err, errlen))
		return -1;
	*out = (struct data_info){
		.c = 1, .h = (int)dims[1], .w = (int)dims[2], .classes = IDX_CLASSES, .storage = DATASET_U8,
		.train_n = dims[0], .test_n = test_dims[0],
		.reader_bytes = (int64_t)dims[0] + IDX_GZ_BYTES, /* the labels as stored, then widened */
	};
	return 0;
}
