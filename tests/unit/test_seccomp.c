/*
 * The job's seccomp program (build/gen/sv-seccomp-bpf.h, made by
 * src/supervisor/gen/seccomp-gen.c) run through a small classic-BPF
 * interpreter on made-up system calls.  This reaches what a test job
 * cannot on every machine: the i386 and x32 entry points (a CPU or
 * hypervisor without 32-bit syscalls, a kernel without x32), the ceiling
 * above the calls this build knows, and the exact answers of each rule.
 * test_sandbox_kernel.sh tries the same things for real where it can.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sv-seccomp-bpf.h"

#define X32 0x40000000u
#define ALLOW SECCOMP_RET_ALLOW
#define ERR(e) (SECCOMP_RET_ERRNO | (e))

/* Runs the program on one call; fails the test on an opcode it lacks. */
static uint32_t
run(uint32_t arch, uint32_t nr, uint64_t a0)
{
	struct seccomp_data d;
	uint32_t acc = 0, word;
	size_t pc = 0, n = sizeof(sv_seccomp_insns) / sizeof(sv_seccomp_insns[0]);

	memset(&d, 0, sizeof(d));
	d.arch = arch;
	d.nr = (int)nr;
	d.args[0] = a0;
	while (pc < n) {
		const struct sock_filter *f = &sv_seccomp_insns[pc++];

		switch (f->code) {
		case BPF_LD | BPF_W | BPF_ABS:
			assert_true(f->k + 4 <= sizeof(d));
			memcpy(&word, (const char *)&d + f->k, 4);
			acc = word;
			break;
		case BPF_ALU | BPF_AND | BPF_K:
			acc &= f->k;
			break;
		case BPF_JMP | BPF_JA:
			pc += f->k;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += acc == f->k ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JGT | BPF_K:
			pc += acc > f->k ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JGE | BPF_K:
			pc += acc >= f->k ? f->jt : f->jf;
			break;
		case BPF_JMP | BPF_JSET | BPF_K:
			pc += (acc & f->k) != 0 ? f->jt : f->jf;
			break;
		case BPF_RET | BPF_K:
			return f->k;
		default:
			fail_msg("opcode 0x%04x at %zu: not in this interpreter",
				 f->code, pc - 1);
		}
	}
	fail_msg("the program ran off its end");
	return 0;
}

/* x86_64 numbers; i386 ones by name in each test. */
enum {
	NR_SOCKET = 41, NR_SOCKETPAIR = 53, NR_PERSONALITY = 135,
	NR_MOUNT = 165, NR_IO_URING_SETUP = 425, NR_CLONE3 = 435,
	I386_SOCKETCALL = 102, I386_PERSONALITY = 136, I386_SOCKET = 359,
	I386_IO_URING_SETUP = 425,
};

static void
test_socket_families(void **state)
{
	static const uint64_t ok[] = {1, 2, 10, 16};
	static const uint64_t refused[] = {0, 3, 4, 9, 11, 15, 17, 38, 40, 44,
					   45, 0x100000028ULL, 0x100000002ULL};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(run(AUDIT_ARCH_X86_64, NR_SOCKET, ok[i]), ALLOW);
		assert_int_equal(run(AUDIT_ARCH_X86_64, NR_SOCKETPAIR, ok[i]),
				 ALLOW);
		assert_int_equal(run(AUDIT_ARCH_I386, I386_SOCKET, ok[i]), ALLOW);
		assert_int_equal(run(AUDIT_ARCH_X86_64, X32 | NR_SOCKET, ok[i]),
				 ALLOW);
	}
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		assert_int_equal(run(AUDIT_ARCH_X86_64, NR_SOCKET, refused[i]),
				 ERR(EAFNOSUPPORT));
		assert_int_equal(run(AUDIT_ARCH_X86_64, NR_SOCKETPAIR,
				     refused[i]), ERR(EAFNOSUPPORT));
		if (refused[i] > 0xffffffffULL)
			continue;  /* 32-bit arguments: no high bits */
		assert_int_equal(run(AUDIT_ARCH_I386, I386_SOCKET, refused[i]),
				 ERR(EAFNOSUPPORT));
		assert_int_equal(run(AUDIT_ARCH_X86_64, X32 | NR_SOCKET,
				     refused[i]), ERR(EAFNOSUPPORT));
	}
}

/* socketcall's arguments are in memory: SYS_SOCKET(PAIR) never passes. */
static void
test_socketcall(void **state)
{
	(void)state;
	assert_int_equal(run(AUDIT_ARCH_I386, I386_SOCKETCALL, 1),
			 ERR(EAFNOSUPPORT));  /* SYS_SOCKET */
	assert_int_equal(run(AUDIT_ARCH_I386, I386_SOCKETCALL, 8),
			 ERR(EAFNOSUPPORT));  /* SYS_SOCKETPAIR */
	assert_int_equal(run(AUDIT_ARCH_I386, I386_SOCKETCALL, 3), ALLOW);
}

static void
test_personality(void **state)
{
	static const uint64_t ok[] = {0, 8, 0x20000, 0x20008, 0x40000,
				      0x40008, 0x60008, 0xffffffff};
	/* PER_BSD, PER_SVR4, READ_IMPLIES_EXEC, MMAP_PAGE_ZERO, ADDR_LIMIT_3GB */
	static const uint64_t refused[] = {6, 0x04100001, 0x400000, 0x100000,
					   0x8000000, 0x400008,
					   0x100000006ULL};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(run(AUDIT_ARCH_X86_64, NR_PERSONALITY, ok[i]),
				 ALLOW);
		assert_int_equal(run(AUDIT_ARCH_I386, I386_PERSONALITY, ok[i]),
				 ALLOW);
		assert_int_equal(run(AUDIT_ARCH_X86_64, X32 | NR_PERSONALITY,
				     ok[i]), ALLOW);
	}
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		assert_int_equal(run(AUDIT_ARCH_X86_64, NR_PERSONALITY,
				     refused[i]), ERR(EPERM));
		assert_int_equal(run(AUDIT_ARCH_I386, I386_PERSONALITY,
				     refused[i] & 0xffffffff), ERR(EPERM));
	}
}

static void
test_nosys_and_ceiling(void **state)
{
	uint32_t act;

	(void)state;
	assert_int_equal(run(AUDIT_ARCH_X86_64, NR_IO_URING_SETUP, 0),
			 ERR(ENOSYS));
	assert_int_equal(run(AUDIT_ARCH_I386, I386_IO_URING_SETUP, 0),
			 ERR(ENOSYS));
	assert_int_equal(run(AUDIT_ARCH_X86_64, NR_CLONE3, 0), ERR(ENOSYS));
	/* Far above anything a kernel has, on each entry point. */
	assert_int_equal(run(AUDIT_ARCH_X86_64, 4000, 0), ERR(ENOSYS));
	assert_int_equal(run(AUDIT_ARCH_I386, 4000, 0), ERR(ENOSYS));
	assert_int_equal(run(AUDIT_ARCH_X86_64, X32 | 4000, 0), ERR(ENOSYS));
	/* A tracer's cancelled call (-1) is left to the kernel. */
	assert_int_equal(run(AUDIT_ARCH_X86_64, 0xffffffff, 0), ALLOW);
	/* Ordinary calls pass; the old denials stand. */
	assert_int_equal(run(AUDIT_ARCH_X86_64, 0, 0), ALLOW);  /* read */
	assert_int_equal(run(AUDIT_ARCH_X86_64, NR_MOUNT, 0), ERR(EPERM));
	/* Another architecture is killed. */
	act = run(AUDIT_ARCH_AARCH64, 0, 0) & SECCOMP_RET_ACTION_FULL;
	assert_true(act == SECCOMP_RET_KILL_PROCESS ||
		    act == SECCOMP_RET_KILL_THREAD);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socket_families),
		cmocka_unit_test(test_socketcall),
		cmocka_unit_test(test_personality),
		cmocka_unit_test(test_nosys_and_ceiling),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
