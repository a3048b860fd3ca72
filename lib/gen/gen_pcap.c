/*
 * gen_pcap.c - reads a pcap file's frames into memory (gen_pcap.h).
 */
#include "gen_pcap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_hdr.h"

#define PCAP_MAGIC_US 0xa1b2c3d4u
#define PCAP_MAGIC_NS 0xa1b23c4du
#define PCAP_LINKTYPE_ETHERNET 1u
#define PCAP_FILE_HDR 24
#define PCAP_REC_HDR 16

static uint32_t rd32(const uint8_t *p, bool swap)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return swap ? __builtin_bswap32(v) : v;
}

static int pcap_header(FILE *f, const char *path, bool *swap, char *err, size_t errlen)
{
	uint8_t h[PCAP_FILE_HDR];
	uint32_t magic, link;

	if (fread(h, 1, sizeof(h), f) != sizeof(h)) {
		snprintf(err, errlen, "%s: shorter than a pcap header", path);
		return -1;
	}
	memcpy(&magic, h, 4);
	*swap = magic == __builtin_bswap32(PCAP_MAGIC_US) || magic == __builtin_bswap32(PCAP_MAGIC_NS);
	if (!*swap && magic != PCAP_MAGIC_US && magic != PCAP_MAGIC_NS) {
		snprintf(err, errlen, "%s: not a pcap file (magic %08x; pcapng is not read: "
			 "convert it with 'editcap -F pcap')", path, magic);
		return -1;
	}
	link = rd32(h + 20, *swap) & 0xffffu;
	if (link != PCAP_LINKTYPE_ETHERNET) {
		snprintf(err, errlen, "%s: link type %u, only Ethernet (1) frames can be replayed",
			 path, link);
		return -1;
	}
	return 0;
}

static int pcap_grow(struct gen_pcap *p, uint32_t *cap, uint64_t *bytes_cap, uint64_t need)
{
	if (p->n == *cap) {
		uint32_t nc = *cap ? *cap * 2 : 1024;
		uint64_t *off = realloc(p->off, nc * sizeof(*off));
		uint16_t *len = off ? realloc(p->len, nc * sizeof(*len)) : NULL;

		if (off)
			p->off = off;
		if (!len)
			return -1;
		p->len = len;
		*cap = nc;
	}
	if (need > *bytes_cap) {
		uint64_t nb = *bytes_cap ? *bytes_cap * 2 : 1 << 20;
		uint8_t *d;

		while (nb < need)
			nb *= 2;
		d = realloc(p->data, nb);
		if (!d)
			return -1;
		p->data = d;
		*bytes_cap = nb;
	}
	return 0;
}

int gen_pcap_load(const char *path, uint32_t max_frames, struct gen_pcap *p,
		  char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	uint8_t rh[PCAP_REC_HDR];
	uint64_t used = 0, bytes_cap = 0;
	uint32_t cap = 0;
	bool swap;

	memset(p, 0, sizeof(*p));
	if (f == NULL) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (pcap_header(f, path, &swap, err, errlen) < 0)
		goto fail;
	while (p->n < max_frames && fread(rh, 1, sizeof(rh), f) == sizeof(rh)) {
		uint32_t caplen = rd32(rh + 8, swap), wirelen = rd32(rh + 12, swap);

		if (caplen != wirelen || caplen < NET_ETH_HLEN || caplen > NET_FRAME_MAX) {
			snprintf(err, errlen, "%s: frame %u is %u bytes captured of %u: only whole "
				 "frames of %u..%u bytes can be replayed", path, p->n + 1, caplen,
				 wirelen, NET_ETH_HLEN, NET_FRAME_MAX);
			goto fail;
		}
		if (pcap_grow(p, &cap, &bytes_cap, used + caplen) < 0) {
			snprintf(err, errlen, "%s: out of memory at frame %u", path, p->n + 1);
			goto fail;
		}
		if (fread(p->data + used, 1, caplen, f) != caplen) {
			snprintf(err, errlen, "%s: frame %u is cut short by the end of the file",
				 path, p->n + 1);
			goto fail;
		}
		p->off[p->n] = used;
		p->len[p->n++] = (uint16_t)caplen;
		used += caplen;
	}
	fclose(f);
	if (p->n == 0) {
		snprintf(err, errlen, "%s: no frames", path);
		gen_pcap_free(p);
		return -1;
	}
	return 0;
fail:
	fclose(f);
	gen_pcap_free(p);
	return -1;
}

void gen_pcap_free(struct gen_pcap *p)
{
	free(p->data);
	free(p->off);
	free(p->len);
	memset(p, 0, sizeof(*p));
}
