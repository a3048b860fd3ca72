/*
 * errbuf.h - errors written into a caller's buffer.
 *
 * Functions that can fail for a reason a person must read (a bad key file, an
 * unwritable state dir) take `char *err, size_t cap` and fill it with what
 * failed and what to do; err_printf is the one place that does the writing.
 */
#ifndef SECKILL_ERRBUF_H
#define SECKILL_ERRBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Formats into err (when cap > 0) and returns -1, so a caller can `return err_printf(...)`. */
__attribute__((format(printf, 3, 4)))
static inline int err_printf(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;

	if (cap) {
		va_start(ap, fmt);
		vsnprintf(err, cap, fmt, ap);
		va_end(ap);
	}
	return -1;
}

#endif
