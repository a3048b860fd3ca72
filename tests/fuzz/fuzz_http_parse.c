/*
 * fuzz_http_parse.c - libFuzzer harness for lib/http/http_parse.c.
 *
 * Each input is parsed whole, then as prefixes (every prefix of a short
 * input, a few dozen chosen ones of a long one), then fed in growing chunks
 * the way TCP hands it over, passing last_len as the server does. Asserted:
 *   - a prefix answers INCOMPLETE or exactly the whole-buffer answer, and a
 *     prefix shorter than a complete request is always INCOMPLETE;
 *   - chunked feeding ends with the whole-buffer answer (or, for a long
 *     unfinished head below the limit, INCOMPLETE: the documented last_len
 *     trade), and with the same spans;
 *   - every span lies inside the request's bytes.
 * Every parse gets a heap copy of exactly its length, so ASan sees overreads.
 * The limits come from the input's length, so all of 413/414/431 are reachable.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

/* Not CHECK(): the harness must check with NDEBUG too. */
#define CHECK(x) do { if (!(x)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ALL_PREFIXES_MAX 512     /* inputs up to this size try every prefix */
#define SAMPLED_SPLITS 48
#define RESCAN_MIN 1024          /* http_parse.c's HTTP_RESCAN_MIN */

static const struct http_limits limit_sets[3] = {
	{ .max_head_bytes = 3072, .max_target_bytes = 1024, .max_headers = 32, .max_body_bytes = 1024 },
	{ .max_head_bytes = 64, .max_target_bytes = 16, .max_headers = 4, .max_body_bytes = 8 },
	{ .max_head_bytes = 1500, .max_target_bytes = 200, .max_headers = 8, .max_body_bytes = 64 },
};

static int parse_copy(const uint8_t *data, size_t len, size_t last,
		      const struct http_limits *lim, struct http_request *req, uint8_t **keep)
{
	uint8_t *b = malloc(len ? len : 1);
	int rc;

	CHECK(b);
	memcpy(b, data, len);
	rc = http_parse_request(b, len, last, lim, req);
	if (keep)
		*keep = b;
	else
		free(b);
	return rc;
}

static void check_span(struct http_span s, const uint8_t *lo, const uint8_t *hi)
{
	if (!s.p) {
		CHECK(s.len == 0);
		return;
	}
	CHECK((const uint8_t *)s.p >= lo && (const uint8_t *)s.p + s.len <= hi);
}

/* Every span inside the rc bytes of the request; the head ones inside the head. */
static void check_request(const struct http_request *r, const uint8_t *buf, int rc)
{
	const uint8_t *head_end = buf + r->head_len;

	CHECK(r->head_len + r->content_length == (uint32_t)rc);
	check_span(r->method_name, buf, head_end);
	check_span(r->target, buf, head_end);
	check_span(r->path, buf, head_end);
	check_span(r->query, buf, head_end);
	check_span(r->host, buf, head_end);
	check_span(r->authorization, buf, head_end);
	check_span(r->content_type, buf, head_end);
	check_span(r->body, head_end, buf + rc);
	CHECK(r->body.len == r->content_length);
	CHECK(r->path.len <= r->target.len);
	CHECK(r->version_minor <= 1 && r->keep_alive <= 1);
	CHECK(r->n_headers <= HTTP_MAX_HEADERS);
	for (uint32_t i = 0; i < r->n_headers; i++) {
		check_span(r->headers[i].name, buf, head_end);
		check_span(r->headers[i].value, buf, head_end);
		CHECK(r->headers[i].name.len > 0);
	}
}

/* Same request at the same offsets in two buffers. */
static void check_same(const struct http_request *a, const uint8_t *abuf,
		       const struct http_request *b, const uint8_t *bbuf)
{
	CHECK(a->method == b->method && a->head_len == b->head_len);
	CHECK(a->content_length == b->content_length && a->n_headers == b->n_headers);
	CHECK(a->keep_alive == b->keep_alive && a->version_minor == b->version_minor);
	CHECK((const uint8_t *)a->target.p - abuf == (const uint8_t *)b->target.p - bbuf);
	CHECK(a->target.len == b->target.len && a->query.len == b->query.len);
	for (uint32_t i = 0; i < a->n_headers; i++)
		CHECK(a->headers[i].value.len == b->headers[i].value.len);
}

static uint64_t next_rand(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s >> 33;
}

static void check_prefixes(const uint8_t *data, size_t size, const struct http_limits *lim,
			   int whole, uint64_t *seed)
{
	struct http_request req;
	size_t n = size <= ALL_PREFIXES_MAX ? size : SAMPLED_SPLITS;

	for (size_t i = 0; i < n; i++) {
		size_t k = size <= ALL_PREFIXES_MAX ? i : next_rand(seed) % size;
		int rc = parse_copy(data, k, 0, lim, &req, NULL);

		if (whole > 0 && k < (size_t)whole)
			CHECK(rc == HTTP_PARSE_INCOMPLETE);
		else
			CHECK(rc == HTTP_PARSE_INCOMPLETE || rc == whole);
	}
}

/* Feeds growing chunks with last_len, as http_server_on_data does. */
static void check_chunked(const uint8_t *data, size_t size, const struct http_limits *lim,
			  int whole, const struct http_request *wreq, const uint8_t *wbuf,
			  uint64_t *seed)
{
	struct http_request req;
	uint8_t *buf = NULL;
	size_t k = 0, last = 0;
	int rc = HTTP_PARSE_INCOMPLETE;

	while (k < size && rc == HTTP_PARSE_INCOMPLETE) {
		k += 1 + next_rand(seed) % (size < 64 ? 4 : size / 8);
		if (k > size)
			k = size;
		free(buf);
		rc = parse_copy(data, k, last, lim, &req, &buf);
		last = rc == HTTP_PARSE_INCOMPLETE && req.head_len == 0 ? k : 0;
	}
	if (rc != whole)
		CHECK(rc == HTTP_PARSE_INCOMPLETE && whole < 0 && k >= RESCAN_MIN &&
		       k < lim->max_head_bytes);
	if (rc > 0) {
		check_request(&req, buf, rc);
		check_same(&req, buf, wreq, wbuf);
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct http_limits *lim = &limit_sets[size % 3];
	struct http_request req;
	uint8_t *buf;
	uint64_t seed = 14695981039346656037ULL;
	int whole;

	for (size_t i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 1099511628211ULL;
	whole = parse_copy(data, size, 0, lim, &req, &buf);
	if (whole > 0) {
		CHECK((size_t)whole <= size);
		check_request(&req, buf, whole);
	} else {
		CHECK(whole >= HTTP_PARSE_MIN_ERROR);
	}
	check_prefixes(data, size, lim, whole, &seed);
	if (whole != HTTP_PARSE_INCOMPLETE)
		check_chunked(data, size, lim, whole, &req, buf, &seed);
	free(buf);
	return 0;
}
