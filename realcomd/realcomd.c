// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * realcomd: maps remote serial ports as local ttys.  Reads realcom.conf,
 * creates a port (backend + protocol driver) per [ttyR<N>] section and runs
 * them all in one event loop.  SIGHUP or "realcomctl reload" re-reads the
 * configuration; SIGTERM stops.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include "cli.h"
#include "control.h"
#include "log.h"
#include "port.h"

#ifndef REALCOM_VERSION
#define REALCOM_VERSION "unknown"
#endif

static const char usage[] =
	"Usage: realcomd [OPTION]...\n"
	"Map the serial ports of NPort device servers (Real COM) and RFC 2217 servers as\n"
	"local ttys, as configured in realcom.conf(5).\n"
	"\n"
	"  -c, --config FILE   configuration (default " REALCOM_CONF_DEFAULT ")\n"
	"  -f, --foreground    stay in the foreground and log to stderr\n"
	"  -v, --verbose       log state changes and protocol details\n"
	"  -t, --check         check the configuration: print every problem (exit 1)\n"
	"                      or how many ports it maps (exit 0)\n"
	"  -p, --pidfile FILE  write the daemon's pid to FILE (removed at exit)\n"
	"  -h, --help          show this help\n"
	"  -V, --version       show the version\n";

static struct daemon daemon_state;
static const char *config_path = REALCOM_CONF_DEFAULT;
static const char *pidfile;

/* Make the port of slot i what pc says; *counts the outcome. */
static void daemon_apply_port(struct daemon *d, unsigned int i, const struct port_config *pc,
			      unsigned int count[5], bool *failed)
{
	enum { ADDED, CHANGED, REMOVED, UNCHANGED, RENEWED };
	struct port *p = d->ports[i];
	enum port_change change = p && pc->used ? port_config_change(port_config_wanted(p), pc)
						: PORT_CHANGE_TTY;

	*failed = false;
	if (p && change == PORT_CHANGE_NONE) {
		count[UNCHANGED]++;
		return;
	}
	/* The application keeps its tty (and, for keepalive, its connection);
	 * new settings that cannot be loaded leave the port running as it was. */
	if (p && change != PORT_CHANGE_TTY) {
		if (port_reconfigure(p, pc, change) < 0) {
			*failed = true;
			return;
		}
		log_info("ttyR%u: %s", i, port_change_name(change));
		count[RENEWED]++;
		return;
	}
	if (p) {
		port_free(p);
		d->ports[i] = NULL;
		if (!pc->used) {
			count[REMOVED]++;
			log_info("ttyR%u: removed", i);
		}
	}
	if (!pc->used)
		return;
	d->ports[i] = port_new(d, pc);
	if (d->ports[i])
		count[p ? CHANGED : ADDED]++;
	else
		*failed = true;
}

/* Bring the ports in line with cfg.  Returns how many configured ports could
 * not be set up (each says why in the log), or -1 if none of them could. */
static int daemon_apply(struct daemon *d, struct realcom_config *cfg, char *summary, size_t len)
{
	unsigned int count[5] = { 0 }, failed = 0, used = 0;
	char failures[128] = "";
	size_t flen = 0;
	bool fail;

	for (unsigned int i = 0; i < REALCOM_TTYS_MAX; i++) {
		used += cfg->port[i].used;
		if (!d->ports[i] && !cfg->port[i].used)
			continue;
		daemon_apply_port(d, i, &cfg->port[i], count, &fail);
		if (fail && failed++ < 8 && flen < sizeof(failures))
			flen += (size_t)snprintf(failures + flen, sizeof(failures) - flen, " ttyR%u", i);
	}
	/* "renewed" last: scripts that read the first four keep working */
	snprintf(summary, len, "%u added, %u changed, %u removed, %u unchanged, %u renewed%s%s%s",
		 count[0], count[1], count[2], count[3], count[4],
		 failed ? "; not set up (see the log):" : "", failures, failed > 8 ? " ..." : "");
	if (failed && failed == used)
		return -1;
	return (int)failed;
}

/* Every problem of a refused file, one log line each. */
static void log_problems(int level, const char *err)
{
	char line[CONF_ERR_MAX];
	const char *p = err;

	while (*p) {
		size_t n = strcspn(p, "\n");

		snprintf(line, sizeof(line), "%.*s", (int)n, p);
		log_msg(level, "%s", line);
		p += n + (p[n] == '\n');
	}
}

static uint64_t stop_deadline;		/* stopping (SIGTERM) until then */

static int daemon_reload(struct daemon *d, char *summary, size_t len, char *err)
{
	struct realcom_config *cfg;
	bool global;
	int r;

	/* a port it added would connect while the others drain for the exit */
	if (stop_deadline) {
		snprintf(err, CONF_ERR_MAX, "realcomd is stopping: the configuration is not read");
		log_warnx("reload: %s", err);
		return -1;
	}
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		snprintf(err, CONF_ERR_MAX, "out of memory");
		return -1;
	}
	if (config_load(config_path, cfg, err) != 0) {
		log_warnx("reload: %s refused, the running configuration stays:", config_path);
		log_problems(LOG_WARNING, err);
		free(cfg);
		return -1;
	}
	global = cfg->backend != d->cfg->backend || strcmp(cfg->pty_dir, d->cfg->pty_dir) ||
		 strcmp(cfg->control_socket, d->cfg->control_socket) ||
		 strcmp(cfg->control_group, d->cfg->control_group) ||
		 strcmp(cfg->pty_group, d->cfg->pty_group) || cfg->pty_mode != d->cfg->pty_mode;
	memcpy(cfg->pty_dir, d->cfg->pty_dir, sizeof(cfg->pty_dir));
	cfg->backend = d->cfg->backend;
	memcpy(cfg->control_socket, d->cfg->control_socket, sizeof(cfg->control_socket));
	memcpy(cfg->control_group, d->cfg->control_group, sizeof(cfg->control_group));
	memcpy(cfg->pty_group, d->cfg->pty_group, sizeof(cfg->pty_group));
	cfg->pty_mode = d->cfg->pty_mode;
	free(d->cfg);
	d->cfg = cfg;
	r = daemon_apply(d, cfg, summary, len);
	/* said to realcomctl too, not only in the log */
	if (global)
		snprintf(summary + strlen(summary), len - strlen(summary),
			 "; changes to [global] take effect at the next start");
	if (r != 0) {
		log_warnx("reloaded %s: %s", config_path, summary);
		sd_notifyf(0, "STATUS=%s", summary);
		snprintf(err, CONF_ERR_MAX, "%s", summary);
		return -1;
	}
	log_info("reloaded %s: %s", config_path, summary);
	sd_notifyf(0, "STATUS=%s", summary);
	return 0;
}

/* A port takes about six descriptors: 256 of them need more than the usual
 * soft limit of 1024. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* /run/realcom holds the control socket and the pty links. */
static void make_parent_dir(const char *path)
{
	char dir[256];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0755);
	}
}

/*
 * One daemon per control socket, and per pty_dir: an flock on SOCKET.lock
 * (and PTY_DIR/.realcomd.lock with the pty backend), held for the process's
 * life (and by the child once detached).  A second instance would take over
 * the socket and the tty links and orphan the first.  The file holds the
 * owner's pid for the message; it is never removed (removing a lock file
 * races with the next taker).  Returns the fd, kept open.
 */
/* The pid a lock file holds, or "". */
/* The owner's pid from its lock file: false while it has not written it, or
 * the file still names a process that has exited (the last owner's, read
 * before the new one emptied the file). */
static bool lock_pid(int fd, char pid[32])
{
	ssize_t n = pread(fd, pid, 31, 0);
	long v;

	pid[n > 0 ? n : 0] = '\0';
	pid[strcspn(pid, "\n")] = '\0';
	v = strtol(pid, NULL, 10);
	return v > 0 && v <= INT_MAX && (kill((pid_t)v, 0) == 0 || errno == EPERM);
}

static int daemon_lock(const char *path, const char *what, const char *remedy)
{
	struct pollfd in = { .fd = -1, .events = POLLIN };
	char pid[32], ev[sizeof(struct inotify_event) + NAME_MAX + 1];
	uint64_t end = loop_now_ms() + 500;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		fatal("lock %s", path);
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		/* the last owner's pid goes: a start meanwhile waits for ours */
		if (ftruncate(fd, 0) < 0)
			log_warn("lock file %s", path);
		return fd;
	}
	if (errno != EWOULDBLOCK)
		fatal("lock %s", path);
	/* The owner writes its pid just after it locks (and detaches): a start
	 * at the same moment waits for that write, half a second at most. */
	in.fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (in.fd >= 0 && inotify_add_watch(in.fd, path, IN_MODIFY) < 0) {
		close(in.fd);
		in.fd = -1;
	}
	while (!lock_pid(fd, pid) && in.fd >= 0 && loop_now_ms() < end &&
	       poll(&in, 1, (int)(end - loop_now_ms())) > 0)
		while (read(in.fd, ev, sizeof(ev)) > 0)
			;
	if (in.fd >= 0)
		close(in.fd);
	fatalx("another realcomd (pid %s) already %s (lock %s); %s",
	       lock_pid(fd, pid) ? pid : "unknown", what, path, remedy);
}

static void daemon_lock_all(const struct daemon *d, int lock_fd[2])
{
	char path[PATH_MAX + 32], what[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s.lock", d->cfg->control_socket);
	snprintf(what, sizeof(what), "serves %s", d->cfg->control_socket);
	lock_fd[0] = daemon_lock(path, what, "stop it first");
	lock_fd[1] = -1;
	if (d->backend != &backend_pty)
		return;
	mkdir(d->cfg->pty_dir, 0755);
	snprintf(path, sizeof(path), "%s/.realcomd.lock", d->cfg->pty_dir);
	snprintf(what, sizeof(what), "makes its ttys in %s", d->cfg->pty_dir);
	lock_fd[1] = daemon_lock(path, what, "stop it first, or give each realcomd its own pty_dir");
}

/* The pid into the lock file and, with --pidfile, into that file (written
 * whole under a temporary name, then renamed, so readers never see half). */
static void daemon_write_pid(const int lock_fd[2])
{
	char buf[32], tmp[PATH_MAX];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid()), fd;

	for (int i = 0; i < 2; i++)
		if (lock_fd[i] >= 0 &&
		    (ftruncate(lock_fd[i], 0) < 0 || pwrite(lock_fd[i], buf, (size_t)n, 0) != n))
			log_warn("lock file");
	if (!pidfile)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", pidfile);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, buf, (size_t)n) != n || close(fd) < 0 || rename(tmp, pidfile) < 0)
		fatal("pidfile %s", pidfile);
}

/*
 * Without -f: the process started waits until the daemon runs (its ports set
 * up, the control socket open) or has failed, and exits 0 or 1 with it, so
 * whoever started it sees a failure.  Messages go to its stderr until then,
 * to syslog after.  Returns the pipe's end for detach_done().
 */
static int detach_start(void)
{
	int fds[2], null;
	ssize_t n;
	pid_t pid;
	char c;

	if (pipe2(fds, O_CLOEXEC) < 0)
		fatal("pipe");
	pid = fork();
	if (pid < 0)
		fatal("fork");
	if (pid > 0) {
		close(fds[1]);
		do
			n = read(fds[0], &c, 1);
		while (n < 0 && errno == EINTR);
		_exit(n == 1 ? 0 : 1);	/* nothing: it exited, and said why */
	}
	close(fds[0]);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (setsid() < 0 || chdir("/") < 0 || null < 0 || dup2(null, STDIN_FILENO) < 0 ||
	    dup2(null, STDOUT_FILENO) < 0)
		fatal("detach");
	close(null);
	return fds[1];
}

/* Running: syslog from now on, and the process started exits 0. */
static void detach_done(int fd, bool verbose)
{
	int null;

	if (fd < 0)
		return;
	log_init("realcomd", false, verbose ? LOG_DEBUG : LOG_INFO);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDERR_FILENO);
		close(null);
	}
	if (write(fd, "", 1) != 1)
		log_warn("telling the starting process");
	close(fd);
}

/* A path given on the command line, made absolute: detaching changes to /
 * (before the pid file is written, and before any reload reads -c's file). */
static const char *from_root(const char *arg, char path[PATH_MAX])
{
	char cwd[PATH_MAX - 256];

	if (arg[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return arg;
	snprintf(path, PATH_MAX, "%s/%s", cwd, arg);
	return path;
}

static void daemon_remove_pidfile(void)
{
	if (pidfile)
		unlink(pidfile);
}

/* pty_group: the gid of the ttys, root (0) when the group is missing. */
static void daemon_pty_owner(struct daemon *d)
{
	struct group *gr = d->cfg->pty_group[0] ? getgrnam(d->cfg->pty_group) : NULL;

	d->pty_mode = d->cfg->pty_mode;
	d->pty_gid = gr ? gr->gr_gid : 0;
	if (!gr && d->cfg->pty_group[0])
		log_warnx("pty_group %s: no such group; the ttys stay group root",
			  d->cfg->pty_group);
}

/* Under systemd with stderr going to the journal: log through
 * sd_journal_send() so lines carry TTY= and PEER= (journalctl TTY=ttyR0). */
static bool on_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long dev, ino;
	struct stat st;

	return e && sscanf(e, "%lu:%lu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
	       st.st_dev == (dev_t)dev && st.st_ino == (ino_t)ino;
}

static void journal_write(int level, const char *tty, const char *peer, const char *msg)
{
	int r;

	if (tty[0])
		r = sd_journal_send("MESSAGE=%s: %s", tty, msg, "PRIORITY=%d", level,
				    "SYSLOG_IDENTIFIER=realcomd", "TTY=%s", tty, "PEER=%s", peer,
				    NULL);
	else
		r = sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", level,
				    "SYSLOG_IDENTIFIER=realcomd", NULL);
	if (r < 0)	/* the journal went away: its stream still takes lines */
		fprintf(stderr, "realcomd: %s%s%s\n", tty, tty[0] ? ": " : "", msg);
}

static void on_hup(struct loop *l, int signo, void *arg)
{
	char summary[256], err[CONF_ERR_MAX];

	daemon_reload(arg, summary, sizeof(summary), err);
}

/* A device's flood that stopped is still counted in the log (port_log_flush). */
static struct loop_timer flush_timer;

static void log_flush(struct loop_timer *t)
{
	struct daemon *d = t->arg;

	for (unsigned int i = 0; i < REALCOM_TTYS_MAX; i++)
		if (d->ports[i])
			port_log_flush(d->ports[i]);
}

#define STOP_MS		3500	/* ports drain for at most 3 s (port.c) */

static struct loop_timer stop_timer;

/* Exit once every port is down, or at the deadline. */
static void stop_check(struct loop_timer *t)
{
	struct daemon *d = t->arg;
	unsigned int busy = 0;

	for (unsigned int i = 0; i < REALCOM_TTYS_MAX; i++)
		busy += d->ports[i] && !port_is_down(d->ports[i]);
	if (busy == 0 || loop_now_ms() >= stop_deadline) {
		if (busy)
			log_warnx("stopping with %u port%s still draining", busy, busy == 1 ? "" : "s");
		loop_exit(d->loop, 0);
	}
}

static void on_term(struct loop *l, int signo, void *arg)
{
	struct daemon *d = arg;

	if (stop_deadline) {
		loop_exit(l, 0);	/* a second signal: now */
		return;
	}
	log_info("signal %d: stopping", signo);
	sd_notify(0, "STOPPING=1");
	for (unsigned int i = 0; i < REALCOM_TTYS_MAX; i++)
		if (d->ports[i])
			port_shutdown(d->ports[i]);
	stop_deadline = loop_now_ms() + STOP_MS;
	if (loop_timer_init(l, &stop_timer, stop_check, d) < 0 ||
	    loop_timer_arm(&stop_timer, 0, 20) < 0)
		loop_exit(l, 0);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "check", no_argument, NULL, 't' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct daemon *d = &daemon_state;
	bool foreground = false, verbose = false, check = false;
	char err[CONF_ERR_MAX], summary[256];
	static char config_abs[PATH_MAX], pidfile_abs[PATH_MAX];
	int c, r, lock_fd[2], detach_fd;

	cli_init("realcomd");
	while ((c = getopt_long(argc, argv, ":c:fvtp:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = from_root(optarg, config_abs);
			break;
		case 'f':
			foreground = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 't':
			check = true;
			break;
		case 'p':
			pidfile = from_root(optarg, pidfile_abs);
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			printf("realcomd %s\n", REALCOM_VERSION);
			return 0;
		default:
			return cli_option_error(c, argv, opts);
		}
	}
	if (optind < argc)
		return cli_unexpected_argument(argv[optind]);
	/* stderr until daemon(): whoever starts it sees why it would not start
	 * (a bad configuration, another realcomd); syslog after */
	foreground = foreground || getenv("INVOCATION_ID");
	log_init("realcomd", true, verbose ? LOG_DEBUG : LOG_INFO);
	if (on_journal())
		log_set_writer(journal_write);
	else
		log_set_timestamps(!check);
	d->cfg = calloc(1, sizeof(*d->cfg));
	if (!d->cfg)
		fatal("out of memory");
	if (config_load(config_path, d->cfg, err) != 0) {
		/* -t prints the problems as they are, for editors and scripts */
		if (check)
			fprintf(stderr, "%s\n", err);
		else
			log_problems(LOG_ERR, err);
		return 1;
	}
	if (check) {
		unsigned int n = 0;

		for (unsigned int i = 0; i < REALCOM_TTYS_MAX; i++)
			n += d->cfg->port[i].used;
		printf("%s: ok, %u port%s\n", config_path, n, n == 1 ? "" : "s");
		return 0;
	}
	if (d->cfg->backend == BACKEND_KERNEL && access(REALCOM_DEV, F_OK) < 0)
		fatalx("backend = kernel: %s does not exist (load realcom.ko: modprobe realcom)",
		       REALCOM_DEV);
	d->backend = d->cfg->backend == BACKEND_PTY ? &backend_pty :
		     d->cfg->backend == BACKEND_KERNEL || access(REALCOM_DEV, F_OK) == 0 ?
		     &backend_kernel : &backend_pty;
	make_parent_dir(d->cfg->control_socket);
	daemon_lock_all(d, lock_fd);
	detach_fd = foreground ? -1 : detach_start();
	daemon_write_pid(lock_fd);
	atexit(daemon_remove_pidfile);
	daemon_pty_owner(d);
	srandom((unsigned int)time(NULL) ^ (unsigned int)getpid());
	raise_fd_limit();
	signal(SIGPIPE, SIG_IGN);
	d->loop = loop_new();
	if (!d->loop)
		fatal("event loop");
	loop_signal_add(d->loop, SIGTERM, on_term, d);
	loop_signal_add(d->loop, SIGINT, on_term, d);
	loop_signal_add(d->loop, SIGHUP, on_hup, d);
	d->started_ms = loop_now_ms();
	if (loop_timer_init(d->loop, &flush_timer, log_flush, d) < 0 ||
	    loop_timer_arm(&flush_timer, LOG_LIMIT_MS / 2, LOG_LIMIT_MS / 2) < 0)
		fatal("timer");
	r = control_open(d, d->cfg->control_socket, daemon_reload);
	if (r < 0)
		exit(EXIT_FAILURE);	/* ctlsock_open() said why */
	if (daemon_apply(d, d->cfg, summary, sizeof(summary)) < 0) {
		control_close();
		fatalx("no port could be set up (%s)", summary);
	}
	log_info("started (%s, %s backend)", summary, d->backend->name);
	sd_notifyf(0, "READY=1\nSTATUS=%s", summary);
	detach_done(detach_fd, verbose);
	r = loop_run(d->loop);
	loop_timer_free(&stop_timer);
	loop_timer_free(&flush_timer);
	for (unsigned int i = 0; i < REALCOM_TTYS_MAX; i++)
		port_free(d->ports[i]);
	control_close();
	conn_finish_all();
	loop_free(d->loop);
	free(d->cfg);
	close(lock_fd[0]);
	if (lock_fd[1] >= 0)
		close(lock_fd[1]);
	return r < 0;
}
