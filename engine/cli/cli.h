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
int cli_predict(int argc, char **argv); /* classify images with a checkpoint */
int cli_export(int argc, char **argv);  /* a checkpoint as ONNX */

#endif
