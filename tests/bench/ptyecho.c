// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The ceiling of the pty benchmarks: a pty whose master gives back at once
 * what the application writes, with no network and no protocol behind it.
 * Whatever realcomd does, its path is this pty plus a device; the bulk and
 * round-trip figures of this program bound what any daemon could reach
 * through a pty on the machine at hand.
 *
 *   ptyecho LINK     makes a raw pty, links LINK to its slave, echoes until
 *                    signalled or until nothing has moved for a minute
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define IDLE_MS 60000
#define N_TTY_READ 4095		/* n_tty hands out at most this per read */

static int make_pty(const char *link)
{
	struct termios tio;
	int m, s;

	m = posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0)
		return -1;
	/* the slave stays open here, so the application's close leaves the
	 * master readable instead of hung up */
	s = open(ptsname(m), O_RDWR | O_NOCTTY);
	if (s < 0 || tcgetattr(s, &tio) < 0)
		return -1;
	cfmakeraw(&tio);
	if (tcsetattr(s, TCSANOW, &tio) < 0)
		return -1;
	unlink(link);
	if (symlink(ptsname(m), link) < 0)
		return -1;
	return m;
}

int main(int argc, char **argv)
{
	static char buf[1 << 18];
	size_t head = 0, tail = 0;	/* [tail, head) is read and not yet written */
	int m;

	if (argc != 2) {
		fprintf(stderr, "usage: ptyecho LINK\n");
		return 2;
	}
	m = make_pty(argv[1]);
	if (m < 0) {
		fprintf(stderr, "ptyecho: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	for (;;) {
		struct pollfd p = { .fd = m };
		ssize_t n;

		if (head < sizeof(buf))
			p.events |= POLLIN;
		if (head > tail)
			p.events |= POLLOUT;
		if (poll(&p, 1, IDLE_MS) <= 0)
			return 0;
		/* a few reads at once, as realcomd gathers them; a short one
		 * emptied the pty */
		for (int i = 0; i < 16 && (p.revents & POLLIN) && head < sizeof(buf); i++) {
			n = read(m, buf + head, sizeof(buf) - head);
			if (n <= 0)
				break;
			head += (size_t)n;
			if (n < N_TTY_READ)
				break;
		}
		if (head == tail)
			continue;
		n = write(m, buf + tail, head - tail);
		if (n > 0)
			tail += (size_t)n;
		if (tail == head) {
			head = tail = 0;
		} else if (tail >= sizeof(buf) / 2) {
			memmove(buf, buf + tail, head - tail);
			head -= tail;
			tail = 0;
		}
	}
}
