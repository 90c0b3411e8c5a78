/*
 * main.c — build/trainbook-engine: the engine's commands only (train,
 * worker, check, predict, export, parity, reference), so a GPU box without the web
 * libraries can still train. build/trainbook's main is server/main.c.
 */
#include <stddef.h>

#include "cli.h"

int main(int argc, char **argv)
{
	return cli_main("trainbook-engine", NULL, argc, argv);
}
