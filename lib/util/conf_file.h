/*
 * conf_file.h - a program's long options read from a file (--config FILE).
 *
 * One setting a line, `key value`: the key is a long option's name without
 * its dashes, the value the rest of the line (surrounding blanks trimmed);
 * an option without a value takes none. `#` starts a comment line; blank
 * lines are skipped. The settings become "--key=value" arguments that the
 * caller puts before its command line's, so getopt_long parses both with
 * the same rules and the command line, coming later, wins (repeatable
 * options, such as seckill-dp's --campaign, add up instead).
 */
#ifndef SECKILL_CONF_FILE_H
#define SECKILL_CONF_FILE_H

#include <getopt.h>
#include <stddef.h>

/* A line of at most this many bytes; more is an error. */
#define CONF_FILE_LINE_MAX 4096

struct conf_file {
	int n;                  /* arguments in argv */
	char **argv;            /* "--key=value" or "--key", each malloc'd */
	unsigned *line;         /* the line each came from */
};

/*
 * Reads path. Each key must be one of opts (the program's long options)
 * other than those named in refuse (NULL-terminated; e.g. "help",
 * "config"), with a value exactly when the option takes one. 0, or -1 with
 * "PATH line N: what is wrong" in err.
 */
int conf_file_read(const char *path, const struct option *opts, const char *const *refuse,
		   struct conf_file *cf, char *err, size_t errlen);
void conf_file_free(struct conf_file *cf);

/*
 * The value of --config in argv[1..argc-1] ("--config FILE" or
 * "--config=FILE"), or NULL. Stops at "--".
 */
const char *conf_file_arg(int argc, char **argv);

#endif
