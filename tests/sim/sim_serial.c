// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The serial side of a simulated port: a pty whose other end is linked at
 * PTY_DIR/portN for a test (or a person) to open as "the device on the
 * line".  Host data waits in a transmit queue and goes out at once, or at
 * the applied baud rate and frame size with --line-rate on, so queue sizes,
 * WAIT_OQUEUE and tcdrain behave as on real hardware.  The unit has one
 * pace tick for all its ports, not a timer (and a wake-up) per port.
 */
#include <errno.h>
#include <fcntl.h>
#include <pty.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"
#include "sim.h"

#define PACE_TICK_MS	2
#define RX_CHUNK	4096

static void sim_serial_update(struct sim_port *p);

/* Bytes per millisecond the applied line settings carry. */
static double sim_serial_rate(const struct sim_port *p)
{
	const struct serial_line *l = &p->line;
	double bits = 1 + l->data_bits + (l->parity != SERIAL_PARITY_NONE) +
		      (l->stop_bits == SERIAL_STOP_2 ? 2 : l->stop_bits == SERIAL_STOP_1_5 ? 1.5 : 1);

	return l->baud / bits / 1000.0;
}

size_t sim_serial_txq(const struct sim_port *p)
{
	return buf_len(&p->txq);
}

/* Put up to max queued bytes on the line.  Returns the count sent. */
static size_t sim_serial_put(struct sim_port *p, size_t max)
{
	size_t n = buf_len(&p->txq);
	ssize_t w;

	if (n > max)
		n = max;
	if (n == 0)
		return 0;
	if (p->sim->opt.echo) {
		/* A loopback plug: what goes out on TX comes back on RX, as much
		 * as the host's connection takes (the protocol may take it in
		 * pieces); what it cannot take waits for its "drained". */
		size_t done = 0, k;

		while (done < n && (k = p->proto->rx(p, buf_head(&p->txq) + done, n - done)) > 0)
			done += k;
		n = done;
	} else {
		w = write(p->master, buf_head(&p->txq), n);
		if (w < 0)
			return 0;	/* EAGAIN: the pty is full, EPOLLOUT resumes */
		n = (size_t)w;
	}
	buf_consume(&p->txq, n);
	p->to_serial += n;
	return n;
}

/*
 * Room again for the host's data, said once a quarter of the queue is free
 * (or it is empty): at line rate the queue is then refilled in runs, not a
 * tick's worth at a time, each of which would move all it holds to the
 * front (buf.h).
 */
static void sim_serial_sent(struct sim_port *p, size_t before)
{
	size_t len = buf_len(&p->txq);

	if (len < before && (len == 0 || buf_room(&p->txq) >= SIM_TXQ_SIZE / 4))
		p->proto->tx_sent(p);
}

static void sim_serial_drain(struct sim_port *p)
{
	size_t before = buf_len(&p->txq);

	if (p->tx_held || p->break_on || before == 0)
		goto out;
	if (p->sim->opt.line_rate) {
		if (!p->pacing) {
			p->pacing = true;
			p->pace_last_ms = loop_now_ms();
			p->pace_credit = 0;
			if (p->sim->pacing++ == 0)
				loop_timer_arm(&p->sim->pace, PACE_TICK_MS, PACE_TICK_MS);
		}
		goto out;
	}
	sim_serial_put(p, SIZE_MAX);
	sim_serial_sent(p, before);
out:
	sim_serial_update(p);
}

static void sim_serial_pace_stop(struct sim_port *p)
{
	if (!p->pacing)
		return;
	p->pacing = false;
	if (--p->sim->pacing == 0)
		loop_timer_disarm(&p->sim->pace);
}

static void sim_serial_pace_port(struct sim_port *p)
{
	uint64_t now = loop_now_ms();
	double rate = sim_serial_rate(p);
	size_t before = buf_len(&p->txq), n;

	if (p->tx_held || p->break_on || before == 0) {
		sim_serial_pace_stop(p);
		return;
	}
	p->pace_credit += (double)(now - p->pace_last_ms) * rate;
	p->pace_last_ms = now;
	if (p->pace_credit > rate * 20 + 1)
		p->pace_credit = rate * 20 + 1;	/* no bursts after a pause */
	n = sim_serial_put(p, (size_t)p->pace_credit);
	p->pace_credit -= (double)n;
	if (buf_len(&p->txq) == 0)
		sim_serial_pace_stop(p);
	sim_serial_sent(p, before);
}

/* The unit's pace tick: each port pacing puts what its line carried since. */
static void sim_serial_pace(struct loop_timer *t)
{
	struct sim *s = t->arg;

	for (unsigned int i = 0; i < s->opt.ports; i++)
		if (s->port[i].pacing)
			sim_serial_pace_port(&s->port[i]);
}

int sim_serial_init(struct sim *s)
{
	return loop_timer_init(s->loop, &s->pace, sim_serial_pace, s);
}

void sim_serial_free(struct sim *s)
{
	loop_timer_free(&s->pace);
}

size_t sim_serial_tx(struct sim_port *p, const uint8_t *d, size_t n)
{
	n = buf_put(&p->txq, d, n);
	sim_serial_drain(p);
	return n;
}

void sim_serial_set_held(struct sim_port *p, bool held)
{
	p->tx_held = held;
	sim_serial_drain(p);
}

void sim_serial_set_break(struct sim_port *p, bool on)
{
	if (on && !p->break_on)
		p->breaks_sent++;
	p->break_on = on;
	sim_serial_drain(p);	/* after a break the line may move again */
}

void sim_serial_flush(struct sim_port *p, bool rx, bool tx)
{
	uint8_t junk[RX_CHUNK];

	if (tx)
		buf_clear(&p->txq);
	/* The receive side keeps nothing of its own: drop what waits in the pty. */
	for (int i = 0; rx && i < 64 && read(p->master, junk, sizeof(junk)) > 0; i++)
		;
	sim_serial_update(p);
}

void sim_serial_rx_resume(struct sim_port *p)
{
	if (p->sim->opt.echo)
		sim_serial_drain(p);
	sim_serial_update(p);
}

void sim_serial_set_modem(struct sim_port *p, uint8_t modem_in)
{
	uint8_t mask = SERIAL_MODEM_CTS | SERIAL_MODEM_DSR | SERIAL_MODEM_DCD | SERIAL_MODEM_RI;
	uint8_t changed = (p->modem_in ^ modem_in) & mask;

	if (!changed)
		return;
	p->modem_in = modem_in & mask;
	p->modem_delta |= changed;
	p->proto->modem_changed(p);
}

void sim_serial_reset(struct sim_port *p)
{
	serial_line_default(&p->line);
	p->tx_held = false;
	p->break_on = false;
	p->fifo = 16;
	sim_serial_drain(p);
}

static void sim_serial_event(struct loop_watch *w, uint32_t events)
{
	struct sim_port *p = w->arg;
	uint8_t d[RX_CHUNK];

	if (events & EPOLLOUT)
		sim_serial_drain(p);
	if (events & EPOLLIN) {
		size_t room = p->proto->connected(p) ? p->proto->rx(p, NULL, 0) : sizeof(d);
		ssize_t n = read(p->master, d, room < sizeof(d) ? room : sizeof(d));

		if (n > 0) {
			p->from_serial += (size_t)n;
			if (p->proto->connected(p))
				p->proto->rx(p, d, (size_t)n);
		}
	}
	sim_serial_update(p);
}

/* Watch the pty for what can be done now. */
static void sim_serial_update(struct sim_port *p)
{
	uint32_t ev = 0;

	if (!p->proto->connected(p) || p->proto->rx(p, NULL, 0) > 0)
		ev |= EPOLLIN;
	if (!p->sim->opt.line_rate && !p->sim->opt.echo && buf_len(&p->txq) > 0 && !p->tx_held &&
	    !p->break_on)
		ev |= EPOLLOUT;
	loop_watch_mod(&p->pty_watch, ev);
}

int sim_serial_open(struct sim_port *p)
{
	char name[64];
	struct termios tio;
	int r;

	if (openpty(&p->master, &p->slave, name, NULL, NULL) < 0)
		return -errno;
	fcntl(p->master, F_SETFL, O_NONBLOCK);
	fcntl(p->master, F_SETFD, FD_CLOEXEC);
	fcntl(p->slave, F_SETFD, FD_CLOEXEC);
	/* Raw both ways: the pty must not translate or echo line data. */
	if (tcgetattr(p->slave, &tio) == 0) {
		cfmakeraw(&tio);
		tcsetattr(p->slave, TCSANOW, &tio);
	}
	snprintf(p->link, sizeof(p->link), "%s/port%u", p->sim->opt.pty_dir, p->n);
	unlink(p->link);
	if (symlink(name, p->link) < 0) {
		r = -errno;
		log_warn("port %u: symlink %s -> %s", p->n, p->link, name);
		return r;
	}
	if (buf_init(&p->txq, SIM_TXQ_SIZE) < 0)
		return -ENOMEM;
	r = loop_watch_add(p->sim->loop, &p->pty_watch, p->master, EPOLLIN, sim_serial_event, p);
	if (r < 0)
		return r;
	p->modem_in = SERIAL_MODEM_CTS | SERIAL_MODEM_DSR | SERIAL_MODEM_DCD;
	sim_serial_reset(p);
	return 0;
}

void sim_serial_close(struct sim_port *p)
{
	loop_watch_del(&p->pty_watch);
	sim_serial_pace_stop(p);
	if (p->link[0])
		unlink(p->link);
	if (p->master >= 0)
		close(p->master);
	if (p->slave >= 0)
		close(p->slave);
	buf_free(&p->txq);
}
