/* SPDX-License-Identifier: GPL-2.0 */
/*
 * internal.h: what the parts of realcom.ko share: the port, its flags and
 * control-state bits, and the few functions one part calls in another.
 *   dev.c   /dev/realcom: the daemon's file, BIND, read/write/poll, the module
 *   tty.c   the tty and tty_port operations
 *   ctrl.c  control state (kernel -> daemon): dirty bits, what read() hands over
 *   msg.c   daemon -> kernel messages, fed to the tty layer
 * The uAPI is uapi/linux/realcom.h, its rules docs/uapi.md.
 */
#ifndef REALCOM_INTERNAL_H
#define REALCOM_INTERNAL_H

#include <linux/bits.h>
#include <linux/kfifo.h>
#include <linux/mutex.h>
#include <linux/serial.h>
#include <linux/spinlock.h>
#include <linux/tty.h>
#include <linux/tty_driver.h>
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

extern struct tty_driver *realcom_tty_driver;
extern struct mutex realcom_ports_lock;		/* guards realcom_ports[] */
extern struct realcom_port *realcom_ports[REALCOM_MAX_PORTS];
extern const struct tty_port_operations realcom_port_ops;
extern const struct tty_operations realcom_tty_ops;

static inline struct realcom_port *to_realcom(struct tty_port *port)
{
	return container_of(port, struct realcom_port, port);
}

static inline bool realcom_dead(struct realcom_port *rp)
{
	return test_bit(REALCOM_F_DEAD, &rp->flags);
}

/* ctrl.c; the __ ones want rp->lock held */
void __realcom_dirty(struct realcom_port *rp, u32 bits);
void __realcom_set_mcr(struct realcom_port *rp, u8 mcr);
void __realcom_set_brk(struct realcom_port *rp, bool on);
void realcom_set_line(struct realcom_port *rp, const struct realcom_line *line);
int realcom_update_mcr(struct realcom_port *rp, u8 set, u8 clear);
void realcom_request_flush(struct realcom_port *rp, u8 which);
void realcom_line_from_tty(struct realcom_port *rp, struct tty_struct *tty,
			   struct realcom_line *line);
u32 realcom_queue_drain(struct realcom_port *rp, long left, u64 *pos);
bool realcom_readable(struct realcom_port *rp);
size_t realcom_fill(struct realcom_port *rp, u8 *buf, size_t size,
		    bool *full, unsigned int *tx, unsigned int *ctrl);

/* msg.c */
bool realcom_rx_room(struct realcom_port *rp, size_t len);
bool realcom_hdr_ok(const struct realcom_hdr *hdr);
int realcom_handle(struct realcom_port *rp, const struct realcom_hdr *hdr,
		   const u8 *data, bool nonblock);

#endif /* REALCOM_INTERNAL_H */
