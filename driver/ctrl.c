// SPDX-License-Identifier: GPL-2.0
/*
 * realcom: control state, kernel -> daemon.  Line settings, DTR/RTS,
 * break, flushes, XON/XOFF, sessions and drains are kept per port as the
 * latest wanted value with a dirty bit (docs/uapi.md); read() hands the
 * daemon every dirty item ahead of queued TX data (realcom_fill).
 */

#include <linux/jiffies.h>
#include <linux/string.h>

#include "internal.h"

/* ---- control state (kernel -> daemon) ---- */

/* Caller holds rp->lock.  Mark @bits owed to the daemon, unless it is gone. */
void __realcom_dirty(struct realcom_port *rp, u32 bits)
{
	if (!realcom_dead(rp))
		rp->dirty |= bits;
}

/* Caller holds rp->lock. */
void __realcom_set_mcr(struct realcom_port *rp, u8 mcr)
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
void __realcom_set_brk(struct realcom_port *rp, bool on)
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
void realcom_set_line(struct realcom_port *rp, const struct realcom_line *line)
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
int realcom_update_mcr(struct realcom_port *rp, u8 set, u8 clear)
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
void realcom_request_flush(struct realcom_port *rp, u8 which)
{
	unsigned long flags;

	spin_lock_irqsave(&rp->lock, flags);
	rp->flush |= which;
	__realcom_dirty(rp, REALCOM_D_FLUSH);
	spin_unlock_irqrestore(&rp->lock, flags);
	wake_up_interruptible(&rp->dwait);
}

void realcom_line_from_tty(struct realcom_port *rp, struct tty_struct *tty,
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

/*
 * Owe the daemon a DRAIN for the TX data accepted so far; returns its
 * cookie, 0 once the daemon is gone.  A DRAIN still owed is replaced: its
 * waiter has given up.
 */
u32 realcom_queue_drain(struct realcom_port *rp, long left, u64 *pos)
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
bool realcom_readable(struct realcom_port *rp)
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
size_t realcom_fill(struct realcom_port *rp, u8 *buf, size_t size,
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
