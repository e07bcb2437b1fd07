// SPDX-License-Identifier: GPL-2.0
/*
 * tty_test: realcom.ko's semantics at the uAPI level, run inside the VM guest.
 *
 * The program plays both sides: the daemon (/dev/realcom, REALCOM_IOC_BIND)
 * and the application (/dev/ttyR<N>).  The daemon side is a reader thread
 * that queues every message it reads and answers MSG_DRAIN at once unless a
 * case takes over; the case's main thread is the application and checks what
 * the "device" received.  Every wait is bounded by poll()/condvar deadlines;
 * nothing sleeps to synchronise.
 *
 *   tty_test --list         the case names, one a line
 *   tty_test [CASE...]      run the cases (all without arguments)
 *
 * Each case runs in a child process (so a failing case cannot leave state
 * behind in the next one), uses its own port indexes, and prints
 * "PASS name" or "FAIL name: why (at step: ...)".  After each case the module
 * reference count must drop back to where it was.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <linux/serial.h>
#include <linux/realcom.h>

#include "blocked.h"

#define TMO		10000	/* ms: something that must happen */
#define QUIET		300	/* ms: window in which something must NOT happen */
#define BUFSZ		65536

/* termios2 without <asm/termbits.h>, which clashes with glibc's termios */
struct rc_termios2 {
	unsigned int c_iflag, c_oflag, c_cflag, c_lflag;
	unsigned char c_line;
	unsigned char c_cc[19];
	unsigned int c_ispeed, c_ospeed;
};
#define RC_TCGETS2	_IOR('T', 0x2A, struct rc_termios2)
#define RC_TCSETS2	_IOW('T', 0x2B, struct rc_termios2)
#define RC_BOTHER	0010000
#define RC_CBAUD	0010017
#define RC_IBSHIFT	16

/* ------------------------------------------------------------------------ */
/* reporting                                                                */

struct shared {
	char step[256];
	char why[1024];
};
static struct shared *sh;

#define STEP(...) snprintf(sh->step, sizeof(sh->step), __VA_ARGS__)

__attribute__((format(printf, 1, 2)))
static int failf(const char *fmt, ...)
{
	va_list ap;

	if (sh->why[0])		/* keep the first reason */
		return 1;
	va_start(ap, fmt);
	vsnprintf(sh->why, sizeof(sh->why), fmt, ap);
	va_end(ap);
	return 1;
}

#define CHECK(cond, ...) do { if (!(cond)) return failf(__VA_ARGS__); } while (0)
#define TRY(expr) do { if (expr) return 1; } while (0)
#define ERR strerror(errno)

__attribute__((format(printf, 1, 2)))
static void note(const char *fmt, ...)
{
	va_list ap;

	printf("  # ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline)
{
	int64_t l = deadline - now_ms();

	return l < 0 ? 0 : (int)l;
}

/* wait for fd to report one of events; returns revents, 0 on timeout */
static short wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t deadline = now_ms() + timeout_ms;
	int n;

	for (;;) {
		n = poll(&p, 1, left_ms(deadline));
		if (n > 0)
			return p.revents;
		if (n == 0 || errno != EINTR)
			return 0;
	}
}

/* a pause between retries of a condition with a deadline (not a sync point) */
static void tick(void)
{
	poll(NULL, 0, 5);
}

static const char *msg_name(unsigned int t)
{
	switch (t) {
	case REALCOM_MSG_TX_DATA: return "TX_DATA";
	case REALCOM_MSG_OPEN: return "OPEN";
	case REALCOM_MSG_CLOSE: return "CLOSE";
	case REALCOM_MSG_LINE: return "LINE";
	case REALCOM_MSG_MODEM: return "MODEM";
	case REALCOM_MSG_BREAK: return "BREAK";
	case REALCOM_MSG_FLUSH: return "FLUSH";
	case REALCOM_MSG_DRAIN: return "DRAIN";
	case REALCOM_MSG_XCHAR: return "XCHAR";
	default: return "?";
	}
}

/* ------------------------------------------------------------------------ */
/* the daemon side                                                          */

struct qmsg {
	struct qmsg *next;
	uint16_t type, len;
	uint8_t data[];
};

struct dmn {
	int fd, ctl, index;
	pthread_t th;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct qmsg *head, **tailp;
	int paused, paused_ack, stop;
	int auto_drain, keep;
	unsigned long counts[256];
	unsigned long drains_answered;
	int dead;		/* reader saw EOF or an error */
	char perr[256];		/* a read that was not whole messages */
	char skipped[512];	/* types d_expect() passed over, for messages */
};

static void d_lock(struct dmn *d) { pthread_mutex_lock(&d->mu); }
static void d_unlock(struct dmn *d) { pthread_mutex_unlock(&d->mu); }

/* write one message; waits for POLLOUT (bounded) on EAGAIN; 0 or -errno */
static int d_send_fd(int fd, uint16_t type, const void *p, size_t len, int timeout_ms)
{
	uint8_t buf[sizeof(struct realcom_hdr) + REALCOM_MAX_PAYLOAD + 64];
	struct realcom_hdr h = { .type = type, .len = (uint16_t)len };
	int64_t deadline = now_ms() + timeout_ms;
	ssize_t n;

	if (len > sizeof(buf) - sizeof(h))
		return -E2BIG;
	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + sizeof(h), p, len);
	for (;;) {
		n = write(fd, buf, sizeof(h) + len);
		if (n == (ssize_t)(sizeof(h) + len))
			return 0;
		if (n >= 0)
			return -EMSGSIZE;	/* a short write of one message */
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		/* bounded even if poll() says POLLOUT while write() says EAGAIN */
		if (!left_ms(deadline) || !wait_fd(fd, POLLOUT, left_ms(deadline)))
			return -EAGAIN;
	}
}

static int d_send(struct dmn *d, uint16_t type, const void *p, size_t len)
{
	return d_send_fd(d->fd, type, p, len, TMO);
}

static void d_parse(struct dmn *d, const uint8_t *b, size_t n)
{
	size_t off = 0;

	while (off < n) {
		struct realcom_hdr h;
		struct qmsg *m;
		int answer = 0;
		struct realcom_drain dr = { 0 };

		if (n - off < sizeof(h)) {
			d_lock(d);
			snprintf(d->perr, sizeof(d->perr), "read() returned %zu bytes ending in a partial header", n);
			d_unlock(d);
			return;
		}
		memcpy(&h, b + off, sizeof(h));
		if (h.len > REALCOM_MAX_PAYLOAD || n - off - sizeof(h) < h.len) {
			d_lock(d);
			snprintf(d->perr, sizeof(d->perr), "read() returned %zu bytes ending in a partial message (type %#x len %u at %zu)",
				 n, h.type, h.len, off);
			d_unlock(d);
			return;
		}
		d_lock(d);
		if (h.type == REALCOM_MSG_DRAIN && d->auto_drain) {
			answer = 1;
			memcpy(&dr, b + off + sizeof(h), h.len < sizeof(dr) ? h.len : sizeof(dr));
		}
		d_unlock(d);
		if (answer) {
			struct realcom_drain_done dd = { .cookie = dr.cookie, .remaining = 0 };

			d_send_fd(d->fd, REALCOM_MSG_DRAIN_DONE, &dd, sizeof(dd), TMO);
		}
		m = NULL;
		if (d->keep) {
			m = malloc(sizeof(*m) + h.len);
			if (m) {
				m->next = NULL;
				m->type = h.type;
				m->len = h.len;
				memcpy(m->data, b + off + sizeof(h), h.len);
			}
		}
		d_lock(d);
		d->counts[h.type & 0xff]++;
		if (answer)
			d->drains_answered++;
		if (m) {
			*d->tailp = m;
			d->tailp = &m->next;
		}
		pthread_cond_broadcast(&d->cv);
		d_unlock(d);
		off += sizeof(h) + h.len;
	}
}

static void *d_thread(void *arg)
{
	struct dmn *d = arg;
	uint8_t *buf = malloc(BUFSZ);

	for (;;) {
		struct pollfd p[2];
		int paused, dead;
		ssize_t r;

		d_lock(d);
		if (d->stop) {
			d_unlock(d);
			break;
		}
		paused = d->paused;
		dead = d->dead;
		if (d->paused_ack != paused) {
			d->paused_ack = paused;
			pthread_cond_broadcast(&d->cv);
		}
		d_unlock(d);
		p[0].fd = d->ctl;
		p[0].events = POLLIN;
		p[1].fd = (paused || dead) ? -1 : d->fd;
		p[1].events = POLLIN;
		p[0].revents = p[1].revents = 0;
		if (poll(p, 2, -1) < 0)
			continue;
		if (p[0].revents & POLLIN) {
			uint64_t v;

			if (read(d->ctl, &v, sizeof(v)) < 0)
				continue;
		}
		if (!(p[1].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)))
			continue;
		r = read(d->fd, buf, BUFSZ);
		if (r > 0) {
			d_parse(d, buf, (size_t)r);
			continue;
		}
		if (r < 0 && (errno == EINTR || errno == EAGAIN) && (p[1].revents & POLLIN))
			continue;
		d_lock(d);
		d->dead = 1;
		snprintf(d->perr + strlen(d->perr), sizeof(d->perr) - strlen(d->perr),
			 "%sreader stopped: read() = %zd (%s), revents %#x", d->perr[0] ? "; " : "",
			 r, r < 0 ? ERR : "EOF", p[1].revents);
		pthread_cond_broadcast(&d->cv);
		d_unlock(d);
	}
	free(buf);
	return NULL;
}

static void d_kick(struct dmn *d)
{
	uint64_t one = 1;

	if (write(d->ctl, &one, sizeof(one)) < 0)
		perror("eventfd");
}

static int wait_path(const char *path, int exist, int timeout_ms);

/* bind index; start the reader.  EBUSY is retried until a deadline when
 * retry_busy (a port whose daemon and application just closed may take a
 * moment to go away). */
static int d_open2(struct dmn *d, int index, int keep, int retry_busy)
{
	struct realcom_bind b;
	pthread_condattr_t ca;
	char path[64];
	int64_t deadline = now_ms() + TMO;
	int r;

	memset(d, 0, sizeof(*d));
	d->fd = d->ctl = -1;
	d->index = index;
	STEP("open /dev/realcom for index %d", index);
	d->fd = open("/dev/realcom", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	CHECK(d->fd >= 0, "open /dev/realcom: %s", ERR);
	memset(&b, 0, sizeof(b));
	b.index = (uint32_t)index;
	for (;;) {
		r = ioctl(d->fd, REALCOM_IOC_BIND, &b);
		if (r == 0 || errno != EBUSY || !retry_busy || !left_ms(deadline))
			break;
		tick();
	}
	CHECK(r == 0, "REALCOM_IOC_BIND index %d: %s", index, ERR);
	d->ctl = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHECK(d->ctl >= 0, "eventfd: %s", ERR);
	pthread_mutex_init(&d->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->cv, &ca);
	d->tailp = &d->head;
	d->auto_drain = 1;
	d->keep = keep;
	CHECK(pthread_create(&d->th, NULL, d_thread, d) == 0, "pthread_create failed");
	d->started = 1;
	snprintf(path, sizeof(path), "/dev/ttyR%d", index);
	STEP("wait for %s after BIND", path);
	CHECK(wait_path(path, 1, TMO) == 0, "%s did not appear after REALCOM_IOC_BIND", path);
	return 0;
}

static int d_open(struct dmn *d, int index)
{
	return d_open2(d, index, 1, 0);
}

static void d_close(struct dmn *d)
{
	struct qmsg *m;

	if (d->started) {
		d_lock(d);
		d->stop = 1;
		d_unlock(d);
		d_kick(d);
		pthread_join(d->th, NULL);
		d->started = 0;
	}
	if (d->fd >= 0)
		close(d->fd);
	if (d->ctl >= 0)
		close(d->ctl);
	d->fd = d->ctl = -1;
	while ((m = d->head)) {
		d->head = m->next;
		free(m);
	}
	d->tailp = &d->head;
}

static int d_pause(struct dmn *d, int on)
{
	struct timespec ts;
	int64_t deadline = now_ms() + TMO;
	int ok;

	d_lock(d);
	d->paused = on;
	d_unlock(d);
	d_kick(d);
	d_lock(d);
	while (d->paused_ack != on) {
		ts.tv_sec = deadline / 1000;
		ts.tv_nsec = (deadline % 1000) * 1000000;
		if (pthread_cond_timedwait(&d->cv, &d->mu, &ts) == ETIMEDOUT)
			break;
	}
	ok = d->paused_ack == on;
	d_unlock(d);
	CHECK(ok, "test bug: reader thread did not %s", on ? "pause" : "resume");
	return 0;
}

static void d_set_auto_drain(struct dmn *d, int on)
{
	d_lock(d);
	d->auto_drain = on;
	d_unlock(d);
}

static unsigned long d_count(struct dmn *d, int type)
{
	unsigned long n;

	d_lock(d);
	n = d->counts[type & 0xff];
	d_unlock(d);
	return n;
}

/* next queued message within timeout_ms, or NULL (caller frees) */
static struct qmsg *d_pop(struct dmn *d, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct timespec ts;
	struct qmsg *m;

	d_lock(d);
	while (!d->head && !d->dead && !d->perr[0]) {
		ts.tv_sec = deadline / 1000;
		ts.tv_nsec = (deadline % 1000) * 1000000;
		if (pthread_cond_timedwait(&d->cv, &d->mu, &ts) == ETIMEDOUT)
			break;
	}
	m = d->head;
	if (m) {
		d->head = m->next;
		if (!d->head)
			d->tailp = &d->head;
	}
	d_unlock(d);
	return m;
}

static const char *d_why(struct dmn *d)
{
	static char buf[300];

	d_lock(d);
	snprintf(buf, sizeof(buf), "%s", d->perr[0] ? d->perr : "nothing arrived");
	d_unlock(d);
	return buf;
}

static void skipped_add(struct dmn *d, const struct qmsg *m)
{
	size_t l = strlen(d->skipped);

	if (l < sizeof(d->skipped) - 32)
		snprintf(d->skipped + l, sizeof(d->skipped) - l, "%s%s(%u)", l ? " " : "", msg_name(m->type), m->len);
}

/* pop until a message of type arrives; others are passed over (their types
 * OR'ed into *mask as 1 << type, and listed in d->skipped) */
static struct qmsg *d_expect(struct dmn *d, int type, int timeout_ms, uint32_t *mask)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct qmsg *m;

	while ((m = d_pop(d, left_ms(deadline)))) {
		if (m->type == type)
			return m;
		if (mask && m->type < 32)
			*mask |= 1u << m->type;
		skipped_add(d, m);
		free(m);
	}
	return NULL;
}

static int line_ok(const struct qmsg *m, char *why, size_t wl)
{
	if (m->len != sizeof(struct realcom_line)) {
		snprintf(why, wl, "MSG_LINE has len %u, want %zu", m->len, sizeof(struct realcom_line));
		return 0;
	}
	return 1;
}

/* the first MSG_LINE whose baud is `baud` */
static int d_expect_line(struct dmn *d, uint32_t baud, struct realcom_line *out, uint32_t *mask)
{
	int64_t deadline = now_ms() + TMO;
	struct realcom_line l;
	struct qmsg *m;
	char why[128];
	char seen[256] = "";

	d->skipped[0] = 0;
	for (;;) {
		m = d_expect(d, REALCOM_MSG_LINE, left_ms(deadline), mask);
		if (!m)
			return failf("no MSG_LINE with baud %u within %d ms (%s; other LINE bauds seen: [%s]; skipped: [%s])",
				     baud, TMO, d_why(d), seen, d->skipped);
		if (!line_ok(m, why, sizeof(why))) {
			free(m);
			return failf("%s", why);
		}
		memcpy(&l, m->data, sizeof(l));
		free(m);
		if (l.baud == baud)
			break;
		snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen), "%s%u", seen[0] ? " " : "", l.baud);
	}
	if (out)
		*out = l;
	return 0;
}

/* gather `want` bytes of MSG_TX_DATA (other messages are passed over) */
static int d_collect_tx(struct dmn *d, uint8_t *buf, size_t want, int *nmsg, int *maxlen)
{
	int64_t deadline = now_ms() + TMO;
	size_t got = 0;
	struct qmsg *m;

	if (nmsg)
		*nmsg = 0;
	if (maxlen)
		*maxlen = 0;
	d->skipped[0] = 0;
	while (got < want) {
		m = d_expect(d, REALCOM_MSG_TX_DATA, left_ms(deadline), NULL);
		if (!m)
			return failf("MSG_TX_DATA: got %zu of %zu bytes (%s; skipped: [%s])", got, want, d_why(d), d->skipped);
		if (m->len == 0 || got + m->len > want) {
			failf("MSG_TX_DATA of %u bytes after %zu of %zu (empty or more than written)", m->len, got, want);
			free(m);
			return 1;
		}
		memcpy(buf + got, m->data, m->len);
		got += m->len;
		if (nmsg)
			(*nmsg)++;
		if (maxlen && m->len > *maxlen)
			*maxlen = m->len;
		free(m);
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* the application side                                                     */

static int tty_path(char *buf, size_t l, int index)
{
	return snprintf(buf, l, "/dev/ttyR%d", index);
}

/* wait until path exists (exist=1) or is gone (exist=0), via inotify on its dir */
static int wait_path(const char *path, int exist, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	char buf[4096];
	int in, r = -1;
	struct stat st;

	in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (in >= 0)
		inotify_add_watch(in, "/dev", IN_CREATE | IN_DELETE | IN_ATTRIB | IN_MOVED_FROM | IN_MOVED_TO);
	for (;;) {
		if ((stat(path, &st) == 0) == !!exist) {
			r = 0;
			break;
		}
		if (!left_ms(deadline))
			break;
		if (in >= 0) {
			if (wait_fd(in, POLLIN, left_ms(deadline) < 100 ? left_ms(deadline) : 100) & POLLIN)
				while (read(in, buf, sizeof(buf)) > 0)
					;
		} else {
			tick();
		}
	}
	if (in >= 0)
		close(in);
	return r;
}

static int raw_termios(int fd, speed_t speed)
{
	struct termios t;

	if (tcgetattr(fd, &t))
		return -1;
	cfmakeraw(&t);
	t.c_cflag |= CLOCAL | CREAD;
	t.c_cflag &= ~(CRTSCTS | CMSPAR);
	t.c_iflag &= ~(IXON | IXOFF | IXANY);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	cfsetspeed(&t, speed);
	return tcsetattr(fd, TCSANOW, &t);
}

/* open /dev/ttyR<index> non-blocking, raw, CLOCAL, 9600 */
static int app_open_nosync(int index, int *fdp)
{
	char path[64];
	int fd;

	tty_path(path, sizeof(path), index);
	STEP("open %s", path);
	fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	CHECK(fd >= 0, "open %s (O_NONBLOCK): %s", path, ERR);
	CHECK(raw_termios(fd, B9600) == 0, "tcsetattr raw on %s: %s", path, ERR);
	*fdp = fd;
	return 0;
}

/* a sync point: change the baud to one it is not (1200 or 2400) and wait
 * for that MSG_LINE; everything queued before it is passed over */
static int app_sync_mask(struct dmn *d, int fd, uint32_t *mask)
{
	struct termios t;
	speed_t s;

	STEP("sync (baud change) on ttyR%d", d->index);
	CHECK(tcgetattr(fd, &t) == 0, "tcgetattr: %s", ERR);
	s = cfgetospeed(&t) == B1200 ? B2400 : B1200;
	cfsetspeed(&t, s);
	CHECK(tcsetattr(fd, TCSANOW, &t) == 0, "tcsetattr (sync): %s", ERR);
	return d_expect_line(d, s == B1200 ? 1200 : 2400, NULL, mask);
}

static int app_sync(struct dmn *d, int fd)
{
	return app_sync_mask(d, fd, NULL);
}

static int app_open(struct dmn *d, int *fdp)
{
	TRY(app_open_nosync(d->index, fdp));
	return app_sync(d, *fdp);
}

/* Write n bytes from wb, or read n into rb, through the application's fd (it
 * may be non-blocking): fails if no byte moves for TMO ms or the tty hangs up. */
static int app_xfer(int fd, const uint8_t *wb, uint8_t *rb, size_t n)
{
	const char *what = wb ? "write" : "read";
	short ev = wb ? POLLOUT : POLLIN;
	int64_t deadline = now_ms() + TMO;
	size_t off = 0;
	ssize_t r;

	while (off < n) {
		r = wb ? write(fd, wb + off, n - off) : read(fd, rb + off, n - off);
		if (r > 0) {
			off += (size_t)r;
			deadline = now_ms() + TMO;
			continue;
		}
		CHECK(r < 0 && (errno == EAGAIN || errno == EINTR), "application %s after %zu of %zu bytes: %s",
		      what, off, n, r == 0 ? "returned 0 (hung up?)" : ERR);
		CHECK(wait_fd(fd, ev, left_ms(deadline)) & ev,
		      "application %s stalled after %zu of %zu bytes: nothing moved for %d ms", what, off, n, TMO);
	}
	return 0;
}

static int app_write_all(int fd, const uint8_t *b, size_t n)
{
	return app_xfer(fd, b, NULL, n);
}

static int app_read_n(int fd, uint8_t *b, size_t n)
{
	return app_xfer(fd, NULL, b, n);
}

static int modem_get(int fd, int *bits)
{
	CHECK(ioctl(fd, TIOCMGET, bits) == 0, "TIOCMGET: %s", ERR);
	return 0;
}

static int outq(int fd, int *n)
{
	CHECK(ioctl(fd, TIOCOUTQ, n) == 0, "TIOCOUTQ: %s", ERR);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* a helper thread doing one blocking call                                  */

enum { B_TCDRAIN, B_MIWAIT, B_OPEN, B_READ, B_TCSADRAIN };

struct blk {
	pthread_t th;
	int op, fd, efd;
	unsigned long arg;
	char path[64];
	volatile pid_t tid;
	int ret, err;
	uint8_t buf[64];
};

static void *blk_thread(void *arg)
{
	struct blk *b = arg;
	uint64_t one = 1;

	b->tid = (pid_t)syscall(SYS_gettid);
	switch (b->op) {
	case B_TCDRAIN:
		b->ret = tcdrain(b->fd);
		break;
	case B_MIWAIT:
		b->ret = ioctl(b->fd, TIOCMIWAIT, b->arg);
		break;
	case B_OPEN:
		b->ret = open(b->path, O_RDWR | O_NOCTTY | O_CLOEXEC);
		break;
	case B_READ:
		b->ret = (int)read(b->fd, b->buf, sizeof(b->buf));
		break;
	case B_TCSADRAIN: {	/* arg: the speed_t to set */
		struct termios t;

		b->ret = tcgetattr(b->fd, &t);
		if (!b->ret) {
			cfsetspeed(&t, (speed_t)b->arg);
			b->ret = tcsetattr(b->fd, TCSADRAIN, &t);
		}
		break;
	}
	}
	b->err = errno;
	if (write(b->efd, &one, sizeof(one)) < 0)
		perror("eventfd");
	return NULL;
}

static int blk_start(struct blk *b, int op, int fd, unsigned long arg)
{
	b->op = op;
	b->fd = fd;
	b->arg = arg;
	b->tid = 0;
	b->ret = -2;
	b->efd = eventfd(0, EFD_CLOEXEC);
	CHECK(b->efd >= 0, "eventfd: %s", ERR);
	CHECK(pthread_create(&b->th, NULL, blk_thread, b) == 0, "pthread_create failed");
	return 0;
}

/* has the blocking call returned within timeout_ms? */
static int blk_done(struct blk *b, int timeout_ms)
{
	return (wait_fd(b->efd, POLLIN, timeout_ms) & POLLIN) != 0;
}

/* wait (bounded) until the thread sleeps inside syscall nr */
static int blk_wait_blocked(struct blk *b, long nr, const char *what)
{
	int64_t deadline = now_ms() + TMO;
	long cur = -1;
	char state = '?';

	while (left_ms(deadline)) {
		if (blk_done(b, 0))
			return failf("%s returned at once (ret %d, %s) instead of blocking", what, b->ret,
				     b->ret < 0 ? strerror(b->err) : "ok");
		if (b->tid && task_blocked_in(b->tid, nr, &state, &cur))
			return 0;
		tick();
	}
	return failf("%s: the thread never blocked in syscall %ld (state %c, syscall %ld)", what, nr, state, cur);
}

static void blk_join(struct blk *b)
{
	pthread_join(b->th, NULL);
	close(b->efd);
}

/* ------------------------------------------------------------------------ */
/* module reference count                                                   */

static int refcnt(void)
{
	FILE *f = fopen("/sys/module/realcom/refcnt", "r");
	int n = -1;

	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

/* ======================================================================== */
/* cases                                                                    */

static int idx;		/* this case's first port index; it may use idx..idx+3 */

#define REALCOM_FEATS_KNOWN	(REALCOM_FEAT_CTRL_STATE | REALCOM_FEAT_TX_HOLD | REALCOM_FEAT_TIMED_BREAK | \
				 REALCOM_FEAT_LINE_APPLIED)

static int t_version(void)
{
	struct realcom_version v;
	int fd, i;

	STEP("open /dev/realcom");
	fd = open("/dev/realcom", O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0, "open /dev/realcom: %s", ERR);
	memset(&v, 0xA5, sizeof(v));
	STEP("REALCOM_IOC_VERSION");
	CHECK(ioctl(fd, REALCOM_IOC_VERSION, &v) == 0, "REALCOM_IOC_VERSION: %s", ERR);
	CHECK(v.api_version == REALCOM_API_VERSION, "api_version %u, want %u", v.api_version, REALCOM_API_VERSION);
	for (i = 0; i < 6; i++)
		CHECK(v.reserved[i] == 0, "realcom_version.reserved[%d] = %#x, want 0", i, v.reserved[i]);
	CHECK(v.api_version == 2, "api_version %u, want 2 (the first with feature bits)", v.api_version);
	CHECK((v.features & REALCOM_FEATS_KNOWN) == REALCOM_FEATS_KNOWN, "feature bits %#x, want %#x set", v.features,
	      REALCOM_FEATS_KNOWN);
	CHECK(_IOC_TYPE(REALCOM_IOC_VERSION) == 0xE7, "REALCOM_IOC_MAGIC %#x, want 0xE7",
	      (unsigned int)_IOC_TYPE(REALCOM_IOC_VERSION));
	STEP("the version 1 ioctl (magic 0xE5, FUSE's)");
	errno = 0;
	CHECK(ioctl(fd, _IOR(0xE5, 0x00, struct realcom_version), &v) == -1 && errno == ENOTTY,
	      "the 0xE5 REALCOM_IOC_VERSION: %s, want ENOTTY", errno ? ERR : "answered");
	note("api_version %u features %#x", v.api_version, v.features);
	close(fd);
	return 0;
}

static int bind_expect(int fd, struct realcom_bind *b, int want_errno, const char *what)
{
	int r = ioctl(fd, REALCOM_IOC_BIND, b);

	if (want_errno == 0)
		CHECK(r == 0, "%s: BIND failed: %s", what, ERR);
	else
		CHECK(r == -1 && errno == want_errno, "%s: BIND returned %d (%s), want %s", what, r,
		      r ? ERR : "success", strerror(want_errno));
	return 0;
}

/* /sys/class/tty/ttyR<index>/label reads back what BIND gave, and a newline. */
static int label_expect(int index, const char *want)
{
	char path[96], got[REALCOM_LABEL_SIZE + 8] = "";
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/class/tty/ttyR%d/label", index);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0, "open %s: %s", path, ERR);
	n = read(fd, got, sizeof(got) - 1);
	close(fd);
	CHECK(n == (ssize_t)strlen(want) + 1 && !memcmp(got, want, strlen(want)) && got[n - 1] == '\n',
	      "%s reads \"%.*s\" (%zd bytes), want \"%s\\n\"", path, n > 0 ? (int)n : 0, got, n, want);
	return 0;
}

static int t_bind_errors(void)
{
	struct realcom_bind b;
	char path[64];
	uint8_t buf[64];
	uint32_t small = 0;
	struct termios t;
	int fd, fd2, fd3, r, i;

	fd = open("/dev/realcom", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	CHECK(fd >= 0, "open /dev/realcom: %s", ERR);
	STEP("bind errors");
	memset(&b, 0, sizeof(b));
	b.index = REALCOM_MAX_PORTS;
	TRY(bind_expect(fd, &b, EINVAL, "index 256"));
	b.index = 0xFFFFFFFFu;
	TRY(bind_expect(fd, &b, EINVAL, "index 0xffffffff"));
	memset(&b, 0, sizeof(b));
	b.index = (uint32_t)idx;
	b.flags = 1;
	TRY(bind_expect(fd, &b, EINVAL, "flags 1"));
	for (i = 0; i < 6; i += 5) {
		memset(&b, 0, sizeof(b));
		b.index = (uint32_t)idx;
		b.reserved[i] = 1;
		TRY(bind_expect(fd, &b, EINVAL, i ? "reserved[5] 1" : "reserved[0] 1"));
	}
	{
		static const char *const bad[] = { "a/b", "..", ".", "a b", "h\xc3\xa9", "a:b" };

		for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
			memset(&b, 0, sizeof(b));
			b.index = (uint32_t)idx;
			strcpy(b.label, bad[i]);
			TRY(bind_expect(fd, &b, EINVAL, bad[i]));
		}
	}
	memset(&b, 0, sizeof(b));
	b.index = (uint32_t)idx;
	memset(b.label, 'a', sizeof(b.label));
	TRY(bind_expect(fd, &b, EINVAL, "a label without its NUL"));
	memset(&b, 0, sizeof(b));
	b.index = (uint32_t)idx;
	strcpy(b.label, "ok");
	b.label[5] = 'x';
	TRY(bind_expect(fd, &b, EINVAL, "a label with bytes after its NUL"));
	tty_path(path, sizeof(path), idx);
	CHECK(access(path, F_OK) != 0, "%s exists after failed binds", path);

	STEP("unknown ioctls");
	r = ioctl(fd, _IO(REALCOM_IOC_MAGIC, 0x7f));
	CHECK(r == -1 && errno == ENOTTY, "unknown ioctl _IO(0xE5, 0x7f): %d (%s), want ENOTTY", r, r ? ERR : "success");
	r = ioctl(fd, _IOR(REALCOM_IOC_MAGIC, 0x00, uint32_t), &small);
	CHECK(r == -1 && errno == ENOTTY, "VERSION's number with a 4-byte size: %d (%s), want ENOTTY (dispatch on the full number)",
	      r, r ? ERR : "success");
	r = ioctl(fd, TCGETS, &t);
	CHECK(r == -1 && errno == ENOTTY, "TCGETS on /dev/realcom: %d (%s), want ENOTTY", r, r ? ERR : "success");

	STEP("read/write before bind");
	r = (int)read(fd, buf, sizeof(buf));
	CHECK(r < 0, "read() on an unbound /dev/realcom returned %d, want an error", r);
	note("read before bind: %s", ERR);
	memset(buf, 0, sizeof(buf));
	((struct realcom_hdr *)buf)->type = REALCOM_MSG_RX_DATA;
	((struct realcom_hdr *)buf)->len = 1;
	r = (int)write(fd, buf, 5);
	CHECK(r < 0, "write() of RX_DATA on an unbound /dev/realcom returned %d, want an error", r);
	note("write before bind: %s", ERR);

	STEP("bind after the failures, with a label");
	memset(&b, 0, sizeof(b));
	b.index = (uint32_t)idx;
	memset(b.label, 'x', sizeof(b.label) - 1);
	memcpy(b.label, "192.0.2.10-1_", 13);
	TRY(bind_expect(fd, &b, 0, "a good bind after refused ones"));
	CHECK(wait_path(path, 1, TMO) == 0, "%s did not appear", path);
	TRY(label_expect(idx, b.label));
	r = ioctl(fd, _IO(REALCOM_IOC_MAGIC, 0x7f));
	CHECK(r == -1 && errno == ENOTTY, "unknown ioctl on a bound fd: %d (%s), want ENOTTY", r, r ? ERR : "success");

	STEP("same index twice");
	fd2 = open("/dev/realcom", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	CHECK(fd2 >= 0, "open /dev/realcom: %s", ERR);
	TRY(bind_expect(fd2, &b, EBUSY, "same index on a second fd"));
	b.index = (uint32_t)idx + 1;
	memset(b.label, 0, sizeof(b.label));
	TRY(bind_expect(fd2, &b, 0, "another index on the second fd"));
	TRY(label_expect(idx + 1, ""));
	STEP("rebind a bound fd");
	b.index = (uint32_t)idx + 2;
	r = ioctl(fd, REALCOM_IOC_BIND, &b);
	CHECK(r == -1 && (errno == EBUSY || errno == EINVAL), "BIND on an already bound fd: %d (%s), want EBUSY or EINVAL",
	      r, r ? ERR : "success");
	tty_path(path, sizeof(path), idx + 2);
	CHECK(access(path, F_OK) != 0, "%s exists after a refused rebind", path);

	STEP("close frees the index");
	close(fd);
	tty_path(path, sizeof(path), idx);
	CHECK(wait_path(path, 0, TMO) == 0, "%s still there %d ms after its daemon closed /dev/realcom", path, TMO);
	fd3 = open("/dev/realcom", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	CHECK(fd3 >= 0, "open /dev/realcom: %s", ERR);
	b.index = (uint32_t)idx;
	TRY(bind_expect(fd3, &b, 0, "the index again after its daemon closed"));
	close(fd3);
	close(fd2);
	return 0;
}

static int write_expect(int fd, const void *buf, size_t n, int want_errno, const char *what)
{
	ssize_t r = write(fd, buf, n);

	CHECK(r == -1 && errno == want_errno, "%s: write() returned %zd (%s), want %s", what, r,
	      r < 0 ? ERR : "accepted", strerror(want_errno));
	return 0;
}

struct msgbuf {
	struct realcom_hdr h;
	uint8_t p[REALCOM_MAX_PAYLOAD + 16];
};

static size_t mk(struct msgbuf *m, uint16_t type, uint16_t len, const void *p, size_t plen)
{
	memset(m, 0, sizeof(*m));
	m->h.type = type;
	m->h.len = len;
	if (p)
		memcpy(m->p, p, plen);
	return sizeof(m->h) + plen;
}

static int t_bad_messages(void)
{
	struct dmn d;
	struct msgbuf m;
	uint8_t two[2 * (sizeof(struct realcom_hdr) + 2)], got[8];
	uint8_t pad1[4] = { 0, 1, 0, 0 };
	int app;
	ssize_t r;
	size_t n;

	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	STEP("refused messages");
	n = mk(&m, 0x7f, 0, NULL, 0);
	TRY(write_expect(d.fd, &m, n, EINVAL, "unknown type 0x7f"));
	n = mk(&m, REALCOM_MSG_TX_DATA, 1, "x", 1);
	TRY(write_expect(d.fd, &m, n, EINVAL, "a kernel->daemon type (TX_DATA) written by the daemon"));
	n = mk(&m, REALCOM_MSG_RX_DATA, REALCOM_MAX_PAYLOAD + 1, NULL, REALCOM_MAX_PAYLOAD + 1);
	TRY(write_expect(d.fd, &m, n, EINVAL, "RX_DATA of REALCOM_MAX_PAYLOAD + 1 bytes"));
	n = mk(&m, REALCOM_MSG_RX_DATA, 10, "bad!!", 5);
	TRY(write_expect(d.fd, &m, n, EINVAL, "RX_DATA whose header says 10 bytes, 5 written"));
	TRY(write_expect(d.fd, &m, 2, EINVAL, "2 bytes (less than a header)"));
	pad1[0] = REALCOM_MODEM_CTS;
	n = mk(&m, REALCOM_MSG_MODEM_STATUS, 4, pad1, 4);
	TRY(write_expect(d.fd, &m, n, EINVAL, "MODEM_STATUS with pad[0] != 0"));
	n = mk(&m, REALCOM_MSG_MODEM_STATUS, 3, pad1, 3);
	TRY(write_expect(d.fd, &m, n, EINVAL, "MODEM_STATUS of 3 bytes"));
	n = mk(&m, REALCOM_MSG_LINK, 8, NULL, 8);
	TRY(write_expect(d.fd, &m, n, EINVAL, "LINK of 8 bytes"));
	pad1[0] = REALCOM_EV_PARITY;
	n = mk(&m, REALCOM_MSG_LINE_EVENT, 4, pad1, 4);
	TRY(write_expect(d.fd, &m, n, EINVAL, "LINE_EVENT with pad[0] != 0"));
	n = mk(&m, REALCOM_MSG_DRAIN_DONE, 4, NULL, 4);
	TRY(write_expect(d.fd, &m, n, EINVAL, "DRAIN_DONE of 4 bytes"));
	n = mk(&m, REALCOM_MSG_OQUEUE, 2, NULL, 2);
	TRY(write_expect(d.fd, &m, n, EINVAL, "OQUEUE of 2 bytes"));
	pad1[0] = 1;
	n = mk(&m, REALCOM_MSG_LINK, 4, pad1, 4);
	TRY(write_expect(d.fd, &m, n, EINVAL, "LINK with pad[0] != 0"));

	STEP("a good RX_DATA after the refused ones");
	CHECK(d_send(&d, REALCOM_MSG_RX_DATA, "ok", 2) == 0, "RX_DATA \"ok\" refused: %s", ERR);
	memset(got, 0, sizeof(got));
	TRY(app_read_n(app, got, 2));
	CHECK(memcmp(got, "ok", 2) == 0, "application read \"%.2s\", want \"ok\" (a refused message leaked data)", got);

	STEP("two messages in one write");
	memset(two, 0, sizeof(two));
	((struct realcom_hdr *)two)->type = REALCOM_MSG_RX_DATA;
	((struct realcom_hdr *)two)->len = 2;
	memcpy(two + 4, "ab", 2);
	((struct realcom_hdr *)(two + 6))->type = REALCOM_MSG_RX_DATA;
	((struct realcom_hdr *)(two + 6))->len = 2;
	memcpy(two + 10, "cd", 2);
	r = write(d.fd, two, sizeof(two));
	CHECK(r == 12 || r == 6 || (r == -1 && errno == EINVAL),
	      "write() of two whole messages returned %zd (%s); want 12, 6 (first only) or EINVAL", r, r < 0 ? ERR : "");
	note("two messages in one write(): %zd%s", r, r < 0 ? " (EINVAL)" : "");
	CHECK(d_send(&d, REALCOM_MSG_RX_DATA, "zz", 2) == 0, "RX_DATA \"zz\": %s", ERR);
	n = r == 12 ? 6 : r == 6 ? 4 : 2;
	memset(got, 0, sizeof(got));
	TRY(app_read_n(app, got, n));
	CHECK(memcmp(got, r == 12 ? "abcdzz" : r == 6 ? "abzz" : "zz", n) == 0,
	      "application read \"%.*s\" after a write() that returned %zd", (int)n, got, r);
	close(app);
	d_close(&d);
	return 0;
}

/* read() gives whole messages only, as many as fit; POLLIN follows the queue */
static int t_read_whole(void)
{
	struct dmn d;
	uint8_t buf[256], data[10], got[10];
	static const size_t sizes[] = { 8, 5, 6, 13, 64 };
	size_t have = 0, i = 0;
	int64_t deadline;
	int app;
	ssize_t r;

	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	TRY(d_pause(&d, 1));
	STEP("POLLIN clear while nothing is queued");
	CHECK(!(wait_fd(d.fd, POLLIN, 0) & POLLIN), "POLLIN on /dev/realcom with nothing queued");
	memcpy(data, "0123456789", 10);
	TRY(app_write_all(app, data, 10));
	STEP("POLLIN after the application wrote");
	CHECK(wait_fd(d.fd, POLLIN, TMO) & POLLIN, "no POLLIN on /dev/realcom after the application wrote");
	r = read(d.fd, buf, 3);
	CHECK(r < 0, "read() with a 3-byte buffer returned %zd, want an error (not part of a message)", r);
	note("read(3 bytes): %s", ERR);
	STEP("small reads");
	deadline = now_ms() + TMO;
	while (have < 10 && left_ms(deadline)) {
		size_t sz = sizes[i++ % 5], off = 0;

		r = read(d.fd, buf, sz);
		if (r < 0) {
			CHECK(errno == EAGAIN || sz < 4 + 10 - have || errno == EINVAL || errno == EMSGSIZE || errno == ENOSPC,
			      "read(%zu) while %zu bytes are queued: %s", sz, 10 - have, ERR);
			if (errno == EAGAIN)
				wait_fd(d.fd, POLLIN, left_ms(deadline));
			continue;
		}
		CHECK(r > 0 && (size_t)r <= sz, "read(%zu) returned %zd", sz, r);
		while (off < (size_t)r) {
			struct realcom_hdr h;

			CHECK((size_t)r - off >= sizeof(h), "read(%zu) returned %zd bytes: a partial header", sz, r);
			memcpy(&h, buf + off, sizeof(h));
			CHECK(h.len <= (size_t)r - off - sizeof(h), "read(%zu) returned %zd bytes: a partial %s message of len %u",
			      sz, r, msg_name(h.type), h.len);
			if (h.type == REALCOM_MSG_TX_DATA) {
				CHECK(have + h.len <= 10, "more TX data than written");
				memcpy(got + have, buf + off + sizeof(h), h.len);
				have += h.len;
			}
			off += sizeof(h) + h.len;
		}
	}
	CHECK(have == 10, "only %zu of 10 TX bytes came out of small reads", have);
	CHECK(memcmp(got, data, 10) == 0, "TX data changed by small reads: \"%.10s\"", got);
	STEP("POLLIN clear after everything was read");
	CHECK(!(wait_fd(d.fd, POLLIN, 0) & POLLIN), "POLLIN on /dev/realcom after its queue was read empty");
	CHECK(wait_fd(d.fd, POLLOUT, 0) & POLLOUT, "no POLLOUT on /dev/realcom while the application's buffer is empty");
	TRY(d_pause(&d, 0));
	close(app);
	d_close(&d);
	return 0;
}

static int t_open_close(void)
{
	struct dmn d;
	struct qmsg *m;
	uint32_t mask = 0;
	int a1, a2, a3;

	TRY(d_open(&d, idx));
	STEP("first open");
	TRY(app_open_nosync(idx, &a1));
	m = d_expect(&d, REALCOM_MSG_OPEN, TMO, &mask);
	CHECK(m, "no MSG_OPEN after the first open (%s; skipped: [%s])", d_why(&d), d.skipped);
	CHECK(m->len == 0, "MSG_OPEN with len %u, want 0", m->len);
	free(m);
	TRY(app_sync(&d, a1));
	STEP("second open");
	TRY(app_open_nosync(idx, &a2));
	mask = 0;
	TRY(app_sync_mask(&d, a2, &mask));
	CHECK(!(mask & (1u << REALCOM_MSG_OPEN)), "MSG_OPEN for a second open of an open tty");
	STEP("first of two closes");
	close(a1);
	mask = 0;
	TRY(app_sync_mask(&d, a2, &mask));
	CHECK(!(mask & (1u << REALCOM_MSG_CLOSE)), "MSG_CLOSE when one of two opens closed");
	STEP("last close");
	close(a2);
	mask = 0;
	m = d_expect(&d, REALCOM_MSG_CLOSE, TMO, &mask);
	CHECK(m, "no MSG_CLOSE after the last close (%s; skipped: [%s])", d_why(&d), d.skipped);
	CHECK(m->len == 0, "MSG_CLOSE with len %u, want 0", m->len);
	free(m);
	CHECK(!(mask & (1u << REALCOM_MSG_OPEN)), "MSG_OPEN during close");
	STEP("open again");
	TRY(app_open_nosync(idx, &a3));
	m = d_expect(&d, REALCOM_MSG_OPEN, TMO, NULL);
	CHECK(m, "no MSG_OPEN when opened again (%s; skipped: [%s])", d_why(&d), d.skipped);
	free(m);
	close(a3);
	m = d_expect(&d, REALCOM_MSG_CLOSE, TMO, NULL);
	CHECK(m, "no MSG_CLOSE after the second session (%s; skipped: [%s])", d_why(&d), d.skipped);
	free(m);
	CHECK(d_count(&d, REALCOM_MSG_OPEN) == 2 && d_count(&d, REALCOM_MSG_CLOSE) == 2,
	      "%lu MSG_OPEN and %lu MSG_CLOSE for two sessions", d_count(&d, REALCOM_MSG_OPEN), d_count(&d, REALCOM_MSG_CLOSE));
	d_close(&d);
	return 0;
}

/* termios -> MSG_LINE */

struct line_want {
	const char *what;
	speed_t speed;		/* B... */
	uint32_t baud;
	tcflag_t cflag_set, cflag_clear, iflag_set;
	int vstart, vstop;	/* -1: leave */
	struct realcom_line want;
};

static int check_line(const struct realcom_line *l, const struct realcom_line *w, const char *what)
{
	CHECK(l->data_bits == w->data_bits && l->parity == w->parity && l->stop_bits == w->stop_bits &&
	      l->flow == w->flow,
	      "%s: MSG_LINE {baud %u, data %u, parity %u, stop %u, flow %#x}, want {%u, %u, %u, %u, %#x}", what,
	      l->baud, l->data_bits, l->parity, l->stop_bits, l->flow,
	      w->baud, w->data_bits, w->parity, w->stop_bits, w->flow);
	if (w->flow & (REALCOM_FLOW_IXON | REALCOM_FLOW_IXOFF))
		CHECK(l->xon == w->xon && l->xoff == w->xoff, "%s: MSG_LINE xon %#x xoff %#x, want %#x %#x", what,
		      l->xon, l->xoff, w->xon, w->xoff);
	CHECK(l->pad[0] == 0 && l->pad[1] == 0, "%s: MSG_LINE pad not zero", what);
	return 0;
}

static int line_cases(const struct line_want *w, int n)
{
	struct dmn d;
	struct termios t;
	struct realcom_line l;
	int app, i;

	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	for (i = 0; i < n; i++) {
		STEP("termios %s", w[i].what);
		CHECK(tcgetattr(app, &t) == 0, "tcgetattr: %s", ERR);
		t.c_cflag &= ~(CSIZE | PARENB | PARODD | CMSPAR | CSTOPB | CRTSCTS);
		t.c_iflag &= ~(IXON | IXOFF | IXANY);
		t.c_cflag |= w[i].cflag_set | CLOCAL | CREAD;
		t.c_cflag &= ~w[i].cflag_clear;
		t.c_iflag |= w[i].iflag_set;
		if (w[i].vstart >= 0)
			t.c_cc[VSTART] = (cc_t)w[i].vstart;
		if (w[i].vstop >= 0)
			t.c_cc[VSTOP] = (cc_t)w[i].vstop;
		cfsetspeed(&t, w[i].speed);
		CHECK(tcsetattr(app, TCSANOW, &t) == 0, "%s: tcsetattr: %s", w[i].what, ERR);
		TRY(d_expect_line(&d, w[i].baud, &l, NULL));
		TRY(check_line(&l, &w[i].want, w[i].what));
	}
	close(app);
	d_close(&d);
	return 0;
}

#define LW(wh, sp, b, cs, is, xs, xp, db, par, st, fl, xn, xf) \
	{ wh, sp, b, cs, 0, is, xs, xp, { b, db, par, st, fl, xn, xf, { 0, 0 } } }

static int t_termios_7e1(void)
{
	static const struct line_want w[] = {
		LW("19200 7E1", B19200, 19200, CS7 | PARENB, 0, -1, -1, 7, REALCOM_PARITY_EVEN, REALCOM_STOP_1, 0, 0, 0),
		LW("9600 8N1", B9600, 9600, CS8, 0, -1, -1, 8, REALCOM_PARITY_NONE, REALCOM_STOP_1, 0, 0, 0),
		LW("115200 6E2", B115200, 115200, CS6 | PARENB | CSTOPB, 0, -1, -1, 6, REALCOM_PARITY_EVEN,
		   REALCOM_STOP_2, 0, 0, 0),
	};

	return line_cases(w, 3);
}

static int t_termios_5o2(void)
{
	static const struct line_want w[] = {
		LW("9600 5O2", B9600, 9600, CS5 | PARENB | PARODD | CSTOPB, 0, -1, -1, 5, REALCOM_PARITY_ODD,
		   REALCOM_STOP_2, 0, 0, 0),
		LW("38400 7O1", B38400, 38400, CS7 | PARENB | PARODD, 0, -1, -1, 7, REALCOM_PARITY_ODD,
		   REALCOM_STOP_1, 0, 0, 0),
	};

	return line_cases(w, 2);
}

static int t_termios_mark_space(void)
{
	static const struct line_want w[] = {
		LW("38400 8M1 (CMSPAR|PARODD)", B38400, 38400, CS8 | PARENB | PARODD | CMSPAR, 0, -1, -1, 8,
		   REALCOM_PARITY_MARK, REALCOM_STOP_1, 0, 0, 0),
		LW("57600 8S1 (CMSPAR)", B57600, 57600, CS8 | PARENB | CMSPAR, 0, -1, -1, 8, REALCOM_PARITY_SPACE,
		   REALCOM_STOP_1, 0, 0, 0),
		LW("600 7M2", B600, 600, CS7 | PARENB | PARODD | CMSPAR | CSTOPB, 0, -1, -1, 7, REALCOM_PARITY_MARK,
		   REALCOM_STOP_2, 0, 0, 0),
		LW("4800 CMSPAR without PARENB: none", B4800, 4800, CS8 | CMSPAR, 0, -1, -1, 8, REALCOM_PARITY_NONE,
		   REALCOM_STOP_1, 0, 0, 0),
	};

	return line_cases(w, 4);
}

static int t_termios_crtscts(void)
{
	static const struct line_want w[] = {
		LW("115200 CRTSCTS", B115200, 115200, CS8 | CRTSCTS, 0, -1, -1, 8, REALCOM_PARITY_NONE,
		   REALCOM_STOP_1, REALCOM_FLOW_CTS | REALCOM_FLOW_RTS, 0, 0),
		LW("19200 no flow control", B19200, 19200, CS8, 0, -1, -1, 8, REALCOM_PARITY_NONE, REALCOM_STOP_1,
		   0, 0, 0),
	};

	return line_cases(w, 2);
}

static int t_termios_ixon_ixoff(void)
{
	static const struct line_want w[] = {
		LW("4800 IXON|IXOFF VSTART 0x05 VSTOP 0x07", B4800, 4800, CS8, IXON | IXOFF, 0x05, 0x07, 8,
		   REALCOM_PARITY_NONE, REALCOM_STOP_1, REALCOM_FLOW_IXON | REALCOM_FLOW_IXOFF, 0x05, 0x07),
		LW("300 IXON only, VSTART 0x11 VSTOP 0x13", B300, 300, CS8, IXON, 0x11, 0x13, 8, REALCOM_PARITY_NONE,
		   REALCOM_STOP_1, REALCOM_FLOW_IXON, 0x11, 0x13),
		LW("150 IXOFF only, VSTART 0x21 VSTOP 0x22", B150, 150, CS8, IXOFF, 0x21, 0x22, 8, REALCOM_PARITY_NONE,
		   REALCOM_STOP_1, REALCOM_FLOW_IXOFF, 0x21, 0x22),
		LW("230400 CRTSCTS with IXON|IXOFF", B230400, 230400, CS8 | CRTSCTS, IXON | IXOFF, 0x11, 0x13, 8,
		   REALCOM_PARITY_NONE, REALCOM_STOP_1,
		   REALCOM_FLOW_CTS | REALCOM_FLOW_RTS | REALCOM_FLOW_IXON | REALCOM_FLOW_IXOFF, 0x11, 0x13),
	};

	return line_cases(w, 4);
}

static int set_custom_baud(int fd, uint32_t baud, tcflag_t cflag)
{
	struct rc_termios2 t2;

	CHECK(ioctl(fd, RC_TCGETS2, &t2) == 0, "TCGETS2: %s", ERR);
	t2.c_cflag &= ~(RC_CBAUD | (RC_CBAUD << RC_IBSHIFT) | CSIZE | PARENB | PARODD | CMSPAR | CSTOPB | CRTSCTS);
	t2.c_cflag |= RC_BOTHER | cflag | CLOCAL | CREAD;
	t2.c_ispeed = t2.c_ospeed = baud;
	CHECK(ioctl(fd, RC_TCSETS2, &t2) == 0, "TCSETS2 BOTHER %u: %s", baud, ERR);
	return 0;
}

static int t_termios_custom_baud(void)
{
	static const struct { uint32_t baud; tcflag_t cflag; struct realcom_line want; } w[] = {
		{ 250000, CS8, { 250000, 8, REALCOM_PARITY_NONE, REALCOM_STOP_1, 0, 0, 0, { 0, 0 } } },
		{ 31250, CS7 | PARENB | PARODD | CMSPAR, { 31250, 7, REALCOM_PARITY_MARK, REALCOM_STOP_1, 0, 0, 0, { 0, 0 } } },
		{ 921600, CS8 | CSTOPB, { 921600, 8, REALCOM_PARITY_NONE, REALCOM_STOP_2, 0, 0, 0, { 0, 0 } } },
	};
	struct rc_termios2 t2;
	struct realcom_line l;
	struct dmn d;
	int app, i;

	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	for (i = 0; i < 3; i++) {
		STEP("termios2 BOTHER %u", w[i].baud);
		TRY(set_custom_baud(app, w[i].baud, w[i].cflag));
		TRY(d_expect_line(&d, w[i].baud, &l, NULL));
		TRY(check_line(&l, &w[i].want, "custom baud"));
		CHECK(ioctl(app, RC_TCGETS2, &t2) == 0, "TCGETS2: %s", ERR);
		CHECK(t2.c_ospeed == w[i].baud, "TCGETS2 after TCSETS2 BOTHER %u reads c_ospeed %u", w[i].baud, t2.c_ospeed);
	}
	close(app);
	d_close(&d);
	return 0;
}

/* data */

static int t_tx_all_bytes(void)
{
	uint8_t b[512], got[512];
	struct dmn d;
	int app, i;

	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	for (i = 0; i < 512; i++)
		b[i] = (uint8_t)(i < 256 ? i : 511 - i);
	STEP("write 0..255, 255..0");
	TRY(app_write_all(app, b, 512));
	TRY(d_collect_tx(&d, got, 512, NULL, NULL));
	for (i = 0; i < 512; i++)
		CHECK(got[i] == b[i], "TX byte %d is %#x, want %#x", i, got[i], b[i]);
	close(app);
	d_close(&d);
	return 0;
}

static uint8_t pat(size_t i)
{
	return (uint8_t)(i * 7 + i / 251);
}

static int t_tx_large(void)
{
	size_t n = 3 * 20000, i;
	uint8_t *b = malloc(n), *got = malloc(n);
	struct dmn d;
	int app, nmsg, maxlen;

	CHECK(b && got, "malloc");
	for (i = 0; i < n; i++)
		b[i] = pat(i);
	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	STEP("3 writes of 20000 bytes");
	for (i = 0; i < 3; i++)
		TRY(app_write_all(app, b + i * 20000, 20000));
	TRY(d_collect_tx(&d, got, n, &nmsg, &maxlen));
	for (i = 0; i < n; i++)
		CHECK(got[i] == b[i], "TX byte %zu is %#x, want %#x", i, got[i], b[i]);
	CHECK(maxlen <= REALCOM_MAX_PAYLOAD, "a TX_DATA message of %d bytes (max %d)", maxlen, REALCOM_MAX_PAYLOAD);
	CHECK(nmsg >= (int)((n + REALCOM_MAX_PAYLOAD - 1) / REALCOM_MAX_PAYLOAD), "%d messages for %zu bytes", nmsg, n);
	note("%zu bytes in %d TX_DATA messages, largest %d", n, nmsg, maxlen);
	close(app);
	d_close(&d);
	free(b);
	free(got);
	return 0;
}

/*
 * Pop messages until `want` bytes of TX data came; the first MSG_LINE with
 * `baud` is noted in *line_at as the TX bytes seen before it (-1: none).
 */
static int tx_until(struct dmn *d, size_t want, uint8_t *got, uint32_t baud, long *line_at)
{
	int64_t deadline = now_ms() + TMO;
	size_t n = 0;
	struct qmsg *m;

	*line_at = -1;
	while (n < want || *line_at < 0) {
		m = d_pop(d, left_ms(deadline));
		CHECK(m, "%zu of %zu TX bytes, MSG_LINE %u %sseen: nothing more (%s)", n, want, baud,
		      *line_at < 0 ? "not " : "", d_why(d));
		if (m->type == REALCOM_MSG_TX_DATA) {
			if (n + m->len > want) {
				free(m);
				return failf("more TX data than written");
			}
			memcpy(got + n, m->data, m->len);
			n += m->len;
		} else if (m->type == REALCOM_MSG_LINE && m->len == sizeof(struct realcom_line)) {
			struct realcom_line l;

			memcpy(&l, m->data, sizeof(l));
			if (l.baud == baud && *line_at < 0)
				*line_at = (long)n;
		}
		free(m);
	}
	return 0;
}

/*
 * TCSANOW applies at once, as on a UART: its MSG_LINE overtakes data still
 * queued.  TCSADRAIN waits for the data first (the tty layer drains before
 * set_termios), so its MSG_LINE comes after every byte written before it.
 */
static int t_tx_order_line(void)
{
	uint8_t a[200], got[200];
	struct termios t;
	struct blk b;
	struct dmn d;
	long at;
	int app;

	memset(a, 'A', 100);
	memset(a + 100, 'B', 100);
	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	TRY(d_pause(&d, 1));
	STEP("write A, TCSANOW 19200, write B, with the daemon not reading");
	TRY(app_write_all(app, a, 100));
	CHECK(tcgetattr(app, &t) == 0, "tcgetattr: %s", ERR);
	cfsetspeed(&t, B19200);
	CHECK(tcsetattr(app, TCSANOW, &t) == 0, "tcsetattr: %s", ERR);
	TRY(app_write_all(app, a + 100, 100));
	TRY(d_pause(&d, 0));
	TRY(tx_until(&d, 200, got, 19200, &at));
	CHECK(memcmp(got, a, 200) == 0, "TX data not A*100 B*100 in order");
	CHECK(at == 0, "TCSANOW: MSG_LINE 19200 came after %ld queued bytes, want ahead of them", at);
	STEP("write C, TCSADRAIN 38400 in a thread, with the daemon not reading");
	TRY(d_pause(&d, 1));
	memset(a, 'C', 100);
	TRY(app_write_all(app, a, 100));
	TRY(blk_start(&b, B_TCSADRAIN, app, B38400));
	CHECK(!blk_done(&b, QUIET), "tcsetattr(TCSADRAIN) returned (%d) before the data left", b.ret);
	TRY(d_pause(&d, 0));
	TRY(tx_until(&d, 100, got, 38400, &at));
	CHECK(blk_done(&b, TMO) && b.ret == 0, "tcsetattr(TCSADRAIN): %d %s", b.ret, strerror(b.err));
	blk_join(&b);
	CHECK(at == 100, "TCSADRAIN: MSG_LINE 38400 came after %ld of the 100 bytes written before it", at);
	close(app);
	d_close(&d);
	return 0;
}

/* SUnreclaim from /proc/meminfo, in KiB; -1 if unknown */
static long sunreclaim_kb(void)
{
	char line[128];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SUnreclaim: %ld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* a thread doing control calls on the application's tty */
struct ctl_burst {
	pthread_t th;
	int fd, efd, n, err;
	char what[64];
};

static void *ctl_burst_thread(void *arg)
{
	struct ctl_burst *c = arg;
	int dtr = TIOCM_DTR, i;
	uint64_t one = 1;
	struct termios t;

	for (i = 0; i < c->n && !c->err; i++) {
		if (ioctl(c->fd, TIOCMBIC, &dtr) || ioctl(c->fd, TIOCMBIS, &dtr)) {
			c->err = errno;
			snprintf(c->what, sizeof(c->what), "TIOCMBIC/BIS #%d", i);
		} else if (ioctl(c->fd, TIOCSBRK) || ioctl(c->fd, TIOCCBRK)) {
			c->err = errno;
			snprintf(c->what, sizeof(c->what), "TIOCSBRK/CBRK #%d", i);
		} else if (tcgetattr(c->fd, &t) || cfsetspeed(&t, i & 1 ? B4800 : B57600) ||
			   tcsetattr(c->fd, TCSANOW, &t)) {
			c->err = errno;
			snprintf(c->what, sizeof(c->what), "tcsetattr #%d", i);
		} else if (tcflow(c->fd, i & 1 ? TCION : TCIOFF) || tcflush(c->fd, TCIFLUSH)) {
			c->err = errno;
			snprintf(c->what, sizeof(c->what), "tcflow/tcflush #%d", i);
		}
	}
	if (write(c->efd, &one, sizeof(one)) < 0)
		perror("eventfd");
	return NULL;
}

/*
 * Control is state: with the daemon not reading, 50,000 TIOCCBRK (a break
 * that is off) cost no kernel memory and no message; then 500 rounds of DTR
 * pulses, break on/off, termios, XOFF/XON and input flushes return at once;
 * once the daemon reads again it gets each kind at most twice (a pulse), the
 * final state last, and no BREAK off for a break it never saw on.
 */
static int t_ctrl_state_bounded(void)
{
	unsigned long cnt[256];
	struct realcom_line l;
	struct ctl_burst c;
	struct termios t;
	struct realcom_modem mo;
	struct qmsg *m;
	long kb0, kb1;
	struct dmn d;
	int app, i, bits;
	uint32_t last_brk = 0;

	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	TRY(d_pause(&d, 1));
	kb0 = sunreclaim_kb();
	STEP("50,000 TIOCCBRK with the daemon not reading");
	for (i = 0; i < 50000; i++)
		CHECK(ioctl(app, TIOCCBRK) == 0, "TIOCCBRK #%d: %s", i, ERR);
	kb1 = sunreclaim_kb();
	note("SUnreclaim %ld -> %ld kB over 50,000 TIOCCBRK", kb0, kb1);
	CHECK(kb0 >= 0 && kb1 - kb0 < 1024, "50,000 TIOCCBRK took %ld kB of unreclaimable kernel memory", kb1 - kb0);
	STEP("500 rounds of control calls in a thread, the daemon not reading");
	memset(&c, 0, sizeof(c));
	c.fd = app;
	c.n = 500;
	c.efd = eventfd(0, EFD_CLOEXEC);
	CHECK(c.efd >= 0, "eventfd: %s", ERR);
	CHECK(pthread_create(&c.th, NULL, ctl_burst_thread, &c) == 0, "pthread_create failed");
	CHECK(wait_fd(c.efd, POLLIN, 3 * TMO) & POLLIN,
	      "control calls blocked with the daemon not reading (the thread did not finish in %d ms)", 3 * TMO);
	pthread_join(c.th, NULL);
	close(c.efd);
	CHECK(!c.err, "%s: %s", c.what, strerror(c.err));
	STEP("the daemon reads again, then a sync (TCSANOW 1200)");
	TRY(d_pause(&d, 0));
	CHECK(tcgetattr(app, &t) == 0, "tcgetattr: %s", ERR);
	cfsetspeed(&t, B1200);
	CHECK(tcsetattr(app, TCSANOW, &t) == 0, "tcsetattr 1200: %s", ERR);
	memset(cnt, 0, sizeof(cnt));
	for (;;) {
		m = d_pop(&d, TMO);
		CHECK(m, "no MSG_LINE 1200 after the burst (%s)", d_why(&d));
		cnt[m->type & 0xff]++;
		if (m->type == REALCOM_MSG_BREAK && m->len == 4) {
			memcpy(&last_brk, m->data, 4);
			if (cnt[REALCOM_MSG_BREAK] == 1)
				CHECK(last_brk == REALCOM_BREAK_ON,
				      "the first MSG_BREAK is %#x, want BREAK_ON (the break was off)", last_brk);
		}
		if (m->type == REALCOM_MSG_MODEM && m->len == sizeof(mo))
			memcpy(&mo, m->data, sizeof(mo));
		if (m->type == REALCOM_MSG_LINE && m->len == sizeof(l)) {
			memcpy(&l, m->data, sizeof(l));
			if (l.baud == 1200) {
				free(m);
				break;
			}
		}
		free(m);
	}
	note("after the burst: LINE %lu MODEM %lu BREAK %lu FLUSH %lu XCHAR %lu", cnt[REALCOM_MSG_LINE],
	     cnt[REALCOM_MSG_MODEM], cnt[REALCOM_MSG_BREAK], cnt[REALCOM_MSG_FLUSH], cnt[REALCOM_MSG_XCHAR]);
	/* the sync itself is one LINE */
	CHECK(cnt[REALCOM_MSG_LINE] <= 2, "%lu MSG_LINE for 500 termios changes and a sync, want at most 2",
	      cnt[REALCOM_MSG_LINE]);
	CHECK(cnt[REALCOM_MSG_MODEM] <= 2, "%lu MSG_MODEM for 500 DTR pulses, want at most 2", cnt[REALCOM_MSG_MODEM]);
	CHECK(cnt[REALCOM_MSG_BREAK] <= 2, "%lu MSG_BREAK for 50,000 TIOCCBRK and 500 on/off, want at most 2",
	      cnt[REALCOM_MSG_BREAK]);
	CHECK(cnt[REALCOM_MSG_FLUSH] <= 1 && cnt[REALCOM_MSG_XCHAR] <= 1, "%lu MSG_FLUSH, %lu MSG_XCHAR, want 1 each",
	      cnt[REALCOM_MSG_FLUSH], cnt[REALCOM_MSG_XCHAR]);
	CHECK(!cnt[REALCOM_MSG_MODEM] || (mo.lines & REALCOM_MODEM_DTR), "the last MSG_MODEM %#x has DTR off", mo.lines);
	CHECK(!cnt[REALCOM_MSG_BREAK] || last_brk == REALCOM_BREAK_OFF, "the last MSG_BREAK is %#x, want BREAK_OFF", last_brk);
	TRY(modem_get(app, &bits));
	CHECK(bits & TIOCM_DTR, "TIOCMGET %#x: DTR not up after the pulses", bits);
	close(app);
	d_close(&d);
	return 0;
}

/*
 * Stopped output holds data, never control: after tcflow(TCOOFF) with 4 KiB
 * queued, DTR off, a new baud and an input flush reach the daemon at once;
 * the same while the daemon holds TX (MSG_TX_HOLD, the device stopped
 * reading).  The data follows when output starts / the hold ends.
 */
static int t_ctrl_ahead_of_stopped_tx(void)
{
	struct realcom_tx_hold th = { .hold = 1 };
	uint8_t data[4096], got[4096];
	int dtr = TIOCM_DTR, app, round, r;
	struct realcom_modem mo;
	struct termios t;
	struct qmsg *m;
	struct dmn d;

	memset(data, 'S', sizeof(data));
	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	for (round = 0; round < 2; round++) {
		const char *how = round ? "MSG_TX_HOLD" : "tcflow(TCOOFF)";

		STEP("%s, 4 KiB written", how);
		if (round) {
			r = d_send(&d, REALCOM_MSG_TX_HOLD, &th, sizeof(th));
			CHECK(r == 0, "MSG_TX_HOLD 1: %s", strerror(-r));
		} else {
			CHECK(tcflow(app, TCOOFF) == 0, "tcflow(TCOOFF): %s", ERR);
		}
		TRY(app_write_all(app, data, sizeof(data)));
		STEP("%s: DTR off, TCSANOW 19200 / 38400", how);
		CHECK(ioctl(app, TIOCMBIC, &dtr) == 0, "TIOCMBIC: %s", ERR);
		CHECK(tcgetattr(app, &t) == 0, "tcgetattr: %s", ERR);
		cfsetspeed(&t, round ? B38400 : B19200);
		CHECK(tcsetattr(app, TCSANOW, &t) == 0, "tcsetattr: %s", ERR);
		d.skipped[0] = 0;
		m = d_expect(&d, REALCOM_MSG_MODEM, TMO, NULL);
		CHECK(m, "%s: no MSG_MODEM while data waits (%s; skipped: [%s])", how, d_why(&d), d.skipped);
		memcpy(&mo, m->data, sizeof(mo));
		free(m);
		CHECK(!(mo.lines & REALCOM_MODEM_DTR), "%s: MSG_MODEM %#x, want DTR off", how, mo.lines);
		TRY(d_expect_line(&d, round ? 38400 : 19200, NULL, NULL));
		CHECK(d_count(&d, REALCOM_MSG_TX_DATA) == 0, "%s: TX data went out while held", how);
		CHECK(ioctl(app, TIOCMBIS, &dtr) == 0, "TIOCMBIS: %s", ERR);
		if (round) {
			th.hold = 0;
			r = d_send(&d, REALCOM_MSG_TX_HOLD, &th, sizeof(th));
			CHECK(r == 0, "MSG_TX_HOLD 0: %s", strerror(-r));
		} else {
			CHECK(tcflow(app, TCOON) == 0, "tcflow(TCOON): %s", ERR);
		}
		TRY(d_collect_tx(&d, got, sizeof(got), NULL, NULL));
		CHECK(memcmp(got, data, sizeof(got)) == 0, "%s: TX data changed", how);
		d_lock(&d);
		d.counts[REALCOM_MSG_TX_DATA] = 0;
		d_unlock(&d);
	}
	STEP("MSG_TX_HOLD with a bad value");
	th.hold = 2;
	r = d_send(&d, REALCOM_MSG_TX_HOLD, &th, sizeof(th));
	CHECK(r == -EINVAL, "MSG_TX_HOLD 2: %s, want EINVAL", strerror(-r));
	close(app);
	d_close(&d);
	return 0;
}

/* the daemon sends b[0..n) as RX_DATA (the first message 256 bytes, then
 * up to 4096) while the application reads into got: the tty takes only what
 * its ldisc has room for, so both sides go at once, bounded by TMO without
 * progress */
static int rx_pump(struct dmn *d, int app, const uint8_t *b, size_t n, uint8_t *got)
{
	int64_t deadline = now_ms() + TMO;
	size_t sent = 0, rcvd = 0, len;
	struct pollfd p[2];
	ssize_t r;
	int e;

	while (rcvd < n) {
		CHECK(left_ms(deadline), "RX stalled: %zu of %zu bytes sent, %zu read by the application", sent, n, rcvd);
		p[0].fd = d->fd;
		p[0].events = sent < n ? POLLOUT : 0;
		p[1].fd = app;
		p[1].events = POLLIN;
		p[0].revents = p[1].revents = 0;
		if (poll(p, 2, left_ms(deadline)) < 0)
			continue;
		if (p[0].revents & POLLOUT) {
			len = sent == 0 ? 256 : n - sent < 4096 ? n - sent : 4096;
			e = d_send_fd(d->fd, REALCOM_MSG_RX_DATA, b + sent, len, 0);
			CHECK(e == 0 || e == -EAGAIN, "RX_DATA of %zu bytes after %zu: %s", len, sent, strerror(-e));
			if (e == 0) {
				sent += len;
				deadline = now_ms() + TMO;
			}
		}
		if (p[1].revents & POLLIN) {
			r = read(app, got + rcvd, n - rcvd);
			CHECK(r > 0 || (r < 0 && errno == EAGAIN), "application read after %zu bytes: %s", rcvd,
			      r == 0 ? "returned 0" : ERR);
			if (r > 0) {
				rcvd += (size_t)r;
				CHECK(rcvd <= sent, "the application read %zu bytes, only %zu sent", rcvd, sent);
				deadline = now_ms() + TMO;
			}
		}
	}
	return 0;
}

static int t_rx_data(void)
{
	static uint8_t b[256 + 64 * 4096], got[sizeof(b)];
	struct dmn d;
	size_t i;
	int app, r;

	for (i = 0; i < sizeof(b); i++)
		b[i] = i < 256 ? (uint8_t)i : pat(i);
	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	STEP("RX_DATA 0..255 and 3 x 4096, the application reading");
	TRY(rx_pump(&d, app, b, sizeof(b), got));
	for (i = 0; i < sizeof(b); i++)
		CHECK(got[i] == b[i], "RX byte %zu is %#x, want %#x", i, got[i], b[i]);
	STEP("RX_DATA of 0 bytes");
	r = d_send(&d, REALCOM_MSG_RX_DATA, NULL, 0);
	CHECK(r == 0 || r == -EINVAL, "RX_DATA of 0 bytes: %s", strerror(-r));
	close(app);
	d_close(&d);
	return 0;
}

/* the daemon not reading: the application's write ends in EAGAIN, then
 * everything it was told was written arrives */
static int t_tx_backpressure(void)
{
	size_t cap = 16u << 20, n = 0, i;
	uint8_t *b = malloc(cap), *got;
	struct dmn d;
	int app, eagain = 0;
	ssize_t r;

	CHECK(b, "malloc");
	for (i = 0; i < cap; i++)
		b[i] = pat(i);
	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	TRY(d_pause(&d, 1));
	STEP("write until EAGAIN with the daemon not reading");
	while (n < cap) {
		r = write(app, b + n, 4096);
		if (r > 0) {
			n += (size_t)r;
			continue;
		}
		CHECK(r < 0 && errno == EAGAIN, "write after %zu bytes: %s", n, r == 0 ? "0" : ERR);
		eagain = 1;
		break;
	}
	CHECK(eagain, "%zu bytes written without EAGAIN while the daemon read nothing: no back-pressure", n);
	CHECK(!(wait_fd(app, POLLOUT, QUIET) & POLLOUT), "POLLOUT on the tty right after write() said EAGAIN");
	note("%zu bytes accepted before EAGAIN", n);
	TRY(d_pause(&d, 0));
	STEP("collect");
	got = malloc(n);
	CHECK(got, "malloc");
	TRY(d_collect_tx(&d, got, n, NULL, NULL));
	for (i = 0; i < n; i++)
		CHECK(got[i] == b[i], "TX byte %zu is %#x, want %#x", i, got[i], b[i]);
	CHECK(wait_fd(app, POLLOUT, TMO) & POLLOUT, "no POLLOUT on the tty after the daemon read everything");
	close(app);
	d_close(&d);
	free(b);
	free(got);
	return 0;
}

/* the application not reading: POLLOUT on /dev/realcom goes off (or write
 * says EAGAIN), and nothing the daemon was told was taken is lost */
static int t_rx_backpressure(void)
{
	size_t cap = 8u << 20, n = 0, i;
	uint8_t *b = malloc(cap + 4096), *got;
	struct dmn d;
	int app, stopped = 0, r;
	const char *how = "";

	CHECK(b, "malloc");
	for (i = 0; i < cap + 4096; i++)
		b[i] = pat(i);
	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	STEP("daemon writes RX_DATA, application not reading");
	while (n < cap) {
		if (!(wait_fd(d.fd, POLLOUT, 2000) & POLLOUT)) {
			stopped = 1;
			how = "POLLOUT went off";
			break;
		}
		r = d_send_fd(d.fd, REALCOM_MSG_RX_DATA, b + n, 4096, 0);
		if (r == -EAGAIN) {
			stopped = 1;
			how = "write() said EAGAIN";
			break;
		}
		CHECK(r == 0, "RX_DATA after %zu bytes: %s", n, strerror(-r));
		n += 4096;
	}
	CHECK(stopped, "%zu bytes of RX_DATA taken while the application read nothing: no back-pressure", n);
	note("back-pressure after %zu bytes: %s", n, how);
	STEP("POLLOUT off while the tty is full");
	CHECK(!(wait_fd(d.fd, POLLOUT, QUIET) & POLLOUT), "POLLOUT on /dev/realcom while RX_DATA is refused (%s)", how);
	STEP("application reads everything");
	got = malloc(n);
	CHECK(got, "malloc");
	TRY(app_read_n(app, got, n));
	for (i = 0; i < n; i++)
		CHECK(got[i] == b[i], "RX byte %zu is %#x, want %#x", i, got[i], b[i]);
	CHECK(!(wait_fd(app, POLLIN, QUIET) & POLLIN), "more RX data than the daemon wrote");
	CHECK(wait_fd(d.fd, POLLOUT, TMO) & POLLOUT, "no POLLOUT on /dev/realcom after the application read everything");
	r = d_send(&d, REALCOM_MSG_RX_DATA, "end", 3);
	CHECK(r == 0, "RX_DATA after the tty drained: %s", strerror(-r));
	TRY(app_read_n(app, got, 3));
	CHECK(memcmp(got, "end", 3) == 0, "last RX bytes \"%.3s\", want \"end\"", got);
	close(app);
	d_close(&d);
	free(b);
	free(got);
	return 0;
}

/* modem lines */

static int modem_step(struct dmn *d, int app, unsigned long req, int arg, uint8_t want, const char *what)
{
	struct realcom_modem mo;
	struct qmsg *m;
	int bits;

	STEP("%s", what);
	CHECK(ioctl(app, req, &arg) == 0, "%s: %s", what, ERR);
	d->skipped[0] = 0;
	m = d_expect(d, REALCOM_MSG_MODEM, TMO, NULL);
	CHECK(m, "%s: no MSG_MODEM (%s; skipped: [%s])", what, d_why(d), d->skipped);
	CHECK(m->len == sizeof(mo), "%s: MSG_MODEM len %u", what, m->len);
	memcpy(&mo, m->data, sizeof(mo));
	free(m);
	CHECK(mo.lines == want, "%s: the next MSG_MODEM has lines %#x, want %#x (DTR and RTS in one message)", what,
	      mo.lines, want);
	CHECK(mo.pad[0] == 0 && mo.pad[1] == 0 && mo.pad[2] == 0, "%s: MSG_MODEM pad not zero", what);
	TRY(modem_get(app, &bits));
	CHECK((!!(bits & TIOCM_DTR) == !!(want & REALCOM_MODEM_DTR)) && (!!(bits & TIOCM_RTS) == !!(want & REALCOM_MODEM_RTS)),
	      "%s: TIOCMGET %#x does not match DTR/RTS %#x", what, bits, want);
	return 0;
}

/* the next MSG_MODEM must have `want` lines, and TIOCMGET agree */
static int expect_modem(struct dmn *d, int app, uint8_t want, const char *what)
{
	struct realcom_modem mo;
	struct qmsg *m;
	int bits;

	d->skipped[0] = 0;
	m = d_expect(d, REALCOM_MSG_MODEM, TMO, NULL);
	CHECK(m, "%s: no MSG_MODEM (%s; skipped: [%s])", what, d_why(d), d->skipped);
	CHECK(m->len == sizeof(mo), "%s: MSG_MODEM len %u", what, m->len);
	memcpy(&mo, m->data, sizeof(mo));
	free(m);
	CHECK(mo.lines == want, "%s: the next MSG_MODEM has lines %#x, want %#x", what, mo.lines, want);
	TRY(modem_get(app, &bits));
	CHECK((!!(bits & TIOCM_DTR) == !!(want & REALCOM_MODEM_DTR)) && (!!(bits & TIOCM_RTS) == !!(want & REALCOM_MODEM_RTS)),
	      "%s: TIOCMGET %#x does not match DTR/RTS %#x", what, bits, want);
	return 0;
}

static int t_modem_out(void)
{
	struct dmn d;
	int app, bits;

	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	TRY(modem_get(app, &bits));
	note("after open TIOCMGET %#x", bits);
	if (bits & (TIOCM_DTR | TIOCM_RTS)) {
		if ((bits & (TIOCM_DTR | TIOCM_RTS)) != (TIOCM_DTR | TIOCM_RTS))
			TRY(modem_step(&d, app, TIOCMSET, TIOCM_DTR | TIOCM_RTS, REALCOM_MODEM_DTR | REALCOM_MODEM_RTS,
				       "TIOCMSET DTR|RTS (from a partial state)"));
		TRY(modem_step(&d, app, TIOCMSET, 0, 0, "TIOCMSET 0"));
	}
	TRY(modem_step(&d, app, TIOCMSET, TIOCM_DTR | TIOCM_RTS, REALCOM_MODEM_DTR | REALCOM_MODEM_RTS, "TIOCMSET DTR|RTS from 0"));
	TRY(modem_step(&d, app, TIOCMBIC, TIOCM_DTR, REALCOM_MODEM_RTS, "TIOCMBIC DTR"));
	TRY(modem_step(&d, app, TIOCMBIC, TIOCM_RTS, 0, "TIOCMBIC RTS"));
	TRY(modem_step(&d, app, TIOCMBIS, TIOCM_DTR | TIOCM_RTS, REALCOM_MODEM_DTR | REALCOM_MODEM_RTS, "TIOCMBIS DTR|RTS"));
	TRY(modem_step(&d, app, TIOCMBIC, TIOCM_RTS, REALCOM_MODEM_DTR, "TIOCMBIC RTS (DTR stays)"));
	TRY(modem_step(&d, app, TIOCMBIS, TIOCM_RTS, REALCOM_MODEM_DTR | REALCOM_MODEM_RTS, "TIOCMBIS RTS"));
	TRY(modem_step(&d, app, TIOCMSET, TIOCM_RTS, REALCOM_MODEM_RTS, "TIOCMSET RTS"));
	close(app);
	d_close(&d);
	return 0;
}

static int modem_status(struct dmn *d, uint8_t lines)
{
	struct realcom_modem m = { .lines = lines };
	int r = d_send(d, REALCOM_MSG_MODEM_STATUS, &m, sizeof(m));

	CHECK(r == 0, "MODEM_STATUS %#x: %s", lines, strerror(-r));
	return 0;
}

static int inputs_of(uint8_t l)
{
	return (l & REALCOM_MODEM_CTS ? TIOCM_CTS : 0) | (l & REALCOM_MODEM_DSR ? TIOCM_DSR : 0) |
	       (l & REALCOM_MODEM_DCD ? TIOCM_CAR : 0) | (l & REALCOM_MODEM_RI ? TIOCM_RNG : 0);
}

static int wait_inputs(int app, int want, const char *what)
{
	int64_t deadline = now_ms() + TMO;
	int bits = 0;

	for (;;) {
		TRY(modem_get(app, &bits));
		if ((bits & (TIOCM_CTS | TIOCM_DSR | TIOCM_CAR | TIOCM_RNG)) == want)
			return 0;
		if (!left_ms(deadline))
			break;
		tick();
	}
	return failf("%s: TIOCMGET %#x, want inputs %#x", what, bits, want);
}

static int t_modem_status(void)
{
	static const uint8_t seq[] = {
		REALCOM_MODEM_CTS | REALCOM_MODEM_DSR | REALCOM_MODEM_DCD | REALCOM_MODEM_RI,
		0, REALCOM_MODEM_CTS, REALCOM_MODEM_DSR, REALCOM_MODEM_DCD, REALCOM_MODEM_RI,
		REALCOM_MODEM_CTS | REALCOM_MODEM_DCD, 0,
	};
	struct dmn d;
	char what[64];
	size_t i;
	int app;

	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	for (i = 0; i < sizeof(seq); i++) {
		snprintf(what, sizeof(what), "MODEM_STATUS %#x", seq[i]);
		STEP("%s", what);
		TRY(modem_status(&d, seq[i]));
		TRY(wait_inputs(app, inputs_of(seq[i]), what));
	}
	close(app);
	d_close(&d);
	return 0;
}

static int t_modem_tiocmiwait(void)
{
	struct blk b;
	struct dmn d;
	int app;

	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	TRY(modem_status(&d, 0));
	TRY(wait_inputs(app, 0, "MODEM_STATUS 0"));
	STEP("TIOCMIWAIT CTS in a thread");
	TRY(blk_start(&b, B_MIWAIT, app, TIOCM_CTS));
	TRY(blk_wait_blocked(&b, SYS_ioctl, "TIOCMIWAIT"));
	STEP("a DSR change must not wake a wait for CTS");
	TRY(modem_status(&d, REALCOM_MODEM_DSR));
	CHECK(!blk_done(&b, QUIET), "TIOCMIWAIT(CTS) returned %d (%s) on a DSR change", b.ret, b.ret ? strerror(b.err) : "");
	STEP("a CTS change wakes it");
	TRY(modem_status(&d, REALCOM_MODEM_DSR | REALCOM_MODEM_CTS));
	CHECK(blk_done(&b, TMO), "TIOCMIWAIT(CTS) did not return within %d ms of a CTS change", TMO);
	CHECK(b.ret == 0, "TIOCMIWAIT returned %d (%s)", b.ret, strerror(b.err));
	blk_join(&b);
	STEP("TIOCMIWAIT CD|RNG, DCD rises");
	TRY(blk_start(&b, B_MIWAIT, app, TIOCM_CD | TIOCM_RNG));
	TRY(blk_wait_blocked(&b, SYS_ioctl, "TIOCMIWAIT"));
	TRY(modem_status(&d, REALCOM_MODEM_DSR | REALCOM_MODEM_CTS | REALCOM_MODEM_DCD));
	CHECK(blk_done(&b, TMO), "TIOCMIWAIT(CD) did not return within %d ms of a DCD change", TMO);
	CHECK(b.ret == 0, "TIOCMIWAIT returned %d (%s)", b.ret, strerror(b.err));
	blk_join(&b);
	close(app);
	d_close(&d);
	return 0;
}

static int icount(int fd, struct serial_icounter_struct *c)
{
	memset(c, 0, sizeof(*c));
	CHECK(ioctl(fd, TIOCGICOUNT, c) == 0, "TIOCGICOUNT: %s", ERR);
	return 0;
}

static int line_event(struct dmn *d, uint8_t ev)
{
	struct realcom_line_event e = { .events = ev };
	int r = d_send(d, REALCOM_MSG_LINE_EVENT, &e, sizeof(e));

	CHECK(r == 0, "LINE_EVENT %#x: %s", ev, strerror(-r));
	return 0;
}

#define ICNT_FIELDS(X) X(cts) X(dsr) X(rng) X(dcd) X(frame) X(overrun) X(parity) X(brk)

struct icdelta {
	int cts, dsr, rng, dcd, frame, overrun, parity, brk;
};

/* wait until the counters moved by exactly `want` from c0 (rng: at least) */
static int wait_icount(int app, const struct serial_icounter_struct *c0, const struct icdelta *w, const char *what)
{
	int64_t deadline = now_ms() + TMO;
	struct serial_icounter_struct c;
	struct icdelta got;

	for (;;) {
		TRY(icount(app, &c));
#define X(f) got.f = c.f - c0->f;
		ICNT_FIELDS(X)
#undef X
		if (got.cts == w->cts && got.dsr == w->dsr && got.dcd == w->dcd && got.frame == w->frame &&
		    got.overrun == w->overrun && got.parity == w->parity && got.brk == w->brk &&
		    (w->rng ? got.rng >= 1 && got.rng <= w->rng : got.rng == 0))
			return 0;
		if (!left_ms(deadline))
			break;
		tick();
	}
	return failf("%s: TIOCGICOUNT moved cts %d dsr %d rng %d dcd %d frame %d overrun %d parity %d brk %d; "
		     "want %d %d %s%d %d %d %d %d %d", what, got.cts, got.dsr, got.rng, got.dcd, got.frame, got.overrun,
		     got.parity, got.brk, w->cts, w->dsr, w->rng ? "1.." : "", w->rng, w->dcd, w->frame, w->overrun,
		     w->parity, w->brk);
}

static int t_icount(void)
{
	static const uint8_t seq[] = {
		REALCOM_MODEM_CTS, 0, REALCOM_MODEM_CTS, REALCOM_MODEM_CTS | REALCOM_MODEM_DSR,
		REALCOM_MODEM_CTS | REALCOM_MODEM_DSR | REALCOM_MODEM_DCD,
		REALCOM_MODEM_CTS | REALCOM_MODEM_DSR | REALCOM_MODEM_DCD | REALCOM_MODEM_RI,
		REALCOM_MODEM_CTS | REALCOM_MODEM_DSR | REALCOM_MODEM_DCD,
	};
	struct serial_icounter_struct c0;
	struct icdelta w;
	struct dmn d;
	size_t i;
	int app;

	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	TRY(modem_status(&d, 0));
	TRY(wait_inputs(app, 0, "MODEM_STATUS 0"));
	TRY(icount(app, &c0));
	STEP("modem edges");
	for (i = 0; i < sizeof(seq); i++)
		TRY(modem_status(&d, seq[i]));
	TRY(wait_inputs(app, inputs_of(seq[sizeof(seq) - 1]), "last MODEM_STATUS"));
	memset(&w, 0, sizeof(w));
	w.cts = 3;		/* on, off, on */
	w.dsr = 1;
	w.dcd = 1;
	w.rng = 1;		/* the trailing edge only, like 8250 */
	TRY(wait_icount(app, &c0, &w, "CTS x3, DSR, DCD, RI on+off"));
	STEP("line events");
	TRY(icount(app, &c0));
	TRY(line_event(&d, REALCOM_EV_PARITY));
	TRY(line_event(&d, REALCOM_EV_FRAMING));
	TRY(line_event(&d, REALCOM_EV_FRAMING));
	TRY(line_event(&d, REALCOM_EV_OVERRUN));
	TRY(line_event(&d, REALCOM_EV_PARITY | REALCOM_EV_FRAMING | REALCOM_EV_OVERRUN));
	memset(&w, 0, sizeof(w));
	w.parity = 2;
	w.frame = 3;
	w.overrun = 2;
	TRY(wait_icount(app, &c0, &w, "LINE_EVENT parity, framing x2, overrun, all three"));
	STEP("break event");
	TRY(icount(app, &c0));
	TRY(line_event(&d, REALCOM_EV_BREAK));
	memset(&w, 0, sizeof(w));
	w.brk = 1;
	TRY(wait_icount(app, &c0, &w, "LINE_EVENT break"));
	close(app);
	d_close(&d);
	return 0;
}

/* LINE_EVENT break reaches the reader as a NUL (raw), or \377 \0 \0 (PARMRK) */
static int t_break_rx(void)
{
	struct termios t;
	uint8_t got[8];
	struct dmn d;
	int app, r;

	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	STEP("break, raw mode");
	TRY(line_event(&d, REALCOM_EV_BREAK));
	r = d_send(&d, REALCOM_MSG_RX_DATA, "x", 1);
	CHECK(r == 0, "RX_DATA: %s", strerror(-r));
	TRY(app_read_n(app, got, 2));
	CHECK(got[0] == 0 && got[1] == 'x', "after a break event the application read %#x %#x, want 0x00 'x'", got[0], got[1]);
	STEP("break, PARMRK");
	CHECK(tcgetattr(app, &t) == 0, "tcgetattr: %s", ERR);
	t.c_iflag |= PARMRK;
	t.c_iflag &= ~(IGNBRK | BRKINT);
	CHECK(tcsetattr(app, TCSANOW, &t) == 0, "tcsetattr: %s", ERR);
	TRY(line_event(&d, REALCOM_EV_BREAK));
	r = d_send(&d, REALCOM_MSG_RX_DATA, "y", 1);
	CHECK(r == 0, "RX_DATA: %s", strerror(-r));
	TRY(app_read_n(app, got, 4));
	CHECK(got[0] == 0xff && got[1] == 0 && got[2] == 0 && got[3] == 'y',
	      "with PARMRK a break read as %#x %#x %#x %#x, want 0xff 0x00 0x00 'y'", got[0], got[1], got[2], got[3]);
	STEP("break, IGNBRK");
	t.c_iflag |= IGNBRK;
	CHECK(tcsetattr(app, TCSANOW, &t) == 0, "tcsetattr: %s", ERR);
	TRY(line_event(&d, REALCOM_EV_BREAK));
	r = d_send(&d, REALCOM_MSG_RX_DATA, "z", 1);
	CHECK(r == 0, "RX_DATA: %s", strerror(-r));
	TRY(app_read_n(app, got, 1));
	CHECK(got[0] == 'z', "with IGNBRK the application read %#x, want 'z' (the break ignored)", got[0]);
	close(app);
	d_close(&d);
	return 0;
}

static int expect_break(struct dmn *d, uint32_t *ms, const char *what)
{
	struct realcom_break b;
	struct qmsg *m;

	d->skipped[0] = 0;
	m = d_expect(d, REALCOM_MSG_BREAK, TMO, NULL);
	CHECK(m, "%s: no MSG_BREAK (%s; skipped: [%s])", what, d_why(d), d->skipped);
	CHECK(m->len == sizeof(b), "%s: MSG_BREAK len %u", what, m->len);
	memcpy(&b, m->data, sizeof(b));
	free(m);
	*ms = b.ms;
	return 0;
}

static int t_break_ctl(void)
{
	struct dmn d;
	uint32_t ms;
	int app, i;

	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	STEP("TIOCSBRK");
	CHECK(ioctl(app, TIOCSBRK) == 0, "TIOCSBRK: %s", ERR);
	TRY(expect_break(&d, &ms, "TIOCSBRK"));
	CHECK(ms == REALCOM_BREAK_ON, "TIOCSBRK: MSG_BREAK ms %#x, want REALCOM_BREAK_ON", ms);
	STEP("TIOCCBRK");
	CHECK(ioctl(app, TIOCCBRK) == 0, "TIOCCBRK: %s", ERR);
	TRY(expect_break(&d, &ms, "TIOCCBRK"));
	CHECK(ms == REALCOM_BREAK_OFF, "TIOCCBRK: MSG_BREAK ms %#x, want REALCOM_BREAK_OFF", ms);
	/*
	 * TTY_DRIVER_HARDWARE_BREAK: a timed break is one MSG_BREAK with its
	 * duration (the device times it), never on + off timed by the host
	 */
	for (i = 0; i < 3; i++) {
		static const struct { int req, arg; uint32_t ms; const char *what; } tb[] = {
			{ 0, 0, 250, "tcsendbreak(0)" },
			{ TCSBRKP, 5, 500, "TCSBRKP 5" },
			{ TCSBRKP, 12, 1200, "TCSBRKP 12" },
		};
		uint32_t mask = 0;

		STEP("%s", tb[i].what);
		if (tb[i].req)
			CHECK(ioctl(app, tb[i].req, tb[i].arg) == 0, "%s: %s", tb[i].what, ERR);
		else
			CHECK(tcsendbreak(app, 0) == 0, "%s: %s", tb[i].what, ERR);
		TRY(expect_break(&d, &ms, tb[i].what));
		CHECK(ms == tb[i].ms, "%s: MSG_BREAK ms %#x, want one timed break of %u ms", tb[i].what, ms, tb[i].ms);
		TRY(app_sync_mask(&d, app, &mask));
		CHECK(!(mask & (1u << REALCOM_MSG_BREAK)), "%s: another MSG_BREAK after the timed one", tb[i].what);
	}
	close(app);
	d_close(&d);
	return 0;
}

/* tcdrain waits for DRAIN_DONE with the same cookie */
static int t_drain(void)
{
	struct realcom_drain dr;
	struct realcom_drain_done dd;
	uint8_t data[100], got[100];
	struct qmsg *m;
	struct blk b;
	struct dmn d;
	int app, r;

	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	d_set_auto_drain(&d, 0);
	memset(data, 'D', sizeof(data));
	TRY(app_write_all(app, data, sizeof(data)));
	STEP("tcdrain in a thread");
	TRY(blk_start(&b, B_TCDRAIN, app, 0));
	TRY(d_collect_tx(&d, got, sizeof(got), NULL, NULL));
	STEP("wait for MSG_DRAIN");
	d.skipped[0] = 0;
	m = d_expect(&d, REALCOM_MSG_DRAIN, TMO, NULL);
	CHECK(m, "no MSG_DRAIN after tcdrain (%s; skipped: [%s])", d_why(&d), d.skipped);
	CHECK(m->len == sizeof(dr), "MSG_DRAIN len %u, want %zu", m->len, sizeof(dr));
	memcpy(&dr, m->data, sizeof(dr));
	free(m);
	note("MSG_DRAIN cookie %#x timeout_ms %u", dr.cookie, dr.timeout_ms);
	CHECK(!blk_done(&b, QUIET), "tcdrain returned (%d) before DRAIN_DONE", b.ret);
	STEP("DRAIN_DONE with a wrong cookie");
	dd.cookie = dr.cookie + 1;
	dd.remaining = 0;
	r = d_send(&d, REALCOM_MSG_DRAIN_DONE, &dd, sizeof(dd));
	note("DRAIN_DONE with a wrong cookie: %s", r ? strerror(-r) : "accepted");
	CHECK(!blk_done(&b, QUIET), "tcdrain returned (%d) on DRAIN_DONE with a wrong cookie", b.ret);
	STEP("DRAIN_DONE with the cookie");
	dd.cookie = dr.cookie;
	r = d_send(&d, REALCOM_MSG_DRAIN_DONE, &dd, sizeof(dd));
	CHECK(r == 0, "DRAIN_DONE: %s", strerror(-r));
	CHECK(blk_done(&b, TMO), "tcdrain did not return within %d ms of DRAIN_DONE", TMO);
	CHECK(b.ret == 0, "tcdrain returned %d (%s)", b.ret, strerror(b.err));
	blk_join(&b);
	d_set_auto_drain(&d, 1);
	STEP("a second tcdrain gets a new cookie");
	TRY(app_write_all(app, data, 5));
	TRY(blk_start(&b, B_TCDRAIN, app, 0));
	m = d_expect(&d, REALCOM_MSG_DRAIN, TMO, NULL);
	CHECK(m, "no MSG_DRAIN for the second tcdrain (%s)", d_why(&d));
	memcpy(&dd.cookie, m->data, sizeof(dd.cookie));
	free(m);
	CHECK(blk_done(&b, TMO), "the second tcdrain did not return");
	CHECK(b.ret == 0, "second tcdrain returned %d (%s)", b.ret, strerror(b.err));
	CHECK(dd.cookie != dr.cookie, "two drains with the same cookie %#x", dr.cookie);
	blk_join(&b);
	close(app);
	d_close(&d);
	return 0;
}

static int wait_outq(int app, int want, const char *what)
{
	int64_t deadline = now_ms() + TMO;
	int n = -1;

	for (;;) {
		TRY(outq(app, &n));
		if (n == want)
			return 0;
		if (!left_ms(deadline))
			break;
		tick();
	}
	return failf("%s: TIOCOUTQ %d, want %d", what, n, want);
}

static int t_outq(void)
{
	struct realcom_oqueue oq;
	uint8_t data[100], got[100];
	struct dmn d;
	int app, r;

	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	TRY(wait_outq(app, 0, "idle"));
	TRY(d_pause(&d, 1));
	memset(data, 'Q', sizeof(data));
	TRY(app_write_all(app, data, sizeof(data)));
	STEP("TIOCOUTQ with 100 bytes unread by the daemon");
	TRY(wait_outq(app, 100, "100 bytes written, daemon not reading"));
	TRY(d_pause(&d, 0));
	TRY(d_collect_tx(&d, got, sizeof(got), NULL, NULL));
	TRY(wait_outq(app, 0, "after the daemon read the data"));
	STEP("OQUEUE 500");
	oq.bytes = 500;
	r = d_send(&d, REALCOM_MSG_OQUEUE, &oq, sizeof(oq));
	CHECK(r == 0, "OQUEUE: %s", strerror(-r));
	TRY(wait_outq(app, 500, "OQUEUE 500"));
	TRY(d_pause(&d, 1));
	TRY(app_write_all(app, data, 10));
	TRY(wait_outq(app, 510, "OQUEUE 500 and 10 bytes queued"));
	TRY(d_pause(&d, 0));
	TRY(d_collect_tx(&d, got, 10, NULL, NULL));
	oq.bytes = 0;
	r = d_send(&d, REALCOM_MSG_OQUEUE, &oq, sizeof(oq));
	CHECK(r == 0, "OQUEUE 0: %s", strerror(-r));
	TRY(wait_outq(app, 0, "OQUEUE 0"));
	close(app);
	d_close(&d);
	return 0;
}

/* OR of the `which` of every MSG_FLUSH up to a sync (a baud change's MSG_LINE) */
static int flush_until_sync(struct dmn *d, int app, uint8_t *which)
{
	int64_t deadline = now_ms() + TMO;
	struct realcom_flush f;
	struct realcom_line l;
	struct termios t;
	struct qmsg *m;
	speed_t sp;

	*which = 0;
	CHECK(tcgetattr(app, &t) == 0, "tcgetattr: %s", ERR);
	sp = cfgetospeed(&t) == B1200 ? B2400 : B1200;
	cfsetspeed(&t, sp);
	CHECK(tcsetattr(app, TCSANOW, &t) == 0, "tcsetattr: %s", ERR);
	for (;;) {
		m = d_pop(d, left_ms(deadline));
		CHECK(m, "no MSG_LINE (sync) after the flush (%s)", d_why(d));
		if (m->type == REALCOM_MSG_FLUSH) {
			CHECK(m->len == sizeof(f), "MSG_FLUSH len %u", m->len);
			memcpy(&f, m->data, sizeof(f));
			CHECK(!(f.which & ~(REALCOM_FLUSH_TX | REALCOM_FLUSH_RX)) && !f.pad[0] && !f.pad[1] && !f.pad[2],
			      "MSG_FLUSH which %#x pad %x %x %x", f.which, f.pad[0], f.pad[1], f.pad[2]);
			*which |= f.which;
		} else if (m->type == REALCOM_MSG_LINE && m->len == sizeof(l)) {
			memcpy(&l, m->data, sizeof(l));
			if (l.baud == (sp == B1200 ? 1200u : 2400u)) {
				free(m);
				return 0;
			}
		}
		free(m);
	}
}

static int t_flush(void)
{
	struct realcom_flush f;
	uint8_t which;
	uint8_t data[100];
	struct qmsg *m;
	struct dmn d;
	int app, n;

	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	TRY(d_pause(&d, 1));
	memset(data, 'F', sizeof(data));
	TRY(app_write_all(app, data, sizeof(data)));
	STEP("tcflush(TCOFLUSH) with 100 bytes queued");
	CHECK(tcflush(app, TCOFLUSH) == 0, "tcflush: %s", ERR);
	TRY(outq(app, &n));
	CHECK(n == 0, "TIOCOUTQ %d after tcflush(TCOFLUSH)", n);
	TRY(d_pause(&d, 0));
	d.skipped[0] = 0;
	m = d_expect(&d, REALCOM_MSG_FLUSH, TMO, NULL);
	CHECK(m, "no MSG_FLUSH after tcflush(TCOFLUSH) (%s; skipped: [%s])", d_why(&d), d.skipped);
	CHECK(m->len == sizeof(f), "MSG_FLUSH len %u", m->len);
	memcpy(&f, m->data, sizeof(f));
	free(m);
	CHECK(f.which & REALCOM_FLUSH_TX, "MSG_FLUSH which %#x, want REALCOM_FLUSH_TX", f.which);
	CHECK(!(f.which & ~(REALCOM_FLUSH_TX | REALCOM_FLUSH_RX)) && !f.pad[0] && !f.pad[1] && !f.pad[2],
	      "MSG_FLUSH which %#x pad %x %x %x", f.which, f.pad[0], f.pad[1], f.pad[2]);
	note("skipped before FLUSH: [%s]", d.skipped);
	STEP("data after the flush");
	TRY(app_sync(&d, app));
	TRY(app_write_all(app, (const uint8_t *)"after", 5));
	{
		uint8_t got[5];

		TRY(d_collect_tx(&d, got, 5, NULL, NULL));
		CHECK(memcmp(got, "after", 5) == 0, "TX after flush \"%.5s\"", got);
	}
	STEP("tcflush(TCIOFLUSH)");
	CHECK(tcflush(app, TCIOFLUSH) == 0, "tcflush(TCIOFLUSH): %s", ERR);
	TRY(flush_until_sync(&d, app, &which));
	CHECK(which & REALCOM_FLUSH_TX, "TCIOFLUSH: MSG_FLUSH which %#x (all FLUSH messages before a sync), want TX set",
	      which);
	note("TCIOFLUSH: FLUSH which %#x", which);
	STEP("tcflush(TCIFLUSH)");
	CHECK(tcflush(app, TCIFLUSH) == 0, "tcflush(TCIFLUSH): %s", ERR);
	TRY(flush_until_sync(&d, app, &which));
	CHECK(!(which & REALCOM_FLUSH_TX), "TCIFLUSH: MSG_FLUSH which %#x flushes TX", which);
	note("TCIFLUSH: FLUSH which %#x", which);
	close(app);
	d_close(&d);
	return 0;
}

/* carrier */

/* persist termios without CLOCAL on the port (termios outlives the open) */
static int clear_clocal(struct dmn *d)
{
	struct termios t;
	int app;

	TRY(app_open(d, &app));
	CHECK(tcgetattr(app, &t) == 0, "tcgetattr: %s", ERR);
	t.c_cflag &= ~CLOCAL;
	CHECK(tcsetattr(app, TCSANOW, &t) == 0, "tcsetattr ~CLOCAL: %s", ERR);
	close(app);
	return 0;
}

static int t_nonblock_open_no_dcd(void)
{
	struct termios t;
	struct dmn d;
	char path[64];
	int app, bits;

	TRY(d_open(&d, idx));
	TRY(clear_clocal(&d));
	TRY(modem_status(&d, 0));
	tty_path(path, sizeof(path), idx);
	STEP("O_NONBLOCK open, no CLOCAL, no DCD");
	app = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	CHECK(app >= 0, "O_NONBLOCK open without CLOCAL and DCD: %s", ERR);
	CHECK(tcgetattr(app, &t) == 0, "tcgetattr: %s", ERR);
	CHECK(!(t.c_cflag & CLOCAL), "CLOCAL came back after reopen: the driver resets termios");
	TRY(modem_get(app, &bits));
	CHECK(!(bits & TIOCM_CAR), "TIOCMGET shows carrier %#x without DCD", bits);
	close(app);
	d_close(&d);
	return 0;
}

static int t_blocking_open_dcd(void)
{
	struct termios t;
	struct blk b;
	struct dmn d;
	int bits;

	TRY(d_open(&d, idx));
	TRY(clear_clocal(&d));
	TRY(modem_status(&d, 0));
	STEP("blocking open without CLOCAL in a thread");
	tty_path(b.path, sizeof(b.path), idx);
	TRY(blk_start(&b, B_OPEN, -1, 0));
	TRY(blk_wait_blocked(&b, SYS_openat, "blocking open without CLOCAL and DCD"));
	CHECK(!blk_done(&b, QUIET), "the blocking open returned (%d) without DCD", b.ret);
	STEP("raise DCD");
	TRY(modem_status(&d, REALCOM_MODEM_DCD));
	CHECK(blk_done(&b, TMO), "the blocking open did not return within %d ms of DCD", TMO);
	CHECK(b.ret >= 0, "the blocking open failed: %s", strerror(b.err));
	blk_join(&b);
	CHECK(tcgetattr(b.ret, &t) == 0, "tcgetattr: %s", ERR);
	CHECK(!(t.c_cflag & CLOCAL), "CLOCAL set on the opened tty");
	TRY(modem_get(b.ret, &bits));
	CHECK(bits & TIOCM_CAR, "TIOCMGET %#x without carrier after DCD", bits);
	CHECK(bits & TIOCM_DTR, "TIOCMGET %#x: DTR not raised by open", bits);
	CHECK(d_count(&d, REALCOM_MSG_OPEN) >= 1, "no MSG_OPEN");
	close(b.ret);
	d_close(&d);
	return 0;
}

static int hung_up(int fd, const char *what)
{
	uint8_t c;
	ssize_t r;

	STEP("%s: wait for the hangup", what);
	CHECK(wait_fd(fd, POLLHUP, TMO) & POLLHUP, "%s: no POLLHUP on the tty within %d ms", what, TMO);
	r = read(fd, &c, 1);
	CHECK(r == 0 || (r < 0 && errno == EIO), "%s: read after hangup returned %zd (%s), want 0 or EIO", what, r,
	      r < 0 ? ERR : "data");
	r = write(fd, "x", 1);
	CHECK(r < 0 && errno == EIO, "%s: write after hangup returned %zd (%s), want EIO", what, r, r < 0 ? ERR : "ok");
	return 0;
}

static int t_link_down(void)
{
	struct realcom_link lk = { 0 };
	struct termios t;
	uint8_t got[8];
	struct dmn d;
	int app, r;

	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	STEP("LINK down with CLOCAL");
	lk.up = 0;
	r = d_send(&d, REALCOM_MSG_LINK, &lk, sizeof(lk));
	CHECK(r == 0, "LINK down: %s", strerror(-r));
	CHECK(!(wait_fd(app, POLLHUP, QUIET) & POLLHUP), "LINK down hung up a tty with CLOCAL");
	TRY(app_write_all(app, (const uint8_t *)"cl", 2));
	TRY(d_collect_tx(&d, got, 2, NULL, NULL));
	lk.up = 1;
	r = d_send(&d, REALCOM_MSG_LINK, &lk, sizeof(lk));
	CHECK(r == 0, "LINK up: %s", strerror(-r));
	STEP("LINK down without CLOCAL");
	TRY(modem_status(&d, REALCOM_MODEM_DCD));
	TRY(wait_inputs(app, TIOCM_CAR, "DCD"));
	CHECK(tcgetattr(app, &t) == 0, "tcgetattr: %s", ERR);
	t.c_cflag &= ~CLOCAL;
	CHECK(tcsetattr(app, TCSANOW, &t) == 0, "tcsetattr ~CLOCAL: %s", ERR);
	CHECK(!(wait_fd(app, POLLHUP, QUIET) & POLLHUP), "clearing CLOCAL with DCD up hung up the tty");
	lk.up = 0;
	r = d_send(&d, REALCOM_MSG_LINK, &lk, sizeof(lk));
	CHECK(r == 0, "LINK down: %s", strerror(-r));
	TRY(hung_up(app, "LINK down without CLOCAL"));
	close(app);
	STEP("LINK up, open again");
	lk.up = 1;
	r = d_send(&d, REALCOM_MSG_LINK, &lk, sizeof(lk));
	CHECK(r == 0, "LINK up: %s", strerror(-r));
	TRY(app_open(&d, &app));
	TRY(app_write_all(app, (const uint8_t *)"again", 5));
	TRY(d_collect_tx(&d, got, 5, NULL, NULL));
	CHECK(memcmp(got, "again", 5) == 0, "TX after reopen \"%.5s\"", got);
	close(app);
	d_close(&d);
	return 0;
}

/* the daemon goes away while the tty is open: hangup, the node goes, the index frees */
static int daemon_gone(int use_kill)
{
	char path[64];
	struct blk b;
	struct dmn d;
	pid_t pid = -1;
	int app, app2, pfd[2], st;
	char c;

	tty_path(path, sizeof(path), idx);
	if (use_kill) {
		CHECK(pipe(pfd) == 0, "pipe: %s", ERR);
		STEP("fork the daemon");
		pid = fork();
		CHECK(pid >= 0, "fork: %s", ERR);
		if (pid == 0) {
			close(pfd[0]);
			if (d_open2(&d, idx, 0, 0))
				_exit(1);
			if (write(pfd[1], "r", 1) != 1)
				_exit(1);
			for (;;)
				pause();
		}
		close(pfd[1]);
		CHECK(wait_fd(pfd[0], POLLIN, TMO) & POLLIN, "the daemon child did not bind (%s)", sh->why);
		CHECK(read(pfd[0], &c, 1) == 1, "the daemon child failed: %s", sh->why);
		close(pfd[0]);
		TRY(app_open_nosync(idx, &app));
	} else {
		TRY(d_open(&d, idx));
		TRY(app_open(&d, &app));
	}
	TRY(app_write_all(app, (const uint8_t *)"hi", 2));
	STEP("a blocking reader on a second open");
	app2 = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	CHECK(app2 >= 0, "second open: %s", ERR);
	TRY(blk_start(&b, B_READ, app2, 0));
	TRY(blk_wait_blocked(&b, SYS_read, "read on the tty"));
	if (use_kill) {
		STEP("SIGKILL the daemon");
		CHECK(kill(pid, SIGKILL) == 0, "kill: %s", ERR);
		CHECK(waitpid(pid, &st, 0) == pid, "waitpid: %s", ERR);
	} else {
		STEP("the daemon closes /dev/realcom");
		d_close(&d);
	}
	STEP("the blocked reader wakes");
	CHECK(blk_done(&b, TMO), "a read blocked on the tty did not return within %d ms of the daemon going away", TMO);
	CHECK(b.ret == 0 || (b.ret < 0 && b.err == EIO), "the blocked read returned %d (%s), want 0 or EIO", b.ret,
	      b.ret < 0 ? strerror(b.err) : "data");
	blk_join(&b);
	TRY(hung_up(app, "daemon gone"));
	STEP("the node goes");
	CHECK(wait_path(path, 0, TMO) == 0, "%s still exists %d ms after its daemon went away", path, TMO);
	CHECK(ioctl(app, TIOCMGET, &st) < 0, "TIOCMGET works on a tty whose daemon is gone");
	close(app2);
	close(app);
	STEP("bind the index again");
	TRY(d_open2(&d, idx, 1, 1));
	TRY(app_open(&d, &app));
	close(app);
	d_close(&d);
	return 0;
}

static int t_daemon_close(void)
{
	return daemon_gone(0);
}

static int t_daemon_kill(void)
{
	return daemon_gone(1);
}

/*
 * The daemon goes (as on kill -9: its file closes) while an application
 * holds /dev/ttyR<N>: the old descriptor sees a hang-up and nothing else; a
 * new daemon binds the index again and a new open works and carries data
 * both ways, before and after the old descriptor is closed.
 */
static int t_restart_tty_held(void)
{
	uint8_t got[8];
	char path[64];
	int old, app, r;
	struct dmn d;
	ssize_t n;

	tty_path(path, sizeof(path), idx);
	TRY(d_open(&d, idx));
	TRY(app_open(&d, &old));
	STEP("the daemon's file closes, the application keeps the tty");
	d_close(&d);
	CHECK(wait_path(path, 0, TMO) == 0, "%s still there after the daemon went", path);
	n = read(old, got, sizeof(got));
	CHECK(n == 0 || (n < 0 && errno == EIO), "read on the held tty: %zd (%s), want 0 (hung up)", n,
	      n < 0 ? ERR : "data");
	STEP("a new daemon binds the index, the old tty still held");
	TRY(d_open2(&d, idx, 1, 1));
	STEP("a new open of %s", path);
	TRY(app_open(&d, &app));
	TRY(app_write_all(app, (const uint8_t *)"new", 3));
	TRY(d_collect_tx(&d, got, 3, NULL, NULL));
	CHECK(memcmp(got, "new", 3) == 0, "TX on the new tty \"%.3s\"", got);
	r = d_send(&d, REALCOM_MSG_RX_DATA, "back", 4);
	CHECK(r == 0, "RX_DATA: %s", strerror(-r));
	TRY(app_read_n(app, got, 4));
	CHECK(memcmp(got, "back", 4) == 0, "RX on the new tty \"%.4s\"", got);
	STEP("the old descriptor");
	n = write(old, "x", 1);
	CHECK(n < 0 && errno == EIO, "write on the old tty: %zd (%s), want EIO", n, n < 0 ? ERR : "written");
	n = read(old, got, sizeof(got));
	CHECK(n == 0 || (n < 0 && errno == EIO), "read on the old tty: %zd (%s), want 0", n, n < 0 ? ERR : "data");
	close(old);
	STEP("the new tty after the old one is released");
	TRY(app_write_all(app, (const uint8_t *)"again", 5));
	TRY(d_collect_tx(&d, got, 5, NULL, NULL));
	CHECK(memcmp(got, "again", 5) == 0, "TX on the new tty \"%.5s\"", got);
	close(app);
	d_close(&d);
	STEP("bind once more");
	TRY(d_open2(&d, idx, 1, 1));
	d_close(&d);
	return 0;
}

struct binder {
	pthread_t th;
	int index, rounds, busy, bad, err;
};

static void *binder_thread(void *arg)
{
	struct binder *b = arg;
	struct realcom_bind req;
	int i, fd;

	for (i = 0; i < b->rounds; i++) {
		fd = open("/dev/realcom", O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			b->bad++;
			b->err = errno;
			continue;
		}
		memset(&req, 0, sizeof(req));
		req.index = (uint32_t)b->index;
		if (ioctl(fd, REALCOM_IOC_BIND, &req) < 0) {
			if (errno == EBUSY) {
				b->busy++;
			} else {
				b->bad++;
				b->err = errno;
			}
		}
		close(fd);
	}
	return NULL;
}

/*
 * Two daemons bind and unbind one index at once, 300 times each: every BIND
 * works or says EBUSY (never EEXIST: the index is free only once the old
 * device is gone), and the kernel logs no duplicate-name warning (guest.sh
 * fails the case on one).
 */
static int t_bind_race(void)
{
	struct binder b[2];
	int i;

	for (i = 0; i < 2; i++) {
		memset(&b[i], 0, sizeof(b[i]));
		b[i].index = idx;
		b[i].rounds = 300;
		CHECK(pthread_create(&b[i].th, NULL, binder_thread, &b[i]) == 0, "pthread_create failed");
	}
	for (i = 0; i < 2; i++)
		pthread_join(b[i].th, NULL);
	note("EBUSY %d + %d of 600 binds", b[0].busy, b[1].busy);
	for (i = 0; i < 2; i++)
		CHECK(!b[i].bad, "binder %d: %d binds failed, the last with %s", i, b[i].bad, strerror(b[i].err));
	return 0;
}

/*
 * RI counts its trailing edge only (a UART's TERI): RI rising moves no
 * counter and wakes no TIOCMIWAIT(TIOCM_RNG); RI falling does both.
 */
static int t_ri_trailing_edge(void)
{
	struct serial_icounter_struct c0, c1;
	struct blk b;
	struct dmn d;
	int app;

	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	TRY(modem_status(&d, 0));
	TRY(wait_inputs(app, 0, "MODEM_STATUS 0"));
	TRY(icount(app, &c0));
	STEP("TIOCMIWAIT RNG in a thread, RI rises");
	TRY(blk_start(&b, B_MIWAIT, app, TIOCM_RNG));
	TRY(blk_wait_blocked(&b, SYS_ioctl, "TIOCMIWAIT"));
	TRY(modem_status(&d, REALCOM_MODEM_RI));
	TRY(wait_inputs(app, TIOCM_RNG, "MODEM_STATUS RI"));
	CHECK(!blk_done(&b, QUIET), "TIOCMIWAIT(RNG) returned %d on RI rising, want only on its trailing edge", b.ret);
	TRY(icount(app, &c1));
	CHECK(c1.rng == c0.rng, "TIOCGICOUNT rng moved by %d on RI rising, want 0", c1.rng - c0.rng);
	STEP("RI falls");
	TRY(modem_status(&d, 0));
	CHECK(blk_done(&b, TMO), "TIOCMIWAIT(RNG) did not return within %d ms of RI falling", TMO);
	CHECK(b.ret == 0, "TIOCMIWAIT returned %d (%s)", b.ret, strerror(b.err));
	blk_join(&b);
	TRY(icount(app, &c1));
	CHECK(c1.rng == c0.rng + 1, "TIOCGICOUNT rng moved by %d on RI on+off, want 1", c1.rng - c0.rng);
	close(app);
	d_close(&d);
	return 0;
}

/* TIOCGSERIAL answers like a serial port */
static int t_tiocgserial(void)
{
	struct serial_struct ss;
	struct dmn d;
	int app;

	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	STEP("TIOCGSERIAL");
	memset(&ss, 0xA5, sizeof(ss));
	CHECK(ioctl(app, TIOCGSERIAL, &ss) == 0, "TIOCGSERIAL: %s", ERR);
	note("type %d line %d baud_base %d flags %#x close_delay %u closing_wait %u", ss.type, ss.line, ss.baud_base,
	     ss.flags, ss.close_delay, ss.closing_wait);
	CHECK(ss.type == PORT_16550A, "type %d, want PORT_16550A", ss.type);
	CHECK(ss.line == idx, "line %d, want %d", ss.line, idx);
	CHECK(ss.baud_base == 921600, "baud_base %d, want 921600", ss.baud_base);
	/* the tty_port defaults: 0.5 s and 30 s, in centiseconds */
	CHECK(ss.close_delay == 50 && ss.closing_wait == 3000, "close_delay %u closing_wait %u, want 50 and 3000",
	      ss.close_delay, ss.closing_wait);
	close(app);
	d_close(&d);
	return 0;
}

/*
 * A flush the tty layer refuses (tcflush from a background process group
 * that handles SIGTTOU) is not forwarded to the device.
 */
static void on_sigttou(int sig)
{
	(void)sig;
}

static int t_flush_refused(void)
{
	struct sigaction sa;
	struct dmn d;
	pid_t pid, w;
	int st, fd, app, up[2], down[2];
	uint32_t mask = 0;
	char path[64], c = 0;

	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	tty_path(path, sizeof(path), idx);
	CHECK(pipe(up) == 0 && pipe(down) == 0, "pipe: %s", ERR);
	STEP("a session with ttyR%d as its controlling tty, tcflush from a background group", idx);
	pid = fork();
	CHECK(pid >= 0, "fork: %s", ERR);
	if (pid == 0) {
		pid_t g;

		close(up[0]);
		close(down[1]);
		c = 10;
		if (setsid() < 0)
			goto out;
		c = 11;
		fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0 || ioctl(fd, TIOCSCTTY, 0) < 0)
			goto out;
		c = 12;
		g = fork();
		if (g < 0)
			goto out;
		if (g == 0) {
			memset(&sa, 0, sizeof(sa));
			sa.sa_handler = on_sigttou;	/* no SA_RESTART: EINTR */
			sigaction(SIGTTOU, &sa, NULL);
			if (setpgid(0, 0) < 0)
				_exit(13);
			/* refused: -1 with EINTR (SIGTTOU came) or EIO */
			_exit(tcflush(fd, TCIFLUSH) == 0 ? 14 : 0);
		}
		while ((w = waitpid(g, &st, 0)) < 0 && errno == EINTR)
			;
		c = (char)(w == g && WIFEXITED(st) ? WEXITSTATUS(st) : 15);
out:
		/* the session leader's exit hangs the tty up: only after the check */
		if (write(up[1], &c, 1) != 1 || read(down[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	CHECK(wait_fd(up[0], POLLIN, TMO) & POLLIN, "the session child did not report");
	CHECK(read(up[0], &c, 1) == 1, "the session child: %s", ERR);
	CHECK(c == 0, "the background tcflush was not refused (child says %d: 10 setsid, 11 ctty, 14 flush allowed)", c);
	STEP("no MSG_FLUSH before a sync");
	TRY(app_sync_mask(&d, app, &mask));
	CHECK(!(mask & (1u << REALCOM_MSG_FLUSH)), "the refused tcflush reached the daemon as MSG_FLUSH");
	close(down[1]);
	close(up[0]);
	while ((w = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	close(app);
	d_close(&d);
	return 0;
}

/*
 * Settings the daemon or the device could not apply come back as
 * MSG_LINE_APPLIED: the termios the application reads back shows what is in
 * effect, and no MSG_LINE goes back to the daemon for it.
 */
static int t_line_applied(void)
{
	struct realcom_line l = {
		.baud = 9600, .data_bits = 8, .parity = REALCOM_PARITY_NONE, .stop_bits = REALCOM_STOP_1,
	};
	struct realcom_line got;
	struct termios t;
	struct qmsg *m;
	struct dmn d;
	int app, r;

	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	STEP("the application asks for 19200 7E2");
	CHECK(tcgetattr(app, &t) == 0, "tcgetattr: %s", ERR);
	cfsetspeed(&t, B19200);
	t.c_cflag &= ~(CSIZE | PARODD | CSTOPB);
	t.c_cflag |= CS7 | PARENB | CSTOPB;
	CHECK(tcsetattr(app, TCSANOW, &t) == 0, "tcsetattr: %s", ERR);
	TRY(d_expect_line(&d, 19200, NULL, NULL));
	STEP("the daemon says 9600 8N1 is in effect");
	r = d_send(&d, REALCOM_MSG_LINE_APPLIED, &l, sizeof(l));
	CHECK(r == 0, "MSG_LINE_APPLIED: %s", strerror(-r));
	CHECK(tcgetattr(app, &t) == 0, "tcgetattr: %s", ERR);
	CHECK(cfgetospeed(&t) == B9600 && cfgetispeed(&t) == B9600, "tcgetattr speed %#x/%#x after LINE_APPLIED 9600",
	      (unsigned int)cfgetospeed(&t), (unsigned int)cfgetispeed(&t));
	CHECK((t.c_cflag & CSIZE) == CS8 && !(t.c_cflag & (PARENB | CSTOPB)), "tcgetattr c_cflag %#x, want CS8, no parity, 1 stop",
	      (unsigned int)t.c_cflag);
	STEP("a change of the rate only: no MSG_LINE for the applied settings before it");
	cfsetspeed(&t, B1200);
	CHECK(tcsetattr(app, TCSANOW, &t) == 0, "tcsetattr 1200: %s", ERR);
	for (;;) {
		m = d_expect(&d, REALCOM_MSG_LINE, TMO, NULL);
		CHECK(m && m->len == sizeof(got), "no MSG_LINE 1200 (%s)", d_why(&d));
		memcpy(&got, m->data, sizeof(got));
		free(m);
		CHECK(got.baud == 1200, "a MSG_LINE %u went back to the daemon for what it reported", got.baud);
		break;
	}
	CHECK(got.data_bits == 8 && got.parity == REALCOM_PARITY_NONE && got.stop_bits == REALCOM_STOP_1,
	      "MSG_LINE 1200 has %u data bits, parity %u, %u stop bits: the applied 8N1 did not stay", got.data_bits,
	      got.parity, got.stop_bits);
	STEP("a report out of range");
	l.data_bits = 9;
	r = d_send(&d, REALCOM_MSG_LINE_APPLIED, &l, sizeof(l));
	CHECK(r == -EINVAL, "MSG_LINE_APPLIED with 9 data bits: %s, want EINVAL", strerror(-r));
	close(app);
	d_close(&d);
	return 0;
}

/* 1,000 open / termios / close cycles */
static int t_cycles_1000(void)
{
	static const speed_t sp[] = { B9600, B19200, B38400, B115200 };
	struct termios t;
	struct dmn d;
	char path[64];
	int i, fd;
	int64_t deadline;
	int64_t t0 = now_ms();

	TRY(d_open2(&d, idx, 0, 0));
	tty_path(path, sizeof(path), idx);
	for (i = 0; i < 1000; i++) {
		STEP("cycle %d", i);
		fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		CHECK(fd >= 0, "cycle %d: open: %s", i, ERR);
		CHECK(tcgetattr(fd, &t) == 0, "cycle %d: tcgetattr: %s", i, ERR);
		cfmakeraw(&t);
		t.c_cflag |= CLOCAL | CREAD;
		t.c_cflag &= ~(CSIZE | PARENB | CSTOPB);
		t.c_cflag |= (i & 1) ? CS7 | PARENB : CS8;
		cfsetspeed(&t, sp[i % 4]);
		CHECK(tcsetattr(fd, TCSANOW, &t) == 0, "cycle %d: tcsetattr: %s", i, ERR);
		if (i % 10 == 0)
			CHECK(write(fd, "c", 1) == 1, "cycle %d: write: %s", i, ERR);
		CHECK(close(fd) == 0, "cycle %d: close: %s", i, ERR);
	}
	STEP("count the messages");
	deadline = now_ms() + TMO;
	/*
	 * Sessions the daemon did not read in time leave no trace (control is
	 * state): OPEN and CLOSE pair up, one each at least.
	 */
	while (d_count(&d, REALCOM_MSG_CLOSE) < d_count(&d, REALCOM_MSG_OPEN) && left_ms(deadline))
		tick();
	CHECK(d_count(&d, REALCOM_MSG_OPEN) >= 1 && d_count(&d, REALCOM_MSG_OPEN) <= 1000 &&
	      d_count(&d, REALCOM_MSG_OPEN) == d_count(&d, REALCOM_MSG_CLOSE),
	      "%lu MSG_OPEN and %lu MSG_CLOSE for 1000 cycles", d_count(&d, REALCOM_MSG_OPEN),
	      d_count(&d, REALCOM_MSG_CLOSE));
	CHECK(d_count(&d, REALCOM_MSG_LINE) >= d_count(&d, REALCOM_MSG_OPEN), "%lu MSG_LINE for %lu sessions",
	      d_count(&d, REALCOM_MSG_LINE), d_count(&d, REALCOM_MSG_OPEN));
	note("1000 cycles in %lld ms; %lu OPEN, %lu LINE, %lu MODEM, %lu DRAIN answered", (long long)(now_ms() - t0),
	     d_count(&d, REALCOM_MSG_OPEN), d_count(&d, REALCOM_MSG_LINE), d_count(&d, REALCOM_MSG_MODEM), d.drains_answered);
	d_close(&d);
	return 0;
}

/* 500 bind / open / close cycles, closing the daemon first every other time */
static int t_bind_cycles(void)
{
	struct dmn d;
	int i, app;
	int64_t t0 = now_ms();

	for (i = 0; i < 500; i++) {
		STEP("bind cycle %d", i);
		TRY(d_open2(&d, idx + (i % 2), 0, 1));
		TRY(app_open_nosync(idx + (i % 2), &app));
		CHECK(write(app, "b", 1) == 1, "cycle %d: write: %s", i, ERR);
		if (i % 2) {
			d_close(&d);
			close(app);
		} else {
			close(app);
			d_close(&d);
		}
	}
	note("500 bind cycles in %lld ms", (long long)(now_ms() - t0));
	return 0;
}


/* tcflow(TCIOFF/TCION): MSG_XCHAR with VSTOP/VSTART, ahead of queued data */
static int t_xchar(void)
{
	struct realcom_xchar x;
	uint8_t data[100], got[100];
	struct termios t;
	struct qmsg *m;
	struct dmn d;
	size_t before = 0;
	int app, step;

	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	CHECK(tcgetattr(app, &t) == 0, "tcgetattr: %s", ERR);
	t.c_cc[VSTART] = 0x01;
	t.c_cc[VSTOP] = 0x02;
	t.c_iflag |= IXOFF;
	CHECK(tcsetattr(app, TCSANOW, &t) == 0, "tcsetattr: %s", ERR);
	TRY(app_sync(&d, app));
	for (step = 0; step < 2; step++) {
		uint8_t want = step ? 0x01 : 0x02;

		TRY(d_pause(&d, 1));
		memset(data, 'X', sizeof(data));
		TRY(app_write_all(app, data, sizeof(data)));
		STEP("tcflow(%s) with 100 bytes queued", step ? "TCION" : "TCIOFF");
		CHECK(tcflow(app, step ? TCION : TCIOFF) == 0, "tcflow: %s", ERR);
		TRY(d_pause(&d, 0));
		before = 0;
		for (;;) {
			m = d_pop(&d, TMO);
			CHECK(m, "no MSG_XCHAR after tcflow(%s) (%s)", step ? "TCION" : "TCIOFF", d_why(&d));
			if (m->type == REALCOM_MSG_XCHAR)
				break;
			if (m->type == REALCOM_MSG_TX_DATA)
				before += m->len;
			free(m);
		}
		CHECK(m->len == sizeof(x), "MSG_XCHAR len %u", m->len);
		memcpy(&x, m->data, sizeof(x));
		free(m);
		CHECK(x.ch == want, "MSG_XCHAR ch %#x, want %#x (VSTOP/VSTART)", x.ch, want);
		CHECK(!x.pad[0] && !x.pad[1] && !x.pad[2], "MSG_XCHAR pad not zero");
		CHECK(before == 0, "MSG_XCHAR came after %zu of the 100 bytes queued before it (an XON/XOFF goes ahead of queued data)",
		      before);
		TRY(d_collect_tx(&d, got, sizeof(got), NULL, NULL));
	}
	close(app);
	d_close(&d);
	return 0;
}

static int no_tx_for(struct dmn *d, int ms, const char *what)
{
	struct qmsg *m = d_expect(d, REALCOM_MSG_TX_DATA, ms, NULL);

	if (m) {
		failf("%s: %u bytes of TX data went out while output was stopped", what, m->len);
		free(m);
		return 1;
	}
	return 0;
}

/* output stopped (tcflow TCOOFF, or XOFF received with IXON) holds TX back */
static int t_tx_stop_start(void)
{
	uint8_t got[16], xoff[2] = { 0x13, 'm' }, xon = 0x11;
	struct termios t;
	struct dmn d;
	int app, r;

	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	STEP("tcflow(TCOOFF)");
	CHECK(tcflow(app, TCOOFF) == 0, "tcflow(TCOOFF): %s", ERR);
	TRY(app_write_all(app, (const uint8_t *)"stopped", 7));
	TRY(no_tx_for(&d, QUIET, "tcflow(TCOOFF)"));
	STEP("tcflow(TCOON)");
	CHECK(tcflow(app, TCOON) == 0, "tcflow(TCOON): %s", ERR);
	TRY(d_collect_tx(&d, got, 7, NULL, NULL));
	CHECK(memcmp(got, "stopped", 7) == 0, "TX after TCOON \"%.7s\"", got);
	STEP("IXON, the device sends XOFF");
	CHECK(tcgetattr(app, &t) == 0, "tcgetattr: %s", ERR);
	t.c_iflag |= IXON;
	t.c_cc[VSTART] = 0x11;
	t.c_cc[VSTOP] = 0x13;
	CHECK(tcsetattr(app, TCSANOW, &t) == 0, "tcsetattr IXON: %s", ERR);
	TRY(app_sync(&d, app));
	r = d_send(&d, REALCOM_MSG_RX_DATA, xoff, sizeof(xoff));
	CHECK(r == 0, "RX_DATA XOFF: %s", strerror(-r));
	TRY(app_read_n(app, got, 1));	/* 'm' read: the XOFF before it was seen */
	CHECK(got[0] == 'm', "with IXON the application read %#x, want 'm' (XOFF taken out)", got[0]);
	TRY(app_write_all(app, (const uint8_t *)"held", 4));
	TRY(no_tx_for(&d, QUIET, "XOFF received with IXON"));
	STEP("the device sends XON");
	r = d_send(&d, REALCOM_MSG_RX_DATA, &xon, 1);
	CHECK(r == 0, "RX_DATA XON: %s", strerror(-r));
	TRY(d_collect_tx(&d, got, 4, NULL, NULL));
	CHECK(memcmp(got, "held", 4) == 0, "TX after XON \"%.4s\"", got);
	close(app);
	d_close(&d);
	return 0;
}

/* last close with HUPCL drops DTR/RTS before MSG_CLOSE; without it they stay */
static int close_modem(struct dmn *d, int app, int hupcl)
{
	struct realcom_modem mo;
	struct termios t;
	struct qmsg *m;
	int bits, dropped = 0;

	CHECK(tcgetattr(app, &t) == 0, "tcgetattr: %s", ERR);
	if (hupcl)
		t.c_cflag |= HUPCL;
	else
		t.c_cflag &= ~HUPCL;
	CHECK(tcsetattr(app, TCSANOW, &t) == 0, "tcsetattr: %s", ERR);
	TRY(app_sync(d, app));
	TRY(modem_get(app, &bits));
	CHECK((bits & (TIOCM_DTR | TIOCM_RTS)) == (TIOCM_DTR | TIOCM_RTS), "TIOCMGET %#x before close: DTR/RTS not up", bits);
	STEP("close with%s HUPCL", hupcl ? "" : "out");
	close(app);
	for (;;) {
		m = d_pop(d, TMO);
		CHECK(m, "no MSG_CLOSE (%s)", d_why(d));
		if (m->type == REALCOM_MSG_CLOSE)
			break;
		if (m->type == REALCOM_MSG_MODEM && m->len == sizeof(mo)) {
			memcpy(&mo, m->data, sizeof(mo));
			if (!(mo.lines & REALCOM_MODEM_DTR))
				dropped = 1;
		}
		free(m);
	}
	free(m);
	if (hupcl)
		CHECK(dropped, "no MSG_MODEM dropping DTR before MSG_CLOSE of a tty with HUPCL");
	else
		CHECK(!dropped, "MSG_MODEM dropped DTR on the close of a tty without HUPCL");
	return 0;
}

static int t_hupcl(void)
{
	struct dmn d;
	int app;

	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	TRY(close_modem(&d, app, 1));
	TRY(app_open(&d, &app));
	TRY(close_modem(&d, app, 0));
	d_close(&d);
	return 0;
}

/* B0 drops DTR/RTS, a rate again raises them */
static int t_b0_drops_dtr(void)
{
	struct termios t;
	struct dmn d;
	int app;

	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	CHECK(tcgetattr(app, &t) == 0, "tcgetattr: %s", ERR);
	cfsetspeed(&t, B0);
	CHECK(tcsetattr(app, TCSANOW, &t) == 0, "tcsetattr B0: %s", ERR);
	TRY(expect_modem(&d, app, 0, "B0"));
	cfsetspeed(&t, B19200);
	CHECK(tcsetattr(app, TCSANOW, &t) == 0, "tcsetattr B19200: %s", ERR);
	TRY(expect_modem(&d, app, REALCOM_MODEM_DTR | REALCOM_MODEM_RTS, "B0 -> B19200"));
	close(app);
	d_close(&d);
	return 0;
}

/* DCD falling hangs up a tty without CLOCAL, not one with it */
static int t_dcd_drop_hangup(void)
{
	uint8_t got[4];
	struct termios t;
	struct dmn d;
	int app;

	TRY(d_open(&d, idx));
	TRY(app_open(&d, &app));
	STEP("DCD falls, CLOCAL");
	TRY(modem_status(&d, REALCOM_MODEM_DCD));
	TRY(wait_inputs(app, TIOCM_CAR, "DCD up"));
	TRY(modem_status(&d, 0));
	TRY(wait_inputs(app, 0, "DCD down"));
	CHECK(!(wait_fd(app, POLLHUP, QUIET) & POLLHUP), "DCD falling hung up a tty with CLOCAL");
	TRY(app_write_all(app, (const uint8_t *)"ok", 2));
	TRY(d_collect_tx(&d, got, 2, NULL, NULL));
	STEP("DCD falls, no CLOCAL");
	TRY(modem_status(&d, REALCOM_MODEM_DCD));
	TRY(wait_inputs(app, TIOCM_CAR, "DCD up"));
	CHECK(tcgetattr(app, &t) == 0, "tcgetattr: %s", ERR);
	t.c_cflag &= ~CLOCAL;
	CHECK(tcsetattr(app, TCSANOW, &t) == 0, "tcsetattr ~CLOCAL: %s", ERR);
	TRY(modem_status(&d, 0));
	TRY(hung_up(app, "DCD fell without CLOCAL"));
	close(app);
	STEP("the port works after the hangup");
	TRY(modem_status(&d, REALCOM_MODEM_DCD));
	TRY(app_open(&d, &app));
	TRY(app_write_all(app, (const uint8_t *)"re", 2));
	TRY(d_collect_tx(&d, got, 2, NULL, NULL));
	CHECK(memcmp(got, "re", 2) == 0, "TX after reopen \"%.2s\"", got);
	close(app);
	d_close(&d);
	return 0;
}

/* the daemon goes while the application waits in tcdrain, TIOCMIWAIT,
 * read and a blocking open: every one of them returns */
static int t_waiters_daemon_gone(void)
{
	struct blk bd, bm, br, bo;
	struct dmn d, d2;
	uint8_t got[1];
	struct qmsg *m;
	char path[64];
	int app, app2;

	TRY(d_open(&d, idx));
	TRY(d_open(&d2, idx + 1));
	TRY(app_open(&d, &app));
	tty_path(path, sizeof(path), idx);
	app2 = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	CHECK(app2 >= 0, "second (blocking) open: %s", ERR);
	STEP("tcdrain waiting for DRAIN_DONE");
	d_set_auto_drain(&d, 0);
	TRY(app_write_all(app, (const uint8_t *)"w", 1));
	TRY(blk_start(&bd, B_TCDRAIN, app, 0));
	TRY(d_collect_tx(&d, got, 1, NULL, NULL));
	m = d_expect(&d, REALCOM_MSG_DRAIN, TMO, NULL);
	CHECK(m, "no MSG_DRAIN (%s)", d_why(&d));
	free(m);
	STEP("TIOCMIWAIT");
	TRY(blk_start(&bm, B_MIWAIT, app, TIOCM_CTS | TIOCM_DSR | TIOCM_CD | TIOCM_RNG));
	TRY(blk_wait_blocked(&bm, SYS_ioctl, "TIOCMIWAIT"));
	STEP("read");
	TRY(blk_start(&br, B_READ, app2, 0));
	TRY(blk_wait_blocked(&br, SYS_read, "read"));
	STEP("blocking open waiting for DCD");
	TRY(clear_clocal(&d2));
	TRY(modem_status(&d2, 0));
	tty_path(bo.path, sizeof(bo.path), idx + 1);
	TRY(blk_start(&bo, B_OPEN, -1, 0));
	TRY(blk_wait_blocked(&bo, SYS_openat, "blocking open"));
	STEP("both daemons close /dev/realcom");
	d_close(&d);
	d_close(&d2);
	CHECK(blk_done(&bd, TMO), "tcdrain still blocked %d ms after the daemon went away", TMO);
	CHECK(blk_done(&bm, TMO), "TIOCMIWAIT still blocked %d ms after the daemon went away", TMO);
	CHECK(bm.ret < 0, "TIOCMIWAIT returned %d (a line change) when the daemon went away; want an error", bm.ret);
	CHECK(blk_done(&br, TMO), "read still blocked %d ms after the daemon went away", TMO);
	CHECK(br.ret == 0 || (br.ret < 0 && br.err == EIO), "read returned %d (%s), want 0 or EIO", br.ret,
	      br.ret < 0 ? strerror(br.err) : "data");
	CHECK(blk_done(&bo, TMO), "the blocking open still blocked %d ms after the daemon went away", TMO);
	if (bo.ret >= 0) {
		close(bo.ret);
		return failf("the blocking open succeeded on a port whose daemon is gone");
	}
	note("tcdrain %d, TIOCMIWAIT %s, read %d, open %s", bd.ret, strerror(bm.err), br.ret, strerror(bo.err));
	blk_join(&bd);
	blk_join(&bm);
	blk_join(&br);
	blk_join(&bo);
	close(app2);
	close(app);
	return 0;
}

/* ======================================================================== */

/* a daemon in a child process (so it can be killed with SIGKILL); its pid */
static pid_t stress_daemon(int index)
{
	struct dmn d;
	int pfd[2];
	pid_t pid;
	char c;

	if (pipe(pfd))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		if (d_open2(&d, index, 0, 1) || write(pfd[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(pfd[1]);
	if (pid > 0 && (!(wait_fd(pfd[0], POLLIN, TMO) & POLLIN) || read(pfd[0], &c, 1) != 1)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(pfd[0]);
	return pid;
}

/*
 * Opt-in stress (tty_test stress SECONDS; tests/vm/run with VM_STRESS_MIN):
 * for that long, bounded also by a count, daemons in child processes serve
 * two indexes while the application opens, sets termios, writes, breaks,
 * pulses DTR, flushes and closes; every 16th round the daemon is killed with
 * SIGKILL while the tty is held, and a new one started.  guest.sh compares
 * slab and file counts before and after.
 */
static int t_stress(int seconds)
{
	static const speed_t sp[] = { B9600, B19200, B115200, B1200 };
	int64_t end = now_ms() + seconds * 1000LL;
	int dtr = TIOCM_DTR, i, k, fd, held[2] = { -1, -1 };
	pid_t dm[2];
	struct termios t;
	char path[64];
	long rounds = 0, kills = 0;

	for (k = 0; k < 2; k++) {
		dm[k] = stress_daemon(idx + k);
		CHECK(dm[k] > 0, "the daemon for index %d did not start", idx + k);
	}
	for (i = 0; i < 10000000 && now_ms() < end; i++) {
		k = i & 1;
		STEP("stress round %d", i);
		tty_path(path, sizeof(path), idx + k);
		fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		CHECK(fd >= 0, "round %d: open %s: %s", i, path, ERR);
		CHECK(tcgetattr(fd, &t) == 0, "round %d: tcgetattr: %s", i, ERR);
		cfmakeraw(&t);
		t.c_cflag |= CLOCAL | CREAD;
		cfsetspeed(&t, sp[i % 4]);
		CHECK(tcsetattr(fd, TCSANOW, &t) == 0, "round %d: tcsetattr: %s", i, ERR);
		CHECK(ioctl(fd, TIOCMBIC, &dtr) == 0 && ioctl(fd, TIOCMBIS, &dtr) == 0, "round %d: DTR: %s", i, ERR);
		CHECK(ioctl(fd, TIOCSBRK) == 0 && ioctl(fd, TIOCCBRK) == 0, "round %d: break: %s", i, ERR);
		if (i % 64 == 0)
			CHECK(ioctl(fd, TCSBRKP, 1) == 0, "round %d: TCSBRKP: %s", i, ERR);
		if (write(fd, "stress", 6) < 0 && errno != EAGAIN)
			return failf("round %d: write: %s", i, ERR);
		CHECK(tcflush(fd, i & 2 ? TCIOFLUSH : TCIFLUSH) == 0, "round %d: tcflush: %s", i, ERR);
		if (i % 16 == 15) {
			/* kill the daemon with the tty held, start a new one, reopen */
			CHECK(kill(dm[k], SIGKILL) == 0, "kill: %s", ERR);
			CHECK(waitpid(dm[k], NULL, 0) == dm[k], "waitpid: %s", ERR);
			kills++;
			held[k] = fd;
			dm[k] = stress_daemon(idx + k);
			CHECK(dm[k] > 0, "round %d: a new daemon for index %d did not start", i, idx + k);
			/* a new open while the old tty is held moves it to the new port */
			fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
			CHECK(fd >= 0, "round %d: open %s with the old tty held: %s", i, path, ERR);
			CHECK(write(fd, "re", 2) == 2 || errno == EAGAIN, "round %d: write after the restart: %s", i, ERR);
			close(held[k]);
			held[k] = -1;
			close(fd);
		} else {
			close(fd);
		}
		rounds++;
	}
	for (k = 0; k < 2; k++) {
		kill(dm[k], SIGKILL);
		waitpid(dm[k], NULL, 0);
	}
	note("stress: %ld rounds, %ld daemon kills in %d s", rounds, kills, seconds);
	return 0;
}

struct tcase {
	const char *name;
	int (*fn)(void);
	int timeout_s;
};

static const struct tcase cases[] = {
	{ "version", t_version, 30 },
	{ "bind_errors", t_bind_errors, 30 },
	{ "bad_messages", t_bad_messages, 30 },
	{ "read_whole", t_read_whole, 30 },
	{ "open_close", t_open_close, 30 },
	{ "termios_7e1", t_termios_7e1, 30 },
	{ "termios_5o2", t_termios_5o2, 30 },
	{ "termios_mark_space", t_termios_mark_space, 30 },
	{ "termios_crtscts", t_termios_crtscts, 30 },
	{ "termios_ixon_ixoff", t_termios_ixon_ixoff, 30 },
	{ "termios_custom_baud", t_termios_custom_baud, 30 },
	{ "tx_all_bytes", t_tx_all_bytes, 30 },
	{ "tx_large", t_tx_large, 60 },
	{ "tx_order_line", t_tx_order_line, 30 },
	{ "ctrl_state_bounded", t_ctrl_state_bounded, 120 },
	{ "ctrl_ahead_of_stopped_tx", t_ctrl_ahead_of_stopped_tx, 30 },
	{ "rx_data", t_rx_data, 30 },
	{ "tx_backpressure", t_tx_backpressure, 90 },
	{ "rx_backpressure", t_rx_backpressure, 90 },
	{ "modem_out", t_modem_out, 30 },
	{ "modem_status", t_modem_status, 30 },
	{ "modem_tiocmiwait", t_modem_tiocmiwait, 30 },
	{ "icount", t_icount, 30 },
	{ "break_rx", t_break_rx, 30 },
	{ "break_ctl", t_break_ctl, 30 },
	{ "drain", t_drain, 30 },
	{ "outq", t_outq, 30 },
	{ "flush", t_flush, 30 },
	{ "xchar", t_xchar, 30 },
	{ "tx_stop_start", t_tx_stop_start, 30 },
	{ "hupcl", t_hupcl, 30 },
	{ "b0_drops_dtr", t_b0_drops_dtr, 30 },
	{ "nonblock_open_no_dcd", t_nonblock_open_no_dcd, 30 },
	{ "blocking_open_dcd", t_blocking_open_dcd, 30 },
	{ "dcd_drop_hangup", t_dcd_drop_hangup, 30 },
	{ "link_down", t_link_down, 30 },
	{ "daemon_close", t_daemon_close, 40 },
	{ "daemon_kill", t_daemon_kill, 40 },
	{ "waiters_daemon_gone", t_waiters_daemon_gone, 40 },
	{ "restart_tty_held", t_restart_tty_held, 40 },
	{ "ri_trailing_edge", t_ri_trailing_edge, 30 },
	{ "tiocgserial", t_tiocgserial, 30 },
	{ "flush_refused", t_flush_refused, 30 },
	{ "line_applied", t_line_applied, 30 },
	{ "bind_race", t_bind_race, 120 },
	{ "cycles_1000", t_cycles_1000, 150 },
	{ "bind_cycles", t_bind_cycles, 150 },
};
#define NCASES ((int)(sizeof(cases) / sizeof(cases[0])))

static int run_case(int k)
{
	const struct tcase *c = &cases[k];
	int st, rc0, rc, fail;
	int64_t deadline, t0 = now_ms();
	pid_t pid;

	memset(sh, 0, sizeof(*sh));
	rc0 = refcnt();
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		printf("FAIL %s: fork: %s\n", c->name, ERR);
		return 1;
	}
	if (pid == 0) {
		idx = 4 * (k + 1);
		alarm((unsigned int)c->timeout_s);
		rc = c->fn();
		if (rc && !sh->why[0])
			failf("failed without a reason");
		fflush(stdout);
		_exit(rc ? 1 : 0);
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	fail = !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	if (!fail && !sh->why[0] && rc0 >= 0) {
		/* every fd of the case is closed: the module's references go too */
		deadline = now_ms() + TMO;
		while ((rc = refcnt()) != rc0 && left_ms(deadline))
			tick();
		if (rc != rc0) {
			fail = 1;
			snprintf(sh->why, sizeof(sh->why), "module refcnt %d after the case, %d before (a reference leaked)",
				 rc, rc0);
		}
	}
	if (!fail) {
		printf("PASS %s (%lld ms)\n", c->name, (long long)(now_ms() - t0));
		return 0;
	}
	if (WIFSIGNALED(st))
		printf("FAIL %s: %s (at step: %s)\n", c->name,
		       WTERMSIG(st) == SIGALRM ? "timed out" : strsignal(WTERMSIG(st)), sh->step);
	else
		printf("FAIL %s: %s (at step: %s)\n", c->name, sh->why[0] ? sh->why : "exited non-zero", sh->step);
	return 1;
}

int main(int argc, char **argv)
{
	int i, k, failed = 0, ran = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc == 3 && !strcmp(argv[1], "stress")) {
		/* not in the list: opt-in, long; no fork, no alarm (guest.sh bounds it) */
		sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (sh == MAP_FAILED)
			return 1;
		idx = 240;
		if (t_stress(atoi(argv[2]))) {
			printf("FAIL stress: %s (at step: %s)\n", sh->why, sh->step);
			return 1;
		}
		printf("PASS stress\n");
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "--list")) {
		for (k = 0; k < NCASES; k++)
			printf("%s\n", cases[k].name);
		return 0;
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	if (argc == 1) {
		for (k = 0; k < NCASES; k++, ran++)
			failed += run_case(k);
	} else {
		for (i = 1; i < argc; i++) {
			for (k = 0; k < NCASES; k++)
				if (!strcmp(argv[i], cases[k].name))
					break;
			if (k == NCASES) {
				printf("FAIL %s: no such case (tty_test --list)\n", argv[i]);
				failed++;
				continue;
			}
			failed += run_case(k);
			ran++;
		}
	}
	if (argc != 2)
		printf("tty_test: %d passed, %d failed\n", ran - failed, failed);
	return failed ? 1 : 0;
}
