/*
 * spawn.c — between fork and exec (see spawn.h).
 *
 * Threads: spawn_env before fork, on the caller's thread; spawn_exec_child
 * in the forked child only, with async-signal-safe calls only.
 */
#include "spawn.h"

#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox.h"
#include "tb.h"

extern char **environ;

char **spawn_env(const char *const *drop, int ndrop, const char *const *add, int nadd)
{
	size_t n = 0;
	while (environ[n])
		n++;
	char **env = tb_xcalloc(n + (size_t)nadd + 1, sizeof *env);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		bool keep = strncmp(environ[i], "TRAINBOOK_TOKEN=", 16) != 0;
		for (int d = 0; d < ndrop && keep; d++)
			keep = strncmp(environ[i], drop[d], strlen(drop[d])) != 0;
		if (keep)
			env[k++] = environ[i];
	}
	for (int a = 0; a < nadd; a++)
		env[k++] = (char *)add[a];
	return env;
}

void spawn_exec_child(pid_t parent, int in_fd, int out_fd, int err_fd, const char *dir, int sandbox_fd,
		      const char *const *argv, char *const *env)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigaction(SIGPIPE, &dfl, NULL);
	sigaction(SIGTERM, &dfl, NULL);
	sigaction(SIGINT, &dfl, NULL);
	/* Die with the server: a kill -9 of it must not leave workers behind. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	setpgid(0, 0);
	dup2(in_fd, STDIN_FILENO);
	dup2(out_fd, STDOUT_FILENO);
	dup2(err_fd, STDERR_FILENO);
	if (dir && chdir(dir) < 0)
		_exit(126);
	if (sandbox_fd >= 0 && sandbox_enter(sandbox_fd) < 0) {
		static const char msg[] = "trainbook: cannot enter the worker's sandbox (Landlock)\n";
		ssize_t n = write(STDERR_FILENO, msg, sizeof msg - 1);
		(void)n;
		_exit(126);
	}
	syscall(SYS_close_range, 3u, ~0u, 0u);
	execve(argv[0], (char *const *)argv, env);
	static const char msg[] = "trainbook: cannot execute the worker\n";
	ssize_t n = write(STDERR_FILENO, msg, sizeof msg - 1);
	(void)n;
	_exit(127);
}
