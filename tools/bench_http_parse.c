/*
 * bench_http_parse.c - what parsing one request costs, our http_parse against
 * the parser a user might reach for first.
 *
 * Three typical requests (a browser's GET, a buy POST with a Bearer token and
 * a small JSON body, a curl GET) are parsed again and again from the same
 * buffer on one core; each run of iterations is timed, and the minimum and
 * median over the runs are reported in ns per request and requests/s.
 *
 * The reference, when built with it (Debian: libhttp-parser-dev, nodejs's
 * http-parser 2.9; optional, only this tool links it), is given callbacks
 * that record the same spans our parser returns (URL, each header name and
 * value, body), so both do the work a server needs, not a bare scan.
 *
 *   bench_http_parse [iterations [runs]]     default 200000 iterations, 9 runs
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef BENCH_HAVE_HTTP_PARSER
/* Both parsers name an enum http_method: rename the reference's tag. */
#define http_method nodejs_http_method
#include <http_parser.h>
#undef http_method
#endif

#include "http_parse.h"
#include "now.h"
#include "str2int.h"

#define BENCH_DEFAULT_ITERS 200000
#define BENCH_DEFAULT_RUNS 9
#define BENCH_MAX_RUNS 64

static volatile uint64_t sink;     /* keeps results alive past the optimiser */

static const char req_browser[] =
	"GET /api/campaigns/7 HTTP/1.1\r\n"
	"Host: shop.example.com\r\n"
	"Connection: keep-alive\r\n"
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
	"Chrome/120.0.0.0 Safari/537.36\r\n"
	"Accept: application/json, text/plain, */*\r\n"
	"Accept-Encoding: gzip, deflate, br\r\n"
	"Accept-Language: en-US,en;q=0.9\r\n"
	"Referer: https://shop.example.com/sale/7\r\n"
	"\r\n";

static const char req_buy[] =
	"POST /api/orders HTTP/1.1\r\n"
	"Host: shop.example.com\r\n"
	"Authorization: Bearer eyJ1aWQiOjQyLCJleHAiOjE3MDAwMDAwMDB9.c2lnbmF0dXJlLWJ5dGVz\r\n"
	"Content-Type: application/json\r\n"
	"Accept: application/json\r\n"
	"User-Agent: seckill-app/2.3 (iOS 17.1)\r\n"
	"Content-Length: 43\r\n"
	"\r\n"
	"{\"campaign\":7,\"sku\":1001,\"qty\":1,\"nonce\":9}";

static const char req_curl[] =
	"GET /healthz HTTP/1.1\r\n"
	"Host: 198.18.0.1\r\n"
	"User-Agent: curl/7.88.1\r\n"
	"Accept: */*\r\n"
	"\r\n";

static const struct http_limits lim = {
	.max_head_bytes = 3072, .max_target_bytes = 1024, .max_headers = 32, .max_body_bytes = 1024,
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

typedef uint64_t (*parse_fn)(const char *buf, size_t len);

static uint64_t ours(const char *buf, size_t len)
{
	static struct http_request req;
	int rc = http_parse_request((const uint8_t *)buf, len, 0, &lim, &req);

	if (rc != (int)len) {
		fprintf(stderr, "bench_http_parse: our parser returned %d for a %zu-byte request\n",
			rc, len);
		exit(1);
	}
	return req.n_headers + req.content_length;
}

#ifdef BENCH_HAVE_HTTP_PARSER
/* What a server keeps from http-parser's callbacks: the same spans as ours. */
struct ref_req {
	struct http_span url, body;
	struct http_header headers[HTTP_MAX_HEADERS];
	unsigned n_headers;
	int done;
};

static int ref_on_url(http_parser *p, const char *at, size_t n)
{
	((struct ref_req *)p->data)->url = (struct http_span){ at, (uint32_t)n };
	return 0;
}

static int ref_on_field(http_parser *p, const char *at, size_t n)
{
	struct ref_req *r = p->data;

	if (r->n_headers == HTTP_MAX_HEADERS)
		return 1;
	r->headers[r->n_headers].name = (struct http_span){ at, (uint32_t)n };
	return 0;
}

static int ref_on_value(http_parser *p, const char *at, size_t n)
{
	struct ref_req *r = p->data;

	r->headers[r->n_headers++].value = (struct http_span){ at, (uint32_t)n };
	return 0;
}

static int ref_on_body(http_parser *p, const char *at, size_t n)
{
	((struct ref_req *)p->data)->body = (struct http_span){ at, (uint32_t)n };
	return 0;
}

static int ref_on_complete(http_parser *p)
{
	((struct ref_req *)p->data)->done = 1;
	return 0;
}

static http_parser_settings ref_settings = {
	.on_url = ref_on_url, .on_header_field = ref_on_field,
	.on_header_value = ref_on_value, .on_body = ref_on_body,
	.on_message_complete = ref_on_complete,
};

static uint64_t reference(const char *buf, size_t len)
{
	static http_parser p;
	static struct ref_req r;
	size_t n;

	r.n_headers = 0;
	r.done = 0;
	http_parser_init(&p, HTTP_REQUEST);
	p.data = &r;
	n = http_parser_execute(&p, &ref_settings, buf, len);
	if (n != len || !r.done) {
		fprintf(stderr, "bench_http_parse: http-parser took %zu of %zu bytes (%s)\n",
			n, len, http_errno_name(HTTP_PARSER_ERRNO(&p)));
		exit(1);
	}
	return r.n_headers + r.body.len;
}
#endif

static void bench(const char *parser, const char *name, parse_fn fn, const char *buf,
		  long iters, int runs)
{
	double t[BENCH_MAX_RUNS];
	size_t len = strlen(buf);
	uint64_t acc = 0;

	for (long i = 0; i < iters / 10; i++)    /* warm caches and branch predictors */
		acc += fn(buf, len);
	for (int r = 0; r < runs; r++) {
		uint64_t t0 = now_mono_ns();

		for (long i = 0; i < iters; i++)
			acc += fn(buf, len);
		t[r] = (double)(now_mono_ns() - t0) / (double)iters;
	}
	sink = acc;
	qsort(t, (size_t)runs, sizeof(t[0]), cmp_double);
	printf("%-12s %-8s %5zu B  min %7.1f ns  median %7.1f ns  %6.2f M req/s  %5.2f GB/s\n",
	       parser, name, len, t[0], t[runs / 2], 1e3 / t[runs / 2],
	       (double)len / t[runs / 2]);
}

int main(int argc, char **argv)
{
	uint64_t v_iters = BENCH_DEFAULT_ITERS, v_runs = BENCH_DEFAULT_RUNS;
	static const struct { const char *name, *buf; } reqs[] = {
		{ "browser", req_browser }, { "buy", req_buy }, { "curl", req_curl },
	};

	long iters;
	int runs;

	if ((argc > 1 && !str2u64(argv[1], 1, LONG_MAX, &v_iters)) ||
	    (argc > 2 && !str2u64(argv[2], 1, BENCH_MAX_RUNS, &v_runs))) {
		fprintf(stderr, "usage: bench_http_parse [iterations [runs (1-%d)]]\n",
			BENCH_MAX_RUNS);
		return 2;
	}
	iters = (long)v_iters;
	runs = (int)v_runs;
	printf("%ld iterations x %d runs per line, one core\n", iters, runs);
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		bench("http_parse", reqs[i].name, ours, reqs[i].buf, iters, runs);
#ifdef BENCH_HAVE_HTTP_PARSER
		bench("http-parser", reqs[i].name, reference, reqs[i].buf, iters, runs);
#endif
	}
#ifndef BENCH_HAVE_HTTP_PARSER
	printf("(http-parser reference not built: install libhttp-parser-dev and reconfigure)\n");
#endif
	return 0;
}
