/*
 * orders_opts.c - seckill-orders' command line. Every error names the
 * option, says what is expected and exits 2.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_file.h"
#include "orders.h"
#include "str2int.h"

#define OPT_MAX_BATCH 100000        /* rows in one transaction: memory and lock time */
#define OPT_MAX_PAY_WITHIN_S (30 * 24 * 3600)

static const char usage[] =
	"Usage: seckill-orders --kafka BOOTSTRAP --pg CONNINFO --redis IP:PORT [options]\n"
	"\n"
	"The order service: consumes the front end's orders from Kafka into PostgreSQL\n"
	"(exactly once in effect: each batch is one transaction with its Kafka offsets),\n"
	"expires unpaid orders and gives their units back to the sale in Redis.\n"
	"\n"
	"  --kafka HOST:PORT[,...]  Kafka bootstrap servers (required)\n"
	"  --pg CONNINFO            libpq conninfo or URI, e.g. the first line of\n"
	"                           'tools/postgres up' (required)\n"
	"  --redis IP:PORT          the sale's Redis, as seckill-dp --redis (required)\n"
	"  --group NAME             consumer group (default seckill-orders)\n"
	"  --topic NAME             orders topic (default seckill.orders)\n"
	"  --pay-within SECONDS     payment window after the sale (default 900); a\n"
	"                           campaign's own: table order_campaigns\n"
	"  --http PORT              serve POST /orders/{id}/paid, GET /orders/{id}, /stats\n"
	"  --http-bind IP           address for --http (default 127.0.0.1)\n"
	"  --metrics-listen [IP:]PORT  GET /metrics (Prometheus) alone on its own port\n"
	"                           (IP default 127.0.0.1; /metrics is on --http too)\n"
	"  --batch N                orders per transaction at most (default 5000)\n"
	"  --batch-ms MS            a batch waits at most this long (default 50)\n"
	"  --writer copy|stage|pipeline|single  how rows are sent (default copy:\n"
	"                           straight into orders, through a staging table\n"
	"                           when a batch holds copies)\n"
	"  --sweep-ms MS            expiry check period (default 200)\n"
	"  --session-timeout-ms MS  Kafka group session (default 6000)\n"
	"  --quiet                  log errors only\n"
	"  --config FILE            these options from FILE, one 'key value' a line ('#'\n"
	"                           comments; the command line wins; example:\n"
	"                           etc/seckill-orders.conf.example)\n";

enum {
	O_KAFKA = 256, O_PG, O_REDIS, O_GROUP, O_TOPIC, O_PAY, O_HTTP, O_BIND, O_BATCH,
	O_BATCH_MS, O_WRITER, O_SWEEP, O_SESSION, O_QUIET, O_HELP, O_CONFIG,
	O_METRICS,
};

static const struct option opts[] = {
	{ "kafka", required_argument, NULL, O_KAFKA },
	{ "pg", required_argument, NULL, O_PG },
	{ "redis", required_argument, NULL, O_REDIS },
	{ "group", required_argument, NULL, O_GROUP },
	{ "topic", required_argument, NULL, O_TOPIC },
	{ "pay-within", required_argument, NULL, O_PAY },
	{ "http", required_argument, NULL, O_HTTP },
	{ "http-bind", required_argument, NULL, O_BIND },
	{ "batch", required_argument, NULL, O_BATCH },
	{ "batch-ms", required_argument, NULL, O_BATCH_MS },
	{ "writer", required_argument, NULL, O_WRITER },
	{ "sweep-ms", required_argument, NULL, O_SWEEP },
	{ "session-timeout-ms", required_argument, NULL, O_SESSION },
	{ "quiet", no_argument, NULL, O_QUIET },
	{ "help", no_argument, NULL, O_HELP },
	{ "config", required_argument, NULL, O_CONFIG },
	{ "metrics-listen", required_argument, NULL, O_METRICS },
	{ NULL, 0, NULL, 0 },
};

static int opt_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int opt_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "seckill-orders: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'seckill-orders --help'.\n");
	return 2;
}

static int opt_u32(const char *name, const char *v, uint64_t min, uint64_t max, uint32_t *out)
{
	uint64_t x;

	if (!str2u64(v, min, max, &x))
		return opt_err("--%s '%s': expected a whole number in %" PRIu64 "..%" PRIu64, name,
			       v, min, max);
	*out = (uint32_t)x;
	return 0;
}

static int opt_redis(const char *v, struct orders_conf *c)
{
	const char *colon = strrchr(v, ':');
	uint64_t port;

	if (colon == NULL || colon == v || (size_t)(colon - v) >= sizeof(c->redis_host) ||
	    !str2u64(colon + 1, 1, 65535, &port))
		return opt_err("--redis '%s': expected IP:PORT, e.g. 127.0.0.1:6379", v);
	memcpy(c->redis_host, v, (size_t)(colon - v));
	c->redis_host[colon - v] = '\0';
	c->redis_port = (int)port;
	return 0;
}

/* --metrics-listen [IP:]PORT. */
static int opt_metrics(const char *v, struct orders_conf *c)
{
	const char *colon = strrchr(v, ':'), *port_s = colon ? colon + 1 : v;
	struct in_addr a;
	uint64_t port;

	snprintf(c->metrics_ip, sizeof(c->metrics_ip), "%s", ORDERS_DEFAULT_HTTP_BIND);
	if (colon != NULL) {
		if ((size_t)(colon - v) >= sizeof(c->metrics_ip))
			goto bad;
		memcpy(c->metrics_ip, v, (size_t)(colon - v));
		c->metrics_ip[colon - v] = '\0';
	}
	if (inet_pton(AF_INET, c->metrics_ip, &a) != 1 || !str2u64(port_s, 1, 65535, &port))
		goto bad;
	c->metrics_port = (int)port;
	return 0;
bad:
	return opt_err("--metrics-listen '%s': expected [IP:]PORT, e.g. 127.0.0.1:9481", v);
}

static int opt_one(int o, const char *v, struct orders_conf *c)
{
	uint32_t port = 0;

	switch (o) {
	case O_KAFKA: c->kafka = v; return 0;
	case O_PG: c->pg = v; return 0;
	case O_REDIS: return opt_redis(v, c);
	case O_GROUP: c->group = v; return 0;
	case O_TOPIC: c->topic = v; return 0;
	case O_PAY: return opt_u32("pay-within", v, 1, OPT_MAX_PAY_WITHIN_S, &c->pay_within_s);
	case O_HTTP:
		if (opt_u32("http", v, 1, 65535, &port))
			return 2;
		c->http_port = (int)port;
		return 0;
	case O_BIND: c->http_bind = v; return 0;
	case O_METRICS: return opt_metrics(v, c);
	case O_BATCH: return opt_u32("batch", v, 1, OPT_MAX_BATCH, &c->batch);
	case O_BATCH_MS: return opt_u32("batch-ms", v, 1, 60000, &c->batch_ms);
	case O_SWEEP: return opt_u32("sweep-ms", v, 10, 60000, &c->sweep_ms);
	case O_SESSION: return opt_u32("session-timeout-ms", v, 1000, 300000, &c->session_ms);
	case O_QUIET: c->quiet = true; return 0;
	case O_WRITER:
		return ow_mode_parse(v, &c->writer) ? opt_err("--writer '%s': expected copy, "
							      "stage, pipeline or single", v) : 0;
	default: return 2;
	}
}

/* argv with the --config file's settings first (kept for the process's
 * life: the conf points into them); NULL after an error it printed. */
static char **opts_with_file(int *argc, char **argv)
{
	static const char *const refuse[] = { "help", "config", NULL };
	const char *path = conf_file_arg(*argc, argv);
	static struct conf_file cf;
	static char **all;          /* static: held, not leaked, until exit */
	char err[512];

	if (path == NULL)
		return argv;
	if (conf_file_read(path, opts, refuse, &cf, err, sizeof(err)) < 0) {
		opt_err("%s", err);
		return NULL;
	}
	all = calloc((size_t)(*argc + cf.n + 1), sizeof(*all));
	if (all == NULL) {
		opt_err("out of memory");
		return NULL;
	}
	all[0] = argv[0];
	if (cf.n != 0)                /* no file: cf.argv is NULL, which memcpy may not get */
		memcpy(all + 1, cf.argv, (size_t)cf.n * sizeof(*all));
	memcpy(all + 1 + cf.n, argv + 1, (size_t)(*argc - 1) * sizeof(*all));
	*argc += cf.n;
	return all;
}

int orders_opts_parse(int argc, char **argv, struct orders_conf *c)
{
	int o, rc;

	*c = (struct orders_conf){
		.group = ORDERS_DEFAULT_GROUP, .topic = ORDERS_DEFAULT_TOPIC,
		.pay_within_s = ORDERS_DEFAULT_PAY_WITHIN_S, .batch = ORDERS_DEFAULT_BATCH,
		.batch_ms = ORDERS_DEFAULT_BATCH_MS, .sweep_ms = ORDERS_DEFAULT_SWEEP_MS,
		.session_ms = ORDERS_DEFAULT_SESSION_MS, .writer = OW_COPY,
		.http_bind = ORDERS_DEFAULT_HTTP_BIND,
	};
	if ((argv = opts_with_file(&argc, argv)) == NULL)
		return 2;
	opterr = 0;
	while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (o == O_CONFIG)
			continue;        /* read before: its settings come first */
		if (o == O_HELP) {
			fputs(usage, stdout);
			exit(0);
		}
		if (o == ':')
			return opt_err("option '%s' needs a value", argv[optind - 1]);
		if (o == '?')
			return opt_err("unknown option '%s'", argv[optind - 1]);
		if ((rc = opt_one(o, optarg, c)) != 0)
			return rc;
	}
	if (optind < argc)
		return opt_err("unexpected argument '%s'", argv[optind]);
	if (!c->kafka)
		return opt_err("--kafka BOOTSTRAP is required (the brokers seckill-dp --kafka "
			       "publishes to)");
	if (!c->pg)
		return opt_err("--pg CONNINFO is required (e.g. the first line of "
			       "'tools/postgres up')");
	if (!c->redis_port)
		return opt_err("--redis IP:PORT is required (the sale's Redis, as seckill-dp "
			       "--redis)");
	return 0;
}
