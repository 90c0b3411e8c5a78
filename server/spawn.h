/*
 * spawn.h — the child side of starting a worker process from the server,
 * shared by the local executor (runs) and worker jobs (predict, export).
 *
 * What it is: what happens between fork and exec: the server's blocked
 * signals unblocked and its handlers reset, death with the server
 * (PR_SET_PDEATHSIG), a process group of its own (Ctrl-C in the server's
 * terminal reaches only the server, which then stops workers in order),
 * stdin/stdout/stderr from the given descriptors, every other descriptor
 * closed, then execve; and the environment it gets. What it is not: the parent's side (pipes,
 * environment, waiting), which each caller does its own way.
 *
 * Threads: called in the child of fork from a multithreaded server, so it
 * makes only async-signal-safe calls.
 */
#ifndef TB_SERVER_SPAWN_H
#define TB_SERVER_SPAWN_H

#include <sys/types.h>

/*
 * The server's environment for a child, built before fork (setenv is not
 * fork-safe): without TRAINBOOK_TOKEN (a worker runs whatever a spec asks
 * for and its stderr can reach a run's reason: it has no business knowing
 * the token), without the variables named in drop ("NAME=" prefixes) and
 * with the "NAME=value" strings of add appended. The array is malloc'd,
 * its strings are the environment's and add's own.
 */
char **spawn_env(const char *const *drop, int ndrop, const char *const *add, int nadd);

/*
 * Never returns: exec argv (argv[0] a path) with env, or _exit(127) saying
 * so on stderr. With `dir`, change to it first (accounts: relative data
 * paths mean the workspace); with sandbox_fd ≥ 0, enter that Landlock
 * ruleset (sandbox.h) last (_exit(126) when either fails).
 */
void spawn_exec_child(pid_t parent, int in_fd, int out_fd, int err_fd, const char *dir, int sandbox_fd,
		      const char *const *argv, char *const *env) __attribute__((noreturn));

#endif
