/*
 * redis_server.h - a private redis-server for one test: start, kill, restart.
 *
 * Each test gets its own redis-server on a free loopback port, so tests
 * share nothing and a dead server cannot leak into the next test. The
 * server is our child with PR_SET_PDEATHSIG, so it dies with the test even
 * if the test crashes before its teardown. With aof set it persists to a
 * temp dir with appendfsync always, the production setting, so a SIGKILL
 * and restart keeps every acknowledged write.
 */
#ifndef SECKILL_TEST_REDIS_SERVER_H
#define SECKILL_TEST_REDIS_SERVER_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

/* A cold redis-server answers PING in ~20 ms; allow a loaded machine 10 s. */
#define RSRV_START_WAIT_MS 10000

struct rsrv {
	pid_t pid;
	int port;
	bool aof;
	char dir[64];   /* AOF dir, "" without AOF */
};

static inline void rsrv_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* A loopback port free right now (bind to 0, read it back). */
static inline int rsrv_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static inline bool rsrv_ping(int port)
{
	struct timeval tv = { 0, 200000 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
	redisReply *rep = NULL;
	bool ok = false;

	if (c && !c->err)
		rep = redisCommand(c, "PING");
	ok = rep && rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "PONG") == 0;
	if (rep)
		freeReplyObject(rep);
	if (c)
		redisFree(c);
	return ok;
}

/* (Re)starts the server on s->port (a new free port when 0). */
static inline bool rsrv_start(struct rsrv *s)
{
	char port[16];

	if (s->port == 0)
		s->port = rsrv_free_port();
	if (s->aof && s->dir[0] == '\0') {
		strcpy(s->dir, "/tmp/seckill-redis-XXXXXX");
		if (mkdtemp(s->dir) == NULL)
			return false;
	}
	snprintf(port, sizeof(port), "%d", s->port);
	s->pid = fork();
	if (s->pid < 0)
		return false;
	if (s->pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 1);
		dup2(null, 2);
		if (s->aof)
			execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
			       "--save", "", "--appendonly", "yes", "--appendfsync", "always",
			       "--dir", s->dir, "--daemonize", "no", (char *)NULL);
		else
			execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
			       "--save", "", "--appendonly", "no", "--daemonize", "no", (char *)NULL);
		_exit(127);
	}
	for (int waited = 0; waited < RSRV_START_WAIT_MS; waited += 10) {
		if (rsrv_ping(s->port))
			return true;
		if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
			s->pid = 0;
			return false;
		}
		rsrv_sleep_ms(10);
	}
	return false;
}

/* SIGKILL: no shutdown save, as in a crash. */
static inline void rsrv_kill(struct rsrv *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
	}
	s->pid = 0;
}

static inline void rsrv_stop(struct rsrv *s)
{
	char cmd[128];

	rsrv_kill(s);
	if (s->dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", s->dir);
		s->dir[0] = '\0';
	}
}

#endif
