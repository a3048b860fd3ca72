/*
 * dp_conf.c - parse and check seckill-dp's options.
 *
 * The defaults come from the modules that own them (tcp_conf_default,
 * http_server_conf_default); this file only overrides what the command line
 * names, then lets tcp_conf_check judge the TCP part as a whole, so the rules
 * about what is a usable TCP configuration live in one place.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "dp_conf.h"

/* HTTP's own port; tools/serve runs as root, so it can take it. */
#define DP_PORT_DEFAULT 80
/* A table bigger than this is a typo, not a plan: 4M entries per core. */
#define DP_MAX_CONNS_LIMIT (1u << 22)
/* Per-connection buffers above 16 MiB would take the whole pool for one peer. */
#define DP_BUF_LIMIT (16u << 20)

enum {
	OPT_IP = 256, OPT_PORT, OPT_MAX_CONNS, OPT_COOKIES, OPT_RX_BUF, OPT_TX_BUF,
	OPT_IDLE_TIMEOUT, OPT_IDLE_SLEEP, OPT_BURST, OPT_MBUFS, OPT_STATS_INTERVAL,
};

static const struct option dp_long_opts[] = {
	{ "ip",             required_argument, NULL, OPT_IP },
	{ "port",           required_argument, NULL, OPT_PORT },
	{ "max-conns",      required_argument, NULL, OPT_MAX_CONNS },
	{ "syn-cookies",    required_argument, NULL, OPT_COOKIES },
	{ "rx-buf",         required_argument, NULL, OPT_RX_BUF },
	{ "tx-buf",         required_argument, NULL, OPT_TX_BUF },
	{ "idle-timeout",   required_argument, NULL, OPT_IDLE_TIMEOUT },
	{ "idle-sleep-us",  required_argument, NULL, OPT_IDLE_SLEEP },
	{ "burst",          required_argument, NULL, OPT_BURST },
	{ "mbufs",          required_argument, NULL, OPT_MBUFS },
	{ "stats-interval", required_argument, NULL, OPT_STATS_INTERVAL },
	{ "help",           no_argument,       NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

void dp_conf_usage(FILE *f, const char *prog)
{
	struct tcp_conf t;

	tcp_conf_default(&t);
	fprintf(f,
		"usage: %s [EAL options] -- --ip A.B.C.D [options]\n"
		"\n"
		"Serves HTTP on A.B.C.D from DPDK port 0, one RX/TX queue per worker lcore.\n"
		"\n"
		"  --ip A.B.C.D            the dataplane's IPv4 address (required)\n"
		"  --port N                TCP port to listen on (80)\n"
		"  --max-conns N           connection table size per worker core (%" PRIu32 ")\n"
		"  --syn-cookies MODE      auto|always|never (auto: cookies once the SYN backlog is full)\n"
		"  --rx-buf BYTES          receive buffer per connection (%" PRIu32 ")\n"
		"  --tx-buf BYTES          send buffer per connection (%" PRIu32 ")\n"
		"  --idle-timeout MS       close connections idle this long (%" PRIu32 ")\n"
		"  --idle-sleep-us US      longest sleep of an idle worker; 0 = busy poll (%u)\n"
		"  --burst N               RX burst size, 1..%u (%u)\n"
		"  --mbufs N               mbuf pool size (%u; fits --no-huge -m 256)\n"
		"  --stats-interval S      print counters every S seconds; 0 = only at exit (0)\n"
		"  --help                  this text\n"
		"\n"
		"Example (see tools/serve, which builds the EAL part for you):\n"
		"  %s --no-huge -m 256 --no-pci --file-prefix sk --lcores 0@0,1@1 \\\n"
		"     --vdev net_af_packet0,iface=sk-dp0 -- --ip 198.18.0.1\n",
		prog, t.max_conns, t.rx_buf, t.tx_buf, t.idle_timeout_ms,
		DP_IDLE_SLEEP_US_DEFAULT, DP_BURST_MAX, DP_BURST_DEFAULT, DP_MBUFS_DEFAULT, prog);
}

static void dp_conf_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* A whole decimal number in [min, max], or false. */
static bool dp_conf_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')          /* strtoull would take " 5", "-1", "+5" */
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static void dp_conf_defaults(struct dp_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	tcp_conf_default(&conf->tcp);
	http_server_conf_default(&conf->http);
	conf->tcp.listen_port = DP_PORT_DEFAULT;
	conf->idle_sleep_us = DP_IDLE_SLEEP_US_DEFAULT;
	conf->burst = DP_BURST_DEFAULT;
	conf->mbufs = DP_MBUFS_DEFAULT;
}

/* The range each numeric option accepts, and where its value goes. */
struct dp_num_opt {
	int id;
	const char *name;
	uint64_t min, max;
};

static const struct dp_num_opt dp_num_opts[] = {
	{ OPT_PORT,           "--port",           1, 65535 },
	{ OPT_MAX_CONNS,      "--max-conns",      1, DP_MAX_CONNS_LIMIT },
	{ OPT_RX_BUF,         "--rx-buf",         1, DP_BUF_LIMIT },
	{ OPT_TX_BUF,         "--tx-buf",         1, DP_BUF_LIMIT },
	{ OPT_IDLE_TIMEOUT,   "--idle-timeout",   1, UINT32_MAX },
	{ OPT_IDLE_SLEEP,     "--idle-sleep-us",  0, DP_IDLE_SLEEP_US_MAX },
	{ OPT_BURST,          "--burst",          1, DP_BURST_MAX },
	{ OPT_MBUFS,          "--mbufs",          DP_MBUFS_MIN, 1u << 24 },
	{ OPT_STATS_INTERVAL, "--stats-interval", 0, 86400 },
};

static void dp_conf_store(struct dp_conf *conf, int id, uint64_t v)
{
	switch (id) {
	case OPT_PORT:           conf->tcp.listen_port = (uint16_t)v; break;
	case OPT_MAX_CONNS:      conf->tcp.max_conns = (uint32_t)v; break;
	case OPT_RX_BUF:         conf->tcp.rx_buf = (uint32_t)v; break;
	case OPT_TX_BUF:         conf->tcp.tx_buf = (uint32_t)v; break;
	case OPT_IDLE_TIMEOUT:   conf->tcp.idle_timeout_ms = (uint32_t)v; break;
	case OPT_IDLE_SLEEP:     conf->idle_sleep_us = (uint32_t)v; break;
	case OPT_BURST:          conf->burst = (uint16_t)v; break;
	case OPT_MBUFS:          conf->mbufs = (uint32_t)v; break;
	case OPT_STATS_INTERVAL: conf->stats_interval_s = (uint32_t)v; break;
	}
}

/* Handles one option; false (with err set) when its value is unusable. */
static bool dp_conf_opt(struct dp_conf *conf, int id, const char *arg, char *err, size_t errlen)
{
	struct in_addr a;
	uint64_t v;
	size_t i;

	if (id == OPT_IP) {
		if (inet_pton(AF_INET, arg, &a) != 1) {
			dp_conf_error(err, errlen, "--ip '%s' is not an IPv4 address; "
				      "give dotted quad, e.g. --ip 198.18.0.1", arg);
			return false;
		}
		conf->ip = a.s_addr;
		snprintf(conf->ip_str, sizeof(conf->ip_str), "%s", arg);
		return true;
	}
	if (id == OPT_COOKIES) {
		if (strcmp(arg, "auto") == 0)
			conf->tcp.cookies = TCP_COOKIES_AUTO;
		else if (strcmp(arg, "always") == 0)
			conf->tcp.cookies = TCP_COOKIES_ALWAYS;
		else if (strcmp(arg, "never") == 0)
			conf->tcp.cookies = TCP_COOKIES_NEVER;
		else {
			dp_conf_error(err, errlen, "--syn-cookies '%s': use auto, always or never", arg);
			return false;
		}
		return true;
	}
	for (i = 0; i < sizeof(dp_num_opts) / sizeof(dp_num_opts[0]); i++) {
		const struct dp_num_opt *o = &dp_num_opts[i];

		if (o->id != id)
			continue;
		if (!dp_conf_uint(arg, o->min, o->max, &v)) {
			dp_conf_error(err, errlen, "%s '%s': expected a whole number from %" PRIu64
				      " to %" PRIu64, o->name, arg, o->min, o->max);
			return false;
		}
		dp_conf_store(conf, id, v);
		return true;
	}
	dp_conf_error(err, errlen, "unknown option; run with -- --help for the list");
	return false;
}

/* Random SipHash key for SYN cookies: unguessable, and new each run. */
static bool dp_conf_cookie_key(struct dp_conf *conf, char *err, size_t errlen)
{
	if (getrandom(conf->tcp.cookie_key, sizeof(conf->tcp.cookie_key), 0) !=
	    (ssize_t)sizeof(conf->tcp.cookie_key)) {
		dp_conf_error(err, errlen, "cannot read a SYN cookie key from getrandom(): %s",
			      strerror(errno));
		return false;
	}
	return true;
}

enum dp_conf_result dp_conf_parse(struct dp_conf *conf, int argc, char **argv,
				  char *err, size_t errlen)
{
	const char *bad;
	int c;

	dp_conf_defaults(conf);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", dp_long_opts, NULL)) != -1) {
		if (c == 'h')
			return DP_CONF_HELP;
		if (c == '?' || c == ':') {
			dp_conf_error(err, errlen, "unknown option or missing value: '%s'; "
				      "run with -- --help for the list", argv[optind - 1]);
			return DP_CONF_ERROR;
		}
		if (!dp_conf_opt(conf, c, optarg, err, errlen))
			return DP_CONF_ERROR;
	}
	if (optind < argc) {
		dp_conf_error(err, errlen, "unexpected argument '%s'; options start with --",
			      argv[optind]);
		return DP_CONF_ERROR;
	}
	if (conf->ip == 0) {
		dp_conf_error(err, errlen, "--ip is required: the address to serve on, "
			      "e.g. --ip 198.18.0.1 (tools/netns sets it up)");
		return DP_CONF_ERROR;
	}
	if (!dp_conf_cookie_key(conf, err, errlen))
		return DP_CONF_ERROR;
	bad = tcp_conf_check(&conf->tcp);
	if (bad != NULL) {
		dp_conf_error(err, errlen, "TCP settings rejected: %s", bad);
		return DP_CONF_ERROR;
	}
	return DP_CONF_OK;
}
