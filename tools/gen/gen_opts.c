/*
 * gen_opts.c - seckill-gen's options (after the EAL's "--").
 *
 * Defaults are a closed loop of 64 keep-alive connections for 10 seconds,
 * GET /healthz; everything a run differs in is named on the command line, so
 * a BENCHMARKS.md line can say exactly what was run.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ether.h>

#include "gen.h"
#include "now.h"
#include "pow.h"
#include "str2int.h"

#define GEN_DURATION_DEFAULT 10.0
#define GEN_DRAIN_DEFAULT 2.0
#define GEN_MBUFS_DEFAULT 8191
#define GEN_IDLE_SLEEP_DEFAULT 20
#define GEN_BURST_DEFAULT 32
#define GEN_TTL_DEFAULT 3600
/* A connection table entry per connection, and as many again for the ones
 * still closing when their replacement opens (one request per connection). */
#define GEN_TABLE_SLACK 2

enum {
	O_IP = 256, O_SERVER, O_SERVER_PORT, O_SERVER_MAC, O_CONNS, O_RATE, O_REQUESTS,
	O_DURATION, O_DRAIN, O_REQS_PER_CONN, O_CLOSE, O_PATH, O_HOST, O_CAMPAIGN, O_TOKEN_KEY,
	O_BUYERS, O_BUYER_FIRST, O_TOKEN_TTL, O_PORTS, O_BURST, O_MBUFS, O_IDLE_SLEEP, O_PCAP,
	O_PCAP_RATE, O_HIST, O_LABEL, O_LINGER, O_RETRY_503, O_HELP, O_POW, O_HEADER,
};

/* In the order of the enum above: gen_opt finds an option's name by its value. */
static const struct option gen_longopts[] = {
	{ "ip", required_argument, NULL, O_IP },
	{ "server", required_argument, NULL, O_SERVER },
	{ "server-port", required_argument, NULL, O_SERVER_PORT },
	{ "server-mac", required_argument, NULL, O_SERVER_MAC },
	{ "conns", required_argument, NULL, O_CONNS },
	{ "rate", required_argument, NULL, O_RATE },
	{ "requests", required_argument, NULL, O_REQUESTS },
	{ "duration", required_argument, NULL, O_DURATION },
	{ "drain", required_argument, NULL, O_DRAIN },
	{ "reqs-per-conn", required_argument, NULL, O_REQS_PER_CONN },
	{ "close", no_argument, NULL, O_CLOSE },
	{ "path", required_argument, NULL, O_PATH },
	{ "host", required_argument, NULL, O_HOST },
	{ "campaign", required_argument, NULL, O_CAMPAIGN },
	{ "token-key", required_argument, NULL, O_TOKEN_KEY },
	{ "buyers", required_argument, NULL, O_BUYERS },
	{ "buyer-first", required_argument, NULL, O_BUYER_FIRST },
	{ "token-ttl", required_argument, NULL, O_TOKEN_TTL },
	{ "ports", required_argument, NULL, O_PORTS },
	{ "burst", required_argument, NULL, O_BURST },
	{ "mbufs", required_argument, NULL, O_MBUFS },
	{ "idle-sleep-us", required_argument, NULL, O_IDLE_SLEEP },
	{ "pcap", required_argument, NULL, O_PCAP },
	{ "pcap-rate", required_argument, NULL, O_PCAP_RATE },
	{ "hist", required_argument, NULL, O_HIST },
	{ "label", required_argument, NULL, O_LABEL },
	{ "linger", required_argument, NULL, O_LINGER },
	{ "retry-503", no_argument, NULL, O_RETRY_503 },
	{ "help", no_argument, NULL, O_HELP },
	{ "pow", required_argument, NULL, O_POW },
	{ "header", required_argument, NULL, O_HEADER },
	{ NULL, 0, NULL, 0 },
};

void gen_opts_usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [EAL options] -- --ip A.B.C.D --server A.B.C.D [options]\n"
		"\n"
		"Plays many HTTP clients from DPDK port 0 against a server (seckill-dp, nginx,\n"
		"anything HTTP/1.1), one RX/TX queue and one share of the load per worker lcore,\n"
		"and prints requests/s, connections/s, answers per status, errors and latency\n"
		"percentiles (gen.* lines).\n"
		"\n"
		"  --ip A.B.C.D          our IPv4 address on the port (required)\n"
		"  --server A.B.C.D      the server's (required); its MAC is asked for with ARP\n"
		"  --server-port N       (80)\n"
		"  --server-mac MAC      the next hop's MAC, instead of ARP (a router's)\n"
		"  --conns N             closed loop: connections kept busy; open loop: at most\n"
		"                        this many open (64); 0 with --pcap: replay only\n"
		"  --rate N              open loop: N requests/s in all, due on a fixed schedule;\n"
		"                        latency counts from when each was due (0: closed loop)\n"
		"  --requests N          stop after N requests (0: run for --duration)\n"
		"  --duration S          seconds of load (%.0f)\n"
		"  --drain S             then seconds to wait for answers in flight (%.0f)\n"
		"  --reqs-per-conn N     requests per connection, the last with Connection: close\n"
		"                        (0: keep-alive, the default)\n"
		"  --close               one request per connection (--reqs-per-conn 1)\n"
		"  --path P              GET this path (/healthz)\n"
		"  --host NAME           the Host header (the server's address)\n"
		"  --header 'NAME: V'    add this line to every request, GET or buy (up to\n"
		"                        %u times), e.g. --header 'Accept-Encoding: gzip'\n"
		"  --campaign ID         buy instead: POST /api/campaigns/ID/orders with tokens\n"
		"  --token-key FILE      the operator key to mint buyer tokens with (seckillctl\n"
		"                        token keygen); required with --campaign\n"
		"  --buyers N            distinct buyers, used round robin (1)\n"
		"  --buyer-first ID      the first buyer id (1)\n"
		"  --token-ttl S         tokens expire S seconds from now (%u)\n"
		"  --pow BITS            orders carry X-Seckill-PoW, the campaign's proof of work\n"
		"                        (seckillctl campaign pow --bits BITS): each buyer's\n"
		"                        challenge minted with --token-key's derived key and\n"
		"                        solved before the run (~2^BITS SHA-256 a buyer);\n"
		"                        good for 120 s from the start\n"
		"  --retry-503           a buyer answered 503 (stock on its way, order queue\n"
		"                        full) is asked again before new ones, as a person would\n"
		"  --ports LO-HI         our local ports, split between workers (1024-65535)\n"
		"  --pcap FILE           replay FILE's Ethernet frames (to the server's MAC, from\n"
		"                        ours) over and over beside the load ...\n"
		"  --pcap-rate N         ... at N frames/s in all (required with --pcap)\n"
		"  --burst N             RX burst size, 1..%u (%u)\n"
		"  --mbufs N             mbuf pool size (%u)\n"
		"  --idle-sleep-us US    longest sleep of an idle worker; 0: busy poll (%u)\n"
		"  --hist FILE           write the latency distribution (us, percentile,\n"
		"                        1/(1-percentile)) for gnuplot\n"
		"  --label TEXT          names the run in the report\n"
		"  --linger S            after the report, keep the port up for S seconds or\n"
		"                        until SIGINT/SIGTERM: a memif peer can stop first (a\n"
		"                        memif peer leaving while the other polls can crash it:\n"
		"                        DPDK 22.11's memif disconnect is not synchronised with\n"
		"                        its datapath)\n"
		"\n"
		"Example: a seckill-dp on memif (tools/bench-gen builds the EAL part):\n"
		"  %s --no-huge -m 512 --no-pci --file-prefix gen --lcores 0@0,1@1 \\\n"
		"     --vdev net_memif0,role=client,socket=/run/seckill/memif.sock -- \\\n"
		"     --ip 198.18.0.2 --server 198.18.0.1 --conns 64 --duration 5\n",
		prog, GEN_DURATION_DEFAULT, GEN_DRAIN_DEFAULT, GEN_HEADERS_MAX, GEN_TTL_DEFAULT,
		GEN_BURST_MAX,
		GEN_BURST_DEFAULT, GEN_MBUFS_DEFAULT, GEN_IDLE_SLEEP_DEFAULT, prog);
}

static int bad(char *err, size_t errlen, const char *opt, const char *arg, const char *want)
{
	snprintf(err, errlen, "--%s '%s': %s", opt, arg, want);
	return -1;
}

static int seconds(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || !(v >= 0) || v > 86400)
		return -1;
	*out = v;
	return 0;
}

/* DPDK's strict form: XX:XX:XX:XX:XX:XX (or XXXX:XXXX:XXXX), nothing around it. */
static int mac(const char *s, uint8_t out[NET_ETH_ALEN])
{
	struct rte_ether_addr ea;

	if (rte_ether_unformat_addr(s, &ea) < 0)
		return -1;
	memcpy(out, ea.addr_bytes, NET_ETH_ALEN);
	return 0;
}

/* "Name: value": a header name of token characters (RFC 9110 5.6.2), a colon,
 * a value of visible characters, spaces and tabs (no CR, LF or other control). */
static bool header_line_ok(const char *s)
{
	static const char tchar[] = "!#$%&'*+-.^_`|~";
	const char *p = s;

	while (*p && (('a' <= (*p | 0x20) && (*p | 0x20) <= 'z') || ('0' <= *p && *p <= '9') ||
		      strchr(tchar, *p) != NULL))
		p++;
	if (p == s || *p != ':')
		return false;
	for (p++; *p; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
			return false;
	return true;
}

static void gen_opts_default(struct gen_opts *o)
{
	memset(o, 0, sizeof(*o));
	gen_conf_default(&o->load);
	o->load.host = NULL;
	tcp_conf_default(&o->tcp);
	o->duration_s = GEN_DURATION_DEFAULT;
	o->drain_s = GEN_DRAIN_DEFAULT;
	o->burst = GEN_BURST_DEFAULT;
	o->mbufs = GEN_MBUFS_DEFAULT;
	o->idle_sleep_us = GEN_IDLE_SLEEP_DEFAULT;
	o->label = "";
}

/* One option; -1 with err on a bad value. */
static int gen_opt(struct gen_opts *o, int opt, const char *arg, const char **key_file,
		   uint64_t *ttl, char *err, size_t errlen)
{
	const char *name = gen_longopts[opt - O_IP].name;
	struct gen_conf *l = &o->load;
	struct in_addr a;
	uint64_t v, hi;

	switch (opt) {
	case O_IP:
	case O_SERVER:
		if (inet_pton(AF_INET, arg, &a) != 1 || a.s_addr == 0)
			return bad(err, errlen, name, arg, "give an IPv4 address, A.B.C.D");
		*(opt == O_IP ? &o->ip : &l->server_ip) = a.s_addr;
		return 0;
	case O_SERVER_PORT:
		if (!str2u64(arg, 1, 65535, &v))
			return bad(err, errlen, name, arg, "a port, 1..65535");
		l->server_port = (uint16_t)v;
		return 0;
	case O_SERVER_MAC:
		return mac(arg, l->server_mac) < 0 ?
		       bad(err, errlen, name, arg, "a MAC, 6 hex bytes with colons") : 0;
	case O_CONNS:
		if (!str2u64(arg, 0, 1u << 20, &v))
			return bad(err, errlen, name, arg, "0..1048576");
		l->conns = (uint32_t)v;
		o->no_load = v == 0;
		return 0;
	case O_RATE:
	case O_REQUESTS:
	case O_PCAP_RATE:
		if (!str2u64(arg, 0, UINT64_MAX / 2, &v))
			return bad(err, errlen, name, arg, "a whole number");
		*(opt == O_RATE ? &l->rate : opt == O_REQUESTS ? &l->requests : &o->pcap_rate) = v;
		return 0;
	case O_DURATION:
	case O_DRAIN:
	case O_LINGER:
		return seconds(arg, opt == O_DURATION ? &o->duration_s :
				    opt == O_DRAIN ? &o->drain_s : &o->linger_s) < 0 ?
		       bad(err, errlen, name, arg, "seconds, 0..86400") : 0;
	case O_REQS_PER_CONN:
		if (!str2u64(arg, 0, UINT32_MAX, &v))
			return bad(err, errlen, name, arg, "a whole number (0: keep-alive)");
		l->reqs_per_conn = (uint32_t)v;
		return 0;
	case O_CLOSE:
		l->reqs_per_conn = 1;
		return 0;
	case O_RETRY_503:
		l->retry_503 = true;
		return 0;
	case O_PATH:
		if (arg[0] != '/' || strpbrk(arg, " \r\n") != NULL)
			return bad(err, errlen, name, arg, "a path starting with /, no spaces");
		l->path = arg;
		return 0;
	case O_HOST:
		if (strpbrk(arg, " \r\n") != NULL || !*arg)
			return bad(err, errlen, name, arg, "a host name, no spaces");
		l->host = arg;
		return 0;
	case O_HEADER:
		if (!header_line_ok(arg))
			return bad(err, errlen, name, arg, "'Name: value', a token, a colon, no CR or LF");
		if (l->n_headers == GEN_HEADERS_MAX)
			return bad(err, errlen, name, arg, "too many --header (8 at most)");
		l->headers[l->n_headers++] = arg;
		return 0;
	case O_CAMPAIGN:
		if (!str2u64(arg, 1, UINT32_MAX, &v))
			return bad(err, errlen, name, arg, "a campaign id, 1..4294967295");
		l->campaign = (uint32_t)v;
		return 0;
	case O_TOKEN_KEY:
		*key_file = arg;
		return 0;
	case O_POW:
		if (!str2u64(arg, 1, POW_MAX_BITS, &v))
			return bad(err, errlen, name, arg, "bits, 1..32");
		l->pow_bits = (unsigned)v;
		return 0;
	case O_BUYERS:
	case O_BUYER_FIRST:
		if (!str2u64(arg, 1, UINT64_MAX / 2, &v))
			return bad(err, errlen, name, arg, "a whole number >= 1");
		*(opt == O_BUYERS ? &l->buyers : &l->buyer_first) = v;
		return 0;
	case O_TOKEN_TTL:
		return !str2u64(arg, 1, 86400 * 365, ttl) ?
		       bad(err, errlen, name, arg, "seconds, 1..31536000") : 0;
	case O_PORTS: {
		char lo[8];
		const char *dash = strchr(arg, '-');

		if (dash == NULL || dash - arg >= (long)sizeof(lo))
			return bad(err, errlen, name, arg, "LO-HI, e.g. 1024-65535");
		memcpy(lo, arg, (size_t)(dash - arg));
		lo[dash - arg] = '\0';
		if (!str2u64(lo, 1, 65535, &v) || !str2u64(dash + 1, v, 65535, &hi))
			return bad(err, errlen, name, arg, "LO-HI with 1 <= LO <= HI <= 65535");
		l->port_lo = (uint16_t)v;
		l->port_hi = (uint16_t)hi;
		return 0;
	}
	case O_BURST:
		if (!str2u64(arg, 1, GEN_BURST_MAX, &v))
			return bad(err, errlen, name, arg, "1..64");
		o->burst = (uint16_t)v;
		return 0;
	case O_MBUFS:
		if (!str2u64(arg, 511, 1u << 24, &v))
			return bad(err, errlen, name, arg, "511..16777216");
		o->mbufs = (uint32_t)v;
		return 0;
	case O_IDLE_SLEEP:
		if (!str2u64(arg, 0, 100000, &v))
			return bad(err, errlen, name, arg, "microseconds, 0..100000");
		o->idle_sleep_us = (uint32_t)v;
		return 0;
	case O_PCAP:
		o->pcap = arg;
		return 0;
	case O_HIST:
		o->hist_out = arg;
		return 0;
	case O_LABEL:
		o->label = arg;
		return 0;
	default:
		snprintf(err, errlen, "unknown option (try --help)");
		return -1;
	}
}

/* What the options say together. */
static int gen_opts_check(struct gen_opts *o, const char *key_file, uint64_t ttl,
			  char *err, size_t errlen)
{
	static char host[INET_ADDRSTRLEN];
	char kerr[TOKEN_ERR_CAP];

	if (o->ip == 0 || o->load.server_ip == 0) {
		snprintf(err, errlen, "--ip and --server are required (try --help)");
		return -1;
	}
	if (o->no_load && o->pcap == NULL) {
		snprintf(err, errlen, "--conns 0 leaves nothing to do without --pcap");
		return -1;
	}
	if ((o->pcap != NULL) != (o->pcap_rate != 0)) {
		snprintf(err, errlen, "--pcap and --pcap-rate go together");
		return -1;
	}
	if (o->load.campaign) {
		if (key_file == NULL) {
			snprintf(err, errlen, "--campaign needs --token-key FILE to mint buyer tokens");
			return -1;
		}
		if (token_key_load(key_file, &o->load.key, kerr, sizeof(kerr)) < 0) {
			snprintf(err, errlen, "--token-key: %s", kerr);
			return -1;
		}
		o->load.token_expiry = now_wall_s() + ttl;
		o->load.pow_issued_s = now_wall_s();
	}
	if (o->load.pow_bits && !o->load.campaign) {
		snprintf(err, errlen, "--pow needs --campaign");
		return -1;
	}
	if (o->load.host == NULL) {
		inet_ntop(AF_INET, &o->load.server_ip, host, sizeof(host));
		o->load.host = host;
	}
	if (o->load.requests == 0 && o->duration_s <= 0) {
		snprintf(err, errlen, "give --duration > 0 or --requests");
		return -1;
	}
	o->tcp.max_conns = o->load.conns * GEN_TABLE_SLACK + 64;
	if (tcp_conf_check(&o->tcp) != NULL) {
		snprintf(err, errlen, "TCP settings rejected: %s", tcp_conf_check(&o->tcp));
		return -1;
	}
	return 0;
}

int gen_opts_parse(struct gen_opts *o, int argc, char **argv, char *err, size_t errlen)
{
	const char *key_file = NULL;
	uint64_t ttl = GEN_TTL_DEFAULT;
	int opt;

	gen_opts_default(o);
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", gen_longopts, NULL)) != -1) {
		if (opt == O_HELP)
			return 1;
		if (opt == '?') {
			snprintf(err, errlen, "unknown option or missing value (try --help)");
			return -1;
		}
		if (gen_opt(o, opt, optarg, &key_file, &ttl, err, errlen) < 0)
			return -1;
	}
	if (optind < argc) {
		snprintf(err, errlen, "unexpected argument '%s' (try --help)", argv[optind]);
		return -1;
	}
	return gen_opts_check(o, key_file, ttl, err, errlen);
}
