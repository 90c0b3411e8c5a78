/*
 * upload.h — a file sent in a request body: one part of a
 * multipart/form-data body (RFC 7578), or a base64 string from a JSON body
 * (optionally a data: URL).
 *
 * What it is: bounded parsing over a body already in memory; nothing is
 * copied for multipart (the part points into the body). What it is not: a
 * streaming parser or anything that decides what the file means.
 *
 * Threads: pure; any thread.
 */
#ifndef TB_SERVER_UPLOAD_H
#define TB_SERVER_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>

struct upload_part {
	const char *data; /* into the body */
	size_t len;
};

/*
 * The part named `name` of a multipart/form-data body whose Content-Type
 * header is `content_type` (it carries the boundary). Returns 1 found,
 * 0 not there, -1 when the body or header is not well-formed multipart
 * (with a one-line reason in err).
 */
int upload_multipart_part(const char *content_type, const char *body, size_t len, const char *name,
			  struct upload_part *out, char *err, size_t errlen);

/* Is this Content-Type multipart/form-data? */
bool upload_is_multipart(const char *content_type);

/*
 * Decode standard base64 (padding optional, whitespace ignored); a leading
 * "data:<type>;base64," is skipped. Returns the bytes (malloc'd) and their
 * count in *len, or NULL for anything else (with err), and NULL when the
 * result would exceed max bytes (err says so, *len gets the size).
 */
unsigned char *upload_base64(const char *text, size_t max, size_t *len, char *err, size_t errlen);

#endif
