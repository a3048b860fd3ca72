/*
 * tcp_timer.c - one timer per connection in a hashed timer wheel (Varghese
 * and Lauck), and what each timer does when it fires.
 *
 * A connection waits for at most one thing at a time, so one entry per
 * connection, linked through indices inside the tcp_conn, is enough; its kind
 * (enum tcp_timer_kind) says what it waits for:
 *  - SYNACK: resend the SYN-ACK with back-off; after conf.syn_retries resends
 *    the half-open entry is dropped (the half-open timeout);
 *  - RTX: go back to the oldest unacknowledged byte and resend from there
 *    (tcp_out_retransmit; or probe a zero window) with the RTO doubled each
 *    time (RFC 6298 5.5), clamped to rto_max; after
 *    conf.data_retries the connection is reset. Zero-window probes count
 *    as retransmissions: a peer that keeps its window shut through
 *    data_retries probes is reset too, so it cannot pin a connection;
 *    A peer that takes none of our bytes for send_timeout_ms (no ACK moves
 *    snd_una: zero window, or silence) is reset sooner (timeout_send);
 *  - IDLE: nothing in flight; the connection is reset when no data or FIN has
 *    arrived for idle_timeout_ms. Arrivals only stamp last_rx_ms and the timer
 *    re-arms itself when it finds it moved. Two request deadlines come first
 *    when they apply (tcp.h, "Requests"; tcp_idle_due): no first request
 *    first_request_timeout_ms after the handshake, and an incomplete request
 *    header_timeout_ms after its first byte, or after the answer before it
 *    was acknowledged if that came later (head_ms; later bytes do not move
 *    it: a slowloris trickling a byte at a time gains nothing);
 *  - FIN: FIN_WAIT_2 (and CLOSING / LAST_ACK, through the deadline) waiting on
 *    the peer longer than fin_timeout_ms;
 *  - TIME_WAIT: the entry is freed.
 *
 * The wheel has TCP_WHEEL_SLOTS slots of 1 ms; an entry sits in slot
 * tm_at & mask and fires when the tick reaches it with tm_due <= now, so
 * timers longer than one turn just wait for a later turn. tcp_timers_run walks the
 * slots of the ticks since its last call (all slots once when more than a
 * turn has passed), so it costs nothing when called every burst.
 *
 * Arming is lazy (the classic trick; Linux's keepalive timer does the same:
 * on expiry it looks at the last activity and re-arms for what is left): an
 * entry already in the wheel at a tick no later than the new due time stays
 * where it is, and only tm_due and tm_kind change; when the walk reaches the
 * entry and finds it early, it moves it on to tm_due's tick. A keep-alive
 * request arms RTX when its answer goes out and IDLE when the answer is ACKed,
 * both later than where the entry already sits, so the per-request path
 * leaves the wheel alone; the entry moves about once per RTO instead of twice
 * per request. Only an earlier due time (RTX after IDLE sat far out) moves it
 * at once. An entry never sits later than the tick its due time asks for, so
 * every timer fires on the same tick as when each arm moved it.
 */
#include "tcp_priv.h"

void tcp_timer_init(struct tcp_core *tc)
{
	for (uint32_t i = 0; i < TCP_WHEEL_SLOTS; i++)
		tc->wheel[i] = TCP_NIL;
	tc->tm_running = TCP_NIL;
}

static uint32_t *tcp_timer_head(struct tcp_core *tc, uint32_t slot)
{
	return slot == TCP_SLOT_RUNNING ? &tc->tm_running : &tc->wheel[slot];
}

void tcp_timer_cancel(struct tcp_core *tc, struct tcp_conn *c)
{
	if (c->tm_slot == TCP_NIL)
		return;
	if (c->tm_prev != TCP_NIL)
		tc->conns[c->tm_prev].tm_next = c->tm_next;
	else
		*tcp_timer_head(tc, c->tm_slot) = c->tm_next;
	if (c->tm_next != TCP_NIL)
		tc->conns[c->tm_next].tm_prev = c->tm_prev;
	c->tm_slot = TCP_NIL;
	c->tm_next = c->tm_prev = TCP_NIL;
	c->tm_kind = TCP_TM_NONE;
}

static void tcp_timer_link(struct tcp_core *tc, struct tcp_conn *c, uint32_t slot)
{
	uint32_t *head = tcp_timer_head(tc, slot);
	uint32_t idx = tcp_conn_idx(tc, c);

	c->tm_slot = slot;
	c->tm_prev = TCP_NIL;
	c->tm_next = *head;
	if (*head != TCP_NIL)
		tc->conns[*head].tm_prev = idx;
	*head = idx;
}

/* Links an unlinked c at the tick of due_ms; a time already passed: the next tick. */
static void tcp_timer_link_due(struct tcp_core *tc, struct tcp_conn *c, uint32_t due_ms)
{
	uint32_t tick = due_ms;

	if ((int32_t)(tick - tc->wheel_ms) <= 0)
		tick = tc->wheel_ms + 1;
	c->tm_at = tick;
	tcp_timer_link(tc, c, tick & TCP_WHEEL_MASK);
}

/* The slow half of tcp_timer_set, kept out of line so the lazy case stays a
 * compare and two stores in its callers. */
static __attribute__((noinline)) void tcp_timer_move(struct tcp_core *tc, struct tcp_conn *c,
						     uint32_t due_ms)
{
	tcp_timer_cancel(tc, c);
	tcp_timer_link_due(tc, c, due_ms);
}

/*
 * (Re)arms c's timer for due_ms. A time already passed fires on the next tick.
 * An entry in the wheel that comes up no later than due_ms is left there (see
 * the top of the file); one on the list being fired is moved as before.
 */
static inline void tcp_timer_set(struct tcp_core *tc, struct tcp_conn *c, uint32_t due_ms,
				 enum tcp_timer_kind kind)
{
	bool early = c->tm_slot != TCP_NIL && c->tm_slot != TCP_SLOT_RUNNING &&
		seq_leq(c->tm_at, due_ms);

	if (!early)
		tcp_timer_move(tc, c, due_ms);
	c->tm_due = due_ms;
	c->tm_kind = (uint8_t)kind;
}

void tcp_timer_arm(struct tcp_core *tc, struct tcp_conn *c, uint32_t due_ms,
		   enum tcp_timer_kind kind)
{
	tcp_timer_set(tc, c, due_ms, kind);
}

static uint32_t tcp_rto_due(const struct tcp_core *tc, const struct tcp_conn *c)
{
	uint32_t due = tc->now_ms + c->rto_ms;

	/* CLOSING and LAST_ACK are also bounded by fin_timeout. */
	if ((c->flags & TCP_F_DEADLINE) && seq_lt(c->deadline_ms, due))
		due = c->deadline_ms;
	return due;
}

/* Queued but not sent: the peer's window is shut (probe it) or net_tx had
 * no buffer (try again); either way the RTX timer brings it out. */
static inline bool tcp_tx_stalled(const struct tcp_conn *c)
{
	/* Bytes parked by tcp_hold are not stalled: nothing to resend or probe
	 * for them; the idle timeout still bounds how long a peer waits. */
	if ((c->flags & TCP_F_HOLD) && c->snd_max == c->snd_una)
		return false;
	return c->tx.len > c->snd_max - c->snd_una ||
		((c->flags & (TCP_F_CLOSE_REQ | TCP_F_FIN_ACKED)) == TCP_F_CLOSE_REQ &&
		 !tcp_fin_sent(c));
}

/* Which deadline an IDLE timer waits for. */
enum tcp_idle_why {
	TCP_IDLE_QUIET,          /* idle_timeout_ms after the last bytes in */
	TCP_IDLE_FIRST,          /* first_request_timeout_ms after the handshake */
	TCP_IDLE_HEAD,           /* header_timeout_ms after the request's first byte */
};

/*
 * When c's IDLE timer is due, and for what: the earliest of the idle timeout
 * and the request deadline that applies. Until its first byte, last_rx_ms is
 * when the handshake completed.
 */
static uint32_t tcp_idle_due(const struct tcp_core *tc, const struct tcp_conn *c,
			     enum tcp_idle_why *why)
{
	uint32_t due = c->last_rx_ms + tc->conf.idle_timeout_ms, d;

	*why = TCP_IDLE_QUIET;
	if (c->state != TCP_S_ESTABLISHED)
		return due;
	if (!(c->flags & TCP_F_RCVD)) {
		d = c->last_rx_ms + tc->conf.first_request_timeout_ms;
		if (tc->conf.first_request_timeout_ms && tcp_conn_quiet(c) && seq_leq(d, due)) {
			due = d;
			*why = TCP_IDLE_FIRST;
		}
	} else if (tc->conf.header_timeout_ms && tcp_head_pending(c)) {
		d = c->head_ms + tc->conf.header_timeout_ms;
		if (seq_leq(d, due)) {
			due = d;
			*why = TCP_IDLE_HEAD;
		}
	}
	return due;
}

/*
 * tcp_idle_due for a connection that just stopped owing its peer anything
 * (tcp_timer_update): a request already begun behind the answer has its
 * whole header_timeout_ms from now (to gain more time, a peer must complete
 * a request).
 */
static __attribute__((noinline)) uint32_t tcp_idle_due_begin(struct tcp_core *tc,
							    struct tcp_conn *c)
{
	enum tcp_idle_why why;

	if (c->rx.len && c->state == TCP_S_ESTABLISHED)
		c->head_ms = tc->now_ms;
	return tcp_idle_due(tc, c, &why);
}

/*
 * c's receive ring just began holding a new incomplete request (head_ms is
 * set): if c waits on its IDLE timer, the header deadline may be earlier
 * than where the entry sits. Off the per-segment path: only when a request
 * is left incomplete.
 */
void tcp_timer_request(struct tcp_core *tc, struct tcp_conn *c)
{
	enum tcp_idle_why why;

	if (c->tm_kind == TCP_TM_IDLE)
		tcp_timer_set(tc, c, tcp_idle_due(tc, c, &why), TCP_TM_IDLE);
}

/*
 * Puts c's timer in line with its state after input or output. restart_rtx
 * re-arms a running retransmission timer (RFC 6298 5.3: an ACK for new data
 * restarts it); otherwise a running one is left alone (5.1).
 */
void tcp_timer_update(struct tcp_core *tc, struct tcp_conn *c, bool restart_rtx)
{
	switch (c->state) {
	case TCP_S_SYN_RCVD:
	case TCP_S_SYN_SENT:
	case TCP_S_TIME_WAIT:
	case TCP_S_FREE:
		return;                 /* armed on entry, nothing to follow */
	case TCP_S_FIN_WAIT_2:
		if (c->tm_kind != TCP_TM_FIN)
			tcp_timer_set(tc, c, c->deadline_ms, TCP_TM_FIN);
		return;
	default:
		break;
	}
	if (c->snd_max != c->snd_una || tcp_tx_stalled(c)) {
		if (c->tm_kind != TCP_TM_RTX || restart_rtx)
			tcp_timer_set(tc, c, tcp_rto_due(tc, c), TCP_TM_RTX);
		return;
	}
	if (c->tm_kind != TCP_TM_IDLE) {
		uint32_t due = c->last_rx_ms + tc->conf.idle_timeout_ms;

		/* Its answer is acknowledged (or it has just been established):
		 * c owes nothing from now, and is idle from now for the eviction
		 * order. A keep-alive connection between requests (the case once
		 * per request) needs no more; the others may have a deadline. */
		if (!(c->flags & TCP_F_RCVD) || c->rx.len)
			due = tcp_idle_due_begin(tc, c);
		tcp_timer_set(tc, c, due, TCP_TM_IDLE);
		tcp_evq_touch(tc, c);
	}
}

static void tcp_timer_synack(struct tcp_core *tc, struct tcp_conn *c)
{
	bool active = c->state == TCP_S_SYN_SENT;

	if (c->retries >= tc->conf.syn_retries) {
		tc->st.conns_timed_out++;
		if (active)
			tc->st.connects_timed_out++;
		tcp_conn_free(tc, c, active ? TCP_CLOSE_RETRANS : TCP_CLOSE_IDLE);
		return;
	}
	c->retries++;
	c->rto_ms = c->rto_ms * 2 > tc->conf.rto_max_ms ? tc->conf.rto_max_ms : c->rto_ms * 2;
	if (active)
		tc->st.syn_retrans++;
	else
		tc->st.synack_retrans++;
	tcp_out_synack(tc, c);
	tcp_timer_arm(tc, c, tc->now_ms + c->rto_ms, TCP_TM_SYNACK);
}

static void tcp_timer_rtx(struct tcp_core *tc, struct tcp_conn *c)
{
	struct tcp_aux *a = &tc->aux[tcp_conn_idx(tc, c)];
	uint32_t send_end, due;

	/* The first expiry since the peer last took bytes (an ACK that moves
	 * snd_una zeroes retries and restarts the timer): the stall began when
	 * the timer was armed, an RTO before it was due. */
	if (c->retries == 0)
		a->stall_ms = c->tm_due - c->rto_ms;
	send_end = a->stall_ms + tc->conf.send_timeout_ms;
	if (((c->flags & TCP_F_DEADLINE) && seq_geq(tc->now_ms, c->deadline_ms)) ||
	    c->retries >= tc->conf.data_retries) {
		/* Give up; the reset tells a peer that is still there. */
		tc->st.conns_timed_out++;
		tcp_out_rst(tc, c);
		tcp_conn_free(tc, c, TCP_CLOSE_RETRANS);
		return;
	}
	if (tc->conf.send_timeout_ms && seq_geq(tc->now_ms, send_end)) {
		tc->st.conns_timed_out++;
		tc->st.timeout_send++;
		tcp_out_rst(tc, c);
		tcp_conn_free(tc, c, TCP_CLOSE_SEND_TIMEOUT);
		return;
	}
	c->retries++;
	c->rto_ms = c->rto_ms * 2 > tc->conf.rto_max_ms ? tc->conf.rto_max_ms : c->rto_ms * 2;
	tcp_out_retransmit(tc, c);
	due = tcp_rto_due(tc, c);
	if (tc->conf.send_timeout_ms && seq_lt(send_end, due))
		due = send_end;
	tcp_timer_arm(tc, c, due, TCP_TM_RTX);
}

static void tcp_timer_idle(struct tcp_core *tc, struct tcp_conn *c)
{
	enum tcp_idle_why why;
	uint32_t due = tcp_idle_due(tc, c, &why);

	if (seq_lt(tc->now_ms, due)) {          /* bytes arrived since it was armed */
		tcp_timer_arm(tc, c, due, TCP_TM_IDLE);
		return;
	}
	tc->st.conns_timed_out++;
	if (why == TCP_IDLE_FIRST)
		tc->st.timeout_first_request++;
	else if (why == TCP_IDLE_HEAD)
		tc->st.timeout_header++;
	tcp_out_rst(tc, c);
	tcp_conn_free(tc, c, why == TCP_IDLE_QUIET ? TCP_CLOSE_IDLE : TCP_CLOSE_DEADLINE);
}

static void tcp_timer_fire(struct tcp_core *tc, struct tcp_conn *c)
{
	enum tcp_timer_kind kind = (enum tcp_timer_kind)c->tm_kind;

	c->tm_kind = TCP_TM_NONE;
	switch (kind) {
	case TCP_TM_SYNACK:
		tcp_timer_synack(tc, c);
		break;
	case TCP_TM_RTX:
		tcp_timer_rtx(tc, c);
		break;
	case TCP_TM_IDLE:
		tcp_timer_idle(tc, c);
		break;
	case TCP_TM_FIN:
		tc->st.conns_timed_out++;
		tcp_conn_free(tc, c, TCP_CLOSE_IDLE);
		break;
	case TCP_TM_TIME_WAIT:
		tcp_conn_free(tc, c, TCP_CLOSE_NORMAL);
		break;
	case TCP_TM_NONE:
		break;
	}
}

/*
 * Fires the entries of one slot that are due. The slot's list is first moved
 * to tm_running so that handlers may re-arm (even into this slot) or free
 * connections freely; entries not yet due (a later turn, or armed lazily
 * since they were linked) move on to the tick of their due time.
 */
static void tcp_timer_slot(struct tcp_core *tc, uint32_t slot)
{
	tc->tm_running = tc->wheel[slot];
	tc->wheel[slot] = TCP_NIL;
	for (uint32_t i = tc->tm_running; i != TCP_NIL; i = tc->conns[i].tm_next)
		tc->conns[i].tm_slot = TCP_SLOT_RUNNING;
	while (tc->tm_running != TCP_NIL) {
		struct tcp_conn *c = &tc->conns[tc->tm_running];
		enum tcp_timer_kind kind = (enum tcp_timer_kind)c->tm_kind;
		uint32_t due = c->tm_due;

		tcp_timer_cancel(tc, c);
		if (seq_leq(due, tc->now_ms)) {
			c->tm_kind = (uint8_t)kind;
			tcp_timer_fire(tc, c);
		} else {
			c->tm_due = due;
			c->tm_kind = (uint8_t)kind;
			tcp_timer_link_due(tc, c, due);
		}
	}
}

void tcp_timers_run(struct tcp_core *tc)
{
	uint32_t ticks = tc->now_ms - tc->wheel_ms;

	if (tc->nwait != 0)
		tcp_space_waiters_run(tc);
	if (tc->dl_n != 0)
		tcp_delack_run(tc);

	if ((int32_t)ticks <= 0)
		return;
	if (ticks >= TCP_WHEEL_SLOTS) {
		/* More than a turn passed: every slot may hold something due. */
		tc->wheel_ms = tc->now_ms;
		for (uint32_t s = 0; s < TCP_WHEEL_SLOTS; s++)
			tcp_timer_slot(tc, s);
		return;
	}
	while (tc->wheel_ms != tc->now_ms) {
		tc->wheel_ms++;
		tcp_timer_slot(tc, tc->wheel_ms & TCP_WHEEL_MASK);
	}
}
