// SPDX-License-Identifier: GPL-2.0
/*
 * realcom: local ttys /dev/ttyR<N> for serial ports that live on a network
 * device server (Moxa NPort Real COM, RFC 2217).
 *
 * Each open file of the misc device /dev/realcom stands for one port: after
 * REALCOM_IOC_BIND the module registers /dev/ttyR<index>, and from then on
 * read() and write() on that file carry framed messages (the uAPI in
 * uapi/linux/realcom.h) between the tty and realcomd, the daemon that talks
 * to the device.  Closing the file hangs the tty up and removes it.
 *
 * This module is the tty end only.  It speaks no network protocol, touches
 * no hardware and times nothing on the wire: data, line settings, modem
 * lines, breaks, flushes and drains become messages, in the order the
 * application caused them, and the daemon applies them.  What comes back
 * (received bytes, modem status, line events, drain completion, link state,
 * the device's output queue) is fed to the tty layer.
 */

#include <linux/ctype.h>
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/jiffies.h>
#include <linux/kfifo.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/serial.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/tty.h>
#include <linux/tty_driver.h>
#include <linux/tty_flip.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "compat.h"
#include "uapi/linux/realcom.h"

#define REALCOM_XMIT_SIZE	16384	/* TX kfifo per port, a power of two */
#define REALCOM_RBUF_SIZE	16384	/* most bytes one read() returns */
#define REALCOM_RX_SLACK	1024	/* tty buffer rounding allowance per RX_DATA */
#define REALCOM_RX_RECHECK	(HZ / 10)
#define REALCOM_DRAIN_MS	30000	/* one DRAIN round when tcdrain() has no limit */
#define REALCOM_DRAIN_GRACE	HZ	/* DRAIN_DONE may come this late */
#define REALCOM_HDR		sizeof(struct realcom_hdr)
#define REALCOM_BAUD_BASE	921600	/* TIOCGSERIAL: an NPort's fastest rate */

/* realcom_port.flags bits */
enum {
	REALCOM_F_DEAD,		/* the daemon closed its file: the port is going */
	REALCOM_F_THROTTLED,	/* the ldisc asked for no more received data */
	REALCOM_F_TX_STOPPED,	/* stop_tty(): hold TX data back */
	REALCOM_F_TX_HOLD,	/* the daemon asked for control messages only */
	REALCOM_F_LINK_DOWN,	/* the daemon reported the device unreachable */
};

/*
 * Control is state, not a queue (docs/uapi.md): each kind of control keeps
 * the latest wanted value and a dirty bit, and read() hands the daemon every
 * dirty item, in this order, ahead of TX data still queued (only a DRAIN
 * waits for the data it is about).  Memory stays
 * bounded whatever an application does while the daemon is not reading, and
 * the device hears one message per change.  The *_MID bits keep one earlier
 * value when a line went back to what the daemon was last told (a DTR pulse,
 * a break switched on and off): the pulse reaches the device, at most two
 * messages for any number of changes.
 */
enum {
	REALCOM_D_MODEM_MID	= BIT(0),	/* MODEM with mcr_mid */
	REALCOM_D_BREAK_MID	= BIT(1),	/* BREAK with brk_mid */
	REALCOM_D_CLOSE_MODEM	= BIT(2),	/* MODEM with mcr_close (HUPCL) */
	REALCOM_D_CLOSE		= BIT(3),	/* the session the daemon saw ended */
	REALCOM_D_OPEN		= BIT(4),	/* a new session: MODEM, LINE follow */
	REALCOM_D_FLUSH		= BIT(5),	/* FLUSH with the flush bits */
	REALCOM_D_MODEM		= BIT(6),
	REALCOM_D_BREAK		= BIT(7),
	REALCOM_D_BREAK_TIMED	= BIT(8),	/* BREAK with brk_ms */
	REALCOM_D_XCHAR		= BIT(9),
	REALCOM_D_LINE		= BIT(10),	/* last: a LINE read shows all before it */
	REALCOM_D_DRAIN		= BIT(11),	/* once TX data up to drain_pos left */
};

struct realcom_port {
	struct tty_port port;
	unsigned int index;
	unsigned long flags;		/* REALCOM_F_* bits, atomic */

	spinlock_t lock;		/* protects the fields down to icount */
	DECLARE_KFIFO_PTR(xmit, u8);	/* written by the tty, read by the daemon */
	u64 tx_in;			/* TX bytes ever accepted */
	u64 tx_out;			/* TX bytes ever handed over or flushed */
	u32 dirty;			/* REALCOM_D_*: control the daemon is owed */
	bool told_open;			/* the daemon saw OPEN and no CLOSE since */
	struct realcom_line line;	/* line settings wanted */
	u8 mcr;				/* REALCOM_MODEM_DTR/RTS wanted */
	u8 mcr_mid;			/* the pulse kept for REALCOM_D_MODEM_MID */
	u8 mcr_told;			/* the last MODEM the daemon read */
	u8 mcr_close;			/* DTR/RTS as the session it saw ended */
	bool modem_full;		/* OPEN: MODEM goes out even unchanged */
	bool brk;			/* break held (TIOCSBRK) wanted */
	bool brk_mid;
	bool brk_told;
	u32 brk_ms;			/* a timed break (tcsendbreak) owed */
	u8 flush;			/* REALCOM_FLUSH_* owed */
	u8 xchar;			/* XON/XOFF owed */
	struct realcom_drain drain;	/* DRAIN owed */
	u64 drain_pos;			/* ... after this much TX data */
	u8 msr;				/* REALCOM_MODEM_CTS/DSR/RI/DCD last reported */
	u32 oqueue;			/* bytes the device holds, last reported */
	u32 drain_cookie;		/* last cookie handed out */
	u32 drain_done;			/* last cookie completed */
	u32 drain_remaining;		/* its DRAIN_DONE.remaining */
	u64 drained;			/* tx_in the device is known to have sent */
	struct async_icount icount;
	char label[REALCOM_LABEL_SIZE];	/* sysfs "label", fixed at bind */

	wait_queue_head_t dwait;	/* daemon: messages to read, room for RX */
	wait_queue_head_t kwait;	/* tty: TX taken, drain done */
	struct mutex read_lock;		/* serialises read(), owns rbuf */
	struct mutex write_lock;	/* serialises write(), owns wbuf */
	struct delayed_work rx_recheck;	/* re-polls RX room the tty can't signal */
	u8 *rbuf;
	u8 *wbuf;
};

/* One open file of /dev/realcom. */
struct realcom_file {
	struct mutex lock;		/* serialises REALCOM_IOC_BIND */
	struct realcom_port *port;	/* set once by BIND */
};

static struct tty_driver *realcom_tty_driver;
static DEFINE_MUTEX(realcom_ports_lock);
static struct realcom_port *realcom_ports[REALCOM_MAX_PORTS];

static struct realcom_port *to_realcom(struct tty_port *port)
{
	return container_of(port, struct realcom_port, port);
}

static bool realcom_dead(struct realcom_port *rp)
{
	return test_bit(REALCOM_F_DEAD, &rp->flags);
}

/* ---- control state (kernel -> daemon) ---- */

/* Caller holds rp->lock.  Mark @bits owed to the daemon, unless it is gone. */
static void __realcom_dirty(struct realcom_port *rp, u32 bits)
{
	if (!realcom_dead(rp))
		rp->dirty |= bits;
}

/* Caller holds rp->lock. */
static void __realcom_set_mcr(struct realcom_port *rp, u8 mcr)
{
	if (mcr == rp->mcr)
		return;
	/* back to what the daemon has, before it read the change: a pulse */
	if ((rp->dirty & REALCOM_D_MODEM) && mcr == rp->mcr_told &&
	    !(rp->dirty & REALCOM_D_MODEM_MID)) {
		rp->mcr_mid = rp->mcr;
		__realcom_dirty(rp, REALCOM_D_MODEM_MID);
	}
	rp->mcr = mcr;
	__realcom_dirty(rp, REALCOM_D_MODEM);
}

/* Caller holds rp->lock.  The same for a held break. */
static void __realcom_set_brk(struct realcom_port *rp, bool on)
{
	if (on == rp->brk)
		return;
	if ((rp->dirty & REALCOM_D_BREAK) && on == rp->brk_told &&
	    !(rp->dirty & REALCOM_D_BREAK_MID)) {
		rp->brk_mid = rp->brk;
		__realcom_dirty(rp, REALCOM_D_BREAK_MID);
	}
	rp->brk = on;
	__realcom_dirty(rp, REALCOM_D_BREAK);
}

/* Set the line settings wanted; LINE is owed if they changed. */
static void realcom_set_line(struct realcom_port *rp,
			     const struct realcom_line *line)
{
	unsigned long flags;

	spin_lock_irqsave(&rp->lock, flags);
	if (memcmp(&rp->line, line, sizeof(*line))) {
		rp->line = *line;
		__realcom_dirty(rp, REALCOM_D_LINE);
	}
	spin_unlock_irqrestore(&rp->lock, flags);
	wake_up_interruptible(&rp->dwait);
}

/* Clear, then set DTR/RTS (REALCOM_MODEM_* bits); -EIO once the daemon is gone. */
static int realcom_update_mcr(struct realcom_port *rp, u8 set, u8 clear)
{
	unsigned long flags;
	int ret = 0;

	spin_lock_irqsave(&rp->lock, flags);
	if (realcom_dead(rp))
		ret = -EIO;
	else
		__realcom_set_mcr(rp, (rp->mcr & ~clear) | set);
	spin_unlock_irqrestore(&rp->lock, flags);
	wake_up_interruptible(&rp->dwait);
	return ret;
}

/* Ask for a flush of REALCOM_FLUSH_* @which; asks made before it merge. */
static void realcom_request_flush(struct realcom_port *rp, u8 which)
{
	unsigned long flags;

	spin_lock_irqsave(&rp->lock, flags);
	rp->flush |= which;
	__realcom_dirty(rp, REALCOM_D_FLUSH);
	spin_unlock_irqrestore(&rp->lock, flags);
	wake_up_interruptible(&rp->dwait);
}

static void realcom_line_from_tty(struct realcom_port *rp,
				  struct tty_struct *tty,
				  struct realcom_line *line)
{
	unsigned int cflag = tty->termios.c_cflag;

	memset(line, 0, sizeof(*line));
	line->baud = tty_get_baud_rate(tty);
	if (!line->baud)	/* B0 drops DTR/RTS; the rate stays */
		line->baud = READ_ONCE(rp->line.baud) ?: 9600;
	line->data_bits = tty_get_char_size(cflag);
	if (!(cflag & PARENB))
		line->parity = REALCOM_PARITY_NONE;
	else if (cflag & CMSPAR)
		line->parity = (cflag & PARODD) ? REALCOM_PARITY_MARK :
						  REALCOM_PARITY_SPACE;
	else
		line->parity = (cflag & PARODD) ? REALCOM_PARITY_ODD :
						  REALCOM_PARITY_EVEN;
	line->stop_bits = (cflag & CSTOPB) ? REALCOM_STOP_2 : REALCOM_STOP_1;
	if (cflag & CRTSCTS)
		line->flow |= REALCOM_FLOW_CTS | REALCOM_FLOW_RTS;
	if (I_IXON(tty))
		line->flow |= REALCOM_FLOW_IXON;
	if (I_IXOFF(tty))
		line->flow |= REALCOM_FLOW_IXOFF;
	line->xon = START_CHAR(tty);
	line->xoff = STOP_CHAR(tty);
}

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

static const struct tty_port_operations realcom_port_ops = {
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
 * Owe the daemon a DRAIN for the TX data accepted so far; returns its
 * cookie, 0 once the daemon is gone.  A DRAIN still owed is replaced: its
 * waiter has given up.
 */
static u32 realcom_queue_drain(struct realcom_port *rp, long left, u64 *pos)
{
	unsigned long flags;
	u32 cookie = 0;

	spin_lock_irqsave(&rp->lock, flags);
	if (!realcom_dead(rp)) {
		cookie = ++rp->drain_cookie;
		if (!cookie)		/* 0 means "none" here */
			cookie = ++rp->drain_cookie;
		rp->drain.cookie = cookie;
		rp->drain.timeout_ms = jiffies_to_msecs(left);
		rp->drain_pos = rp->tx_in;
		*pos = rp->tx_in;
		__realcom_dirty(rp, REALCOM_D_DRAIN);
	}
	spin_unlock_irqrestore(&rp->lock, flags);
	wake_up_interruptible(&rp->dwait);
	return cookie;
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

static const struct tty_operations realcom_tty_ops = {
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

/* ---- /dev/realcom: daemon -> kernel messages ---- */

/*
 * Received data is taken when nobody has the tty open (and dropped, as a
 * UART drops it), or when the ldisc has not throttled us and the tty buffer
 * has room for all of it.
 */
static bool realcom_rx_room(struct realcom_port *rp, size_t len)
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

/* Is @hdr a daemon -> kernel message with a payload length it may have? */
static bool realcom_hdr_ok(const struct realcom_hdr *hdr)
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
	}
	return false;
}

/* Apply one message; a payload that is refused changes nothing. */
static int realcom_handle(struct realcom_port *rp,
			  const struct realcom_hdr *hdr, const u8 *data,
			  bool nonblock)
{
	union {
		struct realcom_modem modem;
		struct realcom_line_event ev;
		struct realcom_drain_done dd;
		struct realcom_link link;
		struct realcom_oqueue oq;
		struct realcom_tx_hold hold;
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
	}
	return -EINVAL;
}

/* ---- /dev/realcom: kernel -> daemon messages ---- */

static size_t realcom_put(u8 *buf, u16 type, const void *payload, u16 len)
{
	struct realcom_hdr hdr = { .type = type, .len = len };

	memcpy(buf, &hdr, REALCOM_HDR);
	if (payload && len)
		memcpy(buf + REALCOM_HDR, payload, len);
	return REALCOM_HDR + len;
}

/* Caller holds rp->lock.  The REALCOM_D_* bits the daemon may read now. */
static u32 __realcom_owed(struct realcom_port *rp)
{
	u32 owed = rp->dirty;

	/* a DRAIN goes out behind the data it waits for */
	if (rp->drain_pos > rp->tx_out)
		owed &= ~REALCOM_D_DRAIN;
	return owed;
}

/* Caller holds rp->lock.  Is TX data for the daemon now? */
static bool __realcom_tx_ready(struct realcom_port *rp)
{
	return !test_bit(REALCOM_F_TX_STOPPED, &rp->flags) &&
	       !test_bit(REALCOM_F_TX_HOLD, &rp->flags) &&
	       !kfifo_is_empty(&rp->xmit);
}

/* Is there a message the daemon may read now? */
static bool realcom_readable(struct realcom_port *rp)
{
	unsigned long flags;
	bool ready;

	spin_lock_irqsave(&rp->lock, flags);
	ready = __realcom_owed(rp) || __realcom_tx_ready(rp);
	spin_unlock_irqrestore(&rp->lock, flags);
	return ready;
}

union realcom_ctrl_payload {
	struct realcom_line line;
	struct realcom_modem modem;
	struct realcom_break brk;
	struct realcom_flush flush;
	struct realcom_drain drain;
	struct realcom_xchar xchar;
};

/*
 * Caller holds rp->lock.  The message for owed item @bit (one REALCOM_D_*
 * bit) in @hdr and @u; false when the item turned out to be no change (a
 * line set back to what the daemon has) and is only to be cleared.
 */
static bool __realcom_ctrl_msg(struct realcom_port *rp, u32 bit,
			       struct realcom_hdr *hdr,
			       union realcom_ctrl_payload *u)
{
	memset(u, 0, sizeof(*u));
	hdr->len = 0;
	switch (bit) {
	case REALCOM_D_MODEM_MID:
	case REALCOM_D_CLOSE_MODEM:
	case REALCOM_D_MODEM:
		u->modem.lines = bit == REALCOM_D_MODEM ? rp->mcr :
				 bit == REALCOM_D_MODEM_MID ? rp->mcr_mid :
				 rp->mcr_close;
		if (u->modem.lines == rp->mcr_told && !rp->modem_full)
			return false;
		hdr->type = REALCOM_MSG_MODEM;
		hdr->len = sizeof(u->modem);
		return true;
	case REALCOM_D_BREAK_MID:
	case REALCOM_D_BREAK:
		if ((bit == REALCOM_D_BREAK ? rp->brk : rp->brk_mid) ==
		    rp->brk_told)
			return false;
		u->brk.ms = rp->brk_told ? REALCOM_BREAK_OFF : REALCOM_BREAK_ON;
		hdr->type = REALCOM_MSG_BREAK;
		hdr->len = sizeof(u->brk);
		return true;
	case REALCOM_D_BREAK_TIMED:
		u->brk.ms = rp->brk_ms;
		hdr->type = REALCOM_MSG_BREAK;
		hdr->len = sizeof(u->brk);
		return true;
	case REALCOM_D_CLOSE:
		hdr->type = REALCOM_MSG_CLOSE;
		return true;
	case REALCOM_D_OPEN:
		hdr->type = REALCOM_MSG_OPEN;
		return true;
	case REALCOM_D_FLUSH:
		u->flush.which = rp->flush;
		hdr->type = REALCOM_MSG_FLUSH;
		hdr->len = sizeof(u->flush);
		return true;
	case REALCOM_D_LINE:
		u->line = rp->line;
		hdr->type = REALCOM_MSG_LINE;
		hdr->len = sizeof(u->line);
		return true;
	case REALCOM_D_XCHAR:
		u->xchar.ch = rp->xchar;
		hdr->type = REALCOM_MSG_XCHAR;
		hdr->len = sizeof(u->xchar);
		return true;
	case REALCOM_D_DRAIN:
		u->drain = rp->drain;
		hdr->type = REALCOM_MSG_DRAIN;
		hdr->len = sizeof(u->drain);
		return true;
	}
	return false;
}

/* Caller holds rp->lock.  Item @bit was read: it is what the daemon has now. */
static void __realcom_ctrl_taken(struct realcom_port *rp, u32 bit)
{
	rp->dirty &= ~bit;
	switch (bit) {
	case REALCOM_D_MODEM_MID:
		rp->mcr_told = rp->mcr_mid;
		break;
	case REALCOM_D_CLOSE_MODEM:
		rp->mcr_told = rp->mcr_close;
		break;
	case REALCOM_D_MODEM:
		rp->mcr_told = rp->mcr;
		rp->modem_full = false;
		break;
	case REALCOM_D_BREAK_MID:
		rp->brk_told = rp->brk_mid;
		break;
	case REALCOM_D_BREAK:
		rp->brk_told = rp->brk;
		break;
	case REALCOM_D_CLOSE:
		rp->told_open = false;
		rp->brk_told = false;	/* the daemon ends a held break at CLOSE */
		break;
	case REALCOM_D_OPEN:
		rp->told_open = true;
		break;
	case REALCOM_D_FLUSH:
		rp->flush = 0;
		break;
	}
}

/*
 * Fill @buf with whole messages, at most @size bytes: every control item
 * owed, in REALCOM_D_* order, then TX data.  *@full is set when the next
 * message did not fit.
 */
static size_t realcom_fill(struct realcom_port *rp, u8 *buf, size_t size,
			   bool *full, unsigned int *tx, unsigned int *ctrl)
{
	union realcom_ctrl_payload u;
	struct realcom_hdr hdr;
	unsigned long flags;
	size_t used = 0;
	u32 owed, bit;
	u64 n;

	*full = false;
	spin_lock_irqsave(&rp->lock, flags);
	for (;;) {
		size_t room = size - used;

		owed = __realcom_owed(rp);
		if (owed) {
			bit = owed & -owed;	/* the lowest bit goes first */
			if (!__realcom_ctrl_msg(rp, bit, &hdr, &u)) {
				rp->dirty &= ~bit;
				continue;
			}
			if (room < REALCOM_HDR + hdr.len) {
				*full = true;
				break;
			}
			used += realcom_put(buf + used, hdr.type, &u, hdr.len);
			__realcom_ctrl_taken(rp, bit);
			(*ctrl)++;
			continue;
		}

		if (!__realcom_tx_ready(rp))
			break;
		n = kfifo_len(&rp->xmit);
		if (room <= REALCOM_HDR) {
			*full = true;
			break;
		}
		n = min_t(u64, n, REALCOM_MAX_PAYLOAD);
		n = min_t(u64, n, room - REALCOM_HDR);
		n = kfifo_out(&rp->xmit, buf + used + REALCOM_HDR, n);
		used += realcom_put(buf + used, REALCOM_MSG_TX_DATA, NULL, n);
		rp->tx_out += n;
		rp->icount.tx += n;
		*tx += n;
	}
	spin_unlock_irqrestore(&rp->lock, flags);
	return used;
}

/* ---- /dev/realcom file operations ---- */

static struct realcom_port *realcom_file_port(struct file *file)
{
	struct realcom_file *rf = file->private_data;

	/* pairs with the release in realcom_ioc_bind: a port seen here is set up */
	return smp_load_acquire(&rf->port);
}

static ssize_t realcom_dev_read(struct file *file, char __user *ubuf,
				size_t count, loff_t *ppos)
{
	struct realcom_port *rp = realcom_file_port(file);
	unsigned int tx, ctrl;
	bool full;
	size_t n;
	int ret;

	if (!rp || count < REALCOM_HDR)
		return -EINVAL;
	count = min_t(size_t, count, REALCOM_RBUF_SIZE);

	for (;;) {
		if (mutex_lock_interruptible(&rp->read_lock))
			return -ERESTARTSYS;
		tx = 0;
		ctrl = 0;
		n = realcom_fill(rp, rp->rbuf, count, &full, &tx, &ctrl);
		ret = 0;
		if (n && copy_to_user(ubuf, rp->rbuf, n))
			ret = -EFAULT;
		mutex_unlock(&rp->read_lock);

		if (tx || ctrl)
			wake_up_interruptible_all(&rp->kwait);
		if (tx)
			tty_port_tty_wakeup(&rp->port);
		if (ret)
			return ret;
		if (n)
			return n;
		if (full)
			return -EINVAL;	/* the next message needs a bigger buffer */
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		ret = wait_event_interruptible(rp->dwait, realcom_readable(rp));
		if (ret)
			return ret;
	}
}

static ssize_t realcom_dev_write(struct file *file, const char __user *ubuf,
				 size_t count, loff_t *ppos)
{
	struct realcom_port *rp = realcom_file_port(file);
	bool nonblock = file->f_flags & O_NONBLOCK;
	struct realcom_hdr hdr;
	size_t done = 0;
	int ret = 0;

	if (!rp)
		return -EINVAL;
	if (mutex_lock_interruptible(&rp->write_lock))
		return -ERESTARTSYS;
	while (done < count) {
		if (count - done < REALCOM_HDR) {
			ret = -EINVAL;
			break;
		}
		if (copy_from_user(&hdr, ubuf + done, REALCOM_HDR)) {
			ret = -EFAULT;
			break;
		}
		if (!realcom_hdr_ok(&hdr) ||
		    count - done - REALCOM_HDR < hdr.len) {
			ret = -EINVAL;
			break;
		}
		if (copy_from_user(rp->wbuf, ubuf + done + REALCOM_HDR,
				   hdr.len)) {
			ret = -EFAULT;
			break;
		}
		ret = realcom_handle(rp, &hdr, rp->wbuf, nonblock);
		if (ret)
			break;
		done += REALCOM_HDR + hdr.len;
	}
	mutex_unlock(&rp->write_lock);
	/* whole messages taken before an error still count */
	return done ? done : ret;
}

static __poll_t realcom_dev_poll(struct file *file, poll_table *wait)
{
	struct realcom_port *rp = realcom_file_port(file);
	__poll_t mask = 0;

	if (!rp)
		return EPOLLERR;
	poll_wait(file, &rp->dwait, wait);
	if (realcom_readable(rp))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (realcom_rx_room(rp, REALCOM_MAX_PAYLOAD))
		mask |= EPOLLOUT | EPOLLWRNORM;
	else if (!test_bit(REALCOM_F_THROTTLED, &rp->flags))
		schedule_delayed_work(&rp->rx_recheck, REALCOM_RX_RECHECK);
	return mask;
}

static void realcom_rx_recheck(struct work_struct *work)
{
	struct realcom_port *rp = container_of(to_delayed_work(work),
					       struct realcom_port, rx_recheck);

	wake_up_interruptible(&rp->dwait);
}

static struct realcom_port *realcom_port_alloc(unsigned int index)
{
	struct realcom_port *rp = kzalloc(sizeof(*rp), GFP_KERNEL);

	if (!rp)
		return NULL;
	tty_port_init(&rp->port);
	rp->port.ops = &realcom_port_ops;
	rp->index = index;
	spin_lock_init(&rp->lock);
	init_waitqueue_head(&rp->dwait);
	init_waitqueue_head(&rp->kwait);
	mutex_init(&rp->read_lock);
	mutex_init(&rp->write_lock);
	INIT_DELAYED_WORK(&rp->rx_recheck, realcom_rx_recheck);
	rp->rbuf = kvmalloc(REALCOM_RBUF_SIZE, GFP_KERNEL);
	rp->wbuf = kmalloc(REALCOM_MAX_PAYLOAD, GFP_KERNEL);
	if (!rp->rbuf || !rp->wbuf ||
	    kfifo_alloc(&rp->xmit, REALCOM_XMIT_SIZE, GFP_KERNEL)) {
		tty_port_put(&rp->port);	/* realcom_destruct() frees */
		return NULL;
	}
	return rp;
}

/*
 * A label names the port in /dev/serial/realcom/ through udev, so it is
 * kept to characters that are safe in a file name: [A-Za-z0-9._-], and it
 * may not be "." or "..".  The bytes after its NUL must be zero.
 */
static bool realcom_label_ok(const char *label)
{
	size_t len = strnlen(label, REALCOM_LABEL_SIZE);
	size_t i;

	if (len == REALCOM_LABEL_SIZE ||
	    memchr_inv(label + len, 0, REALCOM_LABEL_SIZE - len))
		return false;
	if (!strcmp(label, ".") || !strcmp(label, ".."))
		return false;
	for (i = 0; i < len; i++)
		if (!isalnum(label[i]) && !strchr("._-", label[i]))
			return false;
	return true;
}

static ssize_t label_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct realcom_port *rp = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%s\n", rp->label);
}
static DEVICE_ATTR_RO(label);

static struct attribute *realcom_tty_attrs[] = {
	&dev_attr_label.attr,
	NULL
};
ATTRIBUTE_GROUPS(realcom_tty);

static int realcom_ioc_bind(struct realcom_file *rf, void __user *argp)
{
	struct realcom_bind req;
	struct realcom_port *rp;
	struct device *dev;
	int ret = 0;

	if (copy_from_user(&req, argp, sizeof(req)))
		return -EFAULT;
	if (req.index >= REALCOM_MAX_PORTS || req.flags ||
	    memchr_inv(req.reserved, 0, sizeof(req.reserved)) ||
	    !realcom_label_ok(req.label))
		return -EINVAL;

	mutex_lock(&rf->lock);
	if (rf->port) {
		ret = -EBUSY;
		goto out;
	}
	rp = realcom_port_alloc(req.index);
	if (!rp) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(rp->label, req.label, sizeof(rp->label));

	mutex_lock(&realcom_ports_lock);
	if (realcom_ports[req.index])
		ret = -EBUSY;
	else
		realcom_ports[req.index] = rp;
	mutex_unlock(&realcom_ports_lock);
	if (ret) {
		tty_port_put(&rp->port);
		goto out;
	}

	dev = tty_port_register_device_attr(&rp->port, realcom_tty_driver,
					    req.index, NULL, rp,
					    realcom_tty_groups);
	if (IS_ERR(dev)) {
		ret = PTR_ERR(dev);
		mutex_lock(&realcom_ports_lock);
		realcom_ports[req.index] = NULL;
		mutex_unlock(&realcom_ports_lock);
		tty_port_put(&rp->port);
		goto out;
	}
	/* publish the port only now that it is set up (realcom_file_port) */
	smp_store_release(&rf->port, rp);
out:
	mutex_unlock(&rf->lock);
	return ret;
}

/*
 * The daemon's file is gone: nothing more is queued, every waiter on the tty
 * side gives up, the tty is hung up and /dev/ttyR<N> removed, and only then
 * is the index free for a new BIND (so two devices of one name never
 * exist).  A tty still held by an application keeps the port (not the index
 * or the device node) until its last reference goes, through
 * realcom_tty_cleanup(), or until a new open moves it to the next port bound
 * to the index (realcom_tty_rebind).
 */
static void realcom_unbind(struct realcom_port *rp)
{
	unsigned long flags;

	spin_lock_irqsave(&rp->lock, flags);
	set_bit(REALCOM_F_DEAD, &rp->flags);
	rp->dirty = 0;
	kfifo_reset(&rp->xmit);
	rp->tx_out = rp->tx_in;
	rp->oqueue = 0;
	spin_unlock_irqrestore(&rp->lock, flags);

	wake_up_interruptible_all(&rp->kwait);
	wake_up_interruptible_all(&rp->port.delta_msr_wait);
	wake_up_interruptible_all(&rp->port.open_wait);

	tty_port_tty_hangup(&rp->port, false);
	tty_port_unregister_device(&rp->port, realcom_tty_driver, rp->index);
	cancel_delayed_work_sync(&rp->rx_recheck);

	mutex_lock(&realcom_ports_lock);
	realcom_ports[rp->index] = NULL;
	mutex_unlock(&realcom_ports_lock);
	tty_port_put(&rp->port);
}

static long realcom_dev_ioctl(struct file *file, unsigned int cmd,
			      unsigned long arg)
{
	struct realcom_file *rf = file->private_data;
	void __user *argp = (void __user *)arg;
	struct realcom_version ver = {
		.api_version = REALCOM_API_VERSION,
		.features = REALCOM_FEAT_CTRL_STATE | REALCOM_FEAT_TX_HOLD |
			    REALCOM_FEAT_TIMED_BREAK,
	};

	switch (cmd) {
	case REALCOM_IOC_VERSION:
		return copy_to_user(argp, &ver, sizeof(ver)) ? -EFAULT : 0;
	case REALCOM_IOC_BIND:
		return realcom_ioc_bind(rf, argp);
	}
	return -ENOTTY;
}

static int realcom_dev_open(struct inode *inode, struct file *file)
{
	struct realcom_file *rf = kzalloc(sizeof(*rf), GFP_KERNEL);

	if (!rf)
		return -ENOMEM;
	mutex_init(&rf->lock);
	file->private_data = rf;
	return stream_open(inode, file);
}

static int realcom_dev_release(struct inode *inode, struct file *file)
{
	struct realcom_file *rf = file->private_data;

	if (rf->port)
		realcom_unbind(rf->port);
	mutex_destroy(&rf->lock);
	kfree(rf);
	return 0;
}

static const struct file_operations realcom_fops = {
	.owner = THIS_MODULE,
	.open = realcom_dev_open,
	.release = realcom_dev_release,
	.read = realcom_dev_read,
	.write = realcom_dev_write,
	.poll = realcom_dev_poll,
	.unlocked_ioctl = realcom_dev_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice realcom_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "realcom",
	.fops = &realcom_fops,
	.mode = 0600,
};

static int __init realcom_init(void)
{
	struct tty_driver *driver;
	int ret;

	driver = tty_alloc_driver(REALCOM_MAX_PORTS,
				  TTY_DRIVER_REAL_RAW | TTY_DRIVER_DYNAMIC_DEV |
				  TTY_DRIVER_HARDWARE_BREAK);
	if (IS_ERR(driver))
		return PTR_ERR(driver);

	driver->driver_name = "realcom";
	driver->name = "ttyR";
	driver->major = 0;	/* dynamic */
	driver->minor_start = 0;
	driver->type = TTY_DRIVER_TYPE_SERIAL;
	driver->subtype = SERIAL_TYPE_NORMAL;
	driver->init_termios = tty_std_termios;
	driver->init_termios.c_cflag = B9600 | CS8 | CREAD | HUPCL | CLOCAL;
	driver->init_termios.c_ispeed = 9600;
	driver->init_termios.c_ospeed = 9600;
	tty_set_operations(driver, &realcom_tty_ops);

	ret = tty_register_driver(driver);
	if (ret)
		goto err_put;
	realcom_tty_driver = driver;

	ret = misc_register(&realcom_misc);
	if (ret)
		goto err_unregister;
	return 0;

err_unregister:
	tty_unregister_driver(driver);
	realcom_tty_driver = NULL;
err_put:
	tty_driver_kref_put(driver);
	return ret;
}

static void __exit realcom_exit(void)
{
	misc_deregister(&realcom_misc);
	tty_unregister_driver(realcom_tty_driver);
	tty_driver_kref_put(realcom_tty_driver);
}

module_init(realcom_init);
module_exit(realcom_exit);

MODULE_DESCRIPTION("Local ttys for network serial device servers (realcomd's kernel end)");
MODULE_LICENSE("GPL");
MODULE_VERSION("0.1.0");
