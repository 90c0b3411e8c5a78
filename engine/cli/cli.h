/*
 * cli.h — the engine's subcommands (train, worker, check, predict,
 * export, parity, reference) and the dispatcher both binaries share.
 *
 * What it is: a table of commands and cli_main, which picks one by argv[1]
 * and prints the usage. build/trainbook-engine runs it with the engine's
 * commands only (engine/cli/main.c); build/trainbook adds `serve` and
 * `users`, which live in server/ (server/main.c) — the engine never includes server/.
 *
 * Threads: the main thread.
 */
#ifndef TB_CLI_H
#define TB_CLI_H

#include <stdbool.h>

/* One subcommand: argv[0] is its name; it returns the process exit code. */
struct cli_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage; /* its line in `trainbook help`: "train SPEC [options]   train a model ..." */
};

int cli_train(int argc, char **argv); /* also `worker` (JSON events, for the server) */
int cli_check(int argc, char **argv);
int cli_parity(int argc, char **argv);
int cli_predict(int argc, char **argv);   /* classify images with a checkpoint */
int cli_export(int argc, char **argv);    /* a checkpoint as ONNX */
int cli_reference(int argc, char **argv); /* the spec reference from the tables (README) */
int cli_sweep(int argc, char **argv);     /* run a spec's sweep: trials */
/* `trainbook check`'s trial table for a spec with a sweep: section; 0 without one, 2 on errors. */
int cli_sweep_preview(const char *path, const char *const *overrides, int noverrides, void *stdio_file);

/* The --set key.path=value options a command takes, at most. */
#define CLI_MAX_OVERRIDES 64

/*
 * Keep one --set value in overrides[*n]; false, with "<program>: at most 64
 * --set options" on stderr, when it is one too many.
 */
bool cli_add_override(const char *program, const char **overrides, int *n, const char *value);

/*
 * Run the command argv[1] names: one of `extra` (a table ending with a NULL
 * name, or NULL) or of the engine's, or version/help. `program` names the
 * binary in the usage text.
 */
int cli_main(const char *program, const struct cli_command *extra, int argc, char **argv);

#endif
