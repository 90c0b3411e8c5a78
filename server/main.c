/*
 * main.c — build/trainbook: the engine's commands (engine/cli/cli.h) plus
 * `serve` and `users`, which live here in server/ because the engine knows nothing of
 * HTTP.
 *
 * Threads: the main thread; `serve` makes it the front door's accept loop.
 */
#include <stddef.h>

#include "engine/cli/cli.h"
#include "serve.h"

static const struct cli_command server_commands[] = {
	{"serve", serve_main, "serve [options]              serve the notebook page and API (trainbook serve --help)"},
	{"users", users_main,
	 "users <command> [options]    classroom accounts: add, import, token, … (trainbook users --help)"},
	{NULL, NULL, NULL},
};

int main(int argc, char **argv)
{
	return cli_main("trainbook", server_commands, argc, argv);
}
