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

#include "conf_file.h"
#include "dp_conf.h"
#include "now.h"
#include "str2int.h"

/* HTTP's own port; tools/serve runs as root, so it can take it. */
#define DP_PORT_DEFAULT 80
/* A table bigger than this is a typo, not a plan: 4M entries per core. */
#define DP_MAX_CONNS_LIMIT (1u << 22)
/* Per-connection buffers above 16 MiB would take the whole pool for one peer. */
#define DP_BUF_LIMIT (16u << 20)
/* The request and send deadlines (ms): lib/tcp's timers take up to 2^30 ms. */
#define DP_TIMEOUT_LIMIT (1u << 30)

/*
 * Rate-limit defaults, nginx limit_req with burst and nodelay:
 *  - per IP, 50 r/s burst 100: a carrier-grade NAT puts hundreds of phones
 *    behind one address and at the opening second each presses once; 100 at
 *    once then 50 a second lets such a crowd through, while a bot on one
 *    address is cut from thousands a second to 50.
 *  - per buyer, 2 r/s burst 5: a person presses a few times a second at
 *    most; the purchase set already makes a second buy 409, so this only
 *    sheds a script hammering with one token.
 */
/*
 * Connections per address, all cores together (nginx limit_conn), chosen as
 * the rate limits were, for carrier-grade NAT: hundreds of phones behind one
 * address, each holding one keep-alive connection (two while the page
 * loads). 256 lets the 100 buyers of an --ip-burst through on two each with
 * room to spare, while one bot's address holds at most 1/64 of a worker's
 * default table. It bounds one address, not a botnet: 64 addresses at the
 * limit still fill 16,384 entries (the deadlines and the full-table policy
 * are what answer many addresses).
 */
#define DP_IP_CONNS_DEFAULT 256
#define DP_IP_RATE_DEFAULT 50
#define DP_IP_BURST_DEFAULT 100
#define DP_BUYER_RATE_DEFAULT 2
#define DP_BUYER_BURST_DEFAULT 5
/* The purchase set holds a claim per sold unit; twice the stock leaves the
 * open-addressing table half empty, and never below 64 Ki (2 MB). */
#define DP_MAX_BUYERS_MIN_DEFAULT 65536
#define DP_MAX_BUYERS_LIMIT (1u << 28)
/* 16 Ki records (640 KiB) per core: at a million sales a second a core
 * fills it in 16 ms, 16 times the control thread's 1 ms drain period. */
#define DP_ORDER_RING_DEFAULT 16384
#define DP_ORDER_RING_MAX (1u << 24)
/* 256 MiB of journal: 4.7 million orders waiting for the control plane. */
#define DP_JOURNAL_MB_DEFAULT 256
#define DP_JOURNAL_MB_MAX (1u << 20)
#define DP_MS_PER_S 1000

enum {
	OPT_IP = 256, OPT_PORT, OPT_MAX_CONNS, OPT_COOKIES, OPT_RX_BUF, OPT_TX_BUF,
	OPT_IDLE_TIMEOUT, OPT_HEADER_TIMEOUT, OPT_FIRST_REQUEST_TIMEOUT, OPT_SEND_TIMEOUT,
	OPT_IDLE_SLEEP, OPT_BURST, OPT_MBUFS, OPT_STATS_INTERVAL,
	OPT_CAMPAIGN, OPT_TOKEN_KEY, OPT_IP_RATE, OPT_IP_BURST, OPT_BUYER_RATE,
	OPT_BUYER_BURST, OPT_BLACK_IP, OPT_BLACK_BUYER, OPT_MAX_BUYERS, OPT_ORDER_RING,
	OPT_NODE_ID, OPT_STATE_DIR, OPT_JOURNAL_MB, OPT_CTL_SOCKET, OPT_MAX_STOCK,
	OPT_KAFKA, OPT_KAFKA_TOPIC, OPT_REDIS, OPT_REDIS_HOST, OPT_ANSWER_AFTER,
	OPT_METRICS_LISTEN, OPT_CONFIG, OPT_IP_CONNS, OPT_SITE, OPT_RX_BUFS, OPT_TX_BUFS,
};

static const struct option dp_long_opts[] = {
	{ "ip",             required_argument, NULL, OPT_IP },
	{ "port",           required_argument, NULL, OPT_PORT },
	{ "max-conns",      required_argument, NULL, OPT_MAX_CONNS },
	{ "syn-cookies",    required_argument, NULL, OPT_COOKIES },
	{ "rx-buf",         required_argument, NULL, OPT_RX_BUF },
	{ "tx-buf",         required_argument, NULL, OPT_TX_BUF },
	{ "rx-bufs",        required_argument, NULL, OPT_RX_BUFS },
	{ "tx-bufs",        required_argument, NULL, OPT_TX_BUFS },
	{ "idle-timeout",   required_argument, NULL, OPT_IDLE_TIMEOUT },
	{ "header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT },
	{ "first-request-timeout", required_argument, NULL, OPT_FIRST_REQUEST_TIMEOUT },
	{ "send-timeout",   required_argument, NULL, OPT_SEND_TIMEOUT },
	{ "idle-sleep-us",  required_argument, NULL, OPT_IDLE_SLEEP },
	{ "burst",          required_argument, NULL, OPT_BURST },
	{ "mbufs",          required_argument, NULL, OPT_MBUFS },
	{ "stats-interval", required_argument, NULL, OPT_STATS_INTERVAL },
	{ "campaign",       required_argument, NULL, OPT_CAMPAIGN },
	{ "token-key",      required_argument, NULL, OPT_TOKEN_KEY },
	{ "ip-conns",       required_argument, NULL, OPT_IP_CONNS },
	{ "ip-rate",        required_argument, NULL, OPT_IP_RATE },
	{ "ip-burst",       required_argument, NULL, OPT_IP_BURST },
	{ "buyer-rate",     required_argument, NULL, OPT_BUYER_RATE },
	{ "buyer-burst",    required_argument, NULL, OPT_BUYER_BURST },
	{ "blacklist-ip",   required_argument, NULL, OPT_BLACK_IP },
	{ "blacklist-buyer", required_argument, NULL, OPT_BLACK_BUYER },
	{ "max-buyers",     required_argument, NULL, OPT_MAX_BUYERS },
	{ "order-ring",     required_argument, NULL, OPT_ORDER_RING },
	{ "node-id",        required_argument, NULL, OPT_NODE_ID },
	{ "state-dir",      required_argument, NULL, OPT_STATE_DIR },
	{ "journal-max-mb", required_argument, NULL, OPT_JOURNAL_MB },
	{ "ctl-socket",     required_argument, NULL, OPT_CTL_SOCKET },
	{ "max-stock",      required_argument, NULL, OPT_MAX_STOCK },
	{ "kafka",          required_argument, NULL, OPT_KAFKA },
	{ "kafka-topic",    required_argument, NULL, OPT_KAFKA_TOPIC },
	{ "redis",          required_argument, NULL, OPT_REDIS },
	{ "redis-host",     required_argument, NULL, OPT_REDIS_HOST },
	{ "answer-after",   required_argument, NULL, OPT_ANSWER_AFTER },
	{ "metrics-listen", required_argument, NULL, OPT_METRICS_LISTEN },
	{ "site",           required_argument, NULL, OPT_SITE },
	{ "config",         required_argument, NULL, OPT_CONFIG },
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
		"  --rx-bufs N             receive buffers per worker, taken by a connection only\n"
		"                          while it holds bytes (0: --max-conns / 4)\n"
		"  --tx-bufs N             send buffers per worker, likewise (0: --max-conns / 4)\n"
		"  --idle-timeout MS       close connections idle this long (%" PRIu32 ")\n"
		"  --header-timeout MS     reset a request not whole this long after its first\n"
		"                          byte (nginx client_header_timeout); 0 = off (%" PRIu32 ")\n"
		"  --first-request-timeout MS  reset a connection that sends no request this long\n"
		"                          after its handshake; 0 = off (%" PRIu32 ")\n"
		"  --send-timeout MS       reset a peer that takes none of our bytes (no ACK, zero\n"
		"                          window) this long (nginx send_timeout); 0 = off (%" PRIu32 ")\n"
		"  --idle-sleep-us US      longest sleep of an idle worker; 0 = busy poll (%u)\n"
		"  --burst N               RX burst size, 1..%u (%u)\n"
		"  --mbufs N               mbuf pool size (%u; fits --no-huge -m 256)\n"
		"  --stats-interval S      print counters every S seconds; 0 = only at exit (0)\n"
		"  --ip-conns N            connections one address may hold, all workers\n"
		"                          together (nginx limit_conn); 0 = off (%u)\n"
		"  --ctl-socket PATH       seckillctl's Unix socket (/run/seckill/<file-prefix>.sock)\n"
		"  --metrics-listen [IP:]PORT  serve Prometheus's GET /metrics there, on a kernel\n"
		"                          socket (IP default 127.0.0.1; default: no /metrics)\n"
		"  --site DIR              the sale page's files (index.html, app.js ...) instead\n"
		"                          of the built-in page; read once at start\n"
		"  --config FILE           these options from FILE, one 'key value' a line ('#'\n"
		"                          comments; the command line wins; example:\n"
		"                          etc/seckill-dp.conf.example)\n"
		"  --help                  this text\n"
		"\n"
		"The sale (POST /api/campaigns/{id}/orders; without --campaign, /api/ is 404):\n"
		"  --campaign ID:STOCK[:STARTS_AT]  a campaign of STOCK units, open from STARTS_AT\n"
		"                          (Unix seconds, or +SECONDS from start; default now);\n"
		"                          repeatable, at most %u, %" PRIu64 " units in all\n"
		"  --token-key FILE        operator key the buyer tokens are signed with (required\n"
		"                          with --campaign; make one: seckillctl token keygen > FILE)\n"
		"  --ip-rate N[/s|/m]      per-IP limit_req rate; 0 = off (%u/s)\n"
		"  --ip-burst N            per-IP burst, requests passed at once (%u)\n"
		"  --buyer-rate N[/s|/m]   per-buyer rate; 0 = off (%u/s)\n"
		"  --buyer-burst N         per-buyer burst (%u)\n"
		"  --blacklist-ip A.B.C.D  refuse this address (403); repeatable, at most %u\n"
		"  --blacklist-buyer ID    refuse this buyer (403); repeatable, at most %u\n"
		"  --max-buyers N          purchase set capacity (2 x total stock, at least %u)\n"
		"  --order-ring N          order ring slots per worker, a power of two (%u)\n"
		"  --node-id N             this host's id in order ids, 0..65535 (0)\n"
		"  --state-dir DIR         boot epoch file and order journal (%s; created)\n"
		"  --journal-max-mb N      journal size; nearly full, sales get 503 (%u)\n"
		"  --max-stock N           units of all campaigns, with those 'seckillctl campaign\n"
		"                          create' adds at run time (sum of --campaign); with\n"
		"                          --token-key and no --campaign, a sale whose campaigns\n"
		"                          all come from seckillctl\n"
		"  --kafka HOST:PORT[,..]  publish every order to Kafka from the journal; the\n"
		"                          delivery report confirms it (default: orders stay pending)\n"
		"  --kafka-topic NAME      the orders topic (%s)\n"
		"  --redis IP:PORT         share the sale with other hosts through Redis: campaigns\n"
		"                          preheated from it, stock taken in chunks, one purchase\n"
		"                          per buyer across hosts (needs --kafka)\n"
		"  --redis-host NAME       this host's name in Redis (<hostname>-<node id>)\n"
		"  --answer-after WHEN     when a buy that took a unit hears 200: disk (the\n"
		"                          order's journal record is fsynced: the default), kafka\n"
		"                          (Kafka acked it, acks=all; needs --kafka), or\n"
		"                          memory-unsafe (at once: a crash in the next ms loses\n"
		"                          orders whose buyers heard 200)\n"
		"\n"
		"Example (see tools/serve, which builds the EAL part for you):\n"
		"  %s --no-huge -m 256 --no-pci --file-prefix sk --lcores 0@0,1@1 \\\n"
		"     --vdev net_af_packet0,iface=sk-dp0 -- --ip 198.18.0.1\n",
		prog, t.max_conns, t.rx_buf, t.tx_buf, t.idle_timeout_ms, t.header_timeout_ms,
		t.first_request_timeout_ms, t.send_timeout_ms,
		DP_IDLE_SLEEP_US_DEFAULT, DP_BURST_MAX, DP_BURST_DEFAULT, DP_MBUFS_DEFAULT,
		DP_IP_CONNS_DEFAULT, SALE_MAX_CAMPAIGNS, DP_STOCK_MAX, DP_IP_RATE_DEFAULT, DP_IP_BURST_DEFAULT,
		DP_BUYER_RATE_DEFAULT, DP_BUYER_BURST_DEFAULT, DP_BLACKLIST_MAX, DP_BLACKLIST_MAX,
		DP_MAX_BUYERS_MIN_DEFAULT, DP_ORDER_RING_DEFAULT, DP_STATE_DIR_DEFAULT,
		DP_JOURNAL_MB_DEFAULT, DP_KAFKA_TOPIC_DEFAULT, prog);
}

static void dp_conf_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
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
	conf->ip_conns = DP_IP_CONNS_DEFAULT;
	conf->sale.ip_rate = DP_IP_RATE_DEFAULT;
	conf->sale.ip_per = 1;
	conf->sale.ip_burst = DP_IP_BURST_DEFAULT;
	conf->sale.buyer_rate = DP_BUYER_RATE_DEFAULT;
	conf->sale.buyer_per = 1;
	conf->sale.buyer_burst = DP_BUYER_BURST_DEFAULT;
	conf->sale.order_ring = DP_ORDER_RING_DEFAULT;
	conf->sale.journal_max_bytes = (uint64_t)DP_JOURNAL_MB_DEFAULT << 20;
	snprintf(conf->sale.state_dir, sizeof(conf->sale.state_dir), "%s", DP_STATE_DIR_DEFAULT);
	snprintf(conf->sale.kafka_topic, sizeof(conf->sale.kafka_topic), "%s",
		 DP_KAFKA_TOPIC_DEFAULT);
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
	{ OPT_RX_BUFS,        "--rx-bufs",        0, DP_MAX_CONNS_LIMIT },
	{ OPT_TX_BUFS,        "--tx-bufs",        0, DP_MAX_CONNS_LIMIT },
	{ OPT_IDLE_TIMEOUT,   "--idle-timeout",   1, UINT32_MAX },
	{ OPT_HEADER_TIMEOUT, "--header-timeout", 0, DP_TIMEOUT_LIMIT },
	{ OPT_FIRST_REQUEST_TIMEOUT, "--first-request-timeout", 0, DP_TIMEOUT_LIMIT },
	{ OPT_SEND_TIMEOUT,   "--send-timeout",   0, DP_TIMEOUT_LIMIT },
	{ OPT_IDLE_SLEEP,     "--idle-sleep-us",  0, DP_IDLE_SLEEP_US_MAX },
	{ OPT_BURST,          "--burst",          1, DP_BURST_MAX },
	{ OPT_MBUFS,          "--mbufs",          DP_MBUFS_MIN, 1u << 24 },
	{ OPT_STATS_INTERVAL, "--stats-interval", 0, 86400 },
	{ OPT_IP_CONNS,       "--ip-conns",       0, DP_IP_CONNS_MAX },
	{ OPT_IP_BURST,       "--ip-burst",       0, LIM_EXCESS_MAX / 1000 },
	{ OPT_BUYER_BURST,    "--buyer-burst",    0, LIM_EXCESS_MAX / 1000 },
	{ OPT_MAX_BUYERS,     "--max-buyers",     1, DP_MAX_BUYERS_LIMIT },
	{ OPT_ORDER_RING,     "--order-ring",     2, DP_ORDER_RING_MAX },
	{ OPT_NODE_ID,        "--node-id",        0, UINT16_MAX },
	{ OPT_JOURNAL_MB,     "--journal-max-mb", 1, DP_JOURNAL_MB_MAX },
	{ OPT_MAX_STOCK,      "--max-stock",      1, DP_STOCK_MAX },
};

static void dp_conf_store(struct dp_conf *conf, int id, uint64_t v)
{
	switch (id) {
	case OPT_PORT:           conf->tcp.listen_port = (uint16_t)v; break;
	case OPT_MAX_CONNS:      conf->tcp.max_conns = (uint32_t)v; break;
	case OPT_RX_BUF:         conf->tcp.rx_buf = (uint32_t)v; break;
	case OPT_TX_BUF:         conf->tcp.tx_buf = (uint32_t)v; break;
	case OPT_RX_BUFS:        conf->tcp.rx_bufs = (uint32_t)v; break;
	case OPT_TX_BUFS:        conf->tcp.tx_bufs = (uint32_t)v; break;
	case OPT_IDLE_TIMEOUT:   conf->tcp.idle_timeout_ms = (uint32_t)v; break;
	case OPT_HEADER_TIMEOUT: conf->tcp.header_timeout_ms = (uint32_t)v; break;
	case OPT_FIRST_REQUEST_TIMEOUT: conf->tcp.first_request_timeout_ms = (uint32_t)v; break;
	case OPT_SEND_TIMEOUT:   conf->tcp.send_timeout_ms = (uint32_t)v; break;
	case OPT_IDLE_SLEEP:     conf->idle_sleep_us = (uint32_t)v; break;
	case OPT_BURST:          conf->burst = (uint16_t)v; break;
	case OPT_MBUFS:          conf->mbufs = (uint32_t)v; break;
	case OPT_STATS_INTERVAL: conf->stats_interval_s = (uint32_t)v; break;
	case OPT_IP_CONNS:       conf->ip_conns = (uint32_t)v; break;
	case OPT_IP_BURST:       conf->sale.ip_burst = (uint32_t)v; break;
	case OPT_BUYER_BURST:    conf->sale.buyer_burst = (uint32_t)v; break;
	case OPT_MAX_BUYERS:     conf->sale.max_buyers = (uint32_t)v; break;
	case OPT_ORDER_RING:     conf->sale.order_ring = (uint32_t)v; break;
	case OPT_NODE_ID:        conf->sale.node_id = (uint16_t)v; break;
	case OPT_JOURNAL_MB:     conf->sale.journal_max_bytes = v << 20; break;
	case OPT_MAX_STOCK:      conf->sale.max_stock = v; break;
	}
}

/* --campaign ID:STOCK[:STARTS_AT]; STARTS_AT is Unix seconds or +SECONDS. */
static bool dp_conf_campaign(struct dp_sale_conf *sc, const char *arg, char *err, size_t errlen)
{
	char buf[128], *id_s, *stock_s, *start_s, *save = NULL;
	uint64_t id, stock, start, now_s = now_wall_s();
	struct dp_campaign *cp;
	bool rel;

	if (strlen(arg) >= sizeof(buf))
		goto bad;
	snprintf(buf, sizeof(buf), "%s", arg);
	id_s = strtok_r(buf, ":", &save);
	stock_s = strtok_r(NULL, ":", &save);
	start_s = strtok_r(NULL, "", &save);
	if (id_s == NULL || stock_s == NULL || !str2u64(id_s, 1, UINT32_MAX, &id) ||
	    !str2u64(stock_s, 1, DP_STOCK_MAX, &stock))
		goto bad;
	start = now_s;          /* whole seconds, as STARTS_AT: "now" is this second */
	if (start_s != NULL) {
		rel = start_s[0] == '+';
		if (!str2u64(start_s + rel, 0, UINT32_MAX, &start))
			goto bad;
		if (rel)
			start += now_s;
	}
	for (unsigned i = 0; i < sc->n_campaigns; i++)
		if (sc->camp[i].id == id) {
			dp_conf_error(err, errlen, "--campaign %s: campaign %" PRIu64 " is given "
				      "twice; campaign ids must differ", arg, id);
			return false;
		}
	if (sc->n_campaigns == SALE_MAX_CAMPAIGNS || sc->total_stock + stock > DP_STOCK_MAX) {
		dp_conf_error(err, errlen, "--campaign %s: too much: at most %u campaigns and %"
			      PRIu64 " units in all on one host", arg, SALE_MAX_CAMPAIGNS,
			      DP_STOCK_MAX);
		return false;
	}
	cp = &sc->camp[sc->n_campaigns++];
	cp->id = (uint32_t)id;
	cp->stock = stock;
	cp->starts_at_ms = start * DP_MS_PER_S;
	sc->total_stock += stock;
	return true;
bad:
	dp_conf_error(err, errlen, "--campaign '%s': expected ID:STOCK[:STARTS_AT] with ID "
		      "1..4294967295, STOCK 1..%" PRIu64 ", STARTS_AT Unix seconds or +SECONDS, "
		      "e.g. --campaign 1:1000:+60", arg, DP_STOCK_MAX);
	return false;
}

/* --ip-rate / --buyer-rate: N, N/s or N/m, as nginx's rate=Nr/s. */
static bool dp_conf_rate(const char *name, const char *arg, uint32_t *rate, uint32_t *per,
			 char *err, size_t errlen)
{
	char buf[32], *slash;
	uint64_t v;

	snprintf(buf, sizeof(buf), "%s", arg);
	slash = strchr(buf, '/');
	*per = 1;
	if (slash != NULL) {
		if (strcmp(slash, "/m") == 0)
			*per = 60;
		else if (strcmp(slash, "/s") != 0)
			slash = buf;             /* makes the number check below fail */
		*slash = '\0';
	}
	if (strlen(arg) >= sizeof(buf) || !str2u64(buf, 0, DP_RATE_MAX, &v)) {
		dp_conf_error(err, errlen, "%s '%s': expected N, N/s or N/m with N 0..%u "
			      "(0 = no limit), e.g. %s 50/s", name, arg, DP_RATE_MAX, name);
		return false;
	}
	*rate = (uint32_t)v;
	return true;
}

static bool dp_conf_blacklist(struct dp_sale_conf *sc, int id, const char *arg,
			      char *err, size_t errlen)
{
	struct in_addr a;
	uint64_t v;

	if ((id == OPT_BLACK_IP ? sc->n_black_ip : sc->n_black_buyer) == DP_BLACKLIST_MAX) {
		dp_conf_error(err, errlen, "%s %s: at most %u entries per blacklist",
			      id == OPT_BLACK_IP ? "--blacklist-ip" : "--blacklist-buyer", arg,
			      DP_BLACKLIST_MAX);
		return false;
	}
	if (id == OPT_BLACK_IP) {
		if (inet_pton(AF_INET, arg, &a) != 1) {
			dp_conf_error(err, errlen, "--blacklist-ip '%s' is not an IPv4 address; "
				      "give dotted quad, e.g. 203.0.113.7", arg);
			return false;
		}
		sc->black_ip[sc->n_black_ip++] = a.s_addr;
		return true;
	}
	if (!str2u64(arg, 1, UINT64_MAX - 1, &v)) {
		dp_conf_error(err, errlen, "--blacklist-buyer '%s': expected a buyer id, "
			      "1..18446744073709551614", arg);
		return false;
	}
	sc->black_buyer[sc->n_black_buyer++] = v;
	return true;
}

/* --kafka BOOTSTRAP, --kafka-topic NAME: kept as given, the Kafka client checks
 * the servers when it connects. */
static bool dp_conf_kafka(struct dp_sale_conf *sc, int id, const char *arg, char *err,
			  size_t errlen)
{
	const char *name = id == OPT_KAFKA ? "--kafka" : "--kafka-topic";
	char *dst = id == OPT_KAFKA ? sc->kafka : sc->kafka_topic;
	size_t cap = id == OPT_KAFKA ? sizeof(sc->kafka) : sizeof(sc->kafka_topic);

	if (arg[0] == '\0' || strlen(arg) >= cap || strpbrk(arg, " \t") != NULL) {
		dp_conf_error(err, errlen, "%s '%s': give %s (no spaces, under %zu bytes)",
			      name, arg, id == OPT_KAFKA ? "the brokers as HOST:PORT[,HOST:PORT...]" :
			      "a topic name", cap);
		return false;
	}
	snprintf(dst, cap, "%s", arg);
	return true;
}

/* --answer-after: when a sold order's 200 may leave (control/ctl_durable.c). */
static bool dp_conf_answer_after(struct dp_sale_conf *sc, const char *arg, char *err,
				 size_t errlen)
{
	static const char *const names[] = {
		[DP_ANSWER_AFTER_DISK] = "disk", [DP_ANSWER_AFTER_KAFKA] = "kafka",
		[DP_ANSWER_AFTER_MEMORY_UNSAFE] = "memory-unsafe",
	};

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(arg, names[i]) == 0) {
			sc->answer_after = (enum dp_answer_after)i;
			return true;
		}
	dp_conf_error(err, errlen, "--answer-after '%s': give disk (the default: 200 once the "
		      "order is fsynced), kafka (once Kafka acked it) or memory-unsafe", arg);
	return false;
}

/* --redis IP:PORT[,IP:PORT...]: one Redis, or seed nodes of a Redis Cluster
 * (the Redis client connects to addresses, not names). */
static bool dp_conf_redis(struct dp_sale_conf *sc, const char *arg, char *err, size_t errlen)
{
	const char *p = arg;
	bool first = true;

	if (strlen(arg) >= sizeof(sc->redis_seeds))
		goto bad;
	while (*p) {
		size_t len = strcspn(p, ",");
		const char *colon = NULL;
		char ip[INET_ADDRSTRLEN], num[8];
		struct in_addr a;
		uint64_t port;

		for (size_t i = 0; i < len; i++)
			if (p[i] == ':')
				colon = p + i;

		if (colon == NULL || (size_t)(colon - p) >= sizeof(ip) ||
		    (size_t)(p + len - colon - 1) >= sizeof(num))
			goto bad;
		memcpy(ip, p, (size_t)(colon - p));
		ip[colon - p] = '\0';
		memcpy(num, colon + 1, (size_t)(p + len - colon - 1));
		num[p + len - colon - 1] = '\0';
		if (inet_pton(AF_INET, ip, &a) != 1 || !str2u64(num, 1, 65535, &port))
			goto bad;
		if (first) {
			snprintf(sc->redis_ip, sizeof(sc->redis_ip), "%s", ip);
			sc->redis_port = (uint16_t)port;
			first = false;
		}
		p += len;
		if (*p == ',' && *++p == '\0')
			goto bad;   /* a trailing comma: a seed left out? */
	}
	if (first)
		goto bad;
	snprintf(sc->redis_seeds, sizeof(sc->redis_seeds), "%s", arg);
	return true;
bad:
	dp_conf_error(err, errlen, "--redis '%s': expected IP:PORT, e.g. --redis 127.0.0.1:6379, "
		      "or a Redis Cluster's nodes, IP:PORT,IP:PORT,...", arg);
	return false;
}

/* The sale's options that are not plain numbers: 1 done, 0 not one, -1 bad,
 * 2 the control socket's path (stored by the caller, outside the sale). */
static int dp_conf_sale_opt(struct dp_sale_conf *sc, int id, const char *arg,
			    char *err, size_t errlen)
{
	bool ok;

	switch (id) {
	case OPT_CAMPAIGN:
		ok = dp_conf_campaign(sc, arg, err, errlen);
		break;
	case OPT_TOKEN_KEY:
		ok = strlen(arg) < sizeof(sc->key_file);
		snprintf(sc->key_file, sizeof(sc->key_file), "%s", arg);
		if (!ok)
			dp_conf_error(err, errlen, "--token-key: path too long");
		break;
	case OPT_CTL_SOCKET:
		ok = strlen(arg) < DP_CTL_SOCKET_CAP && arg[0] != '\0';
		if (!ok)
			dp_conf_error(err, errlen, "--ctl-socket '%s': give a socket path (not "
				      "empty, under %d bytes: a Unix socket's limit)", arg,
				      DP_CTL_SOCKET_CAP);
		return ok ? 2 : -1;
	case OPT_STATE_DIR:
		ok = strlen(arg) < sizeof(sc->state_dir) - 64 && arg[0] != '\0';
		snprintf(sc->state_dir, sizeof(sc->state_dir), "%s", arg);
		if (!ok)
			dp_conf_error(err, errlen, "--state-dir '%s': give a directory path "
				      "(not empty, under %d bytes)", arg, DP_PATH_CAP - 64);
		break;
	case OPT_KAFKA:
	case OPT_KAFKA_TOPIC:
		ok = dp_conf_kafka(sc, id, arg, err, errlen);
		break;
	case OPT_REDIS:
		ok = dp_conf_redis(sc, arg, err, errlen);
		break;
	case OPT_ANSWER_AFTER:
		ok = dp_conf_answer_after(sc, arg, err, errlen);
		break;
	case OPT_REDIS_HOST:
		ok = arg[0] != '\0' && strlen(arg) < sizeof(sc->redis_host);
		snprintf(sc->redis_host, sizeof(sc->redis_host), "%s", arg);
		if (!ok)
			dp_conf_error(err, errlen, "--redis-host '%s': give a name of 1 to %zu "
				      "characters", arg, sizeof(sc->redis_host) - 1);
		break;
	case OPT_IP_RATE:
		ok = dp_conf_rate("--ip-rate", arg, &sc->ip_rate, &sc->ip_per, err, errlen);
		break;
	case OPT_BUYER_RATE:
		ok = dp_conf_rate("--buyer-rate", arg, &sc->buyer_rate, &sc->buyer_per, err,
				  errlen);
		break;
	case OPT_BLACK_IP:
	case OPT_BLACK_BUYER:
		ok = dp_conf_blacklist(sc, id, arg, err, errlen);
		break;
	default:
		return 0;
	}
	return ok ? 1 : -1;
}

/* --metrics-listen [IP:]PORT, kept as "IP:PORT" for control/ctl_metrics.c. */
static bool dp_conf_metrics(struct dp_conf *conf, const char *arg, char *err, size_t errlen)
{
	const char *colon = strrchr(arg, ':');
	char ip[INET_ADDRSTRLEN] = DP_METRICS_ADDR_DEFAULT;
	struct in_addr a;
	uint64_t port;

	if (colon != NULL) {
		if ((size_t)(colon - arg) >= sizeof(ip))
			goto bad;
		memcpy(ip, arg, (size_t)(colon - arg));
		ip[colon - arg] = '\0';
	}
	if (inet_pton(AF_INET, ip, &a) != 1 ||
	    !str2u64(colon ? colon + 1 : arg, 1, 65535, &port))
		goto bad;
	snprintf(conf->metrics_listen, sizeof(conf->metrics_listen), "%s:%u", ip,
		 (unsigned)port);
	return true;
bad:
	dp_conf_error(err, errlen, "--metrics-listen '%s': expected [IP:]PORT, e.g. "
		      "--metrics-listen 127.0.0.1:9480 (the IP defaults to %s)", arg,
		      DP_METRICS_ADDR_DEFAULT);
	return false;
}

/* Handles one option; false (with err set) when its value is unusable. */
static bool dp_conf_opt(struct dp_conf *conf, int id, const char *arg, char *err, size_t errlen)
{
	struct in_addr a;
	uint64_t v;
	size_t i;
	int r;

	r = dp_conf_sale_opt(&conf->sale, id, arg, err, errlen);
	if (r == 2)
		snprintf(conf->ctl_socket, sizeof(conf->ctl_socket), "%s", arg);
	if (r != 0)
		return r > 0;
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
	if (id == OPT_METRICS_LISTEN)
		return dp_conf_metrics(conf, arg, err, errlen);
	if (id == OPT_SITE) {
		if (arg[0] == '\0' || strlen(arg) >= sizeof(conf->site_dir)) {
			dp_conf_error(err, errlen, "--site '%s': give a directory path (not "
				      "empty, under %d bytes)", arg, DP_PATH_CAP);
			return false;
		}
		snprintf(conf->site_dir, sizeof(conf->site_dir), "%s", arg);
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
		if (!str2u64(arg, o->min, o->max, &v)) {
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

/* After all options: the rules, the key, the defaults that depend on the stock. */
static bool dp_conf_sale_check(struct dp_sale_conf *sc, char *err, size_t errlen)
{
	char kerr[TOKEN_ERR_CAP];

	if (sc->answer_after == DP_ANSWER_AFTER_KAFKA && sc->kafka[0] == '\0') {
		dp_conf_error(err, errlen, "--answer-after kafka waits for Kafka's acks: give "
			      "--kafka HOST:PORT too (or --answer-after disk)");
		return false;
	}
	if (sc->redis_port != 0 && sc->kafka[0] == '\0') {
		dp_conf_error(err, errlen, "--redis needs --kafka: an order's buyer is claimed in "
			      "Redis just before the order goes to Kafka");
		return false;
	}
	/* A sale runs with campaigns given here, or with room for those that
	 * `seckillctl campaign create` adds (--token-key and --max-stock). */
	sc->on = sc->n_campaigns > 0 || (sc->key_file[0] != '\0' && sc->max_stock > 0);
	if (!sc->on && sc->kafka[0] != '\0') {
		dp_conf_error(err, errlen, "--kafka publishes the sale's orders: give the sale "
			      "with --campaign ID:STOCK (or --max-stock N) and --token-key FILE too");
		return false;
	}
	if (!sc->on)
		return true;
	if (sc->key_file[0] == '\0') {
		dp_conf_error(err, errlen, "--campaign needs --token-key FILE, the key buyer "
			      "tokens are signed with; make one: seckillctl token keygen > FILE");
		return false;
	}
	if (token_key_load(sc->key_file, &sc->key, kerr, sizeof(kerr)) < 0) {
		dp_conf_error(err, errlen, "--token-key: %s; make a key file with "
			      "seckillctl token keygen > %s", kerr, sc->key_file);
		return false;
	}
	if (sc->ip_rate != 0 &&
	    lim_rule_set(&sc->ip_rule, sc->ip_rate, sc->ip_per, sc->ip_burst) < 0) {
		dp_conf_error(err, errlen, "--ip-rate %u with --ip-burst %u: not a usable "
			      "limit; lower the burst", sc->ip_rate, sc->ip_burst);
		return false;
	}
	if (sc->buyer_rate != 0 &&
	    lim_rule_set(&sc->buyer_rule, sc->buyer_rate, sc->buyer_per, sc->buyer_burst) < 0) {
		dp_conf_error(err, errlen, "--buyer-rate %u with --buyer-burst %u: not a usable "
			      "limit; lower the burst", sc->buyer_rate, sc->buyer_burst);
		return false;
	}
	if ((sc->order_ring & (sc->order_ring - 1)) != 0) {
		dp_conf_error(err, errlen, "--order-ring %u: must be a power of two, e.g. %u",
			      sc->order_ring, DP_ORDER_RING_DEFAULT);
		return false;
	}
	if (sc->max_stock != 0 && sc->max_stock < sc->total_stock) {
		dp_conf_error(err, errlen, "--max-stock %" PRIu64 ": below the %" PRIu64 " units "
			      "of the --campaign options; raise it", sc->max_stock, sc->total_stock);
		return false;
	}
	if (sc->max_stock < sc->total_stock)
		sc->max_stock = sc->total_stock;
	if (sc->max_buyers == 0) {
		uint64_t want = 2 * sc->max_stock;

		if (want < DP_MAX_BUYERS_MIN_DEFAULT)
			want = DP_MAX_BUYERS_MIN_DEFAULT;
		if (want > DP_MAX_BUYERS_LIMIT)
			want = DP_MAX_BUYERS_LIMIT;
		sc->max_buyers = (uint32_t)want;
	}
	return true;
}

/* Parses argv (after the --config file's settings, if any) onto conf. */
static enum dp_conf_result dp_conf_args(struct dp_conf *conf, int argc, char **argv,
					const struct conf_file *cf, const char *cf_path,
					char *err, size_t errlen)
{
	char msg[512];
	int c, at;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", dp_long_opts, NULL)) != -1) {
		if (c == 'h')
			return DP_CONF_HELP;
		if (c == OPT_CONFIG)
			continue;            /* read before: its settings come first */
		if (c == '?' || c == ':')
			snprintf(msg, sizeof(msg), "unknown option or missing value: '%s'; "
				 "run with -- --help for the list", argv[optind - 1]);
		else if (dp_conf_opt(conf, c, optarg, msg, sizeof(msg)))
			continue;
		/* A file's settings are one "--key=value" argument each. */
		at = optind - 1;
		if (at >= 1 && at <= cf->n)
			dp_conf_error(err, errlen, "%s line %u: %s", cf_path, cf->line[at - 1], msg);
		else
			dp_conf_error(err, errlen, "%s", msg);
		return DP_CONF_ERROR;
	}
	if (optind < argc) {
		dp_conf_error(err, errlen, "unexpected argument '%s'; options start with --",
			      argv[optind]);
		return DP_CONF_ERROR;
	}
	return DP_CONF_OK;
}

enum dp_conf_result dp_conf_parse(struct dp_conf *conf, int argc, char **argv,
				  char *err, size_t errlen)
{
	static const char *const refuse[] = { "help", "config", NULL };
	const char *cf_path = conf_file_arg(argc, argv), *bad;
	struct conf_file cf = { 0 };
	enum dp_conf_result r;
	char **all;

	dp_conf_defaults(conf);
	if (cf_path != NULL &&
	    conf_file_read(cf_path, dp_long_opts, refuse, &cf, err, errlen) < 0)
		return DP_CONF_ERROR;
	all = calloc((size_t)(argc + cf.n + 1), sizeof(*all));
	if (all == NULL) {
		conf_file_free(&cf);
		dp_conf_error(err, errlen, "out of memory for the options");
		return DP_CONF_ERROR;
	}
	all[0] = argv[0];
	if (cf.n != 0)                /* no file: cf.argv is NULL, which memcpy may not get */
		memcpy(all + 1, cf.argv, (size_t)cf.n * sizeof(*all));
	memcpy(all + 1 + cf.n, argv + 1, (size_t)(argc > 0 ? argc - 1 : 0) * sizeof(*all));
	r = dp_conf_args(conf, argc + cf.n, all, &cf, cf_path, err, errlen);
	free(all);
	conf_file_free(&cf);         /* every value was copied into conf */
	if (r != DP_CONF_OK)
		return r;
	if (conf->ip == 0) {
		dp_conf_error(err, errlen, "--ip is required: the address to serve on, "
			      "e.g. --ip 198.18.0.1 (tools/netns sets it up)");
		return DP_CONF_ERROR;
	}
	if (!dp_conf_sale_check(&conf->sale, err, errlen))
		return DP_CONF_ERROR;
	if (!dp_conf_cookie_key(conf, err, errlen))
		return DP_CONF_ERROR;
	bad = tcp_conf_check(&conf->tcp);
	if (bad != NULL) {
		dp_conf_error(err, errlen, "TCP settings rejected: %s", bad);
		return DP_CONF_ERROR;
	}
	return DP_CONF_OK;
}
