/*
 * kafka_mock.c - tools/kafka-mock: a Kafka cluster for tests and demos,
 * made of librdkafka's mock brokers, with faults injected while it runs.
 *
 * No Kafka broker can be installed on these machines, but librdkafka ships a
 * mock cluster (rdkafka_mock.h) that speaks the real Kafka protocol over TCP
 * on 127.0.0.1: producers (idempotent, acks=all), consumers and kcat talk to
 * it as to a real cluster. This program wraps one such cluster:
 *
 *   kafka-mock [--brokers N] [--topic NAME[:PARTITIONS]]... [--control PATH]
 *
 * The first line it prints is the bootstrap server list (flushed at once, so
 * a test reads it and connects); then it runs until SIGINT, SIGTERM or the
 * `quit` command. Commands come one per line on stdin, or on --control PATH
 * (a Unix stream socket it creates, or an existing FIFO), and each gets one
 * answer line, `ok` or `error: ...` (on stdout for stdin and FIFO commands,
 * on the connection for socket commands):
 *
 *   broker down ID|all     broker stops answering and drops its connections
 *   broker up ID|all       broker serves again
 *   rtt ID|all MS          broker delays every response by MS milliseconds
 *   produce-errors N CODE  the next N Produce requests fail with CODE (a
 *                          Kafka error name such as NOT_ENOUGH_REPLICAS or
 *                          _TRANSPORT, or its number)
 *   clear                  back to healthy: errors dropped, brokers up, rtt 0
 *   bootstrap              prints the bootstrap servers again
 *   quit                   exits (status 0)
 *
 * Ports are ephemeral: librdkafka 2.0.2's mock API takes no address, so
 * --port-base is refused with that reason rather than silently ignored.
 *
 * The idea: one thread (main) owns the cluster handle and every control
 * input; it sleeps in ppoll() with SIGINT/SIGTERM blocked everywhere else,
 * so a signal can only land in that ppoll and stopping is never racy. The
 * brokers themselves run in librdkafka's mock thread.
 */
#define _GNU_SOURCE          /* ppoll, accept4 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "str2int.h"

#define MOCK_DEFAULT_BROKERS 3
#define MOCK_MAX_BROKERS 32          /* a test cluster; ids 1..N */
#define MOCK_DEFAULT_TOPIC "seckill.orders"
#define MOCK_DEFAULT_PARTITIONS 3
#define MOCK_MAX_PARTITIONS 1024
#define MOCK_MAX_TOPICS 16
#define MOCK_TOPIC_NAME_MAX 249      /* Kafka's own limit on topic names */
#define MOCK_MAX_REPLICAS 3          /* the usual production factor */
#define MOCK_MAX_RTT_MS 600000       /* ten minutes: beyond any test timeout */
#define MOCK_MAX_ERRORS 100000       /* bounds the error stack we push */
#define MOCK_LINE_MAX 256            /* commands are short; longer is a mistake */
#define MOCK_MAX_CLIENTS 8           /* control connections at once */
#define MOCK_APIKEY_PRODUCE 0        /* Kafka protocol: ProduceRequest */
#define MOCK_EXIT_USAGE 2
#define MOCK_LOG_LEVEL "4"        /* syslog warning: librdkafka's warnings and worse */

struct mock_topic {
	char name[MOCK_TOPIC_NAME_MAX + 1];
	int partitions;
};

struct mock_opts {
	int brokers;
	int ntopics;
	struct mock_topic topics[MOCK_MAX_TOPICS];
	const char *control;
};

/* A line-oriented input: stdin, the FIFO or one socket connection. */
struct mock_input {
	int fd;                  /* -1 when closed */
	int reply_fd;            /* where answers go */
	bool discarding;         /* the current line overflowed: skip to '\n' */
	size_t len;
	char buf[MOCK_LINE_MAX];
};

struct mock {
	struct mock_opts opts;
	rd_kafka_t *rk;
	rd_kafka_mock_cluster_t *mc;
	int listen_fd;           /* control socket, -1 when none */
	bool control_is_socket;
	struct mock_input in_std;
	struct mock_input in_fifo;
	struct mock_input clients[MOCK_MAX_CLIENTS];
	bool quit;
};

static volatile sig_atomic_t mock_signalled;

static void mock_on_signal(int sig)
{
	mock_signalled = sig;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kafka-mock [--brokers N] [--topic NAME[:PARTITIONS]]... [--control PATH]\n"
		"  --brokers N        brokers in the cluster, ids 1..N (default %d, max %d)\n"
		"  --topic NAME[:P]   create topic NAME with P partitions (default %s:%d;\n"
		"                     repeatable), replication factor min(%d, brokers)\n"
		"  --control PATH     also take commands on PATH: an existing FIFO, or a Unix\n"
		"                     stream socket created there\n"
		"Prints the bootstrap servers as its first line, then answers commands read\n"
		"one per line on stdin (and PATH): broker down|up ID|all, rtt ID|all MS,\n"
		"produce-errors N CODE, clear, bootstrap, quit. Stops on SIGINT/SIGTERM.\n",
		MOCK_DEFAULT_BROKERS, MOCK_MAX_BROKERS, MOCK_DEFAULT_TOPIC,
		MOCK_DEFAULT_PARTITIONS, MOCK_MAX_REPLICAS);
}

static bool topic_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > MOCK_TOPIC_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

static bool parse_topic(const char *arg, struct mock_topic *t)
{
	const char *colon = strchr(arg, ':');
	size_t len = colon ? (size_t)(colon - arg) : strlen(arg);
	int64_t parts = MOCK_DEFAULT_PARTITIONS;

	if (!topic_name_ok(arg, len)) {
		fprintf(stderr, "kafka-mock: bad topic name in '%s': use 1..%d of [A-Za-z0-9._-]\n",
			arg, MOCK_TOPIC_NAME_MAX);
		return false;
	}
	if (colon && !str2i64(colon + 1, 1, MOCK_MAX_PARTITIONS, &parts)) {
		fprintf(stderr, "kafka-mock: bad partition count in '%s': want 1..%d\n",
			arg, MOCK_MAX_PARTITIONS);
		return false;
	}
	memcpy(t->name, arg, len);
	t->name[len] = '\0';
	t->partitions = (int)parts;
	return true;
}

/* Returns 0, or the exit status to leave with (0 for --help). */
static int parse_args(int argc, char **argv, struct mock_opts *o, bool *help)
{
	int64_t v;

	memset(o, 0, sizeof(*o));
	o->brokers = MOCK_DEFAULT_BROKERS;
	*help = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			*help = true;
			return 0;
		}
		if (strcmp(a, "--brokers") && strcmp(a, "--topic") && strcmp(a, "--control")
		    && strcmp(a, "--port-base")) {
			fprintf(stderr, "kafka-mock: unknown argument '%s'\n", a);
			return MOCK_EXIT_USAGE;
		}
		if (!val) {
			fprintf(stderr, "kafka-mock: %s needs a value\n", a);
			return MOCK_EXIT_USAGE;
		}
		i++;
		if (!strcmp(a, "--brokers")) {
			if (!str2i64(val, 1, MOCK_MAX_BROKERS, &v)) {
				fprintf(stderr, "kafka-mock: bad --brokers '%s': want 1..%d\n",
					val, MOCK_MAX_BROKERS);
				return MOCK_EXIT_USAGE;
			}
			o->brokers = (int)v;
		} else if (!strcmp(a, "--topic")) {
			if (o->ntopics == MOCK_MAX_TOPICS) {
				fprintf(stderr, "kafka-mock: at most %d topics\n", MOCK_MAX_TOPICS);
				return MOCK_EXIT_USAGE;
			}
			if (!parse_topic(val, &o->topics[o->ntopics]))
				return MOCK_EXIT_USAGE;
			o->ntopics++;
		} else if (!strcmp(a, "--control")) {
			o->control = val;
		} else {
			/* Refused rather than ignored: a test asking for fixed ports must not
			 * silently get others. */
			fprintf(stderr, "kafka-mock: --port-base is not supported: librdkafka %s's "
				"mock cluster binds ephemeral ports on 127.0.0.1 only "
				"(rd_kafka_mock_cluster_new takes no address); read the bootstrap "
				"servers from the first output line instead\n", rd_kafka_version_str());
			return MOCK_EXIT_USAGE;
		}
	}
	if (o->ntopics == 0) {
		snprintf(o->topics[0].name, sizeof(o->topics[0].name), "%s", MOCK_DEFAULT_TOPIC);
		o->topics[0].partitions = MOCK_DEFAULT_PARTITIONS;
		o->ntopics = 1;
	}
	return 0;
}

/* ---- the cluster ---------------------------------------------------------- */

static int mock_start(struct mock *m)
{
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	int replicas = m->opts.brokers < MOCK_MAX_REPLICAS ? m->opts.brokers : MOCK_MAX_REPLICAS;

	/* The handle only hosts the cluster (librdkafka's bookkeeping needs one);
	 * it never produces, so it needs no brokers of its own. Notices (such as
	 * "no bootstrap.servers") would only be noise; warnings stay. */
	if (rd_kafka_conf_set(conf, "log_level", MOCK_LOG_LEVEL, errstr, sizeof(errstr))) {
		fprintf(stderr, "kafka-mock: log_level: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		return -1;
	}
	m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!m->rk) {
		fprintf(stderr, "kafka-mock: cannot create the librdkafka handle: %s\n", errstr);
		return -1;
	}
	m->mc = rd_kafka_mock_cluster_new(m->rk, m->opts.brokers);
	if (!m->mc) {
		fprintf(stderr, "kafka-mock: cannot create a mock cluster of %d brokers "
			"(librdkafka %s): see the librdkafka log above\n",
			m->opts.brokers, rd_kafka_version_str());
		return -1;
	}
	for (int i = 0; i < m->opts.ntopics; i++) {
		const struct mock_topic *t = &m->opts.topics[i];
		rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(m->mc, t->name,
								     t->partitions, replicas);
		if (err) {
			fprintf(stderr, "kafka-mock: cannot create topic %s (%d partitions, "
				"replication %d): %s\n", t->name, t->partitions, replicas,
				rd_kafka_err2str(err));
			return -1;
		}
	}
	return 0;
}

static void mock_stop(struct mock *m)
{
	if (m->mc)
		rd_kafka_mock_cluster_destroy(m->mc);
	if (m->rk)
		rd_kafka_destroy(m->rk);
	m->mc = NULL;
	m->rk = NULL;
}

/* ---- commands ------------------------------------------------------------- */

static int reply(char *out, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int reply(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, cap, fmt, ap);
	va_end(ap);
	return 0;
}

/*
 * An error code by Kafka name (NOT_ENOUGH_REPLICAS, _TRANSPORT; with or
 * without RD_KAFKA_RESP_ERR_, any case) or by number; only codes librdkafka
 * knows, so a typo is an error and not a silent "unknown error".
 */
static bool parse_err_code(const char *s, rd_kafka_resp_err_t *out)
{
	const struct rd_kafka_err_desc *descs;
	size_t n;
	int64_t num;
	bool by_num = str2i64(s, INT_MIN, INT_MAX, &num);

	if (!strncasecmp(s, "RD_KAFKA_RESP_ERR_", 18))
		s += 18;
	rd_kafka_get_err_descs(&descs, &n);
	for (size_t i = 0; i < n; i++) {
		if (!descs[i].name)
			continue;
		if ((by_num && (int64_t)descs[i].code == num) ||
		    (!by_num && !strcasecmp(descs[i].name, s))) {
			*out = descs[i].code;
			return true;
		}
	}
	return false;
}

/* "all" -> 0, else a broker id 1..brokers. */
static bool parse_broker(const struct mock *m, const char *s, int *id)
{
	int64_t v;

	if (!strcmp(s, "all")) {
		*id = 0;
		return true;
	}
	if (!str2i64(s, 1, m->opts.brokers, &v))
		return false;
	*id = (int)v;
	return true;
}

/* Applies one broker operation to one broker or (id 0) to all of them. */
static rd_kafka_resp_err_t broker_apply(struct mock *m, int id, const char *op, int rtt_ms)
{
	int first = id ? id : 1, last = id ? id : m->opts.brokers;

	for (int b = first; b <= last; b++) {
		rd_kafka_resp_err_t err;

		if (!strcmp(op, "down"))
			err = rd_kafka_mock_broker_set_down(m->mc, b);
		else if (!strcmp(op, "up"))
			err = rd_kafka_mock_broker_set_up(m->mc, b);
		else
			err = rd_kafka_mock_broker_set_rtt(m->mc, b, rtt_ms);
		if (err)
			return err;
	}
	return RD_KAFKA_RESP_ERR_NO_ERROR;
}

static void cmd_broker(struct mock *m, char **arg, int n, char *out, size_t cap)
{
	int id;
	rd_kafka_resp_err_t err;

	if (n != 3 || (strcmp(arg[1], "down") && strcmp(arg[1], "up"))) {
		reply(out, cap, "error: usage: broker down|up ID|all");
		return;
	}
	if (!parse_broker(m, arg[2], &id)) {
		reply(out, cap, "error: no broker '%s': ids are 1..%d or all", arg[2],
		      m->opts.brokers);
		return;
	}
	err = broker_apply(m, id, arg[1], 0);
	if (err)
		reply(out, cap, "error: broker %s %s: %s", arg[1], arg[2], rd_kafka_err2str(err));
	else
		reply(out, cap, "ok");
}

static void cmd_rtt(struct mock *m, char **arg, int n, char *out, size_t cap)
{
	int id;
	int64_t ms;
	rd_kafka_resp_err_t err;

	if (n != 3) {
		reply(out, cap, "error: usage: rtt ID|all MS");
		return;
	}
	if (!parse_broker(m, arg[1], &id)) {
		reply(out, cap, "error: no broker '%s': ids are 1..%d or all", arg[1],
		      m->opts.brokers);
		return;
	}
	if (!str2i64(arg[2], 0, MOCK_MAX_RTT_MS, &ms)) {
		reply(out, cap, "error: bad rtt '%s': want 0..%d milliseconds", arg[2],
		      MOCK_MAX_RTT_MS);
		return;
	}
	err = broker_apply(m, id, "rtt", (int)ms);
	if (err)
		reply(out, cap, "error: rtt %s: %s", arg[1], rd_kafka_err2str(err));
	else
		reply(out, cap, "ok");
}

static void cmd_produce_errors(struct mock *m, char **arg, int n, char *out, size_t cap)
{
	int64_t cnt;
	rd_kafka_resp_err_t code, *codes;

	if (n != 3) {
		reply(out, cap, "error: usage: produce-errors N CODE");
		return;
	}
	if (!str2i64(arg[1], 1, MOCK_MAX_ERRORS, &cnt)) {
		reply(out, cap, "error: bad count '%s': want 1..%d", arg[1], MOCK_MAX_ERRORS);
		return;
	}
	if (!parse_err_code(arg[2], &code)) {
		reply(out, cap, "error: unknown Kafka error code '%s' (a name such as "
		      "NOT_ENOUGH_REPLICAS or _TRANSPORT, or its number)", arg[2]);
		return;
	}
	codes = malloc((size_t)cnt * sizeof(*codes));
	if (!codes) {
		reply(out, cap, "error: out of memory for %" PRId64 " error codes", cnt);
		return;
	}
	for (int64_t i = 0; i < cnt; i++)
		codes[i] = code;
	rd_kafka_mock_push_request_errors_array(m->mc, MOCK_APIKEY_PRODUCE, (size_t)cnt, codes);
	free(codes);
	reply(out, cap, "ok");
}

static void cmd_clear(struct mock *m, char *out, size_t cap)
{
	rd_kafka_resp_err_t err;

	rd_kafka_mock_clear_request_errors(m->mc, MOCK_APIKEY_PRODUCE);
	err = broker_apply(m, 0, "up", 0);
	if (!err)
		err = broker_apply(m, 0, "rtt", 0);
	if (err)
		reply(out, cap, "error: clear: %s", rd_kafka_err2str(err));
	else
		reply(out, cap, "ok");
}

#define MOCK_MAX_ARGS 4

/* Runs one command line; the answer (one line, no newline) goes to out. */
static void mock_command(struct mock *m, char *line, char *out, size_t cap)
{
	char *arg[MOCK_MAX_ARGS + 1], *save = NULL;
	int n = 0;

	for (char *t = strtok_r(line, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
		if (n == MOCK_MAX_ARGS + 1) {
			reply(out, cap, "error: too many words");
			return;
		}
		arg[n++] = t;
	}
	if (n == 0)
		reply(out, cap, "error: empty command");
	else if (!strcmp(arg[0], "broker"))
		cmd_broker(m, arg, n, out, cap);
	else if (!strcmp(arg[0], "rtt"))
		cmd_rtt(m, arg, n, out, cap);
	else if (!strcmp(arg[0], "produce-errors"))
		cmd_produce_errors(m, arg, n, out, cap);
	else if (!strcmp(arg[0], "clear") && n == 1)
		cmd_clear(m, out, cap);
	else if (!strcmp(arg[0], "bootstrap") && n == 1)
		reply(out, cap, "%s", rd_kafka_mock_cluster_bootstraps(m->mc));
	else if (!strcmp(arg[0], "quit") && n == 1) {
		m->quit = true;
		reply(out, cap, "ok");
	} else
		reply(out, cap, "error: unknown command '%s' (broker, rtt, produce-errors, "
		      "clear, bootstrap, quit)", arg[0]);
}

/* ---- control inputs ------------------------------------------------------- */

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void input_init(struct mock_input *in, int fd, int reply_fd)
{
	in->fd = fd;
	in->reply_fd = reply_fd;
	in->discarding = false;
	in->len = 0;
}

static void input_close(struct mock_input *in)
{
	if (in->fd > STDIN_FILENO)
		close(in->fd);
	in->fd = -1;
}

/* Runs the line collected in `in`, answers it; -1 if the answer cannot be sent. */
static int input_line(struct mock *m, struct mock_input *in)
{
	char out[MOCK_LINE_MAX + 512];
	size_t n;

	if (in->discarding)
		reply(out, sizeof(out) - 1, "error: line longer than %d bytes", MOCK_LINE_MAX - 1);
	else {
		in->buf[in->len] = '\0';
		mock_command(m, in->buf, out, sizeof(out) - 1);
	}
	in->discarding = false;
	in->len = 0;
	n = strlen(out);
	out[n++] = '\n';
	return write_all(in->reply_fd, out, n);
}

/* Reads what is there and runs every complete line; closes the input at EOF. */
static void input_read(struct mock *m, struct mock_input *in)
{
	char tmp[4096];
	ssize_t r = read(in->fd, tmp, sizeof(tmp));

	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (r <= 0) {
		if (in->len > 0 || in->discarding)
			(void)input_line(m, in);   /* a last line without '\n' still counts */
		input_close(in);
		return;
	}
	for (ssize_t i = 0; i < r && in->fd >= 0; i++) {
		if (tmp[i] == '\n') {
			if (input_line(m, in) < 0)
				input_close(in);   /* nobody to answer: drop the input */
		} else if (in->len + 1 < sizeof(in->buf)) {
			in->buf[in->len++] = tmp[i];
		} else {
			in->discarding = true;
		}
	}
}

static int control_open_socket(struct mock *m, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "kafka-mock: control path %s is longer than %zu bytes\n",
			path, sizeof(sa.sun_path) - 1);
		return -1;
	}
	/* A socket left by a killed run is stale; anything else is not ours. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	m->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (m->listen_fd < 0 || bind(m->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(m->listen_fd, MOCK_MAX_CLIENTS) < 0) {
		fprintf(stderr, "kafka-mock: cannot listen on control socket %s: %s\n",
			path, strerror(errno));
		return -1;
	}
	m->control_is_socket = true;
	return 0;
}

/* --control PATH: an existing FIFO is read; otherwise a socket is created there. */
static int control_open(struct mock *m, const char *path)
{
	struct stat st;
	int fd;

	if (stat(path, &st) == 0 && S_ISFIFO(st.st_mode)) {
		/* O_RDWR keeps a writer open ourselves, so writers coming and going
		 * never give us EOF (Linux semantics, see fifo(7)). */
		fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "kafka-mock: cannot open control FIFO %s: %s\n",
				path, strerror(errno));
			return -1;
		}
		input_init(&m->in_fifo, fd, STDOUT_FILENO);
		return 0;
	}
	return control_open_socket(m, path);
}

static void control_accept(struct mock *m)
{
	int fd = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	for (int i = 0; i < MOCK_MAX_CLIENTS; i++) {
		if (m->clients[i].fd < 0) {
			input_init(&m->clients[i], fd, fd);
			return;
		}
	}
	(void)write_all(fd, "error: too many control connections\n", 37);
	close(fd);
}

/* ---- main loop ------------------------------------------------------------ */

#define MOCK_NFDS (3 + MOCK_MAX_CLIENTS)

/* Adds fd to the poll set; `in` is its input, NULL for the listening socket. */
static void watch(struct pollfd *pfd, struct mock_input **who, int *n, int fd,
		  struct mock_input *in)
{
	pfd[*n] = (struct pollfd){ .fd = fd, .events = POLLIN };
	who[*n] = in;
	(*n)++;
}

static void mock_loop(struct mock *m, const sigset_t *waitmask)
{
	while (!m->quit && !mock_signalled) {
		struct pollfd pfd[MOCK_NFDS];
		struct mock_input *who[MOCK_NFDS];
		int n = 0;

		if (m->in_std.fd >= 0)
			watch(pfd, who, &n, m->in_std.fd, &m->in_std);
		if (m->in_fifo.fd >= 0)
			watch(pfd, who, &n, m->in_fifo.fd, &m->in_fifo);
		for (int i = 0; i < MOCK_MAX_CLIENTS; i++)
			if (m->clients[i].fd >= 0)
				watch(pfd, who, &n, m->clients[i].fd, &m->clients[i]);
		if (m->listen_fd >= 0)
			watch(pfd, who, &n, m->listen_fd, NULL);

		/* With no input left (stdin at EOF, no --control) this still waits
		 * for a signal: the cluster runs until stopped. */
		if (ppoll(pfd, (nfds_t)n, NULL, waitmask) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "kafka-mock: poll: %s\n", strerror(errno));
			return;
		}
		for (int i = 0; i < n && !m->quit; i++) {
			if (!pfd[i].revents)
				continue;
			if (who[i])
				input_read(m, who[i]);
			else
				control_accept(m);
		}
	}
}

int main(int argc, char **argv)
{
	static struct mock m;
	sigset_t block, waitmask;
	struct sigaction sa = { .sa_handler = mock_on_signal };
	bool help;
	int rc = parse_args(argc, argv, &m.opts, &help);

	if (help || rc) {
		usage(help ? stdout : stderr);
		return rc;
	}
	m.listen_fd = -1;
	input_init(&m.in_std, STDIN_FILENO, STDOUT_FILENO);
	input_init(&m.in_fifo, -1, STDOUT_FILENO);
	for (int i = 0; i < MOCK_MAX_CLIENTS; i++)
		input_init(&m.clients[i], -1, -1);

	/* Blocked before librdkafka starts its threads, which inherit the mask:
	 * SIGINT/SIGTERM are then taken only inside our ppoll(). */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGTERM);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);    /* a vanished reader is an error return, not death */

	rc = 1;
	if (m.opts.control && control_open(&m, m.opts.control) < 0)
		goto out;
	if (mock_start(&m) < 0)
		goto out;
	printf("%s\n", rd_kafka_mock_cluster_bootstraps(m.mc));
	fflush(stdout);
	mock_loop(&m, &waitmask);
	rc = 0;
out:
	for (int i = 0; i < MOCK_MAX_CLIENTS; i++)
		input_close(&m.clients[i]);
	input_close(&m.in_fifo);
	if (m.listen_fd >= 0) {
		close(m.listen_fd);
		if (m.control_is_socket)
			unlink(m.opts.control);
	}
	mock_stop(&m);
	return rc;
}
