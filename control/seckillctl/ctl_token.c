/*
 * ctl_token.c - "seckillctl token": operator keys and buyer tokens.
 *
 *   keygen   a new random 128-bit operator key, in key-file format
 *   mint     tokens for a buyer (or --count consecutive buyers), as the
 *            site's login service would
 *   verify   what a token says and whether this key minted it
 *
 * These run on the operator's machine, never on the dataplane; they use the
 * same lib/sale/token.c the dataplane checks tokens with, so what verify
 * accepts is exactly what a sale request would.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "ctl.h"
#include "now.h"
#include "str2int.h"
#include "token.h"

#define CTL_TTL_DEFAULT 3600
/* A year: longer-lived tokens outlast any sensible key rotation. */
#define CTL_TTL_MAX (365 * 24 * 3600)
/* mint --count: enough for any load test, small enough to stay a command. */
#define CTL_COUNT_MAX 10000000

static const char keygen_usage[] =
	"Usage: seckillctl token keygen > KEY_FILE\n"
	"\n"
	"Prints a new random operator key (32 hex digits and a newline, from\n"
	"getrandom) in the format --key-file reads. Keep the file private:\n"
	"whoever holds the key can mint tokens for any buyer.\n";

static const char mint_usage[] =
	"Usage: seckillctl token mint --key-file FILE --buyer ID [--count N]\n"
	"                             [--ttl SECONDS | --expiry UNIX]\n"
	"\n"
	"Prints one token for buyer ID (1..18446744073709551615) on a line.\n"
	"  --key-file FILE   operator key file (from 'seckillctl token keygen')\n"
	"  --buyer ID        buyer id, decimal\n"
	"  --count N         N tokens, for buyers ID..ID+N-1, one per line, all with\n"
	"                    the same expiry (1..10000000; default 1)\n"
	"  --ttl SECONDS     valid for this long from now (default 3600, at most 31536000)\n"
	"  --expiry UNIX     valid until this Unix time instead\n";

static const char verify_usage[] =
	"Usage: seckillctl token verify --key-file FILE [--now UNIX] TOKEN\n"
	"\n"
	"Checks TOKEN as the dataplane would. Prints 'buyer=ID expiry=UNIX\n"
	"expires_in=Ns' and exits 0 if it is valid; otherwise says why (malformed,\n"
	"bad MAC, expired) and exits 1.\n"
	"  --key-file FILE   operator key file\n"
	"  --now UNIX        check as of this Unix time instead of now\n";

enum { OPT_KEY_FILE = 256, OPT_BUYER, OPT_TTL, OPT_EXPIRY, OPT_NOW, OPT_COUNT, OPT_HELP };

static const struct option token_opts[] = {
	{ "key-file", required_argument, NULL, OPT_KEY_FILE },
	{ "buyer", required_argument, NULL, OPT_BUYER },
	{ "ttl", required_argument, NULL, OPT_TTL },
	{ "expiry", required_argument, NULL, OPT_EXPIRY },
	{ "now", required_argument, NULL, OPT_NOW },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* The options one command parsed; which ones it accepts is its own business. */
struct token_args {
	const char *key_file, *buyer, *ttl, *expiry, *now, *count;
	int help;
	int first_arg;          /* index of the first non-option argument */
};

/*
 * Parses argv (argv[0] is the command) accepting only the options whose
 * letters are in allowed ("kbtench"). Returns 0, or a usage error's exit code.
 */
static int token_getopt(int argc, char **argv, const char *allowed, const char *hint,
			struct token_args *a)
{
	static const struct ctl_optspec spec = { token_opts, OPT_KEY_FILE, "kbtench" };
	const char **slots[] = { &a->key_file, &a->buyer, &a->ttl, &a->expiry, &a->now,
				 &a->count, NULL };
	unsigned flags;
	int rc;

	memset(a, 0, sizeof(*a));
	rc = ctl_getopt(argc, argv, &spec, allowed, hint, slots, &flags, &a->first_arg);
	a->help = (flags & 1u << (OPT_HELP - OPT_KEY_FILE)) != 0;
	return rc;
}

static int load_key(const char *path, struct token_key *key)
{
	char err[TOKEN_ERR_CAP];

	if (token_key_load(path, key, err, sizeof(err)) < 0)
		return ctl_fail("%s", err);
	return 0;
}

static int token_keygen(int argc, char **argv)
{
	uint8_t raw[TOKEN_KEY_BYTES];
	char hex[TOKEN_KEY_HEX_LEN + 1], err[TOKEN_ERR_CAP];
	struct token_key key;
	struct token_args a;
	int rc = token_getopt(argc, argv, "h", "seckillctl token keygen --help", &a);

	if (rc)
		return rc;
	if (a.help) {
		fputs(keygen_usage, stdout);
		return CTL_EXIT_OK;
	}
	if (a.first_arg < argc)
		return ctl_usage_error("seckillctl token keygen --help",
				       "keygen: unexpected argument '%s'", argv[a.first_arg]);
	/* 16 bytes never come back short from getrandom; still, check it all. */
	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return ctl_fail("keygen: getrandom failed: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	/* Round-trip through the parser: what we print is what --key-file reads. */
	if (token_key_parse(hex, TOKEN_KEY_HEX_LEN, &key, err, sizeof(err)) < 0)
		return ctl_fail("keygen: %s", err);
	token_key_format(&key, hex);
	printf("%s\n", hex);
	return CTL_EXIT_OK;
}

/* The expiry mint should use, from --ttl or --expiry; 0 or a usage error's code. */
static int mint_expiry(const struct token_args *a, uint64_t *expiry)
{
	const char *hint = "seckillctl token mint --help";
	uint64_t ttl = CTL_TTL_DEFAULT;

	if (a->ttl && a->expiry)
		return ctl_usage_error(hint, "mint: give --ttl or --expiry, not both");
	if (a->expiry) {
		if (!str2u64(a->expiry, 0, UINT64_MAX, expiry))
			return ctl_usage_error(hint, "mint: --expiry '%s' is not a Unix time in "
					       "seconds", a->expiry);
		return 0;
	}
	if (a->ttl && !str2u64(a->ttl, 1, CTL_TTL_MAX, &ttl))
		return ctl_usage_error(hint, "mint: --ttl '%s' is not a number of seconds "
				       "from 1 to %d", a->ttl, CTL_TTL_MAX);
	*expiry = now_wall_s() + ttl;
	return 0;
}

static int token_mint_cmd(int argc, char **argv)
{
	const char *hint = "seckillctl token mint --help";
	char out[TOKEN_STR_CAP];
	struct token_key key;
	struct token_args a;
	uint64_t buyer, expiry, count = 1;
	int rc = token_getopt(argc, argv, "kbtech", hint, &a);

	if (rc)
		return rc;
	if (a.help) {
		fputs(mint_usage, stdout);
		return CTL_EXIT_OK;
	}
	if (a.first_arg < argc)
		return ctl_usage_error(hint, "mint: unexpected argument '%s'", argv[a.first_arg]);
	if (!a.key_file)
		return ctl_usage_error(hint, "mint: --key-file is required");
	if (!a.buyer)
		return ctl_usage_error(hint, "mint: --buyer is required");
	if (!str2u64(a.buyer, 1, UINT64_MAX, &buyer))
		return ctl_usage_error(hint, "mint: --buyer '%s' is not a buyer id "
				       "(decimal, 1 to 18446744073709551615)", a.buyer);
	if (a.count && !str2u64(a.count, 1, CTL_COUNT_MAX, &count))
		return ctl_usage_error(hint, "mint: --count '%s' is not a number of tokens from "
				       "1 to %d", a.count, CTL_COUNT_MAX);
	if (count - 1 > UINT64_MAX - buyer)
		return ctl_usage_error(hint, "mint: --buyer %" PRIu64 " --count %" PRIu64
				       " passes the last buyer id 18446744073709551615",
				       buyer, count);
	if ((rc = mint_expiry(&a, &expiry)) != 0)
		return rc;
	if ((rc = load_key(a.key_file, &key)) != 0)
		return rc;
	for (uint64_t i = 0; i < count; i++) {
		if (token_mint(&key, buyer + i, expiry, out, sizeof(out)) < 0)
			return ctl_fail("mint: could not mint a token for buyer %" PRIu64,
					buyer + i);
		puts(out);
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		return ctl_fail("mint: cannot write the tokens: %s", strerror(errno));
	return CTL_EXIT_OK;
}

/* Says why a token failed, with what it claims when the shape allows. */
static int verify_failed(enum token_status st, const char *tok, uint64_t now)
{
	uint64_t buyer, expiry, mac;

	if (st == TOKEN_MALFORMED)
		return ctl_fail("verify: token is malformed: expected "
				"v1.<buyer>.<expiry>.<16 lowercase hex digits>");
	token_decode(tok, strlen(tok), &buyer, &expiry, &mac);
	if (st == TOKEN_BAD_MAC)
		return ctl_fail("verify: token has a bad MAC: not minted with this key, or "
				"altered (it claims buyer=%" PRIu64 " expiry=%" PRIu64 ")",
				buyer, expiry);
	return ctl_fail("verify: token expired %" PRIu64 " s ago: buyer=%" PRIu64
			" expiry=%" PRIu64, now - expiry, buyer, expiry);
}

static int token_verify_cmd(int argc, char **argv)
{
	const char *hint = "seckillctl token verify --help";
	struct token_key key;
	struct token_args a;
	uint64_t now = now_wall_s(), buyer = 0, expiry, mac;
	enum token_status st;
	const char *tok;
	int rc = token_getopt(argc, argv, "knh", hint, &a);

	if (rc)
		return rc;
	if (a.help) {
		fputs(verify_usage, stdout);
		return CTL_EXIT_OK;
	}
	if (!a.key_file)
		return ctl_usage_error(hint, "verify: --key-file is required");
	if (argc - a.first_arg != 1)
		return ctl_usage_error(hint, "verify: expected one TOKEN, got %d arguments",
				       argc - a.first_arg);
	if (a.now && !str2u64(a.now, 0, UINT64_MAX, &now))
		return ctl_usage_error(hint, "verify: --now '%s' is not a Unix time in seconds",
				       a.now);
	if ((rc = load_key(a.key_file, &key)) != 0)
		return rc;
	tok = argv[a.first_arg];
	st = token_verify(&key, tok, strlen(tok), now, &buyer);
	if (st != TOKEN_OK)
		return verify_failed(st, tok, now);
	/* Genuine: now its expiry may be reported (token_verify only returns the buyer). */
	token_decode(tok, strlen(tok), &buyer, &expiry, &mac);
	printf("buyer=%" PRIu64 " expiry=%" PRIu64 " expires_in=%" PRIu64 "s\n",
	       buyer, expiry, expiry - now);
	return CTL_EXIT_OK;
}

static const struct ctl_cmd token_cmds[] = {
	{ "keygen", "", "print a new random operator key (key-file format)", token_keygen },
	{ "mint", "--key-file FILE --buyer ID [--count N] [--ttl SECONDS | --expiry UNIX]",
	  "print a token for a buyer, or N buyers from ID (default TTL 3600 s)",
	  token_mint_cmd },
	{ "verify", "--key-file FILE [--now UNIX] TOKEN",
	  "check a token: print its buyer and expiry, or why it is refused", token_verify_cmd },
};

const struct ctl_group ctl_token_group = {
	.name = "token",
	.summary = "Buyer tokens: make operator keys, mint and check tokens",
	.cmds = token_cmds,
	.ncmds = sizeof(token_cmds) / sizeof(token_cmds[0]),
};
