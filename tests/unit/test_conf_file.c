/* test_conf_file.c - lib/util/conf_file.c: settings files become "--key=value". */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf_file.h"

static const struct option opts[] = {
	{ "port", required_argument, NULL, 1 },
	{ "kafka-topic", required_argument, NULL, 2 },
	{ "quiet", no_argument, NULL, 3 },
	{ "help", no_argument, NULL, 4 },
	{ "config", required_argument, NULL, 5 },
	{ NULL, 0, NULL, 0 },
};
static const char *const refuse[] = { "help", "config", NULL };

/* Writes text to a fresh file; its path (static). */
static const char *file_of(const char *text)
{
	static char path[64];
	int fd;

	snprintf(path, sizeof(path), "/tmp/test_conf_file.XXXXXX");
	fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static int read_text(const char *text, struct conf_file *cf, char *err, size_t cap)
{
	const char *path = file_of(text);
	int rc = conf_file_read(path, opts, refuse, cf, err, cap);

	unlink(path);
	return rc;
}

Test(conf_file, settings_comments_blanks_and_trimming)
{
	struct conf_file cf;
	char err[256];

	cr_assert_eq(read_text("# comment\n\n  port   8080  \r\n\tquiet\nkafka-topic a.b\n"
			       "   # indented comment\n", &cf, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(cf.n, 3);
	cr_assert_str_eq(cf.argv[0], "--port=8080");
	cr_assert_str_eq(cf.argv[1], "--quiet");
	cr_assert_str_eq(cf.argv[2], "--kafka-topic=a.b");
	cr_assert_eq(cf.line[0], 3);
	cr_assert_eq(cf.line[1], 4);
	cr_assert_eq(cf.line[2], 5);
	conf_file_free(&cf);
}

Test(conf_file, a_value_keeps_inner_blanks)
{
	struct conf_file cf;
	char err[256];

	cr_assert_eq(read_text("kafka-topic host=a dbname=b\n", &cf, err, sizeof(err)), 0);
	cr_assert_str_eq(cf.argv[0], "--kafka-topic=host=a dbname=b");
	conf_file_free(&cf);
}

Test(conf_file, mistakes_name_the_line)
{
	struct conf_file cf;
	char err[256];

	cr_assert_eq(read_text("port 1\nnope 2\n", &cf, err, sizeof(err)), -1);
	cr_assert(strstr(err, "line 2: unknown setting 'nope'") != NULL, "%s", err);
	cr_assert_eq(cf.n, 0);
	cr_assert_eq(read_text("\nport\n", &cf, err, sizeof(err)), -1);
	cr_assert(strstr(err, "line 2: 'port' needs a value") != NULL, "%s", err);
	cr_assert_eq(read_text("quiet yes\n", &cf, err, sizeof(err)), -1);
	cr_assert(strstr(err, "line 1: 'quiet' takes no value") != NULL, "%s", err);
	cr_assert_eq(read_text("--port 1\n", &cf, err, sizeof(err)), -1, "dashes are not keys");
	cr_assert_eq(read_text("config other.conf\n", &cf, err, sizeof(err)), -1, "no nesting");
	cr_assert_eq(read_text("help\n", &cf, err, sizeof(err)), -1);
}

Test(conf_file, a_missing_file_and_a_long_line)
{
	struct conf_file cf;
	char err[256], *big = malloc(CONF_FILE_LINE_MAX + 100);

	cr_assert_eq(conf_file_read("/nonexistent/x.conf", opts, refuse, &cf, err, sizeof(err)), -1);
	cr_assert(strstr(err, "/nonexistent/x.conf") != NULL);
	memset(big, 'a', CONF_FILE_LINE_MAX + 98);
	memcpy(big, "port ", 5);
	big[CONF_FILE_LINE_MAX + 98] = '\n';
	big[CONF_FILE_LINE_MAX + 99] = '\0';
	cr_assert_eq(read_text(big, &cf, err, sizeof(err)), -1);
	cr_assert(strstr(err, "longer than") != NULL, "%s", err);
	free(big);
}

Test(conf_file, the_config_argument)
{
	char *a[] = { "p", "--port", "1", "--config", "x.conf", NULL };
	char *b[] = { "p", "--config=y.conf", NULL };
	char *c[] = { "p", "--", "--config", "z", NULL };

	cr_assert_str_eq(conf_file_arg(5, a), "x.conf");
	cr_assert_str_eq(conf_file_arg(2, b), "y.conf");
	cr_assert_null(conf_file_arg(4, c));
}
