/*
 * ctl_client.c - connect, ask, read one answer (ctl_client.h).
 *
 * One connection per command: seckillctl is run by people and scripts a few
 * times a second at most, and a fresh connection needs no state. Where the
 * dataplane is: --socket, else $SECKILL_SOCKET, else the only *.sock in
 * /run/seckill (each seckill-dp names its socket after its EAL file prefix,
 * so one dataplane on a host needs no option at all).
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl_client.h"

/* A dataplane answers within one control-loop pass (1 ms, 100 ms without a
 * sale); ten seconds means it is stuck, not busy. */
#define CTL_TIMEOUT_S 10
#define CTL_PATH_CAP sizeof(((struct sockaddr_un *)0)->sun_path)

enum { OPT_SOCKET = 256, OPT_JSON, OPT_ID, OPT_STOCK, OPT_STARTS_AT, OPT_IP, OPT_BUYER,
       OPT_IP_RATE, OPT_IP_BURST, OPT_BUYER_RATE, OPT_BUYER_BURST, OPT_HELP, OPT_HOST,
       OPT_REDIS, OPT_BITS, OPT_IP_CONNS, OPT_NAME, OPT_PRICE, OPT_IMAGE, OPT_DESCRIPTION,
       OPT_BUCKETS };

static const struct option ctl_long_opts[] = {
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "id", required_argument, NULL, OPT_ID },
	{ "stock", required_argument, NULL, OPT_STOCK },
	{ "starts-at", required_argument, NULL, OPT_STARTS_AT },
	{ "ip", required_argument, NULL, OPT_IP },
	{ "buyer", required_argument, NULL, OPT_BUYER },
	{ "ip-rate", required_argument, NULL, OPT_IP_RATE },
	{ "ip-burst", required_argument, NULL, OPT_IP_BURST },
	{ "buyer-rate", required_argument, NULL, OPT_BUYER_RATE },
	{ "buyer-burst", required_argument, NULL, OPT_BUYER_BURST },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "host", required_argument, NULL, OPT_HOST },
	{ "redis", required_argument, NULL, OPT_REDIS },
	{ "bits", required_argument, NULL, OPT_BITS },
	{ "ip-conns", required_argument, NULL, OPT_IP_CONNS },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "price", required_argument, NULL, OPT_PRICE },
	{ "image", required_argument, NULL, OPT_IMAGE },
	{ "description", required_argument, NULL, OPT_DESCRIPTION },
	{ "buckets", required_argument, NULL, OPT_BUCKETS },
	{ NULL, 0, NULL, 0 },
};

int ctl_opts_parse(int argc, char **argv, const char *allowed, const char *hint,
		   struct ctl_opts *o)
{
	static const struct ctl_optspec spec = { ctl_long_opts, OPT_SOCKET, "sjikapbrRuUhHxBcnPIdK" };
	const char **slots[] = { &o->socket, NULL, &o->id, &o->stock, &o->starts_at, &o->ip,
				 &o->buyer, &o->ip_rate, &o->ip_burst, &o->buyer_rate,
				 &o->buyer_burst, NULL, &o->host, &o->redis, &o->bits,
				 &o->ip_conns, &o->name, &o->price, &o->image, &o->description,
				 &o->buckets };
	unsigned flags;
	int rc;

	memset(o, 0, sizeof(*o));
	rc = ctl_getopt(argc, argv, &spec, allowed, hint, slots, &flags, &o->first_arg);
	if (rc != 0)
		return rc;
	o->json = flags & 1u << (OPT_JSON - OPT_SOCKET);
	o->help = flags & 1u << (OPT_HELP - OPT_SOCKET);
	if (o->first_arg < argc && !o->help)
		return ctl_usage_error(hint, "%s: unexpected argument '%s'", argv[0],
				       argv[o->first_arg]);
	return 0;
}

/* The only *.sock in CTL_SOCKET_DIR. Returns 0, or the exit code (reported). */
static int ctl_find_socket(char *out, size_t cap)
{
	DIR *d = opendir(CTL_SOCKET_DIR);
	struct dirent *e;
	size_t sl = strlen(CTL_SOCKET_SUFFIX);
	int found = 0;

	while (d && (e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);

		if (n <= sl || strcmp(e->d_name + n - sl, CTL_SOCKET_SUFFIX) != 0)
			continue;
		if (found++ == 0)
			snprintf(out, cap, "%s/%s", CTL_SOCKET_DIR, e->d_name);
	}
	if (d)
		closedir(d);
	if (found == 1)
		return 0;
	if (found == 0) {
		fprintf(stderr, "seckillctl: seckill-dp is not running (no socket in %s); start it "
			"with tools/serve, or pass --socket\n", CTL_SOCKET_DIR);
		return CTL_EXIT_NOT_RUNNING;
	}
	return ctl_usage_error(NULL, "%d seckill-dp sockets in %s; say which with --socket "
			       "PATH or %s", found, CTL_SOCKET_DIR, CTL_SOCKET_ENV);
}

/* A connected socket in *fd; or the exit code, reported. */
static int ctl_connect(const struct ctl_opts *o, int *fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { CTL_TIMEOUT_S, 0 };
	char path[CTL_PATH_CAP];
	const char *p = o->socket ? o->socket : getenv(CTL_SOCKET_ENV);
	int rc;

	if (p && *p) {
		if (strlen(p) >= sizeof(path))
			return ctl_usage_error(NULL, "socket path %s is too long", p);
		snprintf(path, sizeof(path), "%s", p);
	} else if ((rc = ctl_find_socket(path, sizeof(path))) != 0) {
		return rc;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	*fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*fd < 0)
		return ctl_fail("socket: %s", strerror(errno));
	if (connect(*fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		setsockopt(*fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(*fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		return 0;
	}
	rc = errno;
	close(*fd);
	if (rc == ENOENT || rc == ECONNREFUSED || rc == ENOTDIR) {
		fprintf(stderr, "seckillctl: seckill-dp is not running (no socket at %s); start "
			"it with tools/serve, or pass --socket\n", path);
		return CTL_EXIT_NOT_RUNNING;
	}
	if (rc == EACCES)
		return ctl_fail("cannot connect to %s: permission denied; run as root (the "
				"socket is 0660 root)", path);
	return ctl_fail("cannot connect to %s: %s", path, strerror(rc));
}

/* Reads one line into a->text. Returns 0 or the exit code, reported. */
static int ctl_read_line(int fd, struct ctl_answer *a)
{
	size_t cap = CTL_ANSWER_MAX;
	char *nl = NULL;

	a->text = malloc(cap);
	if (a->text == NULL)
		return ctl_fail("out of memory");
	while (nl == NULL) {
		ssize_t n = recv(fd, a->text + a->len, cap - a->len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return ctl_fail("no answer from seckill-dp within %d s", CTL_TIMEOUT_S);
		if (n <= 0)
			return ctl_fail("seckill-dp closed the connection without an answer");
		nl = memchr(a->text + a->len, '\n', (size_t)n);
		a->len += (size_t)n;
		if (nl == NULL && a->len == cap)
			return ctl_fail("seckill-dp's answer is longer than %u bytes", CTL_ANSWER_MAX);
	}
	a->len = (size_t)(nl - a->text);
	*nl = '\0';
	return 0;
}

static int ctl_send_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return ctl_fail("cannot send to seckill-dp: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Parses the answer and maps ok:false to exit 1 with its message. */
static int ctl_judge(const struct ctl_opts *o, struct ctl_answer *a)
{
	char perr[128], code[64], msg[1024];
	int ok;

	a->t = malloc(sizeof(*a->t) * CTL_ANSWER_TOKS);
	if (a->t == NULL)
		return ctl_fail("out of memory");
	a->n = ctl_json_parse(a->text, a->len, a->t, CTL_ANSWER_TOKS, perr, sizeof(perr));
	if (a->n < 0 || a->t[0].type != CTL_JSON_OBJECT)
		return ctl_fail("seckill-dp sent an answer that is not a JSON object (%s)",
				a->n < 0 ? perr : "other value");
	if (o->json)
		ctl_answer_print(a);
	ok = ctl_json_get(a->text, a->t, 0, "ok");
	if (ok >= 0 && a->t[ok].type == CTL_JSON_BOOL && a->t[ok].num == 1)
		return 0;
	ctl_ans_str(a, 0, "error", code, sizeof(code));
	ctl_ans_str(a, 0, "message", msg, sizeof(msg));
	return ctl_fail("%s (%s)", msg, code);
}

int ctl_call(const struct ctl_opts *o, const char *request, struct ctl_answer *a)
{
	int fd = -1, rc;

	memset(a, 0, sizeof(*a));
	rc = ctl_connect(o, &fd);
	if (rc != 0)
		return rc;
	rc = ctl_send_all(fd, request, strlen(request));
	if (rc == 0)
		rc = ctl_send_all(fd, "\n", 1);
	if (rc == 0)
		rc = ctl_read_line(fd, a);
	close(fd);
	if (rc == 0)
		rc = ctl_judge(o, a);
	if (rc != 0)
		ctl_answer_free(a);
	return rc;
}

void ctl_answer_free(struct ctl_answer *a)
{
	free(a->text);
	free(a->t);
	memset(a, 0, sizeof(*a));
}

void ctl_answer_print(const struct ctl_answer *a)
{
	fwrite(a->text, 1, a->len, stdout);
	fputc('\n', stdout);
}

uint64_t ctl_ans_u64(const struct ctl_answer *a, int obj, const char *key)
{
	int i = ctl_json_get(a->text, a->t, obj, key);

	return i >= 0 && a->t[i].type == CTL_JSON_INT ? a->t[i].num : 0;
}

const char *ctl_ans_str(const struct ctl_answer *a, int obj, const char *key, char *out,
			size_t cap)
{
	int i = ctl_json_get(a->text, a->t, obj, key);

	if (ctl_json_str(a->text, a->t, i, out, cap) < 0)
		out[0] = '\0';
	return out;
}
