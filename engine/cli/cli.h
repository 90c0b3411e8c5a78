/*
 * cli.h — the `trainbook` subcommands that live in the engine (train,
 * worker, check, parity). `serve` lives in server/ and is linked only into
 * the full binary. Each returns the process exit code.
 */
#ifndef TB_CLI_H
#define TB_CLI_H

int cli_train(int argc, char **argv);   /* also `worker` (JSON events, for the server) */
int cli_check(int argc, char **argv);
int cli_parity(int argc, char **argv);
int cli_reference(int argc, char **argv); /* the spec reference from the tables (README) */

#endif
