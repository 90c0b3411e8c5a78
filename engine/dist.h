/*
 * dist.h — where this process sits in a multi-node run, and how its ranks
 * meet.
 *
 * What it is: rank and world size read from the launcher's environment
 * (Slurm's srun, Open MPI's mpirun, or RANK/WORLD_SIZE as torchrun sets
 * them), and a file rendezvous: process 0 writes the NCCL unique id to a
 * file on a shared path, the others wait for it. What it is not: the
 * collective itself (collective.h, NCCL in engine/cuda/).
 *
 * Threads: called once at start-up by the training thread.
 */
#ifndef TB_DIST_H
#define TB_DIST_H

#include <stddef.h>

struct dist_env {
	int rank;            /* this process among all processes, from 0 */
	int world;           /* processes in the run */
	int local_rank;      /* this process among those on its node (picks its GPUs) */
	char source[32];     /* "slurm", "openmpi", "env", or "single" */
};

/* Fill from SLURM_PROCID/SLURM_NTASKS/SLURM_LOCALID, OMPI_COMM_WORLD_RANK/
 * _SIZE/_LOCAL_RANK, or RANK/WORLD_SIZE/LOCAL_RANK; a single process
 * otherwise. Returns -1 with err when the variables contradict each other. */
int dist_env_detect(struct dist_env *d, char *err, size_t errlen);

/*
 * Process 0 writes `len` bytes to `path` atomically; every other process
 * waits (up to timeout_s) until the file exists with that size and reads
 * it into `bytes`. `path` must be on a file system all nodes see
 * (TRAINBOOK_RENDEZVOUS, or <out dir>/rendezvous.bin).
 */
int dist_rendezvous_file(const char *path, const struct dist_env *d, void *bytes, size_t len, double timeout_s,
			 char *err, size_t errlen);

#endif
