/*
 * Signals as bytes on a self-pipe, so that the poll loop sees them like any
 * other event and no work happens in a handler.
 *
 * The write end is this file's one mutable global, a documented singleton:
 * a signal handler has no other way to find it.  It is set once, before the
 * handlers are installed, and never changes.  Both ends are non-blocking: a
 * full pipe drops the byte, which is harmless because the loop drains the
 * pipe on every round and reaps every child whatever byte woke it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "supervisor.h"

static int sig_write_fd = -1;   /* the singleton: written by handlers only */

static void
on_signal(int signo)
{
	int saved = errno;
	unsigned char c = (unsigned char)signo;
	ssize_t n;

	n = write(sig_write_fd, &c, 1);
	(void)n;
	errno = saved;
}

int
sv_signals_init(int *read_fd)
{
	static const int sigs[] = {SIGCHLD, SIGTERM, SIGINT};
	struct sigaction sa;
	int fds[2];
	size_t i;

	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	sig_write_fd = fds[1];
	*read_fd = fds[0];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigfillset(&sa.sa_mask);
	for (i = 0; i < PW_ARRAY_LEN(sigs); i++)
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return -errno;
	return 0;
}

void
sv_signals_read(int fd, bool *chld, bool *term)
{
	unsigned char buf[64];
	ssize_t n, i;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		for (i = 0; i < n; i++) {
			if (buf[i] == SIGCHLD)
				*chld = true;
			else
				*term = true;
		}
	}
}

void
sv_signals_close(int read_fd)
{
	sigset_t all;

	/* No handler may write into a descriptor number reused later. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	close(sig_write_fd);
	sig_write_fd = -1;
	close(read_fd);
}
