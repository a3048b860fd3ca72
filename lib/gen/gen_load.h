/*
 * gen_load.h - the load generator's engine on one core: many HTTP clients
 * over lib/tcp in client mode, driven by a clock.
 *
 * One gen_load owns a net_core and a client tcp_core, exactly as a worker of
 * seckill-dp owns a server one: the caller (tools/gen, on DPDK) feeds it
 * received frames (gen_load_input), gives it the time once per burst
 * (gen_load_poll) and sends what it queues on the net_tx it was given.
 *
 * Two ways to load a server, as wrk2 and pktgen-style testers offer:
 *   closed loop (rate 0): conf.conns connections, each sending its next
 *     request as soon as the last answer arrived; measures the most the
 *     server does, latency from each request's send.
 *   open loop (rate R): request i is due at start + i/R whatever the server
 *     does. A due request takes an idle connection, else opens one (up to
 *     conf.conns), else waits in a backlog; its latency is counted from when
 *     it was due, not when it could be sent, so a stalled server shows in the
 *     percentiles instead of slowing the clients down (no coordinated
 *     omission). A backlog that is full is counted (backlog_full), not hidden.
 * The first request on a new connection is timed from the connect, so with
 * reqs_per_conn 1 every latency includes the handshake.
 *
 * Requests: GET conf.path, or with conf.campaign a buy (POST
 * /api/campaigns/<id>/orders) carrying the token of buyer buyer_first + k %
 * buyers for the k-th request, minted here with the operator key. Answers are
 * read with http_resp_head and counted per status, so a run's 200/409/410
 * can be checked against the server's counters and its stock. With
 * retry_503 a buyer answered 503 (the server's "try again": stock on its way,
 * order queue full) is asked again before any new buyer, as a real one would.
 * With pow_bits, each buyer's order carries X-Seckill-PoW (lib/sale/pow.h):
 * the challenge the server would give that buyer at pow_issued_s (the
 * generator holds the operator key, from which the challenge key derives),
 * solved at create, before the timed part; good for POW_TTL_S from then.
 * conf.headers are added to every request, GET or buy, after Host (an
 * Accept-Encoding, an If-None-Match, a cookie ...).
 */
#ifndef SECKILL_GEN_LOAD_H
#define SECKILL_GEN_LOAD_H

#include <stdbool.h>
#include <stdint.h>

#include "gen_hist.h"
#include "net_core.h"
#include "stats.h"
#include "tcp.h"
#include "token.h"

/* Extra header lines a run may add to every request (--header). */
#define GEN_HEADERS_MAX 8

struct gen_conf {
	uint32_t server_ip;          /* network order */
	uint16_t server_port;        /* host order */
	uint8_t  server_mac[NET_ETH_ALEN];  /* all zero: asked for with ARP */
	uint16_t port_lo, port_hi;   /* our local ports, host order, used round robin */
	uint32_t conns;              /* closed loop: kept busy; open loop: at most open */
	uint64_t rate;               /* open loop: requests per second; 0: closed loop */
	uint32_t reqs_per_conn;      /* requests, then Connection: close; 0: keep-alive */
	uint64_t requests;           /* requests in all (a retry_503 repeat is not a new
	                              * one); 0: until gen_load_stop */
	uint32_t opens_per_poll;     /* connects started per poll at most (SYN bursts) */
	const char *host;            /* the Host header */
	const char *path;            /* GET this when campaign is 0 */
	uint32_t campaign;           /* != 0: buy requests for this campaign */
	struct token_key key;        /* buyer tokens are minted with this */
	uint64_t buyer_first, buyers;
	uint64_t token_expiry;       /* Unix seconds */
	bool retry_503;              /* buyers answered 503 (stock busy, order queue
	                              * full) are asked again before new ones */
	unsigned pow_bits;           /* != 0: orders carry a solved proof of work */
	uint64_t pow_issued_s;       /* the challenges' issue time, Unix seconds */
	const char *headers[GEN_HEADERS_MAX];  /* "Name: value" lines added to every request */
	unsigned n_headers;
};

void gen_conf_default(struct gen_conf *conf);

/* Counters of one core; names are printed as "gen.<name>". */
#define GEN_STATS(X) \
	X(requests)        /* requests sent */ \
	X(responses)       /* complete answers read */ \
	X(s200) X(s304) X(s403) X(s409) X(s410) X(s428) X(s429) X(s503) \
	X(s2xx_other) X(s4xx_other) X(s5xx_other) X(s1xx_3xx) \
	X(resp_bytes)      /* bytes of the complete answers, head and body */ \
	X(conns_opened)    /* handshakes completed */ \
	X(connects_failed) /* refused (RST) or never answered */ \
	X(conns_broken)    /* closed with a request unanswered (reset, timeout, early FIN) */ \
	X(bad_responses)   /* answers that could not be framed: connection aborted */ \
	X(send_failed)     /* a request did not fit the send buffer: connection aborted */ \
	X(backlog_full)    /* open loop: due, no connection, no room to wait: not sent */ \
	X(no_port)         /* connects not started: local ports or table exhausted */ \
	X(unanswered)      /* requests in flight or waiting when the run was cut */ \
	X(arp_requests)    /* who-has the server sent before it answered */ \
	X(retries)         /* requests that repeated a buyer after a 503 (retry_503) */ \
	X(retry_overflow)  /* 503s not retried: the retry ring was full */

struct gen_stats { GEN_STATS(STATS_FIELD) };
extern const char *const gen_stats_names[];
#define GEN_STATS_N (0 GEN_STATS(STATS_COUNT))

struct gen_load;

/*
 * NULL with err filled on a bad configuration or out of memory. tcp is the
 * client TCP's configuration (client is set here; its max_conns must be at
 * least conf->conns); ifc is our address on the port, tx how frames leave.
 */
struct gen_load *gen_load_create(const struct gen_conf *conf, const struct tcp_conf *tcp,
				 const struct net_iface *ifc, struct net_tx *tx,
				 char *err, size_t errlen);
void gen_load_destroy(struct gen_load *g);

/* One received frame. */
void gen_load_input(struct gen_load *g, const uint8_t *frame, uint32_t len);
/* Advances the clock (ns from any fixed origin) and starts what is due:
 * ARP until the server answers, connects, open-loop requests, TCP timers. */
void gen_load_poll(struct gen_load *g, uint64_t now_ns);
/* Starts no more requests; idle connections are closed, busy ones after their answer. */
void gen_load_stop(struct gen_load *g);
/* All requests asked for were answered (or failed) and every connection is closed. */
bool gen_load_done(const struct gen_load *g);
/* Ends the run now: what is in flight is counted unanswered, connections reset. */
void gen_load_abort(struct gen_load *g);
/* The server's MAC is known (from conf or ARP): traffic has started. */
bool gen_load_ready(const struct gen_load *g);
/* The server's MAC, once gen_load_ready. */
const uint8_t *gen_load_server_mac(const struct gen_load *g);
/* ns from the first request to now (or to the last answer once done). */
uint64_t gen_load_elapsed_ns(const struct gen_load *g);

const struct gen_stats *gen_load_stats(const struct gen_load *g);
const struct gen_hist *gen_load_hist(const struct gen_load *g);
struct tcp_core *gen_load_tcp(struct gen_load *g);
struct net_core *gen_load_net(struct gen_load *g);

#endif
