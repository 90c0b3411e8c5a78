/*
 * data_images.c — a folder of images, one subfolder per class, like
 * torchvision's ImageFolder: root/<class>/<file>.png, .jpg or .jpeg.
 *
 * What it is: classes are the subfolder names sorted by strcmp; files are
 * read in name order; PNG through libpng's simplified API and JPEG through
 * libjpeg (the format is sniffed from the first bytes, not trusted from the
 * extension); every image is converted to data.shape's channel count
 * (1 = grayscale, 3 = RGB; alpha is composited on black) and resized
 * bilinearly (half-pixel centres, like PyTorch's interpolate with
 * align_corners=False) to data.shape's H×W. When root/train and root/test
 * both exist they are the splits; otherwise data.test_fraction of the
 * images is held out as test with a fixed permutation.
 * What it is not: a lazy loader; everything is decoded once into memory.
 *
 * Threads: caller's thread only.
 */
#include <dirent.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jpeglib.h>

#include "data_internal.h"
#include "tb.h"

/* Largest decoded image accepted, in pixels: bounds the scratch buffer a
 * hostile or broken header can ask for (2^28 px = 768 MiB as RGB). */
#define IMAGES_MAX_PIXELS (1u << 28)
#define IMAGES_MAX_CLASSES 100000

/* Every image file found, in load order, with its class. */
struct images_list {
	char **paths;     /* owned strings */
	int32_t *labels;
	int64_t n, cap;
};

static void images_list_free(struct images_list *l)
{
	for (int64_t i = 0; i < l->n; i++)
		free(l->paths[i]);
	free(l->paths);
	free(l->labels);
	memset(l, 0, sizeof(*l));
}

static int images_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int images_wanted_file(const char *name)
{
	const char *dot = strrchr(name, '.');
	return dot && (strcasecmp(dot, ".png") == 0 || strcasecmp(dot, ".jpg") == 0 ||
		       strcasecmp(dot, ".jpeg") == 0);
}

/*
 * Sorted names in `dir`: subfolders (dirs = 1) or image files (dirs = 0),
 * hidden entries skipped. Returns the count, or -1 with err set.
 */
static int64_t images_scan(const char *dir, int dirs, char ***out, char *err, size_t errlen)
{
	DIR *d = opendir(dir);
	*out = NULL;
	if (!d)
		return data_fail(err, errlen, "image-folder: cannot open folder %s", dir);
	char **names = NULL;
	int64_t n = 0, cap = 0;
	char path[DATA_PATH_MAX];
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (data_join(path, sizeof(path), dir, e->d_name) != 0)
			continue;
		if (dirs ? !data_is_dir(path) : !(images_wanted_file(e->d_name) && data_is_file(path)))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = tb_xrealloc(names, (size_t)cap * sizeof(*names));
		}
		names[n++] = tb_xstrdup(e->d_name);
	}
	closedir(d);
	if (n)
		qsort(names, (size_t)n, sizeof(*names), images_strcmp);
	*out = names;
	return n;
}

static void images_names_free(char **names, int64_t n)
{
	for (int64_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Add every image under root/<class>/ for the given classes to the list. */
static int images_collect(const char *root, char **classes, int nclasses, struct images_list *l,
			  char *err, size_t errlen)
{
	char dir[DATA_PATH_MAX], path[DATA_PATH_MAX];
	for (int k = 0; k < nclasses; k++) {
		if (data_join(dir, sizeof(dir), root, classes[k]) != 0 || !data_is_dir(dir))
			continue; /* a class may have no test folder */
		char **files;
		int64_t nfiles = images_scan(dir, 0, &files, err, errlen);
		if (nfiles < 0)
			return -1;
		for (int64_t i = 0; i < nfiles; i++) {
			if (data_join(path, sizeof(path), dir, files[i]) != 0)
				continue;
			if (l->n == l->cap) {
				l->cap = l->cap ? l->cap * 2 : 256;
				l->paths = tb_xrealloc(l->paths, (size_t)l->cap * sizeof(*l->paths));
				l->labels = tb_xrealloc(l->labels, (size_t)l->cap * sizeof(*l->labels));
			}
			l->paths[l->n] = tb_xstrdup(path);
			l->labels[l->n] = k;
			l->n++;
		}
		images_names_free(files, nfiles);
	}
	return 0;
}

/* ---- decoding --------------------------------------------------------- */

enum images_kind { IMAGES_PNG, IMAGES_JPEG };

static int images_sniff(const char *path, enum images_kind *kind, char *err, size_t errlen)
{
	unsigned char head[8] = {0};
	FILE *f = fopen(path, "rb");
	if (!f)
		return data_fail(err, errlen, "%s: cannot open", path);
	size_t got = fread(head, 1, sizeof(head), f);
	fclose(f);
	if (got >= 8 && png_sig_cmp(head, 0, 8) == 0)
		*kind = IMAGES_PNG;
	else if (got >= 3 && head[0] == 0xff && head[1] == 0xd8 && head[2] == 0xff)
		*kind = IMAGES_JPEG;
	else
		return data_fail(err, errlen, "%s: not a PNG or JPEG file", path);
	return 0;
}

/* libjpeg reports fatal errors by calling error_exit, which must not
 * return: jump back to the decoder with the message kept. */
struct images_jpeg_error {
	struct jpeg_error_mgr mgr;
	jmp_buf jump;
	char message[JMSG_LENGTH_MAX];
};

static void images_jpeg_exit(j_common_ptr cinfo)
{
	struct images_jpeg_error *e = (struct images_jpeg_error *)cinfo->err;
	(*cinfo->err->format_message)(cinfo, e->message);
	longjmp(e->jump, 1);
}

/* Warnings (e.g. "premature end of data") are counted and turned into an
 * error after decoding rather than printed to stderr. */
static void images_jpeg_quiet(j_common_ptr cinfo, int level)
{
	if (level < 0)
		cinfo->err->num_warnings++;
}

/*
 * Decode an image to interleaved HWC bytes with `channels` channels into
 * *buf (grown as needed). With buf NULL only the header is read: *w, *h and
 * *color (the file has colour) are filled.
 */
static int images_decode(const char *path, int channels, uint8_t **buf, size_t *cap, int *w,
			 int *h, int *color, char *err, size_t errlen)
{
	enum images_kind kind = IMAGES_PNG;
	if (images_sniff(path, &kind, err, errlen))
		return -1;
	if (kind == IMAGES_PNG) {
		png_image img;
		memset(&img, 0, sizeof(img));
		img.version = PNG_IMAGE_VERSION;
		if (!png_image_begin_read_from_file(&img, path))
			return data_fail(err, errlen, "%s: bad PNG: %s", path, img.message);
		if ((uint64_t)img.width * img.height > IMAGES_MAX_PIXELS) {
			png_image_free(&img);
			return data_fail(err, errlen, "%s: %u x %u pixels is too large", path,
					 img.width, img.height);
		}
		*w = (int)img.width;
		*h = (int)img.height;
		*color = (img.format & PNG_FORMAT_FLAG_COLOR) != 0;
		if (!buf) {
			png_image_free(&img);
			return 0;
		}
		img.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
		size_t need = PNG_IMAGE_SIZE(img);
		if (need > *cap) {
			*buf = tb_xrealloc(*buf, need);
			*cap = need;
		}
		png_color black = {0, 0, 0};
		if (!png_image_finish_read(&img, &black, *buf, 0, NULL)) {
			data_fail(err, errlen, "%s: bad PNG: %s", path, img.message);
			png_image_free(&img); /* safe twice: finish_read may have freed */
			return -1;
		}
		return 0;
	}

	FILE *f = fopen(path, "rb");
	if (!f)
		return data_fail(err, errlen, "%s: cannot open", path);
	struct jpeg_decompress_struct cinfo;
	struct images_jpeg_error jerr;
	cinfo.err = jpeg_std_error(&jerr.mgr);
	jerr.mgr.error_exit = images_jpeg_exit;
	jerr.mgr.emit_message = images_jpeg_quiet;
	if (setjmp(jerr.jump)) {
		jpeg_destroy_decompress(&cinfo);
		fclose(f);
		return data_fail(err, errlen, "%s: bad JPEG: %s", path, jerr.message);
	}
	jpeg_create_decompress(&cinfo);
	jpeg_stdio_src(&cinfo, f);
	jpeg_read_header(&cinfo, TRUE);
	*w = (int)cinfo.image_width;
	*h = (int)cinfo.image_height;
	*color = cinfo.num_components >= 3;
	if ((uint64_t)cinfo.image_width * cinfo.image_height > IMAGES_MAX_PIXELS) {
		jpeg_destroy_decompress(&cinfo);
		fclose(f);
		return data_fail(err, errlen, "%s: %d x %d pixels is too large", path, *w, *h);
	}
	if (!buf) {
		jpeg_destroy_decompress(&cinfo);
		fclose(f);
		return 0;
	}
	/* libjpeg converts YCbCr to RGB or gray itself; CMYK it cannot. */
	cinfo.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_start_decompress(&cinfo);
	size_t stride = (size_t)cinfo.output_width * (size_t)channels;
	size_t need = stride * cinfo.output_height;
	if (need > *cap) {
		*buf = tb_xrealloc(*buf, need);
		*cap = need;
	}
	while (cinfo.output_scanline < cinfo.output_height) {
		JSAMPROW row = *buf + (size_t)cinfo.output_scanline * stride;
		jpeg_read_scanlines(&cinfo, &row, 1);
	}
	jpeg_finish_decompress(&cinfo);
	long warnings = jerr.mgr.num_warnings;
	if (warnings)
		(*jerr.mgr.format_message)((j_common_ptr)&cinfo, jerr.message);
	jpeg_destroy_decompress(&cinfo);
	fclose(f);
	if (warnings)
		return data_fail(err, errlen, "%s: corrupt or truncated JPEG: %s", path,
				 jerr.message);
	return 0;
}

/*
 * The two source pixels (along one axis of `n`) that output pixel `i` lies
 * between, and the weight of the second: half-pixel centres, edges clamped.
 */
static void resize_taps(int i, float scale, int n, int *lo, int *hi, float *w)
{
	float f = ((float)i + 0.5f) * scale - 0.5f;
	if (f < 0)
		f = 0;
	*lo = (int)f;
	*hi = *lo + 1 < n ? *lo + 1 : n - 1;
	*w = f - (float)*lo;
}

/*
 * Resize an interleaved HWC image to the CHW output with bilinear
 * interpolation, half-pixel centres, edges clamped. Same-size images are
 * a pure transpose, so no value changes when no resize was asked for.
 */
static void images_resize_chw(const uint8_t *src, int sw, int sh, int c, uint8_t *dst, int dw,
			      int dh)
{
	float sx_scale = (float)sw / (float)dw, sy_scale = (float)sh / (float)dh;
	for (int y = 0; y < dh; y++) {
		int y0, y1;
		float wy;
		resize_taps(y, sy_scale, sh, &y0, &y1, &wy);
		for (int x = 0; x < dw; x++) {
			int x0, x1;
			float wx;
			resize_taps(x, sx_scale, sw, &x0, &x1, &wx);
			for (int ch = 0; ch < c; ch++) {
				float a = src[((size_t)y0 * sw + x0) * c + ch];
				float b = src[((size_t)y0 * sw + x1) * c + ch];
				float d = src[((size_t)y1 * sw + x0) * c + ch];
				float e = src[((size_t)y1 * sw + x1) * c + ch];
				float top = a + (b - a) * wx, bottom = d + (e - d) * wx;
				float v = top + (bottom - top) * wy;
				dst[((size_t)ch * dh + y) * dw + x] = (uint8_t)(v + 0.5f);
			}
		}
	}
}

int data_image_read(const char *path, int c, int h, int w, uint64_t max_pixels, uint8_t *out, int *src_w,
		    int *src_h, char *err, size_t errlen)
{
	int color;
	if (c != 1 && c != 3)
		return data_fail(err, errlen, "images have 1 (grayscale) or 3 (RGB) channels, not %d", c);
	/* The header alone first: a small file may declare a huge image. */
	if (images_decode(path, c, NULL, NULL, src_w, src_h, &color, err, errlen))
		return -1;
	if ((uint64_t)*src_w * (uint64_t)*src_h > max_pixels)
		return data_fail(err, errlen, "%s: %d x %d pixels is more than the %llu accepted", path, *src_w,
				 *src_h, (unsigned long long)max_pixels);
	uint8_t *scratch = NULL;
	size_t cap = 0;
	int rc = images_decode(path, c, &scratch, &cap, src_w, src_h, &color, err, errlen);
	if (rc == 0)
		images_resize_chw(scratch, *src_w, *src_h, c, out, w, h);
	free(scratch);
	return rc;
}

/* ---- the data set ----------------------------------------------------- */

/* Where the images live: separate train/test roots or one root to split. */
struct images_layout {
	char train_root[DATA_PATH_MAX];
	char test_root[DATA_PATH_MAX];
	int has_test;
	char **classes; /* sorted subfolder names of train_root; owned */
	int nclasses;
};

static void images_layout_free(struct images_layout *lay)
{
	images_names_free(lay->classes, lay->nclasses);
	lay->classes = NULL;
	lay->nclasses = 0;
}

static int images_layout(const struct spec_data *spec, struct images_layout *lay, char *err,
			 size_t errlen)
{
	memset(lay, 0, sizeof(*lay));
	if (!spec->path[0])
		return data_fail(err, errlen,
				 "image-folder: set data.path to a folder with one subfolder of "
				 "images per class");
	if (!data_is_dir(spec->path))
		return data_fail(err, errlen, "image-folder: %s is not a folder (set data.path to a "
				 "folder with one subfolder of images per class)", spec->path);
	if (data_join(lay->train_root, sizeof(lay->train_root), spec->path, "train") == 0 &&
	    data_join(lay->test_root, sizeof(lay->test_root), spec->path, "test") == 0 &&
	    data_is_dir(lay->train_root) && data_is_dir(lay->test_root)) {
		lay->has_test = 1;
	} else {
		snprintf(lay->train_root, sizeof(lay->train_root), "%s", spec->path);
		lay->test_root[0] = 0;
	}
	char **names;
	int64_t n = images_scan(lay->train_root, 1, &names, err, errlen);
	if (n < 0)
		return -1;
	if (n == 0 || n > IMAGES_MAX_CLASSES) {
		images_names_free(names, n);
		return data_fail(err, errlen, "image-folder: %s has %lld class subfolders (need "
				 "1 to %d)", lay->train_root, (long long)n, IMAGES_MAX_CLASSES);
	}
	lay->classes = names;
	lay->nclasses = (int)n;
	if (lay->has_test) {
		/* A test class without a train folder could never be predicted
		 * and would shift no index consistently: refuse it. */
		int64_t nt = images_scan(lay->test_root, 1, &names, err, errlen);
		if (nt < 0)
			goto fail;
		for (int64_t i = 0; i < nt; i++) {
			if (!bsearch(&names[i], lay->classes, (size_t)lay->nclasses, sizeof(char *),
				     images_strcmp)) {
				data_fail(err, errlen, "image-folder: test class '%s' has no folder "
					  "in %s", names[i], lay->train_root);
				images_names_free(names, nt);
				goto fail;
			}
		}
		images_names_free(names, nt);
	}
	return 0;
fail:
	images_layout_free(lay);
	return -1;
}

/* The shape to produce: data.shape when all three are set, otherwise the
 * first image's size and colour. */
static int images_shape(const struct spec_data *spec, const struct images_list *l, int *c,
			int *h, int *w, char *err, size_t errlen)
{
	if (spec->shape[0] > 0 && spec->shape[1] > 0 && spec->shape[2] > 0) {
		*c = spec->shape[0];
		*h = spec->shape[1];
		*w = spec->shape[2];
	} else {
		int color;
		if (l->n == 0)
			return data_fail(err, errlen, "image-folder: no .png or .jpg images in %s",
					 spec->path);
		if (images_decode(l->paths[0], 0, NULL, NULL, w, h, &color, err, errlen))
			return -1;
		*c = color ? 3 : 1;
	}
	if (*c != 1 && *c != 3)
		return data_fail(err, errlen,
				 "image-folder: data.shape channels must be 1 (grayscale) or 3 "
				 "(RGB), got %d", *c);
	if (*h > DATA_MAX_SIDE || *w > DATA_MAX_SIDE)
		return data_fail(err, errlen, "image-folder: data.shape %d x %d is too large", *h,
				 *w);
	return 0;
}

static int images_load_list(const struct images_list *l, const char *name, int c, int h, int w,
			    const struct images_layout *lay, const volatile sig_atomic_t *stop,
			    struct dataset *d, char *err, size_t errlen)
{
	uint8_t *scratch = NULL;
	size_t cap = 0;
	if (data_dataset_alloc(d, name, DATASET_U8, l->n, c, h, w, lay->nclasses, name, err,
			       errlen))
		return -1;
	for (int64_t i = 0; i < l->n; i++) {
		int sw, sh, color;
		if (data_stopped(stop, err, errlen) ||
		    images_decode(l->paths[i], c, &scratch, &cap, &sw, &sh, &color, err, errlen)) {
			free(scratch);
			dataset_free(d);
			return -1;
		}
		images_resize_chw(scratch, sw, sh, c, d->u8 + i * (int64_t)c * h * w, w, h);
		d->labels[i] = l->labels[i];
	}
	free(scratch);
	d->class_names = data_class_names_copy((const char *const *)lay->classes, lay->nclasses);
	return 0;
}

/* A folder as loading and probing both start from it: its layout, train (and test) file lists, the samples' shape. */
struct images_folder {
	struct images_layout lay;
	struct images_list train, test;
	int c, h, w;
};

static void images_folder_close(struct images_folder *f)
{
	images_list_free(&f->train);
	images_list_free(&f->test);
	images_layout_free(&f->lay);
}

/* 0, or -1 with `err` set and nothing left to close. */
static int images_folder_open(const struct spec_data *spec, struct images_folder *f, char *err, size_t errlen)
{
	f->train = (struct images_list){0};
	f->test = (struct images_list){0};
	if (images_layout(spec, &f->lay, err, errlen))
		return -1;
	const struct images_layout *lay = &f->lay;
	if (images_collect(lay->train_root, lay->classes, lay->nclasses, &f->train, err, errlen) ||
	    (lay->has_test && images_collect(lay->test_root, lay->classes, lay->nclasses, &f->test, err, errlen)))
		goto fail;
	if (f->train.n == 0) {
		data_fail(err, errlen, "image-folder: no .png or .jpg images under %s", lay->train_root);
		goto fail;
	}
	if (images_shape(spec, &f->train, &f->c, &f->h, &f->w, err, errlen))
		goto fail;
	return 0;
fail:
	images_folder_close(f);
	return -1;
}

int data_images_load(const struct spec_data *spec, const volatile sig_atomic_t *stop,
		     struct data_splits *out, char *err, size_t errlen)
{
	struct images_folder f;
	int rc = -1;
	if (spec->test_fraction < 0.0 || spec->test_fraction >= 1.0)
		return data_fail(err, errlen,
				 "image-folder: data.test_fraction must be in [0, 1), got %g",
				 spec->test_fraction);
	if (images_folder_open(spec, &f, err, errlen))
		return -1;
	if (images_load_list(&f.train, "image-folder/train", f.c, f.h, f.w, &f.lay, stop, &out->train, err, errlen))
		goto done;
	if (f.lay.has_test) {
		if (images_load_list(&f.test, "image-folder/test", f.c, f.h, f.w, &f.lay, stop, &out->test, err,
				     errlen))
			goto done;
	} else {
		struct dataset whole = out->train;
		int64_t count = (int64_t)((double)whole.n * spec->test_fraction);
		memset(&out->train, 0, sizeof(out->train));
		data_split(&whole, count, DATA_TEST_SPLIT_KEY, &out->train, &out->test);
	}
	rc = 0;
done:
	images_folder_close(&f);
	return rc;
}

/* The list's own memory: each path string (with malloc's header) and its slot. */
static int64_t images_list_bytes(const struct images_list *l)
{
	int64_t bytes = l->cap * (int64_t)(sizeof(*l->paths) + sizeof(*l->labels));
	for (int64_t i = 0; i < l->n; i++)
		bytes += (int64_t)strlen(l->paths[i]) + 1 + 16;
	return bytes;
}

/*
 * Every file is listed (the counts size the data set; a directory read per
 * class, no image is opened beyond the first), so a probe of a folder of
 * 100,000 images costs a fraction of a second.
 */
int data_images_probe(const struct spec_data *spec, struct data_info *out, char *err, size_t errlen)
{
	struct images_folder f;
	int rc = -1;
	if (images_folder_open(spec, &f, err, errlen))
		return -1;
	/* The decode buffer grows to the largest image; the first stands for them. */
	int sw, sh, color;
	if (images_decode(f.train.paths[0], 0, NULL, NULL, &sw, &sh, &color, err, errlen))
		goto done;
	*out = (struct data_info){
		.c = f.c,
		.h = f.h,
		.w = f.w,
		.classes = f.lay.nclasses,
		.storage = DATASET_U8,
		.reader_bytes = images_list_bytes(&f.train) + images_list_bytes(&f.test) + (int64_t)sw * sh * f.c,
	};
	if (f.lay.has_test) {
		out->train_n = f.train.n;
		out->test_n = f.test.n;
	} else {
		out->test_n = (int64_t)((double)f.train.n * spec->test_fraction);
		out->train_n = f.train.n - out->test_n;
		out->test_carved = true;
	}
	rc = 0;
done:
	images_folder_close(&f);
	return rc;
}
