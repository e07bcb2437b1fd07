/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * TCP socket helpers: address resolution and formatting, non-blocking
 * connect, listening sockets, and the options every connection of ours
 * carries (TCP_NODELAY, short keep-alive).
 */
#ifndef REALCOM_SOCK_H
#define REALCOM_SOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* "[ffff:...:ffff]:65535" and a NUL */
#define SOCK_ADDRSTRLEN	56

struct sock_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Resolve host (a name, an IPv4 or an IPv6 address) and port; the first
 * answer wins.  Returns 0 or -EAI-style errors mapped to -EHOSTUNREACH /
 * -EINVAL; *why (may be NULL) gets gai_strerror's text. */
int sock_resolve(const char *host, uint16_t port, struct sock_addr *a, const char **why);

/* "192.0.2.10:966" or "[::1]:966" */
const char *sock_addr_str(const struct sock_addr *a, char buf[SOCK_ADDRSTRLEN]);

/* A non-blocking, close-on-exec socket with connect() started: returns the
 * fd (the connection may still be in progress: wait for EPOLLOUT, then call
 * sock_connect_result()) or -errno. */
int sock_connect(const struct sock_addr *a);
/* 0 once connected, or the -errno the connect failed with. */
int sock_connect_result(int fd);
/* Wait up to timeout_ms for a started connect; 0, -ETIMEDOUT or -errno.
 * For simple clients and tests; the daemon waits in its event loop. */
int sock_connect_wait(int fd, int timeout_ms);

/* TCP_NODELAY, and when keepalive_s > 0: SO_KEEPALIVE probing after
 * keepalive_s idle seconds instead of TCP's two hours.  0 or -errno. */
int sock_tune(int fd, unsigned int keepalive_s);

/* The peer has stopped answering TCP: data sent is being retransmitted, or
 * window probes (while it takes nothing) go unanswered.  A peer that holds
 * its window shut but answers (flow control) is not this. */
bool sock_unanswered(int fd);

/* A non-blocking listening TCP socket on addr:port (port 0: any), with
 * SO_REUSEADDR.  Returns the fd or -errno. */
int sock_listen(const char *addr, uint16_t port, int backlog);
/* The port a socket is bound to, or 0. */
uint16_t sock_local_port(int fd);

#endif
