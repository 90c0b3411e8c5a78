/*
 * sandbox.h — `--user-separation`: each worker runs in a Linux Landlock
 * domain that lets it read and execute anything the server may, but write
 * only inside its own run directory (its checkpoints, its log and a
 * private TMPDIR there), open a few device files (/dev/null, GPUs), use
 * /dev/shm, and signal nobody outside its own domain (Landlock ABI 6+).
 *
 * Why Landlock and not a system user per student: it needs no user
 * accounts, no root and no chown of run directories, works the same for a
 * server run by root (the lab case) or by a user, and the kernel enforces
 * it on every path, symlinks included. A worker only ever runs specs (no
 * user code), so what it must not do is write where a crafted spec or
 * checkpoint path could point it; its reads are limited before it starts
 * (access.c checks data paths at submit and at start).
 *
 * What it is not: a namespace or seccomp sandbox (network and other
 * syscalls are not restricted: multi-process training uses TCP).
 *
 * Threads: sandbox_prepare on the supervisor thread; sandbox_enter in the
 * forked child before exec, where it makes only async-signal-safe syscalls.
 */
#ifndef TB_SERVER_SANDBOX_H
#define TB_SERVER_SANDBOX_H

#include <stddef.h>

/* The kernel's Landlock ABI version, or -1 (with why) when it has none or it is disabled. */
int sandbox_abi(char *why, size_t whylen);

/*
 * A ruleset for a worker of `run_dir` (absolute): an fd for
 * sandbox_enter, closed by the caller after fork. -1 with a message.
 */
int sandbox_prepare(const char *run_dir, char *err, size_t errlen);

/* In the child: no new privileges, then the ruleset. -1 on failure (the child must not exec then). */
int sandbox_enter(int ruleset_fd);

#endif
