/*
 * seed_images.c — write the small PNG and JPEG files the images fuzz target
 * starts from, with the same libpng and libjpeg the engine reads them with:
 * gray, RGB, RGBA, colour-mapped and 16-bit PNGs; gray, RGB and
 * progressive JPEGs. Run by make_seeds.py, which joins them into inputs.
 *
 *   seed_images OUT_DIR
 *
 * Threads: one.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h> /* after stdio.h: it uses FILE and size_t */
#include <png.h>

static int write_png(const char *dir, const char *name, int w, int h, png_uint_32 format)
{
	png_image img;
	memset(&img, 0, sizeof img);
	img.version = PNG_IMAGE_VERSION;
	img.width = (png_uint_32)w;
	img.height = (png_uint_32)h;
	img.format = format;
	img.colormap_entries = format & PNG_FORMAT_FLAG_COLORMAP ? 4 : 0;
	size_t size = PNG_IMAGE_SIZE(img);
	unsigned char *px = malloc(size), cmap[4 * 3];
	for (size_t i = 0; i < size; i++)
		px[i] = format & PNG_FORMAT_FLAG_COLORMAP ? (unsigned char)(i % 4) : (unsigned char)(i * 37 + 11);
	for (int i = 0; i < 12; i++)
		cmap[i] = (unsigned char)(i * 20);
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int ok = png_image_write_to_file(&img, path, 0, px, 0, format & PNG_FORMAT_FLAG_COLORMAP ? cmap : NULL);
	free(px);
	if (!ok)
		fprintf(stderr, "%s: %s\n", path, img.message);
	return ok ? 0 : -1;
}

static int write_jpeg(const char *dir, const char *name, int w, int h, int components, int progressive)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr err;
	c.err = jpeg_std_error(&err);
	jpeg_create_compress(&c);
	jpeg_stdio_dest(&c, f);
	c.image_width = (JDIMENSION)w;
	c.image_height = (JDIMENSION)h;
	c.input_components = components;
	c.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, 75, TRUE);
	if (progressive)
		jpeg_simple_progression(&c);
	jpeg_start_compress(&c, TRUE);
	unsigned char *row = malloc((size_t)w * components);
	while (c.next_scanline < c.image_height) {
		for (int i = 0; i < w * components; i++)
			row[i] = (unsigned char)(i * 29 + c.next_scanline * 53);
		JSAMPROW r = row;
		jpeg_write_scanlines(&c, &r, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	free(row);
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
		return 2;
	}
	const char *d = argv[1];
	int rc = write_png(d, "gray.png", 4, 4, PNG_FORMAT_GRAY) | write_png(d, "rgb.png", 5, 3, PNG_FORMAT_RGB) |
		 write_png(d, "rgba.png", 3, 3, PNG_FORMAT_RGBA) |
		 write_png(d, "cmap.png", 4, 2, PNG_FORMAT_RGB_COLORMAP) |
		 write_png(d, "gray16.png", 2, 3, PNG_FORMAT_LINEAR_Y) | write_jpeg(d, "gray.jpg", 8, 8, 1, 0) |
		 write_jpeg(d, "rgb.jpg", 9, 7, 3, 0) | write_jpeg(d, "progressive.jpg", 16, 8, 3, 1);
	return rc ? 1 : 0;
}
