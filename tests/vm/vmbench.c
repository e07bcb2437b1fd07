// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Benchmark client for the guest: 1-byte round trips and bulk echo through
 * a tty whose far end echoes (/dev/ttyR0 via realcomd and nportsim --echo,
 * or a socat relay as the anchor).  Measures and prints; judges nothing.
 *
 *   vmbench TTY LABEL [ROUNDS] [BULK_BYTES]
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/serial.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int rounds = argc > 3 ? atoi(argv[3]) : 1000;
	size_t bulk = argc > 4 ? strtoul(argv[4], NULL, 0) : 4 << 20;
	static unsigned char buf[1 << 16];
	struct termios t;
	double *rtt, t0, secs;
	size_t sent = 0, got = 0;
	int fd;

	if (argc < 3) {
		fprintf(stderr, "usage: vmbench TTY LABEL [ROUNDS] [BULK_BYTES]\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || tcgetattr(fd, &t) < 0) {
		fprintf(stderr, "vmbench: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	cfmakeraw(&t);
	t.c_cflag |= CLOCAL | CREAD;
	cfsetspeed(&t, B115200);
	tcsetattr(fd, TCSANOW, &t);
	rtt = calloc((size_t)rounds, sizeof(*rtt));
	for (int i = 0; i < rounds; i++) {
		unsigned char c = (unsigned char)i;
		struct pollfd p = { .fd = fd, .events = POLLIN };

		t0 = now();
		if (write(fd, &c, 1) != 1 || poll(&p, 1, 5000) != 1 || read(fd, buf, 16) <= 0) {
			fprintf(stderr, "vmbench: round trip %d failed\n", i);
			return 1;
		}
		rtt[i] = now() - t0;
	}
	qsort(rtt, (size_t)rounds, sizeof(*rtt), cmp);
	memset(buf, 0x55, sizeof(buf));
	t0 = now();
	while (got < bulk) {
		struct pollfd p = { .fd = fd, .events = POLLIN | (sent < bulk ? POLLOUT : 0) };
		ssize_t n;

		if (poll(&p, 1, 10000) != 1) {
			struct serial_icounter_struct ic = { 0 };

			/* where did it stop: dropped in the tty (buf_overrun) or never sent? */
			ioctl(fd, TIOCGICOUNT, &ic);
			fprintf(stderr, "vmbench: bulk stalled at %zu of %zu (sent %zu; tty rx %d, "
				"buf_overrun %d)\n", got, bulk, sent, ic.rx, ic.buf_overrun);
			return 1;
		}
		if ((p.revents & POLLOUT) && sent < bulk) {
			n = write(fd, buf, bulk - sent < sizeof(buf) ? bulk - sent : sizeof(buf));
			if (n > 0)
				sent += (size_t)n;
		}
		if (p.revents & POLLIN) {
			n = read(fd, buf, sizeof(buf));
			if (n > 0)
				got += (size_t)n;
		}
	}
	secs = now() - t0;
	printf("BENCH %s rtt_median_ms %.3f rtt_p99_ms %.3f bulk_mib_s %.2f\n", argv[2],
	       rtt[rounds / 2] * 1e3, rtt[rounds * 99 / 100] * 1e3, bulk / secs / (1 << 20));
	return 0;
}
