/*
 * sandbox.c — Landlock rulesets for workers (see sandbox.h).
 *
 * The kernel interface is declared here by hand (as gpumon.c does for
 * NVML): Debian 12's headers stop at Landlock ABI 2, and the machines this
 * runs on offer 6 or 7 (scoped signals, device ioctls). Each right is used
 * only when the running kernel's ABI knows it.
 *
 * Threads: see sandbox.h.
 */
#include "sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

/* struct landlock_ruleset_attr as of ABI 6; older kernels take a prefix (zeros after it are fine). */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

struct ll_path_beneath {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

#define LL_CREATE_RULESET_VERSION (1u << 0)
#define LL_RULE_PATH_BENEATH 1

#define FS_EXECUTE (1ull << 0)
#define FS_WRITE_FILE (1ull << 1)
#define FS_READ_FILE (1ull << 2)
#define FS_READ_DIR (1ull << 3)
#define FS_REMOVE_DIR (1ull << 4)
#define FS_REMOVE_FILE (1ull << 5)
#define FS_MAKE_CHAR (1ull << 6)
#define FS_MAKE_DIR (1ull << 7)
#define FS_MAKE_REG (1ull << 8)
#define FS_MAKE_SOCK (1ull << 9)
#define FS_MAKE_FIFO (1ull << 10)
#define FS_MAKE_BLOCK (1ull << 11)
#define FS_MAKE_SYM (1ull << 12)
#define FS_REFER (1ull << 13)           /* ABI 2 */
#define FS_TRUNCATE (1ull << 14)        /* ABI 3 */
#define FS_IOCTL_DEV (1ull << 15)       /* ABI 5 */
#define SCOPE_ABSTRACT_UNIX (1ull << 0) /* ABI 6 */
#define SCOPE_SIGNAL (1ull << 1)        /* ABI 6 */

/* Rights a file (not a folder) may be given. */
#define FILE_RIGHTS (FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV)

int sandbox_abi(char *why, size_t whylen)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
	if (abi < 1) {
		snprintf(why, whylen, "%s",
			 errno == ENOSYS       ? "this kernel has no Landlock (Linux 5.13 or newer)"
			 : errno == EOPNOTSUPP ? "Landlock is turned off (boot with lsm=…,landlock)"
					       : strerror(errno));
		return -1;
	}
	return (int)abi;
}

/* Every filesystem right this ABI knows: what the ruleset denies unless a rule allows it. */
static uint64_t handled_fs(int abi)
{
	uint64_t all = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_READ_DIR | FS_REMOVE_DIR | FS_REMOVE_FILE |
		       FS_MAKE_CHAR | FS_MAKE_DIR | FS_MAKE_REG | FS_MAKE_SOCK | FS_MAKE_FIFO | FS_MAKE_BLOCK |
		       FS_MAKE_SYM;
	if (abi >= 2)
		all |= FS_REFER;
	if (abi >= 3)
		all |= FS_TRUNCATE;
	if (abi >= 5)
		all |= FS_IOCTL_DEV;
	return all;
}

/* Allow `rights` (masked to what is handled) beneath `path`; a missing path is skipped. */
static int allow(int ruleset, const char *path, uint64_t rights, uint64_t handled, char *err, size_t errlen)
{
	int fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : (snprintf(err, errlen, "%s: %s", path, strerror(errno)), -1);
	struct stat st;
	if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
		rights &= FILE_RIGHTS;
	struct ll_path_beneath rule = {.allowed_access = rights & handled, .parent_fd = fd};
	int rc = rule.allowed_access ? (int)syscall(SYS_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &rule, 0) : 0;
	int e = errno;
	close(fd);
	if (rc < 0) {
		snprintf(err, errlen, "landlock rule for %s: %s", path, strerror(e));
		return -1;
	}
	return 0;
}

/* Device files a worker may open for writing: the harmless ones and the GPUs. */
static int allow_devices(int ruleset, uint64_t handled, char *err, size_t errlen)
{
	static const char *const plain[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/nvidia-caps"};
	for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
		if (allow(ruleset, plain[i], FS_READ_FILE | FS_WRITE_FILE | FS_IOCTL_DEV | FS_READ_DIR, handled, err,
			  errlen) < 0)
			return -1;
	DIR *d = opendir("/dev");
	if (!d)
		return 0;
	struct dirent *e;
	int rc = 0;
	while (rc == 0 && (e = readdir(d))) {
		if (strncmp(e->d_name, "nvidia", 6))
			continue;
		char path[300];
		snprintf(path, sizeof path, "/dev/%s", e->d_name);
		rc = allow(ruleset, path, FS_READ_FILE | FS_WRITE_FILE | FS_IOCTL_DEV, handled, err, errlen);
	}
	closedir(d);
	return rc;
}

int sandbox_prepare(const char *run_dir, char *err, size_t errlen)
{
	char why[160];
	int abi = sandbox_abi(why, sizeof why);
	if (abi < 1) {
		snprintf(err, errlen, "--user-separation needs Landlock: %s", why);
		return -1;
	}
	uint64_t handled = handled_fs(abi);
	struct ll_ruleset_attr attr = {.handled_access_fs = handled};
	if (abi >= 6)
		attr.scoped = SCOPE_SIGNAL | SCOPE_ABSTRACT_UNIX;
	int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
	if (ruleset < 0) {
		snprintf(err, errlen, "landlock_create_ruleset: %s", strerror(errno));
		return -1;
	}
	/* Read and run anything (the binary, its libraries, data, CUDA); write only below. */
	if (allow(ruleset, "/", FS_EXECUTE | FS_READ_FILE | FS_READ_DIR, handled, err, errlen) < 0 ||
	    allow(ruleset, run_dir, handled, handled, err, errlen) < 0 ||
	    allow(ruleset, "/dev/shm",
		  FS_READ_FILE | FS_WRITE_FILE | FS_READ_DIR | FS_MAKE_REG | FS_REMOVE_FILE | FS_TRUNCATE, handled, err,
		  errlen) < 0 ||
	    allow_devices(ruleset, handled, err, errlen) < 0) {
		close(ruleset);
		return -1;
	}
	return ruleset;
}

int sandbox_enter(int ruleset_fd)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return syscall(SYS_landlock_restrict_self, ruleset_fd, 0) < 0 ? -1 : 0;
}
