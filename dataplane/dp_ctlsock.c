/*
 * dp_ctlsock.c - the control socket: seckillctl's requests, on the main lcore.
 *
 * A non-blocking SOCK_STREAM Unix listener polled once per control-loop pass
 * (every ms with a sale, 100 ms without), with at most DP_CTLSOCK_CLIENTS
 * clients, each with a bounded request buffer (CTL_REQ_MAX) and one answer
 * in flight: a client's next line is read only once its answer has been
 * written, so a client that does not read only stops itself, and one that
 * sends nothing for DP_CTLSOCK_IDLE_US loses its slot. A ninth client is
 * told "busy" and closed. The commands themselves are dp_ctlcmd.c's.
 *
 * The socket file is 0660 in a 0755 directory: root and its group may
 * operate the dataplane. A file left by a run that crashed is replaced; one
 * a live process answers on is not (two dataplanes, one path: an error).
 */
#define _GNU_SOURCE          /* accept4 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>

#include "ctl_proto.h"
#include "dp_ctlsock.h"

/* seckillctl opens one connection per command; 8 allow a few scripts and a
 * person at once while bounding what the server holds. */
#define DP_CTLSOCK_CLIENTS 8
/* A client that sends nothing for this long is closed (it holds a slot). */
#define DP_CTLSOCK_IDLE_US (10 * 1000000ull)
#define DP_CTLSOCK_DIR_MODE 0755
/* root and its group may talk to the dataplane; nobody else. */
#define DP_CTLSOCK_MODE 0660
#define DP_CTLSOCK_BACKLOG 16

struct dp_ctl_client {
	int fd;                      /* -1: free slot */
	uint64_t last_us;
	size_t in_len;
	char in[CTL_REQ_MAX];
	char *out;                   /* CTL_ANSWER_MAX, from accept to close */
	size_t out_len, out_off;
	bool close_after;            /* close once the answer is out */
};

struct dp_ctlsock {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct dp_ctlcmd *cmd;
	struct dp_ctl_client cl[DP_CTLSOCK_CLIENTS];
};

static uint64_t dp_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000;
}

void dp_ctlsock_default_path(char *out, size_t cap)
{
	char dir[PATH_MAX];

	/* The runtime dir is /var/run/dpdk/<file prefix>. */
	snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
	snprintf(out, cap, "%s/%s%s", CTL_SOCKET_DIR, basename(dir), CTL_SOCKET_SUFFIX);
}

static void dp_client_close(struct dp_ctl_client *c)
{
	close(c->fd);
	free(c->out);
	c->fd = -1;
	c->out = NULL;
}

/* Queues an answer line for client c. */
static void dp_client_queue(struct dp_ctlsock *cs, struct dp_ctl_client *c,
			    const char *line, size_t len)
{
	struct ctl_buf b;

	ctl_buf_init(&b, c->out, CTL_ANSWER_MAX - 1);
	dp_ctlcmd_answer(cs->cmd, line, len, &b);
	b.p[b.len++] = '\n';
	c->out_len = b.len;
	c->out_off = 0;
}

static void dp_client_error(struct dp_ctl_client *c, const char *line)
{
	size_t n = strlen(line);

	memcpy(c->out, line, n);
	c->out_len = n;
	c->out_off = 0;
	c->close_after = true;
}

/* Writes what the socket takes; false when the client is gone. */
static bool dp_client_flush(struct dp_ctl_client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
		c->out_off += (size_t)n;
	}
	c->out_len = c->out_off = 0;
	return !c->close_after;
}

/* Answers the first complete line in c->in, if any; keeps the rest. */
static void dp_client_line(struct dp_ctlsock *cs, struct dp_ctl_client *c)
{
	char *nl = memchr(c->in, '\n', c->in_len);
	size_t len;

	if (nl == NULL) {
		if (c->in_len == sizeof(c->in))
			dp_client_error(c, "{\"ok\":false,\"error\":\"line_too_long\",\"message\":"
					"\"a request line is at most 4096 bytes\"}\n");
		return;
	}
	len = (size_t)(nl - c->in);
	dp_client_queue(cs, c, c->in, len > 0 && c->in[len - 1] == '\r' ? len - 1 : len);
	c->in_len -= len + 1;
	memmove(c->in, nl + 1, c->in_len);
}

/* One client's turn: flush, read, answer one line. */
static void dp_client_poll(struct dp_ctlsock *cs, struct dp_ctl_client *c, uint64_t now)
{
	ssize_t n;

	if (!dp_client_flush(c)) {
		dp_client_close(c);
		return;
	}
	if (c->out_len != 0)
		return;                      /* answer still going out: read nothing more */
	n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
		dp_client_close(c);
		return;
	}
	if (n > 0) {
		c->in_len += (size_t)n;
		c->last_us = now;
	}
	dp_client_line(cs, c);
	if (c->out_len != 0 && !dp_client_flush(c))
		dp_client_close(c);
	else if (c->out_len == 0 && now - c->last_us > DP_CTLSOCK_IDLE_US)
		dp_client_close(c);
}

static void dp_ctlsock_accept(struct dp_ctlsock *cs, uint64_t now)
{
	static const char busy[] = "{\"ok\":false,\"error\":\"busy\",\"message\":\"too many "
		"seckillctl clients at once; try again\"}\n";
	int fd;

	while ((fd = accept4(cs->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct dp_ctl_client *c = NULL;

		for (unsigned i = 0; i < DP_CTLSOCK_CLIENTS && c == NULL; i++)
			if (cs->cl[i].fd < 0)
				c = &cs->cl[i];
		if (c != NULL && (c->out = malloc(CTL_ANSWER_MAX)) == NULL)
			c = NULL;
		if (c == NULL) {
			/* A fresh socket's buffer takes one short line. */
			if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				(void)0;
			close(fd);
			continue;
		}
		c->fd = fd;
		c->last_us = now;
		c->in_len = c->out_len = c->out_off = 0;
		c->close_after = false;
	}
}

void dp_ctlsock_poll(struct dp_ctlsock *cs)
{
	uint64_t now = dp_now_us();

	if (cs == NULL)
		return;
	dp_ctlcmd_tick(cs->cmd, now);
	dp_ctlsock_accept(cs, now);
	for (unsigned i = 0; i < DP_CTLSOCK_CLIENTS; i++)
		if (cs->cl[i].fd >= 0)
			dp_client_poll(cs, &cs->cl[i], now);
}

/* Is a live process answering on path? (Then it is not ours to replace.) */
static bool dp_ctlsock_alive(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool alive = fd >= 0 && connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;

	if (fd >= 0)
		close(fd);
	return alive;
}

static int dp_ctlsock_bind(struct dp_ctlsock *cs, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(cs->path)];

	snprintf(dir, sizeof(dir), "%s", cs->path);
	if (mkdir(dirname(dir), DP_CTLSOCK_DIR_MODE) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create the directory of %s: %s", cs->path,
			 strerror(errno));
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", cs->path);
	if (dp_ctlsock_alive(&sa)) {
		snprintf(err, errlen, "another seckill-dp answers on %s; give this one "
			 "another --ctl-socket or --file-prefix", cs->path);
		return -1;
	}
	unlink(cs->path);            /* a stale file from a run that crashed */
	cs->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (cs->fd < 0 || bind(cs->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(cs->path, DP_CTLSOCK_MODE) < 0 || listen(cs->fd, DP_CTLSOCK_BACKLOG) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", cs->path, strerror(errno));
		return -1;
	}
	return 0;
}


struct dp_ctlsock *dp_ctlsock_open(const char *path, struct dp_ctl *ctl,
				   const struct dp_conf *conf, char *err, size_t errlen)
{
	struct dp_ctlsock *cs = calloc(1, sizeof(*cs));

	if (cs == NULL) {
		snprintf(err, errlen, "out of memory for the control socket");
		return NULL;
	}
	if (strlen(path) >= sizeof(cs->path)) {
		snprintf(err, errlen, "control socket path %s is too long", path);
		free(cs);
		return NULL;
	}
	snprintf(cs->path, sizeof(cs->path), "%s", path);
	cs->fd = -1;
	for (unsigned i = 0; i < DP_CTLSOCK_CLIENTS; i++)
		cs->cl[i].fd = -1;
	cs->cmd = dp_ctlcmd_create(ctl, conf);
	if (cs->cmd == NULL || dp_ctlsock_bind(cs, err, errlen) < 0) {
		if (cs->cmd == NULL)
			snprintf(err, errlen, "out of memory for the control socket");
		if (cs->fd >= 0)
			close(cs->fd);
		dp_ctlcmd_free(cs->cmd);
		free(cs);
		return NULL;
	}
	return cs;
}

void dp_ctlsock_close(struct dp_ctlsock *cs)
{
	if (cs == NULL)
		return;
	for (unsigned i = 0; i < DP_CTLSOCK_CLIENTS; i++)
		if (cs->cl[i].fd >= 0)
			dp_client_close(&cs->cl[i]);
	close(cs->fd);
	unlink(cs->path);
	dp_ctlcmd_free(cs->cmd);
	free(cs);
}
