/*
 * `pipewright-supervisor --make-netns N --send-fd F`: the helper exec runs
 * to fill its pool of empty network namespaces.
 *
 * A fresh network namespace costs about as much as the rest of a sandboxed
 * start together (~1 ms here), so exec keeps a bounded pool made ahead of
 * time, each used by exactly one job.  Making them needs CAP_SYS_ADMIN and
 * changes the caller's own namespace, which the libuv daemon must not do;
 * this helper does it in its own process: unshare a namespace, bring its
 * loopback up (the job, without capabilities over a namespace owned by the
 * host's user namespace, cannot), and send a descriptor of it over the
 * unix socket F (SCM_RIGHTS).  The namespace lives on in that descriptor
 * after we exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "supervisor.h"

static int
send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))], byte = 'n';
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr msg;
	struct cmsghdr *cm;

	memset(&msg, 0, sizeof(msg));
	memset(cbuf, 0, sizeof(cbuf));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

int
sv_loopback_up(void)
{
	struct ifreq ifr;
	int s, rc = 0;

	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0 ||
	    (ifr.ifr_flags |= IFF_UP | IFF_RUNNING,
	     ioctl(s, SIOCSIFFLAGS, &ifr) < 0))
		rc = -errno;
	close(s);
	return rc;
}

int
sv_netns_make(int count, int sock_fd)
{
	int i, fd, rc = 0;

	for (i = 0; i < count && rc == 0; i++) {
		if (unshare(CLONE_NEWNET) < 0) {
			sv_warn("unshare(CLONE_NEWNET)");
			return -errno;
		}
		if ((rc = sv_loopback_up()) < 0) {
			errno = -rc;
			sv_warn("bringing up loopback");
			return rc;
		}
		fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			sv_warn("/proc/self/ns/net");
			return -errno;
		}
		rc = send_fd(sock_fd, fd);
		if (rc < 0)
			sv_warn("sending a network namespace");
		close(fd);
	}
	return rc;
}
