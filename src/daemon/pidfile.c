/*
 * The pid file: one daemon per data directory.  The daemon holds an
 * exclusive flock on it for its whole life and writes its pid there; a
 * second daemon on the same data directory is refused, naming the first.
 * An upgrade hands the lock on to the new daemon, which then owns the
 * file; the daemon that still holds it at exit removes it.  Only this
 * file touches the descriptor.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "daemon-int.h"

/*
 * Whether pid names a live process (not a zombie): the daemon that holds
 * the pid file.  Reading /proc rather than kill(pid, 0) sees a zombie as
 * gone.
 */
static bool
pid_alive(long pid)
{
	char path[64], stat[256], *p;
	ssize_t n;
	int fd;

	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno != ENOENT && errno != ESRCH;
	n = read(fd, stat, sizeof(stat) - 1);
	close(fd);
	if (n <= 0)
		return true;
	stat[n] = '\0';
	p = strrchr(stat, ')');  /* the state follows the command's name */
	return p == NULL || p[1] != ' ' || (p[2] != 'Z' && p[2] != 'X');
}

/*
 * Takes the pid file's lock: one daemon per data directory.  A daemon
 * killed while a child it forked had not yet exec'd (git, a supervisor)
 * leaves the lock with that child until its exec closes the descriptor;
 * so when the pid in the file is gone, the lock is waited for a little
 * (PID_LOCK_WAIT_MS) instead of refusing to start.
 */
#define PID_LOCK_WAIT_MS 3000

int
daemon_pid_file_take(struct daemon *d, char **err)
{
	const char *path = config_pid_file(d->config);
	uint64_t deadline = pw_now_ms() + PID_LOCK_WAIT_MS;
	char pid[32];
	int fd, n;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		*err = xasprintf("cannot open the pid file %s: %s", path,
				 strerror(errno));
		return -errno;
	}
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		n = (int)pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		if (pid_alive(strtol(pid, NULL, 10)) ||
		    pw_now_ms() >= deadline) {
			*err = xasprintf("another pipewright (pid %s) is "
					 "serving %s", pid,
					 config_data_dir(d->config));
			close(fd);
			return -EBUSY;
		}
		usleep(10 * 1000);  /* the child's exec is on its way */
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		*err = xasprintf("cannot write the pid file %s: %s", path,
				 strerror(errno));
		close(fd);
		return -EIO;
	}
	d->pid_fd = fd;
	return 0;
}

void
daemon_pid_file_hand_on(struct daemon *d)
{
	if (d->pid_fd < 0)
		return;
	flock(d->pid_fd, LOCK_UN);
	close(d->pid_fd);
	d->pid_fd = -1;
}

void
daemon_pid_file_remove(struct daemon *d)
{
	if (d->pid_fd < 0)
		return;
	unlink(config_pid_file(d->config));
	close(d->pid_fd);
	d->pid_fd = -1;
}
