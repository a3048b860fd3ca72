/*
 * ctl_order_json.h - the order message the control plane publishes to Kafka:
 * schema 1, its writer and a strict parser.
 *
 * Topic (default "seckill.orders"); one message per order:
 *
 *   key    the buyer id as unsigned decimal text, e.g. "1042". Kafka's
 *          partitioner hashes the key, so all of one buyer's orders land in
 *          one partition, in the order they were produced.
 *   value  one JSON object, no whitespace, fields always in this order:
 *
 *   {"order_id":"65f1a2b3-0001-0002-0000000000000007","campaign":7,"buyer":1042,
 *    "qty":1,"time_ms":1700000000123,"core":2,"node":1,"schema":1}
 *
 *   order_id  string  the order id (ord_record.h text form, 35 characters):
 *                     unique across cores, restarts and hosts. THE dedup key.
 *   campaign  number  campaign the stock was taken from (u32)
 *   buyer     number  token buyer id (u64)
 *   qty       number  units taken (u32)
 *   time_ms   number  Unix time of the sale, milliseconds (u64)
 *   core      number  lcore that sold (u16; the same as in order_id)
 *   node      number  host node id (u16; the same as in order_id)
 *   schema    number  1. A consumer must reject a version it does not know.
 *
 * Numbers are plain unsigned decimals. u64 values above 2^53 are exact in
 * this text but not in a JavaScript double: consumers in such languages read
 * buyer and time_ms as big integers (buyer ids come from tokens and are in
 * practice far smaller).
 *
 * Field names are stable: a change that removes or retypes a field is a new
 * schema number; schema 1 consumers may ignore nothing, so new fields also
 * mean a new schema number.
 *
 * Delivery is at least once; duplicates (rare: only after a crash between a
 * delivery and its journal ack, see ctl_kafka.h) carry the same order_id, so
 * a consumer that keeps the ids it has applied (a unique key in its table,
 * "INSERT ... ON CONFLICT (order_id) DO NOTHING") sees every order exactly
 * once in effect.
 */
#ifndef SECKILL_CTL_ORDER_JSON_H
#define SECKILL_CTL_ORDER_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "ord_record.h"

#define CTL_ORDER_SCHEMA 1

/* Longest value: 35-char id, five u64/u32 at their widest, names, punctuation. */
#define CTL_ORDER_JSON_MAX 256
/* Longest key: a u64 in decimal (20 digits) and a NUL. */
#define CTL_ORDER_KEY_MAX 21

/*
 * Writes rec's message value into buf (cap bytes) with a terminating NUL.
 * Returns the length without the NUL, or -1 if cap is too small (buf is then
 * unspecified). CTL_ORDER_JSON_MAX always suffices.
 */
int ctl_order_json_write(const struct ord_record *rec, char *buf, size_t cap);

/* Writes rec's message key (the buyer id in decimal) and a NUL; length or -1. */
int ctl_order_key_write(uint64_t buyer, char *buf, size_t cap);

/*
 * Parses a message value (s[0..len), not NUL-terminated) into rec. Strict:
 * one JSON object holding each schema 1 field exactly once (any order, JSON
 * whitespace allowed between tokens) and nothing else; numbers unsigned
 * decimal without sign, fraction, exponent or leading zeros, in range;
 * order_id in ord_id text form, without escapes; core and node equal to the
 * id's; schema equal to 1. Returns 0, or -1 with a short reason in *why
 * (static text; why may be NULL).
 */
int ctl_order_json_parse(const char *s, size_t len, struct ord_record *rec,
			 const char **why);

#endif
