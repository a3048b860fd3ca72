/*
 * conf_file.c - long options from a file (see conf_file.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_file.h"

static char *conf_file_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static const struct option *conf_file_opt(const struct option *opts, const char *key)
{
	for (; opts->name != NULL; opts++)
		if (strcmp(opts->name, key) == 0)
			return opts;
	return NULL;
}

static bool conf_file_refused(const char *const *refuse, const char *key)
{
	for (; refuse != NULL && *refuse != NULL; refuse++)
		if (strcmp(*refuse, key) == 0)
			return true;
	return false;
}

/* Appends "--key[=value]" from line no; false when out of memory. */
static bool conf_file_add(struct conf_file *cf, const char *key, const char *val, unsigned no)
{
	size_t len = strlen(key) + (val ? strlen(val) + 1 : 0) + 3;
	char **argv = realloc(cf->argv, (size_t)(cf->n + 1) * sizeof(*argv));
	unsigned *line;
	char *a;

	if (argv == NULL)
		return false;
	cf->argv = argv;
	line = realloc(cf->line, (size_t)(cf->n + 1) * sizeof(*line));
	if (line == NULL)
		return false;
	cf->line = line;
	if ((a = malloc(len)) == NULL)
		return false;
	snprintf(a, len, val ? "--%s=%s" : "--%s", key, val ? val : "");
	cf->argv[cf->n] = a;
	cf->line[cf->n++] = no;
	return true;
}

/* One line: nothing (comment, blank), or a setting. */
static int conf_file_line(struct conf_file *cf, const char *path, unsigned no, char *s,
			  const struct option *opts, const char *const *refuse, char *err,
			  size_t errlen)
{
	const struct option *o;
	char *key = conf_file_trim(s), *val;

	if (*key == '\0' || *key == '#')
		return 0;
	val = key + strcspn(key, " \t");
	if (*val != '\0')
		*val++ = '\0';
	val = conf_file_trim(val);
	if (key[0] == '-' || (o = conf_file_opt(opts, key)) == NULL ||
	    conf_file_refused(refuse, key)) {
		snprintf(err, errlen, "%s line %u: unknown setting '%s'; the settings are the long "
			 "options of --help, without their dashes, e.g. 'port 80'", path, no, key);
		return -1;
	}
	if ((o->has_arg == required_argument) != (*val != '\0')) {
		snprintf(err, errlen, "%s line %u: '%s' %s", path, no, key,
			 *val ? "takes no value" : "needs a value: 'key value'");
		return -1;
	}
	if (!conf_file_add(cf, key, *val ? val : NULL, no)) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	return 0;
}

int conf_file_read(const char *path, const struct option *opts, const char *const *refuse,
		   struct conf_file *cf, char *err, size_t errlen)
{
	char buf[CONF_FILE_LINE_MAX + 2];
	FILE *f = fopen(path, "r");
	unsigned no = 0;
	int rc = 0;

	memset(cf, 0, sizeof(*cf));
	if (f == NULL) {
		snprintf(err, errlen, "--config %s: %s", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && fgets(buf, sizeof(buf), f) != NULL) {
		no++;
		if (strlen(buf) > CONF_FILE_LINE_MAX && strchr(buf, '\n') == NULL) {
			snprintf(err, errlen, "%s line %u: longer than %d bytes", path, no,
				 CONF_FILE_LINE_MAX);
			rc = -1;
			break;
		}
		rc = conf_file_line(cf, path, no, buf, opts, refuse, err, errlen);
	}
	if (rc == 0 && ferror(f)) {
		snprintf(err, errlen, "--config %s: cannot read it", path);
		rc = -1;
	}
	fclose(f);
	if (rc < 0)
		conf_file_free(cf);
	return rc;
}

void conf_file_free(struct conf_file *cf)
{
	for (int i = 0; i < cf->n; i++)
		free(cf->argv[i]);
	free(cf->argv);
	free(cf->line);
	memset(cf, 0, sizeof(*cf));
}

const char *conf_file_arg(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--config") == 0)
			return i + 1 < argc ? argv[i + 1] : NULL;
		if (strncmp(argv[i], "--config=", 9) == 0)
			return argv[i] + 9;
	}
	return NULL;
}
