/*
 * app_site.c - builds a site (app_site.h) once, at start: reads the files,
 * gzips them, hashes them, writes each answer's header lines.
 *
 * Everything a worker answers from a site is decided here, so the request
 * path only picks a copy and points the reply at it. The ETag is a SipHash
 * of the bytes under a fixed key (not a secret: it only has to change when
 * the bytes do, and be the same on every host serving the same files, so a
 * CDN in front of several hosts sees one validator). The gzip copy is a
 * different representation, so it has its own strong ETag ("...-gz"),
 * as RFC 9110 8.8.3 asks of content codings.
 */
#include "app_site.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "siphash.h"

/* "seckill site etag": any fixed key will do, it is not a secret. */
static const uint64_t site_etag_key[2] = { 0x7365636b696c6c20ULL, 0x7369746520657461ULL };

/* A minute in any cache, then revalidated (a 304 costs the core one compare):
 * the page changes rarely, but when it does buyers should see it soon. */
#define SITE_CACHE_CONTROL "Cache-Control: public, max-age=60\r\n"

struct type_row {
	const char *ext, *type;
};

static const struct type_row site_types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".jpg", "image/jpeg" },
	{ ".jpeg", "image/jpeg" },
	{ ".webp", "image/webp" },
	{ ".ico", "image/x-icon" },
	{ ".json", "application/json" },
	{ ".txt", "text/plain; charset=utf-8" },
};

static const char *site_type(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof(site_types) / sizeof(site_types[0]); i++) {
		size_t e = strlen(site_types[i].ext);

		if (n > e && strcmp(name + n - e, site_types[i].ext) == 0)
			return site_types[i].type;
	}
	return "application/octet-stream";
}

/* A name a URL path can carry as is: letters, digits, '.', '-', '_'. */
static int site_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > APP_SITE_NAME_MAX || name[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_'))
			return 0;
	}
	return 1;
}

/* gzip (RFC 1952) of src into a new buffer; 0 and its length, or -1. */
static int site_gzip(const uint8_t *src, uint32_t len, uint8_t **out, uint32_t *out_len)
{
	z_stream z = { 0 };
	uLong cap = compressBound(len) + 32;   /* + the gzip header and trailer */
	uint8_t *buf = malloc(cap);

	if (buf == NULL)
		return -1;
	if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(buf);
		return -1;
	}
	z.next_in = (Bytef *)(uintptr_t)src;
	z.avail_in = len;
	z.next_out = buf;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		free(buf);
		return -1;
	}
	*out_len = (uint32_t)z.total_out;
	*out = buf;
	deflateEnd(&z);
	return 0;
}

/* The header lines of both copies of a, once its bytes are in place. */
static void site_headers(struct app_asset *a)
{
	uint64_t h = siphash24(site_etag_key, a->body, a->len);

	a->tag = (uint32_t)h;
	snprintf(a->etag, sizeof(a->etag), "\"%016llx\"", (unsigned long long)h);
	snprintf(a->etag_gz, sizeof(a->etag_gz), "\"%016llx-gz\"", (unsigned long long)h);
	/* Vary on both copies: a cache must not give the gzip one to a client
	 * that did not ask for it, nor keep only the identity one. */
	snprintf(a->hdr, sizeof(a->hdr), "ETag: %s\r\n" SITE_CACHE_CONTROL "%s",
		 a->etag, a->gz ? "Vary: Accept-Encoding\r\n" : "");
	snprintf(a->hdr_gz, sizeof(a->hdr_gz),
		 "ETag: %s\r\n" SITE_CACHE_CONTROL "Vary: Accept-Encoding\r\n"
		 "Content-Encoding: gzip\r\n", a->etag_gz);
}

/* Lays every body of s (pointing anywhere) out in one block of its own. */
static int site_pack(struct app_site *s)
{
	size_t total = 0, off = 0;
	uint8_t *mem;

	for (unsigned i = 0; i < s->n; i++)
		total += s->f[i].len + s->f[i].gz_len;
	mem = malloc(total ? total : 1);
	if (mem == NULL)
		return -1;
	for (unsigned i = 0; i < s->n; i++) {
		struct app_asset *a = &s->f[i];

		memcpy(mem + off, a->body, a->len);
		a->body = mem + off;
		off += a->len;
		if (a->gz) {
			memcpy(mem + off, a->gz, a->gz_len);
			a->gz = mem + off;
			off += a->gz_len;
		}
	}
	s->mem = mem;
	s->mem_len = total;
	return 0;
}

static void site_index(struct app_site *s)
{
	s->index = app_site_find(s, "/index.html", strlen("/index.html"));
}

struct app_site *app_site_build(const struct app_site_src *src, unsigned n,
				char *err, size_t errlen)
{
	struct app_site *s;
	uint8_t *gz[APP_SITE_MAX_FILES] = { 0 };

	if (n > APP_SITE_MAX_FILES) {
		snprintf(err, errlen, "%u files; a site has at most %u", n, APP_SITE_MAX_FILES);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (unsigned i = 0; i < n; i++) {
		struct app_asset *a = &s->f[i];

		if (!site_name_ok(src[i].name)) {
			snprintf(err, errlen, "'%s': a site file's name is 1 to %d letters, digits, "
				 "'.', '-' or '_', not starting with '.'", src[i].name,
				 APP_SITE_NAME_MAX);
			goto fail;
		}
		if (src[i].len > APP_SITE_FILE_MAX) {
			snprintf(err, errlen, "'%s': %u bytes; a site file has at most %u",
				 src[i].name, src[i].len, APP_SITE_FILE_MAX);
			goto fail;
		}
		snprintf(a->path, sizeof(a->path), "/%s", src[i].name);
		a->type = site_type(src[i].name);
		a->body = src[i].data;
		a->len = src[i].len;
		if (site_gzip(a->body, a->len, &gz[i], &a->gz_len) < 0) {
			snprintf(err, errlen, "'%s': cannot gzip it (out of memory)", src[i].name);
			goto fail;
		}
		if (a->gz_len >= a->len) {        /* images: already compressed */
			free(gz[i]);
			gz[i] = NULL;
			a->gz_len = 0;
		}
		a->gz = gz[i];
		s->n++;
		site_headers(a);
	}
	site_index(s);
	if (s->index == NULL) {
		snprintf(err, errlen, "no index.html: the page / and /c/{id} answer with");
		goto fail;
	}
	if (site_pack(s) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (unsigned i = 0; i < n; i++)
		free(gz[i]);
	return s;
fail:
	for (unsigned i = 0; i < n; i++)
		free(gz[i]);
	free(s);
	return NULL;
}

/* Reads one file whole into a new buffer; 0, or -1 with err filled. */
static int site_read(const char *path, uint8_t **data, uint32_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	uint8_t *buf;

	if (f == NULL || fstat(fileno(f), &st) < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		if (f)
			fclose(f);
		return -1;
	}
	if (st.st_size > (off_t)APP_SITE_FILE_MAX) {
		snprintf(err, errlen, "%s: %lld bytes; a site file has at most %u", path,
			 (long long)st.st_size, APP_SITE_FILE_MAX);
		fclose(f);
		return -1;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL || fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		snprintf(err, errlen, "cannot read %s: %s", path, buf ? "short read" : "out of memory");
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	*data = buf;
	*len = (uint32_t)st.st_size;
	return 0;
}

struct app_site *app_site_load_dir(const char *dir, char *err, size_t errlen)
{
	struct app_site_src src[APP_SITE_MAX_FILES];
	char names[APP_SITE_MAX_FILES][APP_SITE_NAME_MAX + 1];
	struct app_site *s = NULL;
	unsigned n = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d == NULL) {
		snprintf(err, errlen, "cannot open --site %s: %s", dir, strerror(errno));
		return NULL;
	}
	while ((de = readdir(d)) != NULL) {
		char path[4096];
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (!site_name_ok(de->d_name)) {
			snprintf(err, errlen, "--site %s: '%s': a site file's name is 1 to %d "
				 "letters, digits, '.', '-' or '_'", dir, de->d_name, APP_SITE_NAME_MAX);
			goto out;
		}
		if (n == APP_SITE_MAX_FILES) {
			snprintf(err, errlen, "--site %s: more than %u files", dir,
				 APP_SITE_MAX_FILES);
			goto out;
		}
		snprintf(names[n], sizeof(names[n]), "%.47s", de->d_name);
		src[n].name = names[n];
		if (site_read(path, (uint8_t **)&src[n].data, &src[n].len, err, errlen) < 0)
			goto out;
		n++;
	}
	s = app_site_build(src, n, err, errlen);
	if (s == NULL && strncmp(err, "--site", 6) != 0) {
		char msg[256];

		snprintf(msg, sizeof(msg), "--site %s: %s", dir, err);
		snprintf(err, errlen, "%s", msg);
	}
out:
	for (unsigned i = 0; i < n; i++)
		free((void *)(uintptr_t)src[i].data);
	closedir(d);
	return s;
}

struct app_site *app_site_copy(const struct app_site *from)
{
	struct app_site *s = malloc(sizeof(*s));

	if (s == NULL)
		return NULL;
	*s = *from;
	if (site_pack(s) < 0) {
		free(s);
		return NULL;
	}
	site_index(s);
	return s;
}

void app_site_free(struct app_site *s)
{
	if (s == NULL)
		return;
	free(s->mem);
	free(s);
}
