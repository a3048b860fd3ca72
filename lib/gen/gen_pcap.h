/*
 * gen_pcap.h - the frames of a pcap file, in memory, for seckill-gen to
 * replay at a set rate (a SYN flood beside real buyers, a captured peak).
 *
 * Classic libpcap files (magic a1b2c3d4 microseconds or a1b23c4d
 * nanoseconds, either byte order) of Ethernet frames (link type 1). The
 * capture's timestamps are not used: the replay rate is the caller's. A frame
 * captured shorter than it was (snaplen) cannot be sent as it was and makes
 * the file unusable, as does any frame longer than NET_FRAME_MAX.
 */
#ifndef SECKILL_GEN_PCAP_H
#define SECKILL_GEN_PCAP_H

#include <stddef.h>
#include <stdint.h>

struct gen_pcap {
	uint8_t *data;               /* the frames, back to back */
	uint64_t *off;               /* frame i starts at data + off[i] */
	uint16_t *len;
	uint32_t n;
};

/* Reads at most max_frames frames of path; 0, or -1 with err saying why. */
int gen_pcap_load(const char *path, uint32_t max_frames, struct gen_pcap *p,
		  char *err, size_t errlen);
void gen_pcap_free(struct gen_pcap *p);

#endif
