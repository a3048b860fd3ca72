/*
 * ctl_sock.c - the control socket: seckillctl's requests, on the main lcore.
 *
 * A non-blocking SOCK_STREAM Unix listener polled once per control-loop pass
 * (every ms with a sale, 100 ms without), with at most CTL_SOCK_CLIENTS
 * clients, each with a bounded request buffer (CTL_REQ_MAX) and one answer
 * in flight: a client's next line is read only once its answer has been
 * written, so a client that does not read only stops itself, and one that
 * sends nothing for CTL_SOCK_IDLE_US loses its slot. A ninth client is
 * told "busy" and closed. The commands themselves are ctl_sock_cmd.c's.
 *
 * The socket file is 0660 in a 0755 directory: root and its group may
 * operate the dataplane. A file left by a run that crashed is replaced; one
 * a live process answers on is not (two dataplanes, one path: an error).
 */
#define _GNU_SOURCE          /* accept4 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <rte_eal.h>

#include "ctl_proto.h"
#include "ctl_sock.h"
#include "now.h"

/* seckillctl opens one connection per command; 8 allow a few scripts and a
 * person at once while bounding what the server holds. */
#define CTL_SOCK_CLIENTS 8
/* A client that sends nothing for this long is closed (it holds a slot). */
#define CTL_SOCK_IDLE_US (10 * 1000000ull)
#define CTL_SOCK_DIR_MODE 0755
/* root and its group may talk to the dataplane; nobody else. */
#define CTL_SOCK_MODE 0660
#define CTL_SOCK_BACKLOG 16

struct ctl_sock_client {
	int fd;                      /* -1: free slot */
	uint64_t last_us;
	size_t in_len;
	char in[CTL_REQ_MAX];
	char *out;                   /* CTL_ANSWER_MAX, from accept to close */
	size_t out_len, out_off;
	bool close_after;            /* close once the answer is out */
};

struct ctl_sock {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct ctl_sock_cmd *cmd;
	struct ctl_sock_client cl[CTL_SOCK_CLIENTS];
};

void ctl_sock_default_path(char *out, size_t cap)
{
	char dir[PATH_MAX];

	/* The runtime dir is /var/run/dpdk/<file prefix>. */
	snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
	snprintf(out, cap, "%s/%s%s", CTL_SOCKET_DIR, basename(dir), CTL_SOCKET_SUFFIX);
}

static void ctl_sock_client_close(struct ctl_sock_client *c)
{
	close(c->fd);
	free(c->out);
	c->fd = -1;
	c->out = NULL;
}

/* Queues an answer line for client c. */
static void ctl_sock_client_queue(struct ctl_sock *cs, struct ctl_sock_client *c,
			    const char *line, size_t len)
{
	struct ctl_buf b;

	ctl_buf_init(&b, c->out, CTL_ANSWER_MAX - 1);
	ctl_sock_cmd_answer(cs->cmd, line, len, &b);
	b.p[b.len++] = '\n';
	c->out_len = b.len;
	c->out_off = 0;
}

static void ctl_sock_client_error(struct ctl_sock_client *c, const char *line)
{
	size_t n = strlen(line);

	memcpy(c->out, line, n);
	c->out_len = n;
	c->out_off = 0;
	c->close_after = true;
}

/* Writes what the socket takes; false when the client is gone. */
static bool ctl_sock_client_flush(struct ctl_sock_client *c)
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
static void ctl_sock_client_line(struct ctl_sock *cs, struct ctl_sock_client *c)
{
	char *nl = memchr(c->in, '\n', c->in_len);
	size_t len;

	if (nl == NULL) {
		if (c->in_len == sizeof(c->in))
			ctl_sock_client_error(c, "{\"ok\":false,\"error\":\"line_too_long\",\"message\":"
					"\"a request line is at most 4096 bytes\"}\n");
		return;
	}
	len = (size_t)(nl - c->in);
	ctl_sock_client_queue(cs, c, c->in, len > 0 && c->in[len - 1] == '\r' ? len - 1 : len);
	c->in_len -= len + 1;
	memmove(c->in, nl + 1, c->in_len);
}

/* One client's turn: flush, read, answer one line. */
static void ctl_sock_client_poll(struct ctl_sock *cs, struct ctl_sock_client *c, uint64_t now)
{
	ssize_t n;

	if (!ctl_sock_client_flush(c)) {
		ctl_sock_client_close(c);
		return;
	}
	if (c->out_len != 0)
		return;                      /* answer still going out: read nothing more */
	n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
		ctl_sock_client_close(c);
		return;
	}
	if (n > 0) {
		c->in_len += (size_t)n;
		c->last_us = now;
	}
	ctl_sock_client_line(cs, c);
	if (c->out_len != 0 && !ctl_sock_client_flush(c))
		ctl_sock_client_close(c);
	else if (c->out_len == 0 && now - c->last_us > CTL_SOCK_IDLE_US)
		ctl_sock_client_close(c);
}

bool ctl_sock_listen_ready(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static void ctl_sock_accept(struct ctl_sock *cs, uint64_t now)
{
	static const char busy[] = "{\"ok\":false,\"error\":\"busy\",\"message\":\"too many "
		"seckillctl clients at once; try again\"}\n";
	int fd;

	if (!ctl_sock_listen_ready(cs->fd))
		return;
	while ((fd = accept4(cs->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct ctl_sock_client *c = NULL;

		for (unsigned i = 0; i < CTL_SOCK_CLIENTS && c == NULL; i++)
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

void ctl_sock_poll(struct ctl_sock *cs)
{
	uint64_t now = now_mono_us();

	if (cs == NULL)
		return;
	ctl_sock_cmd_tick(cs->cmd, now);
	ctl_sock_accept(cs, now);
	for (unsigned i = 0; i < CTL_SOCK_CLIENTS; i++)
		if (cs->cl[i].fd >= 0)
			ctl_sock_client_poll(cs, &cs->cl[i], now);
}

/* Is a live process answering on path? (Then it is not ours to replace.) */
static bool ctl_sock_alive(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool alive = fd >= 0 && connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;

	if (fd >= 0)
		close(fd);
	return alive;
}

static int ctl_sock_bind(struct ctl_sock *cs, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[sizeof(cs->path)];

	snprintf(dir, sizeof(dir), "%s", cs->path);
	if (mkdir(dirname(dir), CTL_SOCK_DIR_MODE) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create the directory of %s: %s", cs->path,
			 strerror(errno));
		return -1;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", cs->path);
	if (ctl_sock_alive(&sa)) {
		snprintf(err, errlen, "another seckill-dp answers on %s; give this one "
			 "another --ctl-socket or --file-prefix", cs->path);
		return -1;
	}
	unlink(cs->path);            /* a stale file from a run that crashed */
	cs->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (cs->fd < 0 || bind(cs->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(cs->path, CTL_SOCK_MODE) < 0 || listen(cs->fd, CTL_SOCK_BACKLOG) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", cs->path, strerror(errno));
		return -1;
	}
	return 0;
}


struct ctl_sock *ctl_sock_open(const char *path, struct ctl_plane *ctl,
				   const struct dp_conf *conf, char *err, size_t errlen)
{
	struct ctl_sock *cs = calloc(1, sizeof(*cs));

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
	for (unsigned i = 0; i < CTL_SOCK_CLIENTS; i++)
		cs->cl[i].fd = -1;
	cs->cmd = ctl_sock_cmd_create(ctl, conf);
	if (cs->cmd == NULL || ctl_sock_bind(cs, err, errlen) < 0) {
		if (cs->cmd == NULL)
			snprintf(err, errlen, "out of memory for the control socket");
		if (cs->fd >= 0)
			close(cs->fd);
		ctl_sock_cmd_free(cs->cmd);
		free(cs);
		return NULL;
	}
	return cs;
}

void ctl_sock_close(struct ctl_sock *cs)
{
	if (cs == NULL)
		return;
	for (unsigned i = 0; i < CTL_SOCK_CLIENTS; i++)
		if (cs->cl[i].fd >= 0)
			ctl_sock_client_close(&cs->cl[i]);
	close(cs->fd);
	unlink(cs->path);
	ctl_sock_cmd_free(cs->cmd);
	free(cs);
}
