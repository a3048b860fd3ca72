/*
 * mem_table.c - table memory on transparent huge pages (mem_table.h).
 */
#define _GNU_SOURCE
#include "mem_table.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define MEM_HUGE ((size_t)2 << 20)

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23      /* Linux 5.14; older kernels: touched below */
#endif

/* What is really mapped for a request of bytes: whole huge pages from 2 MiB on. */
static size_t mem_table_len(size_t bytes)
{
	return bytes >= MEM_HUGE ? (bytes + MEM_HUGE - 1) & ~(MEM_HUGE - 1) : bytes;
}

void *mem_table_map(size_t bytes, bool populate)
{
	size_t len = mem_table_len(bytes), extra = len >= MEM_HUGE ? MEM_HUGE : 0;
	uint8_t *raw, *p;

	if (bytes == 0)
		return NULL;
	/* One huge page more than asked, to cut a 2 MiB aligned range out of it
	 * (the kernel aligns large anonymous mappings itself only sometimes). */
	raw = mmap(NULL, len + extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	p = raw;
	if (extra) {
		p = (uint8_t *)(((uintptr_t)raw + MEM_HUGE - 1) & ~(uintptr_t)(MEM_HUGE - 1));
		if (p > raw)
			munmap(raw, (size_t)(p - raw));
		if (raw + extra > p)
			munmap(p + len, (size_t)(raw + extra - p));
		(void)madvise(p, len, MADV_HUGEPAGE);   /* a hint: refused, 4 KiB pages */
	}
	/* A kernel older than 5.14 does not know the advice (EINVAL): touch
	 * the pages. Any other refusal (ENOMEM) leaves them to fault in on use,
	 * as MAP_POPULATE would, rather than touching them into the OOM killer. */
	if (populate && madvise(p, len, MADV_POPULATE_WRITE) != 0 && errno == EINVAL) {
		long pg = sysconf(_SC_PAGESIZE);

		for (size_t off = 0; off < len; off += (size_t)(pg > 0 ? pg : 4096))
			((volatile uint8_t *)p)[off] = 0;
	}
	return p;
}

void mem_table_unmap(void *p, size_t bytes)
{
	if (p != NULL && bytes)
		munmap(p, mem_table_len(bytes));
}
