/*
 * app_site.h - the sale page's files, ready to answer from memory.
 *
 * A site is a handful of files (index.html, app.js, worker.js, style.css ...)
 * turned at start, once, into what the workers answer with no file I/O and
 * no formatting per request: the bytes, a gzip copy (zlib, level 9) when it
 * is smaller, a strong ETag per copy (SipHash of the bytes: a CDN or browser
 * holding a copy revalidates with If-None-Match and gets a 304), and the
 * header lines of each answer. The built-in site is site/ in the repository,
 * embedded at build time (site/embed.py); seckill-dp --site DIR replaces it.
 *
 * app_site_build and app_site_load_dir (app_site.c, which needs zlib) run on
 * the main lcore before the workers start; app_site_copy gives each worker
 * its own copy, in its own memory. The worker only reads it (app_page.c).
 */
#ifndef SECKILL_APP_SITE_H
#define SECKILL_APP_SITE_H

#include <stddef.h>
#include <stdint.h>

/* Files in a site and bytes in one: a sale page is a few small files. */
#define APP_SITE_MAX_FILES 32
#define APP_SITE_FILE_MAX (1u << 20)
#define APP_SITE_NAME_MAX 47
/* ETag, Cache-Control, Vary and Content-Encoding lines of one answer. */
#define APP_ASSET_HDR 192

/* One file of a site as the build embeds it, or as --site reads it. */
struct app_site_src {
	const char *name;            /* "index.html": a file name, no directory */
	const uint8_t *data;
	uint32_t len;
};

/* The built-in site (generated from site/ by site/embed.py). */
extern const struct app_site_src app_site_builtin[];
extern const unsigned app_site_builtin_n;

/* One file, answered as is or gzipped. */
struct app_asset {
	char path[APP_SITE_NAME_MAX + 2];    /* "/app.js" */
	const char *type;                    /* Content-Type */
	const uint8_t *body, *gz;            /* gz NULL: gzip would not be smaller */
	uint32_t len, gz_len;
	uint32_t tag;                        /* the bytes' identity for a streamed answer */
	char etag[20], etag_gz[24];          /* quoted, as sent */
	char hdr[APP_ASSET_HDR];             /* ETag, Cache-Control, Vary lines */
	char hdr_gz[APP_ASSET_HDR];          /* the same for the gzip copy, with Content-Encoding */
};

struct app_site {
	unsigned n;
	const struct app_asset *index;       /* index.html: /, /c/{id} */
	struct app_asset f[APP_SITE_MAX_FILES];
	uint8_t *mem;                        /* every body of this copy */
	size_t mem_len;
};

/*
 * A site from files in memory: compressed, hashed, headers written. Needs an
 * index.html. NULL with err filled (which file, what is wrong) on failure.
 */
struct app_site *app_site_build(const struct app_site_src *src, unsigned n,
				char *err, size_t errlen);
/* The regular files of directory dir (not its subdirectories), as above. */
struct app_site *app_site_load_dir(const char *dir, char *err, size_t errlen);
/* A copy of s in memory of its own (each worker's), or NULL. */
struct app_site *app_site_copy(const struct app_site *s);
void app_site_free(struct app_site *s);

/* The file at path ("/app.js"), or NULL. */
const struct app_asset *app_site_find(const struct app_site *s, const char *path, size_t n);

#endif
