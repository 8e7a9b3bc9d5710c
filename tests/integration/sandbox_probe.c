/*
 * A job's probes of the kernel behind the sandbox, for test_sandbox_kernel.sh
 * (compiled there with gcc, run inside a strict job and, for the key
 * helpers, on the host as root).  Each probe prints one line saying what
 * happened: "NAME-OPEN" when the kernel gave the job what it asked for,
 * "NAME-refused <errno>" when not; the test script decides which is right.
 *
 * AF_VSOCK is only ever created, never connected or bound: the host's own
 * tooling listens on vsock ports.  Each way in is tried: socket() directly,
 * with high bits in the family (the kernel reads an int), through the x86
 * socketcall() multiplexer and the i386 socket() (int 0x80 from this 64-bit
 * process), and through io_uring's IORING_OP_SOCKET, which no system call
 * filter sees.  Where the CPU or the kernel has no int 0x80 for us (a
 * PVM guest raises SIGSEGV), the 32-bit probes say "NAME-unavailable".
 *
 *   sandbox_probe vsock | vsock-hibits | vsock-socketcall | vsock-i386 |
 *                 vsock-uring | family N | pers HEX | pers-hibits HEX
 *   sandbox_probe addkey UID NAME     (host, root: a key in UID's keyring)
 *   sandbox_probe rmkey UID ID        (host, root: invalidates it)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/net.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#define I386_SOCKETCALL 102
#define I386_SOCKET 359

static int
report(const char *name, long rc, int err)
{
	if (rc >= 0)
		printf("%s-OPEN\n", name);
	else
		printf("%s-refused %d\n", name, err);
	return 0;
}

static sigjmp_buf no_int80;

static void
on_segv(int sig)
{
	(void)sig;
	siglongjmp(no_int80, 1);
}

/* A 32-bit system call from this 64-bit process (IA32 emulation). */
static long
int80(long nr, long a, long b, long c)
{
	long ret;

	signal(SIGSEGV, on_segv);
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(nr), "b"(a), "c"(b), "d"(c)
			 : "memory", "r8", "r9", "r10", "r11");
	return ret;
}

static int
vsock_socketcall(void)
{
	/* Its arguments are read from memory a 32-bit pointer reaches. */
	uint32_t *args = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
	long rc;

	if (args == MAP_FAILED)
		return report("vsock-socketcall", -1, errno);
	args[0] = AF_VSOCK;
	args[1] = SOCK_STREAM;
	args[2] = 0;
	rc = int80(I386_SOCKETCALL, SYS_SOCKET, (long)(uintptr_t)args, 0);
	return report("vsock-socketcall", rc, rc < 0 ? (int)-rc : 0);
}

static int
vsock_i386(void)
{
	long rc = int80(I386_SOCKET, AF_VSOCK, SOCK_STREAM, 0);

	return report("vsock-i386", rc, rc < 0 ? (int)-rc : 0);
}

/* One IORING_OP_SOCKET, without liburing. */
static int
vsock_uring(void)
{
	struct io_uring_params p;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	unsigned *sq_tail, *sq_array, *cq_head, *cq_tail;
	size_t sq_len, cq_len;
	char *sq, *cq;
	int fd;

	memset(&p, 0, sizeof(p));
	fd = (int)syscall(__NR_io_uring_setup, 4, &p);
	if (fd < 0)
		return report("vsock-uring", -1, errno);
	sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		  IORING_OFF_SQ_RING);
	cq = mmap(NULL, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		  IORING_OFF_CQ_RING);
	sqes = mmap(NULL, p.sq_entries * sizeof(*sqes), PROT_READ | PROT_WRITE,
		    MAP_SHARED, fd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED)
		return report("vsock-uring-mmap", -1, errno);
	sq_tail = (unsigned *)(sq + p.sq_off.tail);
	sq_array = (unsigned *)(sq + p.sq_off.array);
	cq_head = (unsigned *)(cq + p.cq_off.head);
	cq_tail = (unsigned *)(cq + p.cq_off.tail);
	cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	memset(&sqes[0], 0, sizeof(sqes[0]));
	sqes[0].opcode = IORING_OP_SOCKET;
	sqes[0].fd = AF_VSOCK;          /* domain */
	sqes[0].off = SOCK_STREAM;      /* type */
	sqes[0].len = 0;                /* protocol */
	sq_array[0] = 0;
	__atomic_store_n(sq_tail, *sq_tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, fd, 1, 1, IORING_ENTER_GETEVENTS,
		    NULL, 0) < 0)
		return report("vsock-uring-enter", -1, errno);
	if (__atomic_load_n(cq_tail, __ATOMIC_ACQUIRE) == *cq_head)
		return report("vsock-uring-nocqe", -1, 0);
	return report("vsock-uring", cqes[*cq_head & (p.cq_entries - 1)].res,
		      -cqes[*cq_head & (p.cq_entries - 1)].res);
}

static int
key_helper(char **argv, int add)
{
	uid_t uid = (uid_t)strtoul(argv[2], NULL, 10);
	long id;

	if (setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0) {
		perror("setresuid");
		return 1;
	}
	if (add) {
		id = syscall(SYS_add_key, "user", argv[3], "x", 1,
			     KEY_SPEC_USER_KEYRING);
		if (id < 0) {
			perror("add_key");
			return 1;
		}
		printf("%ld\n", id);
		return 0;
	}
	id = strtol(argv[3], NULL, 10);
	return syscall(SYS_keyctl, KEYCTL_INVALIDATE, id) < 0;
}

int
main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";
	unsigned long v;
	long rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(what, "vsock") == 0) {
		rc = socket(AF_VSOCK, SOCK_STREAM, 0);
		return report("vsock", rc, errno);
	}
	if (strcmp(what, "vsock-hibits") == 0) {
		rc = syscall(SYS_socket, 0x100000000L | AF_VSOCK, SOCK_STREAM, 0);
		return report("vsock-hibits", rc, errno);
	}
	if (strncmp(what, "vsock-socketcall", 16) == 0 ||
	    strcmp(what, "vsock-i386") == 0) {
		if (sigsetjmp(no_int80, 1) != 0) {
			printf("%s-unavailable\n", what);
			return 0;
		}
		return what[6] == 's' ? vsock_socketcall() : vsock_i386();
	}
	if (strcmp(what, "vsock-uring") == 0)
		return vsock_uring();
	if (strcmp(what, "family") == 0 && argc == 3) {
		rc = socket(atoi(argv[2]), SOCK_STREAM, 0);
		if (rc < 0 && errno != EAFNOSUPPORT)  /* other type: it exists */
			rc = socket(atoi(argv[2]), SOCK_DGRAM, 0);
		return report("family", rc, errno);
	}
	if (strncmp(what, "pers", 4) == 0 && argc == 3) {
		v = strtoul(argv[2], NULL, 16);
		if (strcmp(what, "pers-hibits") == 0)
			v |= 0x100000000UL;
		rc = syscall(SYS_personality, v);
		report(what, rc, errno);
		if (rc >= 0 && v != 0xffffffffUL)
			printf("now %08x\n", (unsigned)personality(0xffffffff));
		return 0;
	}
	if ((strcmp(what, "addkey") == 0 || strcmp(what, "rmkey") == 0) &&
	    argc == 4)
		return key_helper(argv, what[0] == 'a');
	fprintf(stderr, "usage: sandbox_probe PROBE [ARG]\n");
	return 2;
}
