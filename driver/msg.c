// SPDX-License-Identifier: GPL-2.0
/*
 * realcom: daemon -> kernel messages (received data, modem status, line
 * events, drain completion, link state, the device's output queue, TX
 * hold), checked and fed to the tty layer.
 */

#include <linux/sched/signal.h>
#include <linux/string.h>
#include <linux/tty_flip.h>

#include "internal.h"

/* ---- /dev/realcom: daemon -> kernel messages ---- */

/*
 * Received data is taken when nobody has the tty open (and dropped, as a
 * UART drops it), or when the ldisc has not throttled us and the tty buffer
 * has room for all of it.
 */
bool realcom_rx_room(struct realcom_port *rp, size_t len)
{
	if (!tty_port_initialized(&rp->port))
		return true;
	if (test_bit(REALCOM_F_THROTTLED, &rp->flags))
		return false;
	return tty_buffer_space_avail(&rp->port) >= len + REALCOM_RX_SLACK;
}

static int realcom_rx_data(struct realcom_port *rp, const u8 *data,
			   size_t len, bool nonblock)
{
	unsigned long flags;
	size_t n;
	long ret;

	if (!len)
		return 0;
	while (!realcom_rx_room(rp, len)) {
		if (nonblock)
			return -EAGAIN;
		/* the tty says when it unthrottles, not when its buffer drains */
		ret = wait_event_interruptible_timeout(rp->dwait, realcom_rx_room(rp, len),
						       REALCOM_RX_RECHECK);
		if (ret < 0)
			return ret;
	}
	if (!tty_port_initialized(&rp->port))
		return 0;	/* nobody has the tty open: dropped, as by a UART */

	n = tty_insert_flip_string(&rp->port, data, len);
	spin_lock_irqsave(&rp->lock, flags);
	rp->icount.rx += n;
	if (n < len)
		rp->icount.buf_overrun++;
	spin_unlock_irqrestore(&rp->lock, flags);
	if (n)
		tty_flip_buffer_push(&rp->port);
	return 0;
}

static int realcom_modem_status(struct realcom_port *rp,
				const struct realcom_modem *m)
{
	const u8 inputs = REALCOM_MODEM_CTS | REALCOM_MODEM_DSR |
			  REALCOM_MODEM_RI | REALCOM_MODEM_DCD;
	unsigned long flags;
	u8 delta;

	if ((m->lines & ~inputs) || memchr_inv(m->pad, 0, sizeof(m->pad)))
		return -EINVAL;

	spin_lock_irqsave(&rp->lock, flags);
	delta = rp->msr ^ m->lines;
	WRITE_ONCE(rp->msr, m->lines);
	if (delta & REALCOM_MODEM_CTS)
		rp->icount.cts++;
	if (delta & REALCOM_MODEM_DSR)
		rp->icount.dsr++;
	/* RI counts its trailing edge only, as a UART's TERI does */
	if ((delta & REALCOM_MODEM_RI) && !(m->lines & REALCOM_MODEM_RI))
		rp->icount.rng++;
	if (delta & REALCOM_MODEM_DCD)
		rp->icount.dcd++;
	spin_unlock_irqrestore(&rp->lock, flags);

	if (!delta)
		return 0;
	wake_up_interruptible(&rp->port.delta_msr_wait);
	if (delta & REALCOM_MODEM_DCD) {
		if (m->lines & REALCOM_MODEM_DCD)
			wake_up_interruptible(&rp->port.open_wait);
		else
			tty_port_tty_hangup(&rp->port, true);
	}
	return 0;
}

static void realcom_rx_break(struct realcom_port *rp)
{
	struct tty_struct *tty = tty_port_tty_get(&rp->port);

	if (!tty)
		return;
	/* TTY_DRIVER_REAL_RAW: with IGNBRK no break char may be queued */
	if (!I_IGNBRK(tty) && tty_insert_flip_char(&rp->port, 0, TTY_BREAK))
		tty_flip_buffer_push(&rp->port);
	tty_kref_put(tty);
}

static int realcom_line_event(struct realcom_port *rp,
			      const struct realcom_line_event *ev)
{
	const u8 known = REALCOM_EV_PARITY | REALCOM_EV_FRAMING |
			 REALCOM_EV_OVERRUN | REALCOM_EV_BREAK;
	unsigned long flags;

	if ((ev->events & ~known) || memchr_inv(ev->pad, 0, sizeof(ev->pad)))
		return -EINVAL;

	spin_lock_irqsave(&rp->lock, flags);
	if (ev->events & REALCOM_EV_PARITY)
		rp->icount.parity++;
	if (ev->events & REALCOM_EV_FRAMING)
		rp->icount.frame++;
	if (ev->events & REALCOM_EV_OVERRUN)
		rp->icount.overrun++;
	if (ev->events & REALCOM_EV_BREAK)
		rp->icount.brk++;
	spin_unlock_irqrestore(&rp->lock, flags);

	if (ev->events & REALCOM_EV_BREAK)
		realcom_rx_break(rp);
	return 0;
}

static int realcom_drain_reply(struct realcom_port *rp,
			       const struct realcom_drain_done *dd)
{
	unsigned long flags;

	spin_lock_irqsave(&rp->lock, flags);
	/* only cookies handed out, newer than the last one completed */
	if ((s32)(dd->cookie - rp->drain_done) > 0 &&
	    (s32)(rp->drain_cookie - dd->cookie) >= 0) {
		rp->drain_done = dd->cookie;
		rp->drain_remaining = dd->remaining;
	}
	rp->oqueue = dd->remaining;
	spin_unlock_irqrestore(&rp->lock, flags);
	wake_up_interruptible_all(&rp->kwait);
	tty_port_tty_wakeup(&rp->port);
	return 0;
}

static int realcom_link(struct realcom_port *rp, const struct realcom_link *l)
{
	unsigned long flags;

	if (l->up > 1 || memchr_inv(l->pad, 0, sizeof(l->pad)))
		return -EINVAL;

	if (l->up) {
		clear_bit(REALCOM_F_LINK_DOWN, &rp->flags);
		wake_up_interruptible(&rp->port.open_wait);
		return 0;
	}
	set_bit(REALCOM_F_LINK_DOWN, &rp->flags);
	spin_lock_irqsave(&rp->lock, flags);
	rp->oqueue = 0;
	spin_unlock_irqrestore(&rp->lock, flags);
	tty_port_tty_hangup(&rp->port, true);
	wake_up_interruptible_all(&rp->kwait);
	tty_port_tty_wakeup(&rp->port);
	return 0;
}

static int realcom_oqueue(struct realcom_port *rp,
			  const struct realcom_oqueue *oq)
{
	unsigned long flags;

	spin_lock_irqsave(&rp->lock, flags);
	rp->oqueue = oq->bytes;
	spin_unlock_irqrestore(&rp->lock, flags);
	tty_port_tty_wakeup(&rp->port);
	return 0;
}

/*
 * The daemon cannot take TX data now (the device stopped reading): read()
 * hands it control only, so settings and modem lines still get through.
 */
static int realcom_tx_hold(struct realcom_port *rp,
			   const struct realcom_tx_hold *h)
{
	if (h->hold > 1 || memchr_inv(h->pad, 0, sizeof(h->pad)))
		return -EINVAL;
	if (h->hold) {
		set_bit(REALCOM_F_TX_HOLD, &rp->flags);
		return 0;
	}
	clear_bit(REALCOM_F_TX_HOLD, &rp->flags);
	wake_up_interruptible(&rp->dwait);
	return 0;
}

/*
 * The daemon or the device could not apply the last LINE (a rate the unit
 * answered NA to, parity a pty cannot carry): what is in effect goes into
 * the termios an application reads back, rate and c_cflag's CSIZE, parity,
 * CSTOPB and CRTSCTS (the ldisc's iflag is left alone).  A report that a
 * newer LINE, not read yet, overtook is dropped: its answer will follow.
 * B0 stays B0.
 */
static int realcom_line_applied(struct realcom_port *rp,
				const struct realcom_line *l)
{
	static const tcflag_t csize[] = { CS5, CS6, CS7, CS8 };
	struct tty_struct *tty;
	unsigned long flags;
	tcflag_t c;
	bool newer;

	if (!l->baud || l->data_bits < 5 || l->data_bits > 8 ||
	    l->parity > REALCOM_PARITY_SPACE ||
	    (l->stop_bits != REALCOM_STOP_1 && l->stop_bits != REALCOM_STOP_2) ||
	    (l->flow & ~(REALCOM_FLOW_CTS | REALCOM_FLOW_RTS |
			 REALCOM_FLOW_IXON | REALCOM_FLOW_IXOFF)) ||
	    memchr_inv(l->pad, 0, sizeof(l->pad)))
		return -EINVAL;

	tty = tty_port_tty_get(&rp->port);
	if (tty)
		down_write(&tty->termios_rwsem);
	spin_lock_irqsave(&rp->lock, flags);
	newer = rp->dirty & REALCOM_D_LINE;
	if (!newer)
		rp->line = *l;	/* what the daemon has: no LINE goes back */
	spin_unlock_irqrestore(&rp->lock, flags);
	if (!tty)
		return 0;
	if (!newer) {
		c = tty->termios.c_cflag &
		    ~(CSIZE | PARENB | PARODD | CMSPAR | CSTOPB | CRTSCTS);
		c |= csize[l->data_bits - 5];
		if (l->parity != REALCOM_PARITY_NONE)
			c |= PARENB;
		if (l->parity == REALCOM_PARITY_ODD ||
		    l->parity == REALCOM_PARITY_MARK)
			c |= PARODD;
		if (l->parity == REALCOM_PARITY_MARK ||
		    l->parity == REALCOM_PARITY_SPACE)
			c |= CMSPAR;
		if (l->stop_bits == REALCOM_STOP_2)
			c |= CSTOPB;
		if (l->flow & REALCOM_FLOW_CTS)
			c |= CRTSCTS;
		tty->termios.c_cflag = c;
		if (tty_termios_baud_rate(&tty->termios))
			tty_termios_encode_baud_rate(&tty->termios, l->baud,
						     l->baud);
	}
	up_write(&tty->termios_rwsem);
	tty_kref_put(tty);
	return 0;
}

/* Is @hdr a daemon -> kernel message with a payload length it may have? */
bool realcom_hdr_ok(const struct realcom_hdr *hdr)
{
	switch (hdr->type) {
	case REALCOM_MSG_RX_DATA:
		return hdr->len <= REALCOM_MAX_PAYLOAD;
	case REALCOM_MSG_MODEM_STATUS:
		return hdr->len == sizeof(struct realcom_modem);
	case REALCOM_MSG_LINE_EVENT:
		return hdr->len == sizeof(struct realcom_line_event);
	case REALCOM_MSG_DRAIN_DONE:
		return hdr->len == sizeof(struct realcom_drain_done);
	case REALCOM_MSG_LINK:
		return hdr->len == sizeof(struct realcom_link);
	case REALCOM_MSG_OQUEUE:
		return hdr->len == sizeof(struct realcom_oqueue);
	case REALCOM_MSG_TX_HOLD:
		return hdr->len == sizeof(struct realcom_tx_hold);
	case REALCOM_MSG_LINE_APPLIED:
		return hdr->len == sizeof(struct realcom_line);
	}
	return false;
}

/* Apply one message; a payload that is refused changes nothing. */
int realcom_handle(struct realcom_port *rp, const struct realcom_hdr *hdr,
		   const u8 *data, bool nonblock)
{
	union {
		struct realcom_modem modem;
		struct realcom_line_event ev;
		struct realcom_drain_done dd;
		struct realcom_link link;
		struct realcom_oqueue oq;
		struct realcom_tx_hold hold;
		struct realcom_line line;
	} u;

	if (hdr->type == REALCOM_MSG_RX_DATA)
		return realcom_rx_data(rp, data, hdr->len, nonblock);

	memcpy(&u, data, hdr->len);	/* realcom_hdr_ok() checked the size */
	switch (hdr->type) {
	case REALCOM_MSG_MODEM_STATUS:
		return realcom_modem_status(rp, &u.modem);
	case REALCOM_MSG_LINE_EVENT:
		return realcom_line_event(rp, &u.ev);
	case REALCOM_MSG_DRAIN_DONE:
		return realcom_drain_reply(rp, &u.dd);
	case REALCOM_MSG_LINK:
		return realcom_link(rp, &u.link);
	case REALCOM_MSG_OQUEUE:
		return realcom_oqueue(rp, &u.oq);
	case REALCOM_MSG_TX_HOLD:
		return realcom_tx_hold(rp, &u.hold);
	case REALCOM_MSG_LINE_APPLIED:
		return realcom_line_applied(rp, &u.line);
	}
	return -EINVAL;
}
