// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The whole path in the guest: an application on a /dev/ttyR<N>
 * (realcom.ko), realcomd with the kernel backend, nportsim behind it.
 * Checks what the pty backend cannot carry: data bits, parity, stop bits,
 * modem lines both ways, break (also held across a reconnect), tcdrain
 * against a paced line, line errors, settings made while the device sets
 * up, data written while the unit is away and dropped at the close, and a
 * daemon killed under an open tty.  With --rfc2217 the unit behind TTY
 * speaks RFC 2217: the same checks, except that tcdrain is not held to the
 * line (the protocol cannot say when the line is empty) and the last two
 * are left to the Real COM run (a 30 s close; realcomd is gone after the
 * kill).  Run by e2e.sh; prints PASS/FAIL per case.
 * With --bulk: BYTES of a pattern through a port whose device echoes, each
 * byte checked on its way back, and nothing lost in the tty on the way.
 *
 * With --wait: until each PATH exists (inotify on its directory, so the
 * guest scripts wait for what a daemon makes without polling), at most
 * SECONDS in all.
 *
 *   e2e [--rfc2217] TTY SIM_CONTROL SIM_PTY REALCOMD_PID REALCOMD_CONTROL
 *   e2e --bulk TTY BYTES
 *   e2e --wait SECONDS PATH...
 */
#include <asm/ioctls.h>
#include <asm/termbits.h>
#include <linux/tty.h>
#include <asm-generic/termios.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/serial.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libgen.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "blocked.h"

int ioctl(int fd, unsigned long request, ...);

static const char *tty_path, *tty_name, *ctl_path, *dev_path, *daemon_ctl;
static pid_t daemon_pid;
static int passed, failed;
/* --rfc2217: the device behind the tty speaks RFC 2217, not Real COM */
static bool rfc2217;
static const char *variant = "";	/* appended to each check's name */

#define CHECK(cond, ...)						\
	do {								\
		if (!(cond)) {						\
			printf("FAIL %s%s: ", __func__, variant);	\
			printf(__VA_ARGS__);				\
			printf("\n");					\
			failed++;					\
			return;						\
		}							\
	} while (0)

#define PASSED()							\
	do {								\
		printf("PASS %s%s\n", __func__, variant);		\
		passed++;						\
	} while (0)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Evaluate cond every 10 ms until it holds or timeout seconds have passed:
 * its last value.  Every wait of this file for something with no event. */
#define WAIT_UNTIL(cond, timeout)						\
	__extension__({								\
		double end_ = now() + (timeout);				\
		bool ok_;							\
										\
		while (!(ok_ = (cond)) && now() < end_)				\
			poll(NULL, 0, 10);					\
		ok_;								\
	})

/* One request to a control socket (nportsim's or realcomd's: one line of
 * JSON each way); the reply object (caller puts). */
static json_object *ask(const char *path, const char *req)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static char buf[1 << 20];
	size_t len = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (write(fd, req, strlen(req)) < 0 || write(fd, "\n", 1) < 0) {
		close(fd);
		return NULL;
	}
	while (len < sizeof(buf) - 1 && !memchr(buf, '\n', len)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return json_tokener_parse(buf);
}

static json_object *sim(const char *req)
{
	return ask(ctl_path, req);
}

/* Does realcomd show the tty in state, with baud and DTR (each < 0: any)? */
static bool daemon_shows(const char *state, long long baud, int dtr)
{
	json_object *r = ask(daemon_ctl, "{\"cmd\":\"status\"}"), *ports, *p, *v, *o;
	bool ok = false;

	if (!r || !json_object_object_get_ex(r, "ports", &ports))
		goto out;
	for (size_t i = 0; i < json_object_array_length(ports); i++) {
		p = json_object_array_get_idx(ports, i);
		if (!json_object_object_get_ex(p, "tty", &v) ||
		    strcmp(json_object_get_string(v), tty_name) != 0)
			continue;
		ok = json_object_object_get_ex(p, "state", &v) &&
		     strcmp(json_object_get_string(v), state) == 0;
		if (ok && baud >= 0)
			ok = json_object_object_get_ex(p, "line", &o) &&
			     json_object_object_get_ex(o, "baud", &v) &&
			     json_object_get_int64(v) == baud;
		if (ok && dtr >= 0)
			ok = json_object_object_get_ex(p, "modem", &o) &&
			     json_object_object_get_ex(o, "dtr", &v) &&
			     json_object_get_boolean(v) == dtr;
	}
out:
	json_object_put(r);
	return ok;
}

static bool wait_daemon(const char *state, long long baud, int dtr, double timeout)
{
	return WAIT_UNTIL(daemon_shows(state, baud, dtr), timeout);
}

/* A field of port 1's status, as an integer (booleans 0/1). */
static long long port_field(const char *key)
{
	json_object *r = sim("{\"cmd\":\"port\",\"port\":1}"), *p, *v;
	long long out = -1;

	if (r && json_object_object_get_ex(r, "port", &p) && json_object_object_get_ex(p, key, &v))
		out = json_object_get_int64(v);	/* booleans read as 0 and 1 */
	json_object_put(r);
	return out;
}

static bool port_str_is(const char *key, const char *want)
{
	json_object *r = sim("{\"cmd\":\"port\",\"port\":1}"), *p, *v;
	bool ok = r && json_object_object_get_ex(r, "port", &p) &&
		  json_object_object_get_ex(p, key, &v) &&
		  strcmp(json_object_get_string(v), want) == 0;

	json_object_put(r);
	return ok;
}

/* Wait (bounded, polling the status) until port 1's key equals want. */
static bool wait_field(const char *key, long long want, double timeout)
{
	return WAIT_UNTIL(port_field(key) == want, timeout);
}

static bool wait_parity(const char *want, double timeout)
{
	return WAIT_UNTIL(port_str_is("parity", want), timeout);
}

static int set_line(int fd, speed_t baud, tcflag_t cflag_bits)
{
	struct termios2 t;

	if (ioctl(fd, TCGETS2, &t) < 0)
		return -1;
	t.c_cflag &= ~(tcflag_t)(CBAUD | CSIZE | PARENB | PARODD | CMSPAR | CSTOPB | CRTSCTS);
	t.c_cflag |= BOTHER | CREAD | CLOCAL | cflag_bits;
	t.c_ispeed = t.c_ospeed = baud;
	t.c_iflag = 0;
	t.c_oflag = 0;
	t.c_lflag = 0;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	return ioctl(fd, TCSETS2, &t);
}

static int open_tty(void)
{
	return open(tty_path, O_RDWR | O_NOCTTY | O_NONBLOCK);
}

static void test_line_settings(void)
{
	int fd = open_tty();

	CHECK(fd >= 0, "open %s: %s", tty_path, strerror(errno));
	CHECK(set_line(fd, 19200, CS7 | PARENB) == 0, "7E1: %s", strerror(errno));
	CHECK(wait_field("baud", 19200, 10) && wait_field("data_bits", 7, 10) &&
		      wait_parity("even", 10) && wait_field("stop_bits", 1, 10),
	      "19200 7E1 did not reach the device");
	CHECK(set_line(fd, 4800, CS5 | PARENB | PARODD | CSTOPB) == 0, "5O2");
	CHECK(wait_field("baud", 4800, 10) && wait_field("data_bits", 5, 10) &&
		      wait_parity("odd", 10) && wait_field("stop_bits", 2, 10),
	      "4800 5O2 did not reach the device");
	CHECK(set_line(fd, 9600, CS8 | PARENB | PARODD | CMSPAR) == 0, "mark");
	CHECK(wait_parity("mark", 10), "mark parity did not reach the device");
	CHECK(set_line(fd, 9600, CS8 | PARENB | CMSPAR) == 0, "space");
	CHECK(wait_parity("space", 10), "space parity did not reach the device");
	CHECK(set_line(fd, 250000, CS8) == 0, "250000");
	CHECK(wait_field("baud", 250000, 10) && wait_parity("none", 10),
	      "250000 8N1 did not reach the device");
	close(fd);
	PASSED();
}

/* The rate an application reads back from the tty (termios2's c_ospeed). */
static long long tty_rate(int fd)
{
	struct termios2 t;

	return ioctl(fd, TCGETS2, &t) < 0 ? -1 : (long long)t.c_ospeed;
}

/*
 * A rate the unit refuses (nportsim: NA to SETBAUD above 921600 over Real
 * COM, its current rate as the answer over RFC 2217) does not stay in the
 * termios: realcomd reports the rate in effect (LINE_APPLIED) and tcgetattr
 * reads it back, and realcomd's status shows it too.
 */
static void test_refused_rate(int fd)
{
	CHECK(set_line(fd, 115200, CS8) == 0, "115200: %s", strerror(errno));
	CHECK(wait_field("baud", 115200, 10), "115200 did not reach the device");
	CHECK(set_line(fd, 1000000, CS8) == 0, "1000000: %s", strerror(errno));
	CHECK(WAIT_UNTIL(tty_rate(fd) == 115200, 10),
	      "tcgetattr reads %lld after the unit refused 1000000, not 115200", tty_rate(fd));
	CHECK(wait_daemon("up", 115200, -1, 10), "realcomd does not show 115200 in effect");
	CHECK(port_field("baud") == 115200, "the device has %lld baud", port_field("baud"));
	PASSED();
}

/* The tty is closed also when a check fails: later tests need it closed. */
static void run_refused_rate(void)
{
	int fd = open_tty();

	if (fd < 0) {
		printf("FAIL test_refused_rate%s: open %s: %s\n", variant, tty_path, strerror(errno));
		failed++;
		return;
	}
	test_refused_rate(fd);
	close(fd);
}

/* An ioctl run in a child on fd, which blocks in it: status is its wait
 * status, -1 while it runs (killed after the time given). */
struct blocked_call {
	bool blocked;		/* it waited in the ioctl (not ended at once) */
	char state;		/* else: its state and system call last seen */
	long syscall;
	int status;
};

/* Once the child waits in the ioctl, the simulator gets sim_req, and the
 * child has secs to end. */
static struct blocked_call blocked_ioctl(int fd, unsigned long cmd, unsigned long arg,
					 const char *sim_req, double secs)
{
	struct blocked_call b = { .state = '?', .syscall = -1, .status = -1 };
	pid_t child = fork();

	if (child < 0)
		return b;
	if (child == 0)
		_exit(ioctl(fd, cmd, arg) == 0 ? 0 : 1);
	b.blocked = WAIT_UNTIL(task_blocked_in(child, SYS_ioctl, &b.state, &b.syscall) ||
			       waitpid(child, &b.status, WNOHANG) > 0, 10) && b.status == -1;
	if (b.blocked) {
		json_object_put(sim(sim_req));
		WAIT_UNTIL(waitpid(child, &b.status, WNOHANG) > 0, secs);
	}
	if (b.status == -1) {
		kill(child, SIGKILL);
		waitpid(child, &b.status, 0);
	}
	return b;
}

static void test_modem_lines(void)
{
	int fd = open_tty(), bits = TIOCM_DTR, st = 0;
	json_object *r;

	CHECK(fd >= 0, "open: %s", strerror(errno));
	/* the session of this open: the last one's end (DTR and RTS off at the
	 * unit) comes before it, and must not be read as this open's */
	CHECK(wait_daemon("up", -1, -1, 10), "%s did not come up", tty_name);
	CHECK(wait_field("dtr", 1, 10), "DTR not on after open");
	CHECK(ioctl(fd, TIOCMBIC, &bits) == 0, "TIOCMBIC: %s", strerror(errno));
	CHECK(wait_field("dtr", 0, 10) && port_field("rts") == 1, "DTR off did not reach the device");
	bits = TIOCM_DTR;
	CHECK(ioctl(fd, TIOCMBIS, &bits) == 0, "TIOCMBIS");
	CHECK(wait_field("dtr", 1, 10), "DTR on did not reach the device");
	r = sim("{\"cmd\":\"modem\",\"port\":1,\"cts\":false,\"ri\":true}");
	json_object_put(r);
	WAIT_UNTIL(ioctl(fd, TIOCMGET, &st) == 0 && !(st & TIOCM_CTS) && (st & TIOCM_RI), 10);
	CHECK(!(st & TIOCM_CTS) && (st & TIOCM_RI) && (st & TIOCM_DSR) && (st & TIOCM_CD),
	      "TIOCMGET shows %#x after CTS off, RI on", st);

	/* TIOCMIWAIT in a child wakes on the next CTS change */
	struct blocked_call b = blocked_ioctl(fd, TIOCMIWAIT, TIOCM_CTS,
					      "{\"cmd\":\"modem\",\"port\":1,\"cts\":true,\"ri\":false}", 10);

	CHECK(b.blocked, "the child did not block in TIOCMIWAIT (state %c, syscall %ld)", b.state,
	      b.syscall);
	CHECK(WIFEXITED(b.status) && WEXITSTATUS(b.status) == 0, "TIOCMIWAIT did not wake on CTS");
	struct serial_icounter_struct ic;
	CHECK(ioctl(fd, TIOCGICOUNT, &ic) == 0 && ic.cts >= 2, "TIOCGICOUNT cts %d", ic.cts);
	close(fd);
	PASSED();
}

static void test_line_errors_and_break(void)
{
	int fd = open_tty();
	struct serial_icounter_struct ic0, ic;
	long long sent;

	CHECK(fd >= 0, "open: %s", strerror(errno));
	/* The device reports line events only once the host's PORT_INIT set up
	 * the port (docs/realcom-protocol.md); connected alone is too early.  Over
	 * RFC 2217 once realcomd has sent its line-state mask, i.e. is up. */
	if (rfc2217)
		CHECK(wait_daemon("up", -1, -1, 10), "%s did not come up", tty_name);
	else
		CHECK(wait_field("notify", 1, 10), "the port was not set up (no PORT_INIT)");
	CHECK(ioctl(fd, TIOCGICOUNT, &ic0) == 0, "TIOCGICOUNT");
	/* The open may have come while realcomd still closed the last session
	 * (connect on open): what the device sees then is for nobody, as on a
	 * real unit.  So inject again, a bounded number of times, until the
	 * session that serves this open has counted one. */
	ic = ic0;
	for (int i = 0; i < 20; i++) {
		json_object_put(sim("{\"cmd\":\"inject\",\"port\":1,"
				    "\"events\":[\"parity\",\"framing\"]}"));
		if (WAIT_UNTIL(ioctl(fd, TIOCGICOUNT, &ic) == 0 && ic.parity > ic0.parity &&
			       ic.frame > ic0.frame, 0.5))
			break;
	}
	CHECK(ic.parity > ic0.parity && ic.frame > ic0.frame, "parity %d->%d frame %d->%d",
	      ic0.parity, ic.parity, ic0.frame, ic.frame);
	sent = port_field("breaks_sent");
	CHECK(ioctl(fd, TCSBRKP, 1) == 0, "tcsendbreak: %s", strerror(errno));	/* 100 ms */
	CHECK(wait_field("breaks_sent", sent + 1, 10), "the break did not reach the device");
	close(fd);
	PASSED();
}

static void test_data_and_drain(void)
{
	int fd = open_tty(), dev = open(dev_path, O_RDWR | O_NOCTTY | O_NONBLOCK);
	static unsigned char data[4800], got[4800];
	size_t have = 0;

	CHECK(fd >= 0 && dev >= 0, "open: %s", strerror(errno));
	/* 9600 8N1 paced by the simulated line: 960 bytes/s */
	CHECK(set_line(fd, 9600, CS8) == 0, "9600");
	CHECK(wait_field("baud", 9600, 10), "9600 did not reach the device");
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 7 + i / 256);
	for (size_t off = 0; off < 960;) {
		ssize_t n = write(fd, data + off, 960 - off);

		if (n > 0)
			off += (size_t)n;
		else
			poll(&(struct pollfd){ .fd = fd, .events = POLLOUT }, 1, 1000);
	}
	fcntl(fd, F_SETFL, 0);
	double t0 = now();
	CHECK(ioctl(fd, TCSBRK, 1) == 0, "tcdrain: %s", strerror(errno));	/* TCSBRK 1 = drain */
	/* RFC 2217 has no "transmitter empty" answer (docs/rfc2217.md): there
	 * tcdrain ends once the server has taken the bytes, not the line */
	long long left = rfc2217 ? 0 : port_field("tx_queue");
	CHECK(left == 0, "tcdrain returned with %lld bytes still on the line (after %.2f s)", left,
	      now() - t0);
	double end = now() + 10;
	while (have < 960 && now() < end) {
		ssize_t n = read(dev, got + have, 960 - have);

		if (n > 0)
			have += (size_t)n;
		else
			poll(&(struct pollfd){ .fd = dev, .events = POLLIN }, 1, 100);
	}
	CHECK(have == 960 && memcmp(got, data, 960) == 0, "the device received %zu bytes", have);
	/* and the other way */
	CHECK(write(dev, data, 4800) == 4800, "device write");
	have = 0;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	end = now() + 10;
	while (have < 4800 && now() < end) {
		ssize_t n = read(fd, got + have, 4800 - have);

		if (n > 0)
			have += (size_t)n;
		else
			poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, 100);
	}
	CHECK(have == 4800 && memcmp(got, data, 4800) == 0, "the application received %zu bytes",
	      have);
	close(fd);
	close(dev);
	PASSED();
}

/* The part of test_settings_during_setup while the device holds PORT_INIT
 * (RFC 2217: the COM-PORT-OPTION negotiation): NULL, or what went wrong. */
static const char *settings_while_held(int fd)
{
	int bits = TIOCM_DTR;

	if (!wait_daemon("initialising", -1, -1, 10))
		return "realcomd did not get to initialising";
	/* realcomd reads the port's messages in order: once it shows DTR off,
	 * it has the break and the line too */
	if (set_line(fd, 38400, CS7 | PARENB) < 0 || ioctl(fd, TIOCSBRK) < 0 ||
	    ioctl(fd, TIOCMBIC, &bits) < 0)
		return "TCSETS2, TIOCSBRK or TIOCMBIC failed";
	if (!wait_daemon("initialising", 38400, 0, 10))
		return "realcomd did not take 38400, break and DTR off while initialising";
	return NULL;
}

/*
 * Settings an application makes while the device has not answered PORT_INIT
 * yet (a slow unit; any connect) follow once it answers: nothing set in that
 * window is lost.  The device holds its commands (nportsim's stall) until
 * realcomd has the new settings.
 */
static void test_settings_during_setup(void)
{
	const char *why;
	int fd;

	CHECK(wait_field("connected", 0, 10), "%s still connected after its last close", tty_name);
	json_object_put(sim("{\"cmd\":\"stall\",\"port\":1,\"ms\":60000}"));
	fd = open_tty();
	why = fd < 0 ? strerror(errno) : settings_while_held(fd);
	json_object_put(sim("{\"cmd\":\"stall\",\"port\":1,\"ms\":1}"));	/* answer now */
	if (!why && !(wait_field("baud", 38400, 10) && wait_field("data_bits", 7, 10) &&
		      wait_parity("even", 10) && wait_field("dtr", 0, 10) &&
		      wait_field("break", 1, 10)))
		why = "38400 7E1, break and DTR off, set while initialising, did not reach the device";
	if (fd >= 0) {
		ioctl(fd, TIOCCBRK);
		if (!why && !wait_field("break", 0, 10))
			why = "TIOCCBRK did not end the break on the device";
		close(fd);
	}
	CHECK(!why, "%s", why);
	PASSED();
}

/*
 * A break held with TIOCSBRK is line state: a reconnect (the simulated unit
 * reboots, which ends its break) sends it again, and the application's last
 * close ends it, as a UART's shutdown does.
 */
static void test_break_held(void)
{
	int fd = open_tty();

	CHECK(fd >= 0, "open %s: %s", tty_path, strerror(errno));
	CHECK(wait_daemon("up", -1, -1, 10), "%s did not come up", tty_name);
	CHECK(ioctl(fd, TIOCSBRK) == 0, "TIOCSBRK: %s", strerror(errno));
	CHECK(wait_field("break", 1, 10), "TIOCSBRK did not reach the device");
	json_object_put(sim("{\"cmd\":\"reboot\",\"ms\":200}"));
	CHECK(port_field("break") == 0, "the simulated reboot did not end the device's break");
	CHECK(wait_field("break", 1, 15), "the held break was not sent again after the reconnect");
	close(fd);
	CHECK(wait_field("break", 0, 10), "the last close did not end the held break");
	PASSED();
}

/* An integer of realcomd's status for our tty, -1 if absent. */
static long long daemon_num(const char *key)
{
	json_object *r = ask(daemon_ctl, "{\"cmd\":\"status\"}"), *ports, *p, *v;
	long long out = -1;

	for (size_t i = 0; r && json_object_object_get_ex(r, "ports", &ports) &&
			   i < json_object_array_length(ports); i++) {
		p = json_object_array_get_idx(ports, i);
		if (json_object_object_get_ex(p, "tty", &v) &&
		    strcmp(json_object_get_string(v), tty_name) == 0 &&
		    json_object_object_get_ex(p, key, &v))
			out = json_object_get_int64(v);
	}
	json_object_put(r);
	return out;
}

static bool sim_rebooting(void)
{
	json_object *r = sim("{\"cmd\":\"status\"}"), *v;
	bool on = !r || !json_object_object_get_ex(r, "rebooting", &v) ||
		  json_object_get_boolean(v);

	json_object_put(r);
	return on;
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* A 1 s break (the longest the device times) that a signal cuts short
 * after 100 ms in the application: it goes on on the device. */
static int break_cut_short(int fd)
{
	struct sigaction sa = { .sa_handler = on_alarm }, was;	/* no SA_RESTART */
	struct itimerval in_100ms = { .it_value = { .tv_usec = 100000 } }, off = { 0 };
	int r;

	sigaction(SIGALRM, &sa, &was);
	setitimer(ITIMER_REAL, &in_100ms, NULL);
	r = ioctl(fd, TCSBRKP, 10) == 0 ? 0 : errno;
	setitimer(ITIMER_REAL, &off, NULL);	/* an ioctl that failed at once */
	sigaction(SIGALRM, &was, NULL);
	errno = r;
	return r == 0 || r == EINTR ? 0 : -1;
}

/* Write msg through the tty and read it off the device's line (10 s at
 * most): NULL, or what went wrong. */
static const char *reaches_line(int fd, int dev, const char *msg)
{
	static char why[160];
	size_t len = strlen(msg), have = 0;
	char got[64];

	if (len > sizeof(got) || write(fd, msg, len) != (ssize_t)len)
		return "write to the tty failed";
	for (double end = now() + 10; have < len && now() < end;) {
		ssize_t n = read(dev, got + have, len - have);

		if (n > 0)
			have += (size_t)n;
		else
			poll(&(struct pollfd){ .fd = dev, .events = POLLIN }, 1, 100);
	}
	if (have == len && memcmp(got, msg, len) == 0)
		return NULL;
	snprintf(why, sizeof(why), "the device received \"%.*s\", not \"%s\"", (int)have, got,
		 msg);
	return why;
}

/*
 * A tcdrain waiting for the unit's line when the link is lost ends at once:
 * what it waited for went with the session (realcomd answers it as not
 * drained), instead of after realcom.ko's 30 s round with no answer.  The
 * line is 9600 baud (CLOCAL: no hang-up) and holds 5 s of data.
 */
static void test_drain_link_lost(void)
{
	static unsigned char data[4800];
	struct blocked_call b;
	int fd = open_tty();

	CHECK(fd >= 0, "open: %s", strerror(errno));
	CHECK(set_line(fd, 9600, CS8) == 0, "9600: %s", strerror(errno));
	CHECK(wait_daemon("up", 9600, -1, 10), "%s did not come up at 9600", tty_name);
	CHECK(write(fd, data, sizeof(data)) > 0, "write: %s", strerror(errno));
	b = blocked_ioctl(fd, TCSBRK, 1, "{\"cmd\":\"drop\",\"port\":1}", 15);	/* tcdrain */
	CHECK(b.blocked, "tcdrain did not wait for the line (state %c, syscall %ld)", b.state,
	      b.syscall);
	CHECK(WIFEXITED(b.status), "tcdrain still waited 15 s after the link was lost");
	close(fd);
	PASSED();
}

/*
 * A held break let go of while the unit is away: the next session ends it
 * (nportsim, as a unit may, keeps its line in break across sessions), and
 * what is written after reaches the line.  Meanwhile the unit drops every
 * session right after PORT_INIT, so the TIOCCBRK comes while realcomd waits
 * to reconnect.
 */
static void test_break_released_while_down(void)
{
	int fd = open_tty(), dev = open(dev_path, O_RDWR | O_NOCTTY | O_NONBLOCK);
	const char *why;
	char junk[256];
	bool went;
	int r;

	CHECK(fd >= 0 && dev >= 0, "open: %s", strerror(errno));
	CHECK(set_line(fd, 9600, CS8) == 0, "9600: %s", strerror(errno));	/* CLOCAL */
	CHECK(wait_daemon("up", 9600, -1, 10), "%s did not come up at 9600", tty_name);
	CHECK(ioctl(fd, TIOCSBRK) == 0, "TIOCSBRK: %s", strerror(errno));
	CHECK(wait_field("break", 1, 10), "TIOCSBRK did not reach the device");
	json_object_put(sim("{\"cmd\":\"drop-after-init\",\"port\":1,\"on\":true}"));
	json_object_put(sim("{\"cmd\":\"drop\",\"port\":1}"));
	went = WAIT_UNTIL(daemon_shows("waiting to reconnect", -1, -1), 10);
	r = ioctl(fd, TIOCCBRK);
	json_object_put(sim("{\"cmd\":\"drop-after-init\",\"port\":1,\"on\":false}"));
	CHECK(went, "realcomd did not see the unit go");
	CHECK(r == 0, "TIOCCBRK: %s", strerror(errno));
	CHECK(WAIT_UNTIL(daemon_shows("up", -1, -1) && port_field("break") == 0, 15),
	      "the break let go of while the unit was away did not end (break %lld)",
	      port_field("break"));
	while (read(dev, junk, sizeof(junk)) > 0)
		;	/* what earlier cases left on the line */
	why = reaches_line(fd, dev, "after the break");
	CHECK(!why, "written after the break: %s", why);
	close(fd);
	close(dev);
	PASSED();
}

/*
 * Bytes written while the unit is unreachable belong to that open: the close
 * that ends it drops them (realcomd(8), DATA ACROSS SESSIONS) and the next
 * open's session carries only its own.  The close itself waits closing_wait
 * (30 s) for a drain that cannot happen, as a UART's does with its line held,
 * so the unit stays away 40 s.
 */
static void test_stale_dropped(void)
{
	int fd = open_tty(), dev = open(dev_path, O_RDWR | O_NOCTTY | O_NONBLOCK);
	const char *why;
	char junk[256];

	CHECK(fd >= 0 && dev >= 0, "open: %s", strerror(errno));
	while (read(dev, junk, sizeof(junk)) > 0)
		;	/* what earlier cases left on the line */
	CHECK(set_line(fd, 9600, CS8) == 0, "9600");	/* CLOCAL: no hang-up on link loss */
	CHECK(wait_daemon("up", 9600, -1, 10), "%s did not come up", tty_name);
	json_object_put(sim("{\"cmd\":\"reboot\",\"ms\":40000}"));
	CHECK(WAIT_UNTIL(!daemon_shows("up", -1, -1), 15), "realcomd did not see the unit go");
	CHECK(write(fd, "STALE", 5) == 5, "write: %s", strerror(errno));
	close(fd);
	CHECK(sim_rebooting(), "the unit came back before the close ended: nothing was stale");
	CHECK(WAIT_UNTIL(daemon_num("stale_dropped") == 5, 10),
	      "stale_dropped is %lld, not 5", daemon_num("stale_dropped"));
	CHECK(WAIT_UNTIL(!sim_rebooting(), 30), "the unit did not come back");
	fd = open_tty();
	CHECK(fd >= 0, "open: %s", strerror(errno));
	CHECK(set_line(fd, 9600, CS8) == 0, "9600");
	CHECK(wait_daemon("up", 9600, -1, 15), "%s did not come up again", tty_name);
	why = reaches_line(fd, dev, "fresh");
	CHECK(!why, "%s", why);
	close(fd);
	close(dev);
	PASSED();
}

/*
 * With every buffer full (test_control_ahead_of_data), tcflow(TCIOFF)'s
 * XOFF goes out ahead of the data realcomd still holds (up to 64 KiB), as
 * a UART's x_char goes ahead of its buffer; what the socket and the unit
 * already have stays ahead of it.  The line is then made fast (control goes
 * ahead too) and the device's side read until the XOFF and 32 KiB of the
 * data behind it have come: behind everything, or lost, as before, fails.
 */
static void check_xchar_ahead(int fd, size_t total)
{
	static unsigned char b[4096];
	int dev = open(dev_path, O_RDWR | O_NOCTTY | O_NONBLOCK);
	size_t before = 0, after = 0;
	bool seen = false;
	double end = now() + 90;
	const char *variant_was = variant;

	variant = "_xchar_ahead";
	if (dev < 0 || set_line(dev, 921600, CS8) < 0) {
		printf("FAIL check_xchar_ahead: open %s: %s\n", dev_path, strerror(errno));
		failed++;
		goto out;
	}
	if (ioctl(fd, TCXONC, TCIOFF) < 0 || set_line(fd, 921600, CS8) < 0) {
		printf("FAIL check_xchar_ahead: TCIOFF, 921600: %s\n", strerror(errno));
		failed++;
		goto out;
	}
	while (now() < end && after < 32768) {
		ssize_t n = read(dev, b, sizeof(b));

		if (n <= 0) {
			poll(&(struct pollfd){ .fd = dev, .events = POLLIN }, 1, 100);
			continue;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (seen)
				after++;
			else if (b[i] == 0x13)
				seen = true;
			else
				before++;
		}
	}
	if (!seen || after < 32768) {
		printf("FAIL check_xchar_ahead: XOFF %s after %zu of %zu queued bytes, %zu behind it\n",
		       seen ? "came" : "did not come", before, total, after);
		failed++;
		goto out;
	}
	printf("  # XOFF after %zu of %zu queued bytes\n", before, total);
	printf("PASS check_xchar_ahead\n");
	passed++;
out:
	variant = variant_was;
	if (dev >= 0)
		close(dev);
}


/*
 * A close while a timed break is on: the break still ends on the device, and
 * what the next open writes reaches the line.  Over RFC 2217 realcomd times
 * the break itself; a session that ended within it (the tcsendbreak() cut
 * short, or realcomd reading the close before its timer ran) left the
 * server's line in break, holding every later byte.
 */
static void test_break_then_close(void)
{
	int fd = open_tty(), dev;
	const char *why;
	long long sent;

	CHECK(fd >= 0, "open: %s", strerror(errno));
	CHECK(wait_daemon("up", -1, -1, 10), "%s did not come up", tty_name);
	CHECK(wait_field("break", 0, 10), "the device's line is in break already");
	sent = port_field("breaks_sent");
	CHECK(break_cut_short(fd) == 0, "tcsendbreak: %s", strerror(errno));
	close(fd);
	CHECK(wait_field("breaks_sent", sent + 1, 10), "the break did not reach the device");
	CHECK(wait_field("break", 0, 10), "the break did not end after the last close");
	fd = open_tty();
	dev = open(dev_path, O_RDWR | O_NOCTTY | O_NONBLOCK);
	CHECK(fd >= 0 && dev >= 0, "open: %s", strerror(errno));
	why = reaches_line(fd, dev, "after the close");
	CHECK(!why, "written after the break: %s", why);
	close(fd);
	close(dev);
	PASSED();
}

/* The same with the link lost during the break: the next session ends it. */
static void test_break_then_drop(void)
{
	int fd = open_tty(), dev = open(dev_path, O_RDWR | O_NOCTTY | O_NONBLOCK);
	long long connects;
	const char *why;

	CHECK(fd >= 0 && dev >= 0, "open: %s", strerror(errno));
	CHECK(wait_daemon("up", -1, -1, 10), "%s did not come up", tty_name);
	CHECK(wait_field("break", 0, 10), "the device's line is in break already");
	connects = daemon_num("connects");
	CHECK(break_cut_short(fd) == 0, "tcsendbreak: %s", strerror(errno));
	json_object_put(sim("{\"cmd\":\"drop\",\"port\":1}"));
	CHECK(WAIT_UNTIL(daemon_num("connects") > connects && daemon_shows("up", -1, -1), 10),
	      "%s did not connect again after the drop", tty_name);
	CHECK(wait_field("break", 0, 10), "the break did not end with the next session");
	why = reaches_line(fd, dev, "after the drop");
	CHECK(!why, "written after the break: %s", why);
	close(fd);
	close(dev);
	PASSED();
}

/*
 * Ten thousand DTR and termios changes in a loop (bounded to 20 s under
 * emulation) while the unit answers late: the session stays, and the unit
 * ends where the application left it.  realcomd sends the state of then
 * once many answers are due, instead of ending the session.
 */
static void test_ioctl_storm(void)
{
	int fd = open_tty(), dtr = TIOCM_DTR, i;
	double end = now() + 20;
	long long sessions;
	const char *why = NULL;

	CHECK(fd >= 0, "open %s: %s", tty_path, strerror(errno));
	CHECK(wait_daemon("up", -1, -1, 10), "%s did not come up", tty_name);
	sessions = port_field("sessions");
	json_object_put(sim("{\"cmd\":\"stall\",\"port\":1,\"ms\":1000}"));
	for (i = 0; i < 10000 && now() < end && !why; i++)
		if (ioctl(fd, i % 2 ? TIOCMBIS : TIOCMBIC, &dtr) < 0 ||
		    set_line(fd, i % 2 ? 57600 : 9600, CS8) < 0)
			why = strerror(errno);
	if (!why && (ioctl(fd, TIOCMBIS, &dtr) < 0 || set_line(fd, 19200, CS8) < 0))
		why = strerror(errno);
	if (!why && !(wait_field("baud", 19200, 20) && wait_field("dtr", 1, 20)))
		why = "the unit did not end at 19200 with DTR on";
	if (!why && port_field("sessions") != sessions)
		why = "the session ended";
	close(fd);
	CHECK(!why, "after %d changes: %s", i, why);
	PASSED();
}
/*
 * A unit that stops taking data does not hold control back (docs/uapi.md,
 * TX_HOLD): at 300 baud with line-rate pacing the simulated unit takes 30
 * bytes/s, so writing fills every buffer on the way until write() stays
 * EAGAIN; DTR off and a new rate must still reach the unit at once.  The
 * queued data is then flushed and the connection dropped (a simulated
 * reboot), so nothing of it reaches later tests.
 */
static void test_control_ahead_of_data(void)
{
	static uint8_t chunk[4096];
	int fd = open_tty(), bits = TIOCM_DTR;
	double end = now() + 60;
	size_t total = 0;
	bool full = false;
	ssize_t n;

	CHECK(fd >= 0, "open %s: %s", tty_path, strerror(errno));
	CHECK(wait_daemon("up", -1, -1, 10), "%s did not come up", tty_name);
	CHECK(set_line(fd, 300, CS8) == 0, "300 baud: %s", strerror(errno));
	CHECK(wait_field("baud", 300, 10) && wait_field("dtr", 1, 10), "300 baud, DTR on did not reach the device");
	memset(chunk, 'q', sizeof(chunk));
	/* bounded by time and by 256 MiB; full once POLLOUT stays away for 1 s */
	while (now() < end && total < (256u << 20)) {
		n = write(fd, chunk, sizeof(chunk));
		if (n > 0) {
			total += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN)
			break;
		if (poll(&(struct pollfd){ .fd = fd, .events = POLLOUT }, 1, 1000) == 0) {
			full = true;
			break;
		}
	}
	CHECK(full, "the tty did not fill at 300 baud (%zu bytes written: %s)", total, strerror(errno));
	CHECK(ioctl(fd, TIOCMBIC, &bits) == 0, "TIOCMBIC: %s", strerror(errno));
	CHECK(set_line(fd, 9600, CS8) == 0, "9600: %s", strerror(errno));
	CHECK(wait_field("dtr", 0, 10) && wait_field("baud", 9600, 10),
	      "DTR off and 9600 did not reach the device while %zu bytes were queued", total);
	printf("  # %zu bytes queued when the device stopped taking data\n", total);
	check_xchar_ahead(fd, total);
	CHECK(ioctl(fd, TCFLSH, TCOFLUSH) == 0, "TCFLSH: %s", strerror(errno));
	json_object_put(sim("{\"cmd\":\"reboot\",\"ms\":200}"));
	close(fd);
	PASSED();
}

static void test_daemon_killed(void)
{
	int fd = open_tty();
	char c;
	ssize_t n = 1;

	CHECK(fd >= 0, "open: %s", strerror(errno));
	CHECK(kill(daemon_pid, SIGKILL) == 0, "kill realcomd: %s", strerror(errno));
	double end = now() + 10;
	while (now() < end) {
		n = read(fd, &c, 1);
		if (n == 0 || (n < 0 && errno != EAGAIN))
			break;
		poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, 100);
	}
	CHECK(n == 0 || (n < 0 && errno == EIO), "no hang-up on the tty (read %zd, %s)", n,
	      strerror(errno));
	close(fd);
	CHECK(WAIT_UNTIL(access(tty_path, F_OK) != 0, 10), "%s still exists after the daemon died",
	      tty_path);
	PASSED();
}

/* The pattern byte at offset i: no period the tty path could hide a slip in. */
static unsigned char pattern(uint64_t i)
{
	uint64_t x = i * 0x9E3779B97F4A7C15ull;

	x ^= x >> 29;
	x *= 0xBF58476D1CE4E5B9ull;
	return (unsigned char)(x >> 32);
}

static int bulk(const char *path, size_t total)
{
	static unsigned char out[1 << 16], in[1 << 16];
	struct serial_icounter_struct ic0 = { 0 }, ic1 = { 0 };
	size_t sent = 0, got = 0;
	struct termios2 t;
	double t0 = now(), last = t0;
	int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK);

	if (fd < 0 || ioctl(fd, TCGETS2, &t) < 0) {
		printf("FAIL bulk: %s: %s\n", path, strerror(errno));
		return 1;
	}
	t.c_iflag = 0;
	t.c_oflag = 0;
	t.c_lflag = 0;
	t.c_cflag = CS8 | CREAD | CLOCAL | B115200;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	ioctl(fd, TCSETS2, &t);
	ioctl(fd, TIOCGICOUNT, &ic0);
	while (got < total) {
		struct pollfd p = { .fd = fd, .events = POLLIN | (sent < total ? POLLOUT : 0) };
		ssize_t n;

		if (now() - last > 20) {
			ioctl(fd, TIOCGICOUNT, &ic1);
			printf("FAIL bulk: no progress for 20 s at %zu of %zu bytes back (%zu sent; "
			       "tty rx %d, buf_overrun %d)\n", got, total, sent, ic1.rx - ic0.rx,
			       ic1.buf_overrun - ic0.buf_overrun);
			return 1;
		}
		if (poll(&p, 1, 1000) <= 0)
			continue;
		if ((p.revents & POLLOUT) && sent < total) {
			size_t len = total - sent < sizeof(out) ? total - sent : sizeof(out);

			for (size_t i = 0; i < len; i++)
				out[i] = pattern(sent + i);
			n = write(fd, out, len);
			if (n > 0) {
				sent += (size_t)n;
				last = now();
			}
		}
		if (p.revents & POLLIN) {
			n = read(fd, in, sizeof(in));
			for (ssize_t i = 0; i < n; i++) {
				if (in[i] != pattern(got + (size_t)i)) {
					printf("FAIL bulk: byte %zu came back as 0x%02x, sent 0x%02x\n",
					       got + (size_t)i, in[i], pattern(got + (size_t)i));
					return 1;
				}
			}
			if (n > 0) {
				got += (size_t)n;
				last = now();
			}
		}
	}
	ioctl(fd, TIOCGICOUNT, &ic1);
	close(fd);
	if (ic1.buf_overrun != ic0.buf_overrun || (size_t)(ic1.rx - ic0.rx) != total) {
		printf("FAIL bulk: tty counted rx %d, buf_overrun %d for %zu bytes\n", ic1.rx - ic0.rx,
		       ic1.buf_overrun - ic0.buf_overrun, total);
		return 1;
	}
	printf("PASS bulk (%zu bytes out and back intact in %.1f s)\n", total, now() - t0);
	return 0;
}

/* Wait until path exists, by the end time; 0, or -1 saying why. */
static int wait_path(const char *path, double end)
{
	char dir[4096], buf[4096];
	struct stat st;
	int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK), r = -1;

	snprintf(dir, sizeof(dir), "%s", path);
	if (fd < 0 || inotify_add_watch(fd, dirname(dir), IN_CREATE | IN_MOVED_TO) < 0) {
		fprintf(stderr, "e2e: --wait %s: %s\n", path, strerror(errno));
		goto out;
	}
	/* the watch is set before the check: a path made in between is an event */
	while (stat(path, &st) < 0) {
		int left = (int)((end - now()) * 1000);

		if (left <= 0 || poll(&(struct pollfd){ .fd = fd, .events = POLLIN }, 1, left) <= 0) {
			fprintf(stderr, "e2e: --wait: no %s in time\n", path);
			goto out;
		}
		while (read(fd, buf, sizeof(buf)) > 0)
			;	/* which entry does not matter: stat() says */
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	return r;
}

/* One test, then every descriptor it left open is closed: a failed CHECK
 * returns at once, and a tty it held open would fail the tests after it. */
static void run(void (*test)(void))
{
	test();
	close_range(3, ~0U, 0);
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "--bulk"))
		return bulk(argv[2], strtoul(argv[3], NULL, 0));
	if (argc >= 4 && !strcmp(argv[1], "--wait")) {
		double end = now() + strtod(argv[2], NULL);

		for (int i = 3; i < argc; i++)
			if (wait_path(argv[i], end) < 0)
				return 1;
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--rfc2217")) {
		rfc2217 = true;
		variant = "_rfc2217";
		argc--;
		argv++;
	}
	if (argc != 6) {
		fprintf(stderr, "usage: e2e [--rfc2217] TTY SIM_CONTROL SIM_PTY REALCOMD_PID "
			"REALCOMD_CONTROL\n");
		return 2;
	}
	tty_path = argv[1];
	tty_name = strrchr(tty_path, '/') ? strrchr(tty_path, '/') + 1 : tty_path;
	ctl_path = argv[2];
	dev_path = argv[3];
	daemon_pid = atoi(argv[4]);
	daemon_ctl = argv[5];
	signal(SIGPIPE, SIG_IGN);
	run(test_line_settings);
	run(run_refused_rate);
	run(test_modem_lines);
	run(test_line_errors_and_break);
	run(test_break_then_close);
	run(test_break_then_drop);
	run(test_data_and_drain);
	run(test_settings_during_setup);
	run(test_break_held);
	run(test_ioctl_storm);
	if (!rfc2217) {
		run(test_control_ahead_of_data);
		run(test_drain_link_lost);
		run(test_break_released_while_down);
		run(test_stale_dropped);	/* once: its close waits 30 s */
		run(test_daemon_killed);	/* last: realcomd is gone after it */
	}
	printf("e2e: %d passed, %d failed\n", passed, failed);
	return failed != 0;
}
