/*
 * orders_main.c - seckill-orders: options, the three threads (orders.h),
 * signals, and the counters at exit.
 *
 * Start-up checks what can be checked at once and says what to do: the
 * options, the HTTP port, and PostgreSQL (the tables are created here, so a
 * wrong --pg is an error at start, not a retry loop). Kafka and Redis may be
 * down at start; the consumer and the sweeper wait for them.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orders.h"
#include "orders_pg.h"

struct orders_stats orders_stats;
atomic_bool orders_stop;

void orders_log(const char *fmt, ...)
{
	va_list ap;
	char line[1024];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	line[strcspn(line, "\n")] = '\0';
	fprintf(stderr, "seckill-orders: %s\n", line);
}

int orders_stats_format(const struct orders_stats *st, bool json, char *buf, size_t cap)
{
	size_t len = 0;
	bool first = true;

	if (json)
		len += (size_t)snprintf(buf, cap, "{");
#define ORDERS_STATS_PRINT(n)                                                                 \
	if (len < cap)                                                                        \
		len += (size_t)snprintf(buf + len, cap - len, json ? "%s\"%s\":%" PRIu64 : "%s%-16s %" PRIu64 "\n", \
					json ? (first ? "" : ",") : "", #n,                   \
					atomic_load_explicit(&st->n, memory_order_relaxed)); \
	first = false;
	ORDERS_STATS(ORDERS_STATS_PRINT)
#undef ORDERS_STATS_PRINT
	if (json && len < cap)
		len += (size_t)snprintf(buf + len, cap - len, "}");
	return (int)(len < cap ? len : cap - 1);
}

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&orders_stop, true);
}

/* PostgreSQL must answer at start: the schema is made there, and a wrong
 * --pg is better an error now than a retry loop. */
static int check_pg(const struct orders_conf *c)
{
	char err[ORDERS_ERR_CAP];
	PGconn *pg = orders_pg_open(c->pg, err, sizeof(err));

	if (pg == NULL) {
		fprintf(stderr, "seckill-orders: %s\n", err);
		return -1;
	}
	PQfinish(pg);
	return 0;
}

int main(int argc, char **argv)
{
	static struct orders_conf c;
	struct sigaction sa = { .sa_handler = on_signal };
	pthread_t th[3];
	void *(*bodies[3])(void *) = { orders_consumer_run, orders_sweep_run, orders_http_run };
	char err[ORDERS_ERR_CAP], out[4096];
	int rc = orders_opts_parse(argc, argv, &c), n = 0;

	if (rc)
		return rc;
	if (check_pg(&c) < 0)
		return 1;
	if ((c.http_port || c.metrics_port) && orders_http_listen(&c, err, sizeof(err)) < 0) {
		fprintf(stderr, "seckill-orders: %s\n", err);
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < (c.http_port || c.metrics_port ? 3 : 2); i++, n++)
		if (pthread_create(&th[i], NULL, bodies[i], &c) != 0) {
			fprintf(stderr, "seckill-orders: cannot start a thread\n");
			atomic_store(&orders_stop, true);
			break;
		}
	printf("seckill-orders: consuming %s as group %s into PostgreSQL, writer %s, batches of "
	       "%" PRIu32 " / %" PRIu32 " ms, pay within %" PRIu32 " s, Redis %s:%d%s\n",
	       c.topic, c.group, ow_mode_str(c.writer), c.batch, c.batch_ms, c.pay_within_s,
	       c.redis_host, c.redis_port, c.http_port ? ", HTTP on" : "");
	if (c.http_port)
		printf("seckill-orders: http://%s:%d/orders/{id}/paid\n", c.http_bind, c.http_port);
	if (c.metrics_port)
		printf("seckill-orders: metrics on http://%s:%d/metrics\n", c.metrics_ip,
		       c.metrics_port);
	fflush(stdout);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	orders_stats_format(&orders_stats, false, out, sizeof(out));
	printf("seckill-orders: stopped\n%s", out);
	return 0;
}
