// SPDX-License-Identifier: GPL-2.0
/*
 * realcom: the tty and tty_port operations of /dev/ttyR<N>.  Nothing
 * here waits for the daemon without a bound: settings become control state
 * (ctrl.c), data goes to the port's kfifo, and only tcdrain/close wait,
 * for as long as closing_wait or the drain round allows.
 */

#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/tty_flip.h>

#include "internal.h"

/* ---- tty_port operations ---- */

static REALCOM_PORT_BOOL realcom_carrier_raised(struct tty_port *port)
{
	struct realcom_port *rp = to_realcom(port);

	return !realcom_dead(rp) && !test_bit(REALCOM_F_LINK_DOWN, &rp->flags) &&
	       (READ_ONCE(rp->msr) & REALCOM_MODEM_DCD);
}

static void realcom_dtr_rts(struct tty_port *port, REALCOM_PORT_BOOL active)
{
	u8 lines = REALCOM_MODEM_DTR | REALCOM_MODEM_RTS;

	realcom_update_mcr(to_realcom(port), active ? lines : 0,
			   active ? 0 : lines);
}

/*
 * First open: OPEN, then the whole state (LINE, MODEM), so the daemon never
 * has to remember anything across a CLOSE.
 */
static int realcom_activate(struct tty_port *port, struct tty_struct *tty)
{
	struct realcom_port *rp = to_realcom(port);
	struct realcom_line settings;
	unsigned long flags;
	int ret = 0;

	realcom_line_from_tty(rp, tty, &settings);
	spin_lock_irqsave(&rp->lock, flags);
	if (realcom_dead(rp)) {
		ret = -ENODEV;
	} else {
		clear_bit(REALCOM_F_THROTTLED, &rp->flags);
		clear_bit(REALCOM_F_TX_STOPPED, &rp->flags);
		rp->line = settings;
		rp->modem_full = true;
		__realcom_dirty(rp, REALCOM_D_OPEN | REALCOM_D_LINE |
			       REALCOM_D_MODEM);
	}
	spin_unlock_irqrestore(&rp->lock, flags);
	wake_up_interruptible(&rp->dwait);
	return ret;
}

/*
 * Last close or hangup: what closing_wait did not get out is dropped.  A
 * session the daemon never heard of ends without a trace; one it saw owes
 * it a CLOSE.
 */
static void realcom_shutdown(struct tty_port *port)
{
	struct realcom_port *rp = to_realcom(port);
	unsigned long flags;

	spin_lock_irqsave(&rp->lock, flags);
	kfifo_reset(&rp->xmit);
	rp->tx_out = rp->tx_in;
	clear_bit(REALCOM_F_THROTTLED, &rp->flags);
	clear_bit(REALCOM_F_TX_STOPPED, &rp->flags);
	rp->dirty &= ~(REALCOM_D_DRAIN | REALCOM_D_XCHAR | REALCOM_D_BREAK |
		       REALCOM_D_BREAK_MID | REALCOM_D_BREAK_TIMED);
	rp->brk = false;	/* the daemon ends a held break at CLOSE */
	if (rp->dirty & REALCOM_D_OPEN) {
		rp->dirty &= ~REALCOM_D_OPEN;
	} else if (rp->told_open) {
		/* HUPCL's DTR drop reaches the device before CLOSE */
		rp->mcr_close = rp->mcr;
		__realcom_dirty(rp, REALCOM_D_CLOSE_MODEM | REALCOM_D_CLOSE);
	}
	spin_unlock_irqrestore(&rp->lock, flags);
	wake_up_interruptible(&rp->dwait);
	wake_up_interruptible_all(&rp->kwait);
}

static void realcom_destruct(struct tty_port *port)
{
	struct realcom_port *rp = to_realcom(port);

	kfifo_free(&rp->xmit);
	kvfree(rp->rbuf);
	kfree(rp->wbuf);
	mutex_destroy(&rp->read_lock);
	mutex_destroy(&rp->write_lock);
	kfree(rp);
}

const struct tty_port_operations realcom_port_ops = {
	.carrier_raised = realcom_carrier_raised,
	.dtr_rts = realcom_dtr_rts,
	.activate = realcom_activate,
	.shutdown = realcom_shutdown,
	.destruct = realcom_destruct,
};

/* ---- tty operations ---- */

static int realcom_tty_install(struct tty_driver *driver,
			       struct tty_struct *tty)
{
	struct realcom_port *rp;
	struct tty_port *port = NULL;
	int ret;

	mutex_lock(&realcom_ports_lock);
	rp = realcom_ports[tty->index];
	if (rp && !realcom_dead(rp))
		port = tty_port_get(&rp->port);
	mutex_unlock(&realcom_ports_lock);
	if (!port)
		return -ENODEV;

	tty->driver_data = rp;
	ret = tty_port_install(port, driver, tty);
	if (ret)
		tty_port_put(port);	/* no cleanup() follows a failed install */
	return ret;
}

static void realcom_tty_cleanup(struct tty_struct *tty)
{
	tty_port_put(tty->port);
}

/*
 * An open of a tty whose daemon has gone: an application still holds it
 * (hung up), so the tty core reuses the tty struct (it keeps one per index
 * and checks that at release).  If a new daemon has bound the index, the tty
 * moves to the new port, under tty_lock like every open; descriptors from
 * before stay hung up.
 */
static int realcom_tty_rebind(struct tty_struct *tty)
{
	struct realcom_port *old = tty->driver_data, *rp;
	struct tty_port *port = NULL;

	if (!realcom_dead(old))
		return 0;
	mutex_lock(&realcom_ports_lock);
	rp = realcom_ports[tty->index];
	if (rp && !realcom_dead(rp))
		port = tty_port_get(&rp->port);
	mutex_unlock(&realcom_ports_lock);
	if (!port)
		return -ENODEV;

	old->port.itty = NULL;	/* its last put must not find a tty */
	tty->port = port;
	tty->driver_data = rp;
	port->itty = tty;
	tty_port_put(&old->port);
	return 0;
}

static int realcom_tty_open(struct tty_struct *tty, struct file *filp)
{
	int ret = realcom_tty_rebind(tty);

	if (ret)
		return ret;
	return tty_port_open(tty->port, tty, filp);
}

static void realcom_tty_close(struct tty_struct *tty, struct file *filp)
{
	tty_port_close(tty->port, tty, filp);
}

static void realcom_tty_hangup(struct tty_struct *tty)
{
	struct realcom_port *rp = tty->driver_data;

	tty_port_hangup(&rp->port);
	wake_up_interruptible_all(&rp->kwait);
}

/* Called in any context, even atomic: only the kfifo and a wake-up. */
static REALCOM_WRITE_RET realcom_tty_write(struct tty_struct *tty,
					   const u8 *buf,
					   REALCOM_WRITE_LEN count)
{
	struct realcom_port *rp = tty->driver_data;
	unsigned long flags;
	unsigned int n;

	spin_lock_irqsave(&rp->lock, flags);
	if (realcom_dead(rp)) {
		spin_unlock_irqrestore(&rp->lock, flags);
		return -EIO;
	}
	n = kfifo_in(&rp->xmit, buf, count);
	rp->tx_in += n;
	spin_unlock_irqrestore(&rp->lock, flags);
	if (n)
		wake_up_interruptible(&rp->dwait);
	return n;
}

static unsigned int realcom_tty_write_room(struct tty_struct *tty)
{
	struct realcom_port *rp = tty->driver_data;
	unsigned long flags;
	unsigned int room;

	spin_lock_irqsave(&rp->lock, flags);
	room = kfifo_avail(&rp->xmit);
	spin_unlock_irqrestore(&rp->lock, flags);
	return room;
}

/* Our kfifo plus what the device said it still holds (TIOCOUTQ, drains). */
static unsigned int realcom_tty_chars_in_buffer(struct tty_struct *tty)
{
	struct realcom_port *rp = tty->driver_data;
	unsigned long flags;
	u64 chars = 0;

	spin_lock_irqsave(&rp->lock, flags);
	if (!realcom_dead(rp))
		chars = (u64)kfifo_len(&rp->xmit) + rp->oqueue;
	spin_unlock_irqrestore(&rp->lock, flags);
	return min_t(u64, chars, INT_MAX);
}

/* May be called in atomic context: the FLUSH message is a dirty bit. */
static void realcom_tty_flush_buffer(struct tty_struct *tty)
{
	struct realcom_port *rp = tty->driver_data;
	unsigned long flags;

	spin_lock_irqsave(&rp->lock, flags);
	kfifo_reset(&rp->xmit);
	rp->tx_out = rp->tx_in;
	rp->oqueue = 0;
	rp->drained = rp->tx_in;	/* the device drops its queue too */
	rp->flush |= REALCOM_FLUSH_TX;
	__realcom_dirty(rp, REALCOM_D_FLUSH);
	spin_unlock_irqrestore(&rp->lock, flags);
	wake_up_interruptible(&rp->dwait);
	wake_up_interruptible_all(&rp->kwait);
	tty_wakeup(tty);
}

static void realcom_tty_set_termios(struct tty_struct *tty,
				    const struct ktermios *old)
{
	struct realcom_port *rp = tty->driver_data;
	unsigned int cflag = tty->termios.c_cflag;
	u8 lines = REALCOM_MODEM_DTR | REALCOM_MODEM_RTS;
	struct realcom_line line;

	/* state, never queued: nothing here waits for the daemon */
	realcom_line_from_tty(rp, tty, &line);
	realcom_set_line(rp, &line);

	if (!old)
		return;
	if ((old->c_cflag & CBAUD) && !(cflag & CBAUD)) {
		realcom_update_mcr(rp, 0, lines);
	} else if (!(old->c_cflag & CBAUD) && (cflag & CBAUD)) {
		if ((cflag & CRTSCTS) && test_bit(REALCOM_F_THROTTLED, &rp->flags))
			lines = REALCOM_MODEM_DTR;
		realcom_update_mcr(rp, lines, 0);
	}
}

static int realcom_tty_tiocmget(struct tty_struct *tty)
{
	struct realcom_port *rp = tty->driver_data;
	unsigned long flags;
	u8 mcr, msr;

	if (realcom_dead(rp))
		return -EIO;
	spin_lock_irqsave(&rp->lock, flags);
	mcr = rp->mcr;
	msr = rp->msr;
	spin_unlock_irqrestore(&rp->lock, flags);

	return (mcr & REALCOM_MODEM_DTR ? TIOCM_DTR : 0) |
	       (mcr & REALCOM_MODEM_RTS ? TIOCM_RTS : 0) |
	       (msr & REALCOM_MODEM_CTS ? TIOCM_CTS : 0) |
	       (msr & REALCOM_MODEM_DSR ? TIOCM_DSR : 0) |
	       (msr & REALCOM_MODEM_RI ? TIOCM_RI : 0) |
	       (msr & REALCOM_MODEM_DCD ? TIOCM_CD : 0);
}

static int realcom_tty_tiocmset(struct tty_struct *tty, unsigned int set,
				unsigned int clear)
{
	struct realcom_port *rp = tty->driver_data;
	u8 s = 0, c = 0;

	if (set & TIOCM_DTR)
		s |= REALCOM_MODEM_DTR;
	if (set & TIOCM_RTS)
		s |= REALCOM_MODEM_RTS;
	if (clear & TIOCM_DTR)
		c |= REALCOM_MODEM_DTR;
	if (clear & TIOCM_RTS)
		c |= REALCOM_MODEM_RTS;

	return realcom_update_mcr(rp, s, c);
}

static bool realcom_modem_changed(struct realcom_port *rp,
				  struct tty_struct *tty,
				  const struct async_icount *old,
				  unsigned long mask, int *ret)
{
	struct async_icount now;
	unsigned long flags;

	if (realcom_dead(rp) || tty_io_error(tty)) {
		*ret = -EIO;
		return true;
	}
	spin_lock_irqsave(&rp->lock, flags);
	now = rp->icount;
	spin_unlock_irqrestore(&rp->lock, flags);

	return ((mask & TIOCM_RNG) && now.rng != old->rng) ||
	       ((mask & TIOCM_DSR) && now.dsr != old->dsr) ||
	       ((mask & TIOCM_CD) && now.dcd != old->dcd) ||
	       ((mask & TIOCM_CTS) && now.cts != old->cts);
}

/* TIOCMIWAIT: until a line in @mask changes, a signal, or a hangup. */
static int realcom_wait_modem(struct realcom_port *rp, struct tty_struct *tty,
			      unsigned long mask)
{
	struct async_icount old;
	unsigned long flags;
	int ret = 0, err;

	spin_lock_irqsave(&rp->lock, flags);
	old = rp->icount;
	spin_unlock_irqrestore(&rp->lock, flags);

	err = wait_event_interruptible(rp->port.delta_msr_wait,
				       realcom_modem_changed(rp, tty, &old,
							     mask, &ret));
	return err ?: ret;
}

static int realcom_tty_ioctl(struct tty_struct *tty, unsigned int cmd,
			     unsigned long arg)
{
	struct realcom_port *rp = tty->driver_data;

	switch (cmd) {
	case TIOCMIWAIT:
		return realcom_wait_modem(rp, tty, arg);
	case TCFLSH:
		/*
		 * The device's receive buffer is dropped too; the ldisc still
		 * handles TCFLSH itself (and the output side comes to us as
		 * flush_buffer()).  We are asked first: a flush the ldisc will
		 * refuse (a background process, SIGTTOU) is not forwarded.
		 */
		if (arg == TCIFLUSH || arg == TCIOFLUSH) {
			int ret = tty_check_change(tty);

			if (ret)
				return ret;
			realcom_request_flush(rp, REALCOM_FLUSH_RX);
		}
		return -ENOIOCTLCMD;
	}
	return -ENOIOCTLCMD;
}

/*
 * TIOCGSERIAL, for setserial and libraries that ask whether this is a serial
 * port: a 16550A-like port whose rates come from the device (any rate goes,
 * BOTHER included; baud_base is the fastest an NPort takes).
 */
static int realcom_tty_get_serial(struct tty_struct *tty,
				  struct serial_struct *ss)
{
	struct realcom_port *rp = tty->driver_data;
	struct tty_port *port = &rp->port;

	ss->type = PORT_16550A;
	ss->line = rp->index;
	ss->flags = ASYNC_SKIP_TEST;
	ss->xmit_fifo_size = REALCOM_XMIT_SIZE;
	ss->baud_base = REALCOM_BAUD_BASE;
	mutex_lock(&port->mutex);
	ss->close_delay = jiffies_to_msecs(port->close_delay) / 10;
	ss->closing_wait = port->closing_wait == ASYNC_CLOSING_WAIT_NONE ?
			   ASYNC_CLOSING_WAIT_NONE :
			   jiffies_to_msecs(port->closing_wait) / 10;
	mutex_unlock(&port->mutex);
	return 0;
}

static int realcom_tty_get_icount(struct tty_struct *tty,
				  struct serial_icounter_struct *icount)
{
	struct realcom_port *rp = tty->driver_data;
	struct async_icount ic;
	unsigned long flags;

	spin_lock_irqsave(&rp->lock, flags);
	ic = rp->icount;
	spin_unlock_irqrestore(&rp->lock, flags);

	icount->cts = ic.cts;
	icount->dsr = ic.dsr;
	icount->rng = ic.rng;
	icount->dcd = ic.dcd;
	icount->rx = ic.rx;
	icount->tx = ic.tx;
	icount->frame = ic.frame;
	icount->overrun = ic.overrun;
	icount->parity = ic.parity;
	icount->brk = ic.brk;
	icount->buf_overrun = ic.buf_overrun;
	return 0;
}

/*
 * TTY_DRIVER_HARDWARE_BREAK: -1 break on (TIOCSBRK), 0 off (TIOCCBRK), and
 * tcsendbreak()/TCSBRK(P) pass their duration in ms, which goes to the
 * daemon whole (the device times it: host scheduling cannot stretch it).
 * All are state: they cost nothing and never wait for the daemon.  A timed
 * break returns after its duration, as on a UART, so data written after
 * tcsendbreak() follows the break.
 */
static int realcom_tty_break_ctl(struct tty_struct *tty, int state)
{
	struct realcom_port *rp = tty->driver_data;
	unsigned long flags;
	int ret = 0;

	spin_lock_irqsave(&rp->lock, flags);
	if (realcom_dead(rp)) {
		ret = -EIO;
	} else if (state > 0) {
		rp->brk_ms = state;
		__realcom_dirty(rp, REALCOM_D_BREAK_TIMED);
	} else {
		__realcom_set_brk(rp, state != 0);
	}
	spin_unlock_irqrestore(&rp->lock, flags);
	wake_up_interruptible(&rp->dwait);
	if (!ret && state > 0 && msleep_interruptible(state))
		ret = -EINTR;
	return ret;
}

static bool realcom_tx_taken(struct realcom_port *rp)
{
	unsigned long flags;
	bool empty;

	spin_lock_irqsave(&rp->lock, flags);
	empty = kfifo_is_empty(&rp->xmit);
	spin_unlock_irqrestore(&rp->lock, flags);
	return empty;
}

static bool realcom_drain_abort(struct realcom_port *rp,
				struct tty_struct *tty)
{
	return realcom_dead(rp) || tty_io_error(tty);
}

static bool realcom_drain_done(struct realcom_port *rp, u32 cookie,
			       u32 *remaining)
{
	unsigned long flags;
	bool done;

	spin_lock_irqsave(&rp->lock, flags);
	done = (s32)(rp->drain_done - cookie) >= 0;
	*remaining = rp->drain_remaining;
	spin_unlock_irqrestore(&rp->lock, flags);
	return done;
}

/* Has the device sent everything written so far (or dropped it on FLUSH)? */
static bool realcom_drained(struct realcom_port *rp)
{
	unsigned long flags;
	bool drained;

	spin_lock_irqsave(&rp->lock, flags);
	drained = rp->drained == rp->tx_in && !rp->oqueue;
	spin_unlock_irqrestore(&rp->lock, flags);
	return drained;
}

/*
 * tcdrain() and close: wait until the daemon has taken every queued byte,
 * then ask it (DRAIN) to wait for the device's queue, and wait for DRAIN_DONE
 * with our cookie.  Nothing is asked when nothing was written since the last
 * complete drain.  @timeout is in jiffies, 0 for none; with none, rounds of
 * REALCOM_DRAIN_MS go on for as long as the device makes progress.
 */
static void realcom_tty_wait_until_sent(struct tty_struct *tty, int timeout)
{
	struct realcom_port *rp = tty->driver_data;
	unsigned long budget = timeout > 0 ? timeout :
				msecs_to_jiffies(REALCOM_DRAIN_MS);
	unsigned long deadline = jiffies + budget;
	u32 last = U32_MAX, unsent = 0, cookie;
	unsigned long flags;
	u64 pos = 0;
	long left;

	if (realcom_drained(rp))
		return;
	for (;;) {
		left = (long)(deadline - jiffies);
		if (left <= 0)
			return;
		left = wait_event_interruptible_timeout(rp->kwait,
							realcom_tx_taken(rp) ||
							realcom_drain_abort(rp, tty), left);
		if (left <= 0 || realcom_drain_abort(rp, tty))
			return;
		cookie = realcom_queue_drain(rp, left, &pos);
		if (!cookie)
			return;
		left += REALCOM_DRAIN_GRACE;
		left = wait_event_interruptible_timeout(rp->kwait,
							realcom_drain_done(rp, cookie, &unsent) ||
							realcom_drain_abort(rp, tty), left);
		if (left <= 0 || realcom_drain_abort(rp, tty))
			return;
		if (!unsent) {
			spin_lock_irqsave(&rp->lock, flags);
			if (pos > rp->drained)
				rp->drained = pos;
			spin_unlock_irqrestore(&rp->lock, flags);
			return;
		}
		if (timeout > 0)
			continue;	/* until the deadline */
		if (unsent >= last)
			return;		/* the device makes no progress */
		last = unsent;
		deadline = jiffies + budget;
	}
}

static void realcom_tty_throttle(struct tty_struct *tty)
{
	struct realcom_port *rp = tty->driver_data;

	set_bit(REALCOM_F_THROTTLED, &rp->flags);
}

static void realcom_tty_unthrottle(struct tty_struct *tty)
{
	struct realcom_port *rp = tty->driver_data;

	clear_bit(REALCOM_F_THROTTLED, &rp->flags);
	wake_up_interruptible(&rp->dwait);
}

/* Called under tty->flow.lock. */
static void realcom_tty_stop(struct tty_struct *tty)
{
	struct realcom_port *rp = tty->driver_data;

	set_bit(REALCOM_F_TX_STOPPED, &rp->flags);
}

static void realcom_tty_start(struct tty_struct *tty)
{
	struct realcom_port *rp = tty->driver_data;

	clear_bit(REALCOM_F_TX_STOPPED, &rp->flags);
	wake_up_interruptible(&rp->dwait);
}

/* XON/XOFF now: owed to the daemon ahead of queued data, never waits. */
static void realcom_tty_send_xchar(struct tty_struct *tty, REALCOM_XCHAR ch)
{
	struct realcom_port *rp = tty->driver_data;
	unsigned long flags;

	spin_lock_irqsave(&rp->lock, flags);
	rp->xchar = ch;
	__realcom_dirty(rp, REALCOM_D_XCHAR);
	spin_unlock_irqrestore(&rp->lock, flags);
	wake_up_interruptible(&rp->dwait);
}

const struct tty_operations realcom_tty_ops = {
	.install = realcom_tty_install,
	.cleanup = realcom_tty_cleanup,
	.open = realcom_tty_open,
	.close = realcom_tty_close,
	.hangup = realcom_tty_hangup,
	.write = realcom_tty_write,
	.write_room = realcom_tty_write_room,
	.chars_in_buffer = realcom_tty_chars_in_buffer,
	.flush_buffer = realcom_tty_flush_buffer,
	.set_termios = realcom_tty_set_termios,
	.tiocmget = realcom_tty_tiocmget,
	.tiocmset = realcom_tty_tiocmset,
	.ioctl = realcom_tty_ioctl,
	.get_icount = realcom_tty_get_icount,
	.get_serial = realcom_tty_get_serial,
	.break_ctl = realcom_tty_break_ctl,
	.wait_until_sent = realcom_tty_wait_until_sent,
	.throttle = realcom_tty_throttle,
	.unthrottle = realcom_tty_unthrottle,
	.stop = realcom_tty_stop,
	.start = realcom_tty_start,
	.send_xchar = realcom_tty_send_xchar,
};
