// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The kernel backend: one /dev/realcom file per port, bound to index N so
 * realcom.ko creates /dev/ttyR<N>, a real tty with data bits, parity, modem
 * lines, break and tcdrain.  Messages are framed as in
 * driver/uapi/linux/realcom.h; this file translates them to and from port.c.
 *
 * The kernel hands over control (line settings, modem lines, break, flush)
 * as state, ahead of queued data (docs/uapi.md).  When the device stops
 * taking data, the rest of a TX_DATA waits here and the kernel is told
 * TX_HOLD, so control still comes through and is applied at once; only a
 * DRAIN waits behind the held data it is about.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/realcom.h>

#include "aspp.h"
#include "buf.h"
#include "log.h"
#include "port.h"

#define KB_IN	(64 * 1024)
#define KB_CTRL	1024	/* one read of control only: a snapshot is far smaller */
/* the REALCOM_IOC_VERSION feature bits this backend cannot do without */
#define KB_FEAT_NEEDED	(REALCOM_FEAT_CTRL_STATE | REALCOM_FEAT_TX_HOLD)
/* and those it uses when the module has them */
#define KB_FEAT_USED	(KB_FEAT_NEEDED | REALCOM_FEAT_LINE_APPLIED)

struct kb {
	struct port *p;
	int fd;
	struct loop_watch w;
	struct buf in;		/* messages read, not yet handled (data waiting for room) */
	bool rx_blocked;	/* the tty was full: waiting for POLLOUT */
	uint32_t drain_cookie;
	bool drain_pending;
	bool held;		/* TX_HOLD 1 sent: k->in holds only TX_DATA */
	bool drain_deferred;	/* a DRAIN read while held, run once it clears */
	uint32_t drain_timeout_ms;
	struct loop_timer brk;	/* ends a timed break longer than BREAKSEND can carry */
	size_t stale;		/* held data dropped at a CLOSE while down (kb_discard) */
	uint32_t features;	/* REALCOM_FEAT_* of the module that we use */
};

static struct kb *kb_of(struct port *p)
{
	return p->backend_priv;
}

/* One message to the kernel.  Returns 0, or -EAGAIN when the tty is full. */
static int kb_send(struct kb *k, uint16_t type, const void *payload, size_t len)
{
	uint8_t msg[sizeof(struct realcom_hdr) + REALCOM_MAX_PAYLOAD];
	struct realcom_hdr h = { .type = type, .len = (uint16_t)len };
	ssize_t n;

	memcpy(msg, &h, sizeof(h));
	memcpy(msg + sizeof(h), payload, len);
	n = write(k->fd, msg, sizeof(h) + len);
	if (n == (ssize_t)(sizeof(h) + len))
		return 0;
	if (n < 0 && errno == EAGAIN)
		return -EAGAIN;
	port_log(k->p, LOG_ERR, "/dev/realcom: message %02X refused: %s", type,
		 n < 0 ? strerror(errno) : "short write");
	return -EIO;
}

static void kb_update(struct kb *k)
{
	uint32_t ev = 0;

	if (buf_len(&k->in) == 0 || k->held || port_app_tx_room(k->p) > 0)
		ev |= EPOLLIN;
	if (k->rx_blocked)
		ev |= EPOLLOUT;
	loop_watch_mod(&k->w, ev);
}

static void kb_line(struct port *p, const struct realcom_line *rl)
{
	struct serial_line l = p->line;

	l.baud = rl->baud;
	l.data_bits = rl->data_bits;
	/* REALCOM_PARITY_* and enum serial_parity are the same numbers */
	l.parity = rl->parity;
	l.stop_bits = rl->stop_bits == REALCOM_STOP_2 ? SERIAL_STOP_2 : SERIAL_STOP_1;
	l.flow = rl->flow;	/* REALCOM_FLOW_* == SERIAL_FLOW_* */
	l.xon = rl->xon;
	l.xoff = rl->xoff;
	if (!serial_line_valid(&l)) {
		port_log(p, LOG_WARNING, "ignored line settings the device cannot take");
		return;
	}
	port_app_line(p, &l);
}

/*
 * A TX flush while data is held: the held data goes.  A DRAIN read behind it
 * (a read() can end with one) is kept for when the hold ends.
 */
static void kb_drop_held(struct kb *k)
{
	const uint8_t *b = buf_head(&k->in);
	size_t n = buf_len(&k->in), off = 0;
	struct realcom_hdr h;

	while (n - off >= sizeof(h)) {
		memcpy(&h, b + off, sizeof(h));
		if (n - off - sizeof(h) < h.len)
			break;
		if (h.type == REALCOM_MSG_DRAIN && h.len == sizeof(struct realcom_drain)) {
			struct realcom_drain dr;

			memcpy(&dr, b + off + sizeof(h), sizeof(dr));
			k->drain_cookie = dr.cookie;
			k->drain_pending = true;
			k->drain_deferred = true;
			k->drain_timeout_ms = dr.timeout_ms;
		}
		off += sizeof(h) + h.len;
	}
	buf_clear(&k->in);
}

/* The TX data bytes held in k->in. */
static size_t kb_held_bytes(const struct kb *k)
{
	const uint8_t *b = buf_head(&k->in);
	size_t n = buf_len(&k->in), off = 0, bytes = 0;
	struct realcom_hdr h;

	while (n - off >= sizeof(h)) {
		memcpy(&h, b + off, sizeof(h));
		if (n - off - sizeof(h) < h.len)
			break;
		if (h.type == REALCOM_MSG_TX_DATA)
			bytes += h.len;
		off += sizeof(h) + h.len;
	}
	return bytes;
}

static void kb_break_end(struct loop_timer *t)
{
	struct kb *k = t->arg;

	port_app_break(k->p, UINT32_MAX);
}

/*
 * A break: held (REALCOM_BREAK_ON/_OFF) or timed, with its duration from
 * tcsendbreak().  Up to ASPP_BREAKSEND_MAX_MS the protocol times it on the
 * device (Real COM's BREAKSEND); a longer one is held and ended here.
 */
static void kb_break(struct kb *k, uint32_t ms)
{
	loop_timer_disarm(&k->brk);
	if (ms == REALCOM_BREAK_ON || ms == REALCOM_BREAK_OFF || ms <= ASPP_BREAKSEND_MAX_MS) {
		port_app_break(k->p, ms);
		return;
	}
	port_app_break(k->p, 0);
	loop_timer_arm(&k->brk, ms, 0);
}

/* Handle one message; false when it must wait (its data found no room). */
static bool kb_message(struct kb *k, const struct realcom_hdr *h, const uint8_t *d)
{
	struct port *p = k->p;
	struct serial_line l;

	switch (h->type) {
	case REALCOM_MSG_TX_DATA: {
		size_t taken = port_app_tx(p, d, h->len);

		if (taken < h->len) {
			/* Keep the rest as a smaller message in place. */
			struct realcom_hdr rest = { .type = h->type, .len = (uint16_t)(h->len - taken) };

			/* the consumed bytes in front have room for its header */
			buf_consume(&k->in, taken);
			memcpy((uint8_t *)buf_head(&k->in) - sizeof(rest), &rest, sizeof(rest));
			return false;
		}
		return true;
	}
	case REALCOM_MSG_OPEN:
		port_app_open(p);
		return true;
	case REALCOM_MSG_CLOSE:
		/* Held data of a session that never came (realcomd(8), DATA ACROSS
		 * SESSIONS) goes with the close; while up it is still sent. */
		if (k->held && p->state != PORT_UP) {
			k->stale += kb_held_bytes(k);
			kb_drop_held(k);
		}
		port_app_close(p);
		return true;
	case REALCOM_MSG_LINE:
		if (h->len == sizeof(struct realcom_line))
			kb_line(p, (const struct realcom_line *)d);
		return true;
	case REALCOM_MSG_MODEM:
		if (h->len == sizeof(struct realcom_modem)) {
			l = p->line;
			l.modem = d[0] & (SERIAL_MODEM_DTR | SERIAL_MODEM_RTS);
			port_app_line(p, &l);
		}
		return true;
	case REALCOM_MSG_BREAK:
		if (h->len == sizeof(struct realcom_break)) {
			struct realcom_break b;

			memcpy(&b, d, sizeof(b));
			kb_break(k, b.ms);
		}
		return true;
	case REALCOM_MSG_FLUSH:
		if (h->len == sizeof(struct realcom_flush)) {
			if ((d[0] & REALCOM_FLUSH_TX) && k->held)
				kb_drop_held(k);
			port_app_flush(p, d[0] & REALCOM_FLUSH_RX, d[0] & REALCOM_FLUSH_TX);
		}
		return true;
	case REALCOM_MSG_DRAIN:
		if (h->len == sizeof(struct realcom_drain)) {
			struct realcom_drain dr;

			memcpy(&dr, d, sizeof(dr));
			k->drain_cookie = dr.cookie;
			k->drain_pending = true;
			if (k->held) {
				/* behind the data still held here */
				k->drain_deferred = true;
				k->drain_timeout_ms = dr.timeout_ms;
			} else {
				port_app_drain(p, dr.timeout_ms);
			}
		}
		return true;
	case REALCOM_MSG_XCHAR:
		/* XON/XOFF from the line discipline: ahead of the data held here
		 * and in the driver, and also while they are held. */
		if (h->len == sizeof(struct realcom_xchar))
			port_app_xchar(p, d[0]);
		return true;
	default:
		log_debug("%s: unknown message %04X from the kernel", p->name, h->type);
		return true;
	}
}

/* Tell the kernel to hand over control only (hold) or TX data too. */
static void kb_hold(struct kb *k, bool hold)
{
	struct realcom_tx_hold th = { .hold = hold };

	if (k->held == hold || kb_send(k, REALCOM_MSG_TX_HOLD, &th, sizeof(th)) < 0)
		return;
	k->held = hold;
	if (!hold && k->drain_deferred) {
		k->drain_deferred = false;
		port_app_drain(k->p, k->drain_timeout_ms);
	}
}

/* Handle the whole messages in k->in; false when TX data found no room. */
static bool kb_handle_in(struct kb *k)
{
	struct realcom_hdr h;

	while (buf_len(&k->in) >= sizeof(h)) {
		memcpy(&h, buf_head(&k->in), sizeof(h));
		if (buf_len(&k->in) < sizeof(h) + h.len)
			break;	/* cannot happen: read() returns whole messages */
		buf_consume(&k->in, sizeof(h));
		if (!kb_message(k, &h, buf_head(&k->in))) {
			/* put the header of the rest back in front */
			k->in.head -= sizeof(h);
			return false;
		}
		buf_consume(&k->in, h.len);
	}
	if (buf_len(&k->in) > 0 && buf_len(&k->in) < sizeof(h))
		buf_clear(&k->in);	/* a torn header: the kernel never sends one */
	return true;
}

/*
 * TX data is held here: read what control the kernel has (TX_HOLD keeps data
 * out of these reads) and apply it now.
 */
static void kb_read_ctrl(struct kb *k)
{
	uint8_t b[KB_CTRL];
	struct realcom_hdr h;
	size_t off = 0;
	ssize_t n;

	n = read(k->fd, b, sizeof(b));
	if (n < 0 && errno != EAGAIN)
		port_log(k->p, LOG_ERR, "/dev/realcom: read: %s", strerror(errno));
	while (n > 0 && (size_t)n - off >= sizeof(h)) {
		memcpy(&h, b + off, sizeof(h));
		if ((size_t)n - off - sizeof(h) < h.len)
			break;
		if (h.type == REALCOM_MSG_TX_DATA)
			port_log(k->p, LOG_ERR, "/dev/realcom: TX data while held, dropped");
		else
			kb_message(k, &h, b + off + sizeof(h));
		off += sizeof(h) + h.len;
	}
}

static void kb_read(struct kb *k)
{
	for (int round = 0; round < 16; round++) {
		size_t avail;
		uint8_t *dst;
		ssize_t n;

		if (!kb_handle_in(k)) {
			kb_hold(k, true);
			if (k->held) {
				kb_read_ctrl(k);
				/* a TX flush or a CLOSE may have dropped the held data */
				if (buf_len(&k->in) == 0)
					continue;
			}
			kb_update(k);
			return;
		}
		kb_hold(k, false);
		dst = buf_tail(&k->in, KB_IN, &avail);
		n = read(k->fd, dst, avail);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN)
				port_log(k->p, LOG_ERR, "/dev/realcom: read: %s", strerror(errno));
			break;
		}
		buf_commit(&k->in, (size_t)n);
	}
	kb_update(k);
}

static void kb_event(struct loop_watch *w, uint32_t events)
{
	struct kb *k = w->arg;

	if (events & EPOLLOUT) {
		k->rx_blocked = false;
		port_app_rx_resume(k->p);
	}
	if (events & EPOLLIN)
		kb_read(k);
	else
		kb_update(k);
}

static size_t kb_rx(struct port *p, const uint8_t *d, size_t n)
{
	struct kb *k = kb_of(p);
	size_t done = 0;

	if (!d)
		return k->rx_blocked ? 0 : REALCOM_MAX_PAYLOAD;
	while (done < n) {
		size_t len = n - done > REALCOM_MAX_PAYLOAD ? REALCOM_MAX_PAYLOAD : n - done;

		if (kb_send(k, REALCOM_MSG_RX_DATA, d + done, len) < 0) {
			k->rx_blocked = true;
			kb_update(k);
			break;
		}
		done += len;
	}
	return done;
}

static void kb_modem(struct port *p)
{
	struct realcom_modem m = { .lines = p->modem_in };

	kb_send(kb_of(p), REALCOM_MSG_MODEM_STATUS, &m, sizeof(m));
}

static void kb_line_event(struct port *p, uint8_t events)
{
	struct realcom_line_event e = {
		.events = (uint8_t)((events & ASPP_EV_PARITY ? REALCOM_EV_PARITY : 0) |
				    (events & ASPP_EV_FRAMING ? REALCOM_EV_FRAMING : 0) |
				    (events & (ASPP_EV_HW_OVERRUN | ASPP_EV_SW_OVERRUN) ?
					     REALCOM_EV_OVERRUN : 0) |
				    (events & ASPP_EV_BREAK ? REALCOM_EV_BREAK : 0)),
	};

	if (e.events)
		kb_send(kb_of(p), REALCOM_MSG_LINE_EVENT, &e, sizeof(e));
}

static void kb_link(struct port *p, bool up)
{
	struct realcom_link l = { .up = up };

	kb_send(kb_of(p), REALCOM_MSG_LINK, &l, sizeof(l));
}

static void kb_drained(struct port *p, uint32_t remaining)
{
	struct kb *k = kb_of(p);
	struct realcom_drain_done dd = { .cookie = k->drain_cookie, .remaining = remaining };

	if (!k->drain_pending)
		return;
	k->drain_pending = false;
	kb_send(k, REALCOM_MSG_DRAIN_DONE, &dd, sizeof(dd));
}

/*
 * The device did not take the line: the kernel shows what is in effect in
 * the tty's termios (docs/uapi.md, LINE_APPLIED) and drops the report
 * itself when a LINE we have not read yet overtook it.  A module without
 * the feature keeps what the application set.
 */
static void kb_line_applied(struct port *p)
{
	struct kb *k = kb_of(p);
	const struct serial_line *l = &p->line;
	struct realcom_line rl = {
		.baud = l->baud,
		.data_bits = l->data_bits,
		.parity = l->parity,	/* the same numbers as REALCOM_PARITY_* */
		/* termios has no 1.5: CSTOPB, as a 16550 takes it at 5 bits */
		.stop_bits = l->stop_bits == SERIAL_STOP_1 ? REALCOM_STOP_1 : REALCOM_STOP_2,
		.flow = l->flow,	/* REALCOM_FLOW_* == SERIAL_FLOW_* */
		.xon = l->xon,
		.xoff = l->xoff,
	};

	if (k->features & REALCOM_FEAT_LINE_APPLIED)
		kb_send(k, REALCOM_MSG_LINE_APPLIED, &rl, sizeof(rl));
}

static void kb_tx_resume(struct port *p)
{
	kb_read(kb_of(p));
}

/*
 * What the CLOSE that leads here dropped of the held data.  realcom.ko's
 * shutdown empties its own transmit fifo (what closing_wait did not get
 * out); those bytes never reach realcomd and are not counted.
 */
static size_t kb_discard(struct port *p)
{
	struct kb *k = kb_of(p);
	size_t n = k->stale;

	k->stale = 0;
	return n;
}

/*
 * The tty's label, for udev's /dev/serial/realcom/<host>-<port>: the host
 * with every character the driver refuses turned into '_', shortened so the
 * port number always fits.
 */
static void kb_label(const struct port_config *c, char label[REALCOM_LABEL_SIZE])
{
	char suffix[16];
	size_t n = (size_t)snprintf(suffix, sizeof(suffix), "-%u", c->dev_port);
	size_t i, hl = strnlen(c->host, REALCOM_LABEL_SIZE - 1 - n);

	memset(label, 0, REALCOM_LABEL_SIZE);
	for (i = 0; i < hl; i++) {
		unsigned char ch = (unsigned char)c->host[i];

		label[i] = isalnum(ch) || ch == '.' || ch == '-' ? (char)ch : '_';
	}
	memcpy(label + hl, suffix, n);
}

static int kb_open(struct port *p)
{
	struct kb *k = calloc(1, sizeof(*k));
	struct realcom_version v = { 0 };
	struct realcom_bind b = { .index = p->cfg.index };
	int r;

	if (!k)
		return -ENOMEM;
	k->p = p;
	p->backend_priv = k;
	k->fd = open(REALCOM_DEV, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (k->fd < 0) {
		r = -errno;
		port_log(p, LOG_ERR, "%s: %s", REALCOM_DEV, strerror(errno));
		return r;
	}
	if (ioctl(k->fd, REALCOM_IOC_VERSION, &v) < 0 || v.api_version != REALCOM_API_VERSION ||
	    (v.features & KB_FEAT_NEEDED) != KB_FEAT_NEEDED) {
		port_log(p, LOG_ERR, "%s: interface version %u features %#x, realcomd needs %u with %#x "
			 "(realcom.ko and realcomd from different releases?)", REALCOM_DEV, v.api_version,
			 v.features, REALCOM_API_VERSION, KB_FEAT_NEEDED);
		return -EPROTO;
	}
	k->features = v.features & KB_FEAT_USED;
	kb_label(&p->cfg, b.label);
	if (ioctl(k->fd, REALCOM_IOC_BIND, &b) < 0) {
		r = -errno;
		port_log(p, LOG_ERR, "%s: bind ttyR%u: %s", REALCOM_DEV, p->cfg.index,
			 strerror(errno));
		return r;
	}
	if (buf_init(&k->in, KB_IN) < 0)
		return -ENOMEM;
	r = loop_timer_init(p->d->loop, &k->brk, kb_break_end, k);
	if (r < 0)
		return r;
	r = loop_watch_add(p->d->loop, &k->w, k->fd, EPOLLIN, kb_event, k);
	if (r < 0)
		return r;
	snprintf(p->path, sizeof(p->path), "/dev/%s", p->name);
	port_log(p, LOG_INFO, "%s (kernel backend)", p->path);
	return 0;
}

static void kb_close(struct port *p)
{
	struct kb *k = kb_of(p);

	if (!k)
		return;
	loop_watch_del(&k->w);
	loop_timer_free(&k->brk);
	if (k->fd >= 0)
		close(k->fd);	/* realcom.ko hangs up and removes /dev/ttyR<N> */
	buf_free(&k->in);
	free(k);
	p->backend_priv = NULL;
}

const struct backend_ops backend_kernel = {
	.name = "kernel",
	.open = kb_open,
	.close = kb_close,
	.rx = kb_rx,
	.modem = kb_modem,
	.line_event = kb_line_event,
	.link = kb_link,
	.drained = kb_drained,
	.tx_resume = kb_tx_resume,
	.discard = kb_discard,
	.line_applied = kb_line_applied,
};
