/*
 * systemd's readiness protocol, without libsystemd: one datagram with
 * "READY=1", "STOPPING=1" or "MAINPID=N\nREADY=1" (after an upgrade, the
 * new daemon is the service's main process) to $NOTIFY_SOCKET, a path or
 * an abstract name written with a leading '@'.  Without the variable this
 * does nothing; a failure is only logged, never fatal.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon-int.h"

void
daemon_sd_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return;
	len = strlen(path);
	if (len >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    sendto(fd, state, strlen(state), MSG_NOSIGNAL,
		   (const struct sockaddr *)&sa,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0)
		log_warnx("systemd.notify error=\"%s\"", strerror(errno));
	if (fd >= 0)
		close(fd);
}
