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

#endif
