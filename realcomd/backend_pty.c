// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The pty backend, for machines without realcom.ko: PTY_DIR/ttyR<N> links
 * to a pty the application opens.  termios changes arrive through packet
 * mode with EXTPROC (TIOCPKT_IOCTL), opens through inotify on the pty, and
 * the last close as the master's hang-up.  realcomd holds no slave fd: a
 * count of inotify's opens and closes would be wrong (it merges two alike
 * events in a row), the hang-up is not.  A pty carries baud rates, flow
 * control and XON/XOFF, but Linux forces CS8 without parity on it and it
 * has no modem lines or break: the log and realcomd(8) say so, and nothing
 * here pretends otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"
#include "port.h"
#include "tty_line.h"

#define PTY_CHUNK	4096
#define PTY_GATHER	(64 * 1024)	/* pty data given to the driver at once, at most */
#define PTY_RX_ROOM	(64 * 1024)	/* a master write takes up to the tty buffer's limit */

struct pty {
	struct port *p;
	int master;		/* the slave's termios are set through it too */
	int wd;			/* its watch on the shared inotify fd */
	struct loop_watch mw;	/* on the master while the slave is open */
	bool open;		/* an application has the slave open */
	bool rx_blocked;	/* the pty was full: waiting for EPOLLOUT */
	struct serial_line read;	/* the termios last passed to port.c */
	struct serial_line applied;	/* set by pty_line_applied, its packet due */
	bool extproc_locked;		/* TIOCSLCKTRMIOS took: EXTPROC stays on */
	bool applied_due;
};

static struct pty *pty_of(struct port *p)
{
	return p->backend_priv;
}

static void pty_update(struct pty *t)
{
	uint32_t ev = 0;

	if (port_app_tx_room(t->p) > 0)
		ev |= EPOLLIN;
	if (t->rx_blocked)
		ev |= EPOLLOUT;
	loop_watch_mod(&t->mw, ev);
}

static void pty_termios(struct pty *t)
{
	struct serial_line l = t->p->line;
	struct termios tio;
	bool ours = t->applied_due;

	t->applied_due = false;
	if (tty_line_get(t->master, &l) == 0) {
		/* B0 drops DTR/RTS (a pty has none): the rate stays, as with
		 * realcom.ko and a UART */
		if (l.baud == 0)
			l.baud = t->p->line.baud;
		t->read = l;
		/* the packet of our own pty_line_applied: nothing to send */
		if (!ours || memcmp(&l, &t->applied, sizeof(l)) != 0)
			port_app_line(t->p, &l);
	}
	/* An application may have cleared EXTPROC: without it no more TIOCPKT_IOCTL.
	 * Set it again, unless it is locked on (pty_open); this read and write
	 * can overwrite a tcsetattr() the application makes between them. */
	if (!t->extproc_locked && tcgetattr(t->master, &tio) == 0 && !(tio.c_lflag & EXTPROC)) {
		tio.c_lflag |= EXTPROC;
		tcsetattr(t->master, TCSANOW, &tio);
	}
}

/*
 * Read what the application wrote, no more than the driver can take.  The
 * data of successive reads is gathered and given to the driver at once (one
 * send to the device instead of one per pty read, which n_tty caps at 4095
 * bytes); a packet that is not data (termios, flush) first passes on what was
 * read before it, so it keeps its place.  A read shorter than asked for (or
 * than n_tty's 4095 bytes) emptied the pty: the loop stops there instead of reading again for EAGAIN
 * (epoll is level-triggered: what comes meanwhile is announced).
 */
static void pty_read(struct pty *t)
{
	/* raw[0] is where the first read's packet byte goes; the data starts at
	 * raw[1].  Each later read lands one byte early, on the last data byte
	 * gathered, which is kept aside and put back: no data is moved. */
	static uint8_t raw[1 + PTY_GATHER];
	uint8_t *data = raw + 1, keep = 0;
	size_t room = port_app_tx_room(t->p), have = 0;

	for (int i = 0; i < 16; i++) {
		size_t want = room - have;
		uint8_t head;
		ssize_t n;

		/* Nothing is read while the driver is full, termios packets included:
		 * they keep their place behind the data written before them. */
		if (want == 0)
			break;
		if (want > PTY_GATHER - have)
			want = PTY_GATHER - have;
		if (want == 0)
			break;
		if (have)
			keep = data[have - 1];
		n = read(t->master, data + have - 1, want + 1);
		head = data[have - 1];
		if (have)
			data[have - 1] = keep;
		if (n <= 0)
			break;
		if (head == TIOCPKT_DATA) {
			have += (size_t)n - 1;
			/* n_tty hands out at most its buffer, less one, per read */
			if ((size_t)n - 1 < (want < PTY_CHUNK - 1 ? want : PTY_CHUNK - 1))
				break;	/* the pty is empty */
			continue;
		}
		if (have) {
			port_app_tx(t->p, data, have);
			have = 0;
			room = port_app_tx_room(t->p);
		}
		if (head & TIOCPKT_IOCTL)
			pty_termios(t);
		if (head & (TIOCPKT_FLUSHREAD | TIOCPKT_FLUSHWRITE))
			port_app_flush(t->p, head & TIOCPKT_FLUSHREAD, head & TIOCPKT_FLUSHWRITE);
		room = port_app_tx_room(t->p);
	}
	if (have)
		port_app_tx(t->p, data, have);
	pty_update(t);
}

/* No slave fd is left open: the application's last close. */
static bool pty_hung_up(const struct pty *t)
{
	struct pollfd pfd = { .fd = t->master, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLHUP);
}

/*
 * What came for the closed open and it did not read goes with it, as a
 * UART's tty flushes its input at the last close, without an open of ours
 * (inotify would merge its event with an application's next open): the
 * slave's flip buffer (TCOFLUSH on the master flushes what the master
 * sent), then its line discipline (its termios set again with TCSAFLUSH,
 * which through the master are the slave's).  What the application wrote
 * waits in the master and is not touched.  TCSAFLUSH holds the slave's
 * write lock for that instant: a non-blocking write of an open made just
 * then gets EAGAIN, as one to a busy UART may.  The flush's packet
 * (TIOCPKT_FLUSHREAD) is read at once, with a termios packet not read yet,
 * so that the master is readable after only for what an application wrote.
 */
static void pty_flush_input(struct pty *t)
{
	struct termios tio;
	uint8_t head;

	if (tcflush(t->master, TCOFLUSH) < 0 || tcgetattr(t->master, &tio) < 0 ||
	    tcsetattr(t->master, TCSAFLUSH, &tio) < 0)
		port_log_limited(t->p, PORT_LIMIT_PTY, LOG_WARNING, "pty: input flush: %s",
				 strerror(errno));
	/* one byte: a packet, or TIOCPKT_DATA before data, which stays */
	while (read(t->master, &head, 1) == 1 && head != TIOCPKT_DATA)
		if (head & TIOCPKT_IOCTL)
			pty_termios(t);
}

/*
 * The last close, heard as the master's hang-up (reported for as long as it
 * lasts: the master is watched again at the next open).  Opened again since
 * epoll said so, the tty has not been without an open: nothing ends (and
 * the new open's inotify event may have been handled already).
 */
static void pty_closed(struct pty *t)
{
	if (!pty_hung_up(t)) {
		pty_read(t);
		return;
	}
	loop_watch_del(&t->mw);
	t->open = false;
	pty_read(t);	/* what it wrote before closing goes first */
	pty_flush_input(t);
	port_app_close(t->p);
	/* what it did not read is gone: the unit's data flows again, dropped
	 * until the next open (pty_rx) */
	if (t->rx_blocked) {
		t->rx_blocked = false;
		port_app_rx_resume(t->p);
	}
}

static void pty_master_event(struct loop_watch *w, uint32_t events)
{
	struct pty *t = w->arg;

	if (events & EPOLLOUT) {
		t->rx_blocked = false;
		port_app_rx_resume(t->p);
	}
	if (events & EPOLLHUP)
		pty_closed(t);
	else if (events & EPOLLIN)
		pty_read(t);
	else
		pty_update(t);
}

/*
 * inotify said the slave was opened.  An open nobody had before begins the
 * application's use of the port.  When nobody has it now, one that left
 * nothing in the master is nothing to us; one that left data or termios
 * there was an application's, closed before we heard: the hang-up that
 * follows at once closes it.
 */
static void pty_opened(struct pty *t)
{
	struct pollfd pfd = { .fd = t->master, .events = POLLIN };
	int r;

	if (t->open)
		return;
	if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLIN)) == POLLHUP)
		return;
	r = loop_watch_add(t->p->d->loop, &t->mw, t->master, 0, pty_master_event, t);
	if (r < 0) {
		port_log(t->p, LOG_ERR, "pty: epoll: %s", strerror(-r));
		return;
	}
	t->open = true;
	pty_update(t);
	pty_termios(t);
	port_app_open(t->p);
}

/*
 * One inotify instance serves every pty (the default limit is 128 instances
 * per user, fewer than the ports a daemon may have); watch descriptors say
 * which pty an event is about.  Only opens are watched: inotify merges two
 * alike events in a row, so they cannot be counted, and need not be.
 */
static struct {
	int fd;
	unsigned int users;
	struct loop_watch w;
	struct pty *by_wd[REALCOM_TTYS_MAX];
	int wds[REALCOM_TTYS_MAX];
} ino = { .fd = -1 };

static struct pty *pty_by_wd(int wd)
{
	for (unsigned int i = 0; i < REALCOM_TTYS_MAX; i++)
		if (ino.by_wd[i] && ino.wds[i] == wd)
			return ino.by_wd[i];
	return NULL;
}

static void pty_inotify_event(struct loop_watch *w, uint32_t events)
{
	/* our watches are on files: events carry no name */
	char buf[sizeof(struct inotify_event) * 64]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n = read(ino.fd, buf, sizeof(buf));

	for (ssize_t i = 0; i + (ssize_t)sizeof(struct inotify_event) <= n;) {
		const struct inotify_event *ev = (const struct inotify_event *)(buf + i);
		struct pty *t = pty_by_wd(ev->wd);

		i += (ssize_t)(sizeof(*ev) + ev->len);
		if (t && (ev->mask & IN_OPEN))
			pty_opened(t);
		/* events were lost: every pty may have been opened */
		for (unsigned int k = 0; (ev->mask & IN_Q_OVERFLOW) && k < REALCOM_TTYS_MAX; k++)
			if (ino.by_wd[k])
				pty_opened(ino.by_wd[k]);
	}
}

static int pty_watch(struct pty *t, struct loop *l, const char *name)
{
	unsigned int slot = t->p->cfg.index;

	if (ino.fd < 0) {
		ino.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (ino.fd < 0)
			return -errno;
		if (loop_watch_add(l, &ino.w, ino.fd, EPOLLIN, pty_inotify_event, NULL) < 0) {
			close(ino.fd);
			ino.fd = -1;
			return -EIO;
		}
	}
	t->wd = inotify_add_watch(ino.fd, name, IN_OPEN);
	if (t->wd < 0)
		return -errno;
	ino.by_wd[slot] = t;
	ino.wds[slot] = t->wd;
	ino.users++;
	return 0;
}

static void pty_unwatch(struct pty *t)
{
	unsigned int slot = t->p->cfg.index;

	if (ino.by_wd[slot] != t)
		return;
	inotify_rm_watch(ino.fd, t->wd);
	ino.by_wd[slot] = NULL;
	if (--ino.users == 0) {
		loop_watch_del(&ino.w);
		close(ino.fd);
		ino.fd = -1;
	}
}

static size_t pty_rx(struct port *p, const uint8_t *d, size_t n)
{
	struct pty *t = pty_of(p);
	ssize_t w;

	if (!t->open)		/* nobody has the port open: a closed UART drops it too */
		return d ? n : PTY_RX_ROOM;
	if (!d)
		return t->rx_blocked ? 0 : PTY_RX_ROOM;
	w = write(t->master, d, n);
	if (w < 0) {
		w = 0;
		if (errno != EAGAIN)
			port_log_limited(p, PORT_LIMIT_PTY, LOG_WARNING, "pty write: %s",
					 strerror(errno));
	}
	if ((size_t)w < n) {
		t->rx_blocked = true;
		pty_update(t);
	}
	return (size_t)w;
}

static void pty_nothing(struct port *p)
{
}

static void pty_line_event(struct port *p, uint8_t events)
{
	port_log_limited(p, PORT_LIMIT_LINE, LOG_DEBUG, "line event %02X (a pty cannot report it)",
			 events);
}

static void pty_link(struct port *p, bool up)
{
}

/* A pty's tcdrain returns at once (it has no transmitter to wait for):
 * there is nobody to tell, and no way to make it fail (realcomd(8)). */
static void pty_drained(struct port *p, uint32_t remaining)
{
}

/*
 * The device did not take the line: put what is in effect into the pty's
 * termios, so tcgetattr() reads back the truth (the rate; a pty keeps CS8
 * without parity anyway).  When the application set termios again since we
 * last read it, its newer line is on its way to the device: left alone.
 */
static void pty_line_applied(struct port *p)
{
	struct pty *t = pty_of(p);
	struct serial_line now = t->read;
	int r;

	if (tty_line_get(t->master, &now) < 0 || memcmp(&now, &t->read, sizeof(now)) != 0)
		return;
	r = tty_line_set(t->master, &p->line);
	if (r < 0) {
		port_log(p, LOG_WARNING, "pty: termios: %s", strerror(-r));
		return;
	}
	/* EXTPROC announces our own change too: pty_termios skips it */
	if (tty_line_get(t->master, &t->applied) == 0) {
		t->applied.modem = p->line.modem;
		t->read = t->applied;
		t->applied_due = true;
	}
}

static void pty_tx_resume(struct port *p)
{
	struct pty *t = pty_of(p);

	pty_read(t);
}

/* Running out of ptys is a system setting an operator can change: name it. */
static void pty_open_failed(struct port *p, int err)
{
	char max[32] = "?";
	FILE *f;

	if (err != -ENOSPC) {
		port_log(p, LOG_ERR, "pty: %s", strerror(-err));
		return;
	}
	f = fopen("/proc/sys/kernel/pty/max", "re");
	if (f) {
		if (!fgets(max, sizeof(max), f))
			snprintf(max, sizeof(max), "?");
		max[strcspn(max, "\n")] = '\0';
		fclose(f);
	}
	port_log(p, LOG_ERR, "pty: no pty left: the limit is kernel.pty.max = %s (sysctl; in use: "
		 "/proc/sys/kernel/pty/nr) or the max= option of the devpts mount; raise it, or "
		 "use the kernel backend", max);
}

/*
 * What the application wrote and we have not read: the bytes wait in the
 * master after its close.  Read and drop them; termios packets among them
 * still count.  Bounded: a pty holds some 64 KiB.  Not when the slave was
 * opened again meanwhile: the bytes may be the new open's, and the old
 * open's then go with them (as a UART's close sends them before the next
 * open returns).
 */
static size_t pty_discard(struct port *p)
{
	struct pty *t = pty_of(p);
	uint8_t buf[PTY_CHUNK + 1];
	size_t dropped = 0;

	if (t->open || !pty_hung_up(t))
		return 0;	/* an open's, but maybe the new one's: they go with it */
	for (int i = 0; i < 64; i++) {
		ssize_t n = read(t->master, buf, sizeof(buf));

		if (n <= 0)
			break;
		if (buf[0] == TIOCPKT_DATA)
			dropped += (size_t)n - 1;
		else if (buf[0] & TIOCPKT_IOCTL)
			pty_termios(t);
	}
	pty_update(t);
	return dropped;
}

/* Nothing at path, or a link (ours, or one a daemon killed left): a file an
 * operator put there is not ours to remove. */
static bool pty_link_replaceable(const char *path)
{
	struct stat st;

	return lstat(path, &st) < 0 || S_ISLNK(st.st_mode);
}

/*
 * A UART's defaults, and EXTPROC so every tcsetattr() is announced; the node
 * as a UART's (udev: group dialout, 0660), so the same users can open it
 * (pty_group and pty_mode in realcom.conf(5)).  On openpty()'s slave fd,
 * closed after: realcomd keeps none.
 */
static int pty_setup_slave(struct pty *t, int slave, const char *name)
{
	struct daemon *d = t->p->d;
	struct termios tio, lock;

	if (tcgetattr(slave, &tio) < 0)
		return -errno;
	tio.c_lflag |= EXTPROC;
	cfsetspeed(&tio, B9600);
	tcsetattr(slave, TCSANOW, &tio);
	/* Lock EXTPROC on, so an application's tcsetattr() cannot clear it
	 * (tty_ioctl(4), TIOCSLCKTRMIOS; it needs CAP_SYS_ADMIN, which the
	 * systemd unit does not give: then pty_termios() sets it again). */
	memset(&lock, 0, sizeof(lock));
	lock.c_lflag = EXTPROC;
	t->extproc_locked = ioctl(slave, TIOCSLCKTRMIOS, &lock) == 0;
	if (fchown(slave, (uid_t)-1, d->pty_gid) < 0 || fchmod(slave, d->pty_mode) < 0)
		port_log(t->p, LOG_WARNING, "%s: group %u, mode %04o: %s", name,
			 (unsigned int)d->pty_gid, (unsigned int)d->pty_mode, strerror(errno));
	return 0;
}

static int pty_open(struct port *p)
{
	struct pty *t = calloc(1, sizeof(*t));
	struct daemon *d = p->d;
	char name[64];
	int one = 1, slave, r;

	if (!t)
		return -ENOMEM;
	t->p = p;
	t->master = -1;
	p->backend_priv = t;
	if (openpty(&t->master, &slave, name, NULL, NULL) < 0) {
		r = -errno;
		pty_open_failed(p, r);
		return r;
	}
	fcntl(t->master, F_SETFL, O_NONBLOCK);
	fcntl(t->master, F_SETFD, FD_CLOEXEC);
	/* packet mode after the set-up: its termios packet is nobody's */
	r = pty_setup_slave(t, slave, name);
	if (r == 0 && ioctl(t->master, TIOCPKT, &one) < 0)
		r = -errno;
	close(slave);	/* the master hangs up until an application opens it */
	if (r < 0) {
		port_log(p, LOG_ERR, "pty: %s", strerror(-r));
		return r;
	}
	/* Watched before it is linked: no open goes unheard. */
	r = pty_watch(t, d->loop, name);
	if (r < 0) {
		port_log(p, LOG_ERR, "inotify on %s: %s", name, strerror(-r));
		return r;
	}
	mkdir(d->cfg->pty_dir, 0755);
	snprintf(p->path, sizeof(p->path), "%s/%s", d->cfg->pty_dir, p->name);
	if (!pty_link_replaceable(p->path)) {
		port_log(p, LOG_ERR, "%s: something other than a link is there; not replaced",
			 p->path);
		p->path[0] = '\0';	/* nor removed at the close */
		return -EEXIST;
	}
	unlink(p->path);
	if (symlink(name, p->path) < 0) {
		r = -errno;
		port_log(p, LOG_ERR, "cannot link %s to %s: %s", p->path, name, strerror(errno));
		return r;
	}
	if (!d->pty_limits_logged) {
		log_warnx("pty backend: data bits, parity, modem lines and break cannot reach the "
			  "devices (a Linux pty forces 8N1 and has none); load realcom.ko for them");
		d->pty_limits_logged = true;
	}
	port_log(p, LOG_INFO, "%s -> %s", p->path, name);
	return 0;
}

static void pty_close(struct port *p)
{
	struct pty *t = pty_of(p);

	if (!t)
		return;
	loop_watch_del(&t->mw);
	pty_unwatch(t);
	if (p->path[0] && pty_link_replaceable(p->path))
		unlink(p->path);
	if (t->master >= 0)
		close(t->master);
	free(t);
	p->backend_priv = NULL;
}

const struct backend_ops backend_pty = {
	.name = "pty",
	.open = pty_open,
	.close = pty_close,
	.rx = pty_rx,
	.modem = pty_nothing,
	.line_event = pty_line_event,
	.link = pty_link,
	.drained = pty_drained,
	.tx_resume = pty_tx_resume,
	.discard = pty_discard,
	.line_applied = pty_line_applied,
};
