/*
 * dp_port.h - the mbuf pool and a port with one RX/TX queue pair per worker
 * (seckill-dp's port 0, and seckill-gen's).
 */
#ifndef SECKILL_DP_PORT_H
#define SECKILL_DP_PORT_H

#include <stddef.h>
#include <stdint.h>

#include <rte_mempool.h>

#include "net_iface.h"

/* mbufs in all; per-lcore caches sized so workers + 1 of them fit in half. */
struct rte_mempool *dp_pool_create(const char *name, unsigned int mbufs, unsigned int workers);
/* Configures and starts port with queues queue pairs; fills ifc's MAC and MTU. */
int dp_port_init(uint16_t port, uint16_t queues, struct rte_mempool *pool,
		 struct net_iface *ifc, char *err, size_t errlen);
void dp_port_fini(uint16_t port);

#endif
