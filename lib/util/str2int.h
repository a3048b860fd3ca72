/*
 * str2int.h - the one way text becomes an integer (Redis's string2ll is the
 * model): strict, no locale, overflow checked.
 *
 * Accepted: a canonical decimal, "0" or [1-9][0-9]*, optionally led by '-'
 * for the signed form. Refused: an empty string, a sign on the unsigned form,
 * '+', spaces, leading zeros, anything after the digits, a value that does
 * not fit. strtoull takes " 5", "+5", "-1" (as ULLONG_MAX) and "5x" with a
 * quiet end pointer; options, Redis replies and ids must not.
 */
#ifndef SECKILL_STR2INT_H
#define SECKILL_STR2INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* s[0..len) as above; true and *out set, or false and *out untouched. */
bool str2ull(const char *s, size_t len, unsigned long long *out);
bool str2ll(const char *s, size_t len, long long *out);

/* A NUL-terminated canonical decimal in [min, max] (options, files, replies). */
bool str2u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
bool str2i64(const char *s, int64_t min, int64_t max, int64_t *out);

#endif
