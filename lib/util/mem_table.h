/*
 * mem_table.h - memory for the large tables a worker core touches at random
 * (the buyer and address tables, the order book, TCP's connection table and
 * buffers).
 *
 * Anonymous, private, zero, and (for a table written all over from the
 * start) populated before it is returned, so that a sale never takes a page
 * fault on a worker core; memory taken on use (TCP's buffer pools) is left
 * to fault in as it is used, so it costs only what is used. A table of 2 MiB or more
 * asks for transparent huge pages (MADV_HUGEPAGE; the kernel's "madvise"
 * mode, Debian's default, honours it): one TLB entry then covers 512 of the
 * 4 KiB pages a random probe would otherwise miss in the TLB for, which is
 * most probes of a table of hundreds of MiB. Where the kernel gives no huge
 * pages the table works the same, on 4 KiB pages.
 */
#ifndef SECKILL_MEM_TABLE_H
#define SECKILL_MEM_TABLE_H

#include <stdbool.h>
#include <stddef.h>

/* bytes of zeroed memory, page aligned (2 MiB aligned from 2 MiB on), its
 * pages populated now when populate (as far as the kernel can: what it
 * cannot populate faults in on use, as MAP_POPULATE); NULL when the kernel
 * refuses the mapping (errno says why). */
void *mem_table_map(size_t bytes, bool populate);
/* Gives back what mem_table_map(bytes) returned; NULL is ignored. */
void mem_table_unmap(void *p, size_t bytes);

#endif
