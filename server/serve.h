/*
 * serve.h — `trainbook serve`: the entry point the CLI calls.
 *
 * Threads: called on the main thread, which becomes the front door's
 * accept loop until SIGINT/SIGTERM.
 */
#ifndef TB_SERVER_SERVE_H
#define TB_SERVER_SERVE_H

/* argv[0] is "serve". Returns the process exit code (0 after a clean shutdown). */
int serve_main(int argc, char **argv);

/*
 * In .trainbook/: left by `trainbook users` when it made the folder, so the
 * first `serve` still treats the workspace as new (and seeds it).
 */
#define SERVE_FRESH_MARK "new-workspace"

/* argv[0] is "users": `trainbook users add|import|token|list|…` (users_main.c). */
int users_main(int argc, char **argv);

#endif
