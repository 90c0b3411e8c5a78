/*
 * dist.c — launcher environment and file rendezvous (see dist.h).
 */
#include "dist.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "tb.h"

/* Read an integer variable; -1 when absent or malformed. */
static int env_int(const char *name)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return -1;
	char *end;
	long x = strtol(v, &end, 10);
	return *end || x < 0 || x > 1 << 20 ? -1 : (int)x;
}

static const struct {
	const char *source, *rank, *world, *local;
} launchers[] = {
	{"slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"},
	{"openmpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"},
	{"env", "RANK", "WORLD_SIZE", "LOCAL_RANK"},
};

int dist_env_detect(struct dist_env *d, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	d->world = 1;
	snprintf(d->source, sizeof(d->source), "single");
	for (size_t i = 0; i < TB_ARRAY_LEN(launchers); i++) {
		int rank = env_int(launchers[i].rank), world = env_int(launchers[i].world);
		if (rank < 0 && world < 0)
			continue;
		if (rank < 0 || world < 1 || rank >= world) {
			tb_fmt(err, errlen, "%s=%s and %s=%s do not describe a rank in a run", launchers[i].rank,
			       getenv(launchers[i].rank) ? getenv(launchers[i].rank) : "(unset)", launchers[i].world,
			       getenv(launchers[i].world) ? getenv(launchers[i].world) : "(unset)");
			return -1;
		}
		int local = env_int(launchers[i].local);
		d->rank = rank;
		d->world = world;
		d->local_rank = local >= 0 ? local : 0;
		snprintf(d->source, sizeof(d->source), "%s", launchers[i].source);
		return 0;
	}
	return 0;
}

int dist_rendezvous_file(const char *path, const struct dist_env *d, void *bytes, size_t len, double timeout_s,
			 char *err, size_t errlen)
{
	if (d->rank == 0)
		return atomic_write(path, bytes, len, false, err, errlen);
	double deadline = tb_now() + timeout_s;
	for (;;) {
		struct stat st;
		if (stat(path, &st) == 0 && (size_t)st.st_size == len) {
			FILE *f = fopen(path, "rb");
			size_t got = f ? fread(bytes, 1, len, f) : 0;
			if (f)
				fclose(f);
			if (got == len)
				return 0;
		}
		if (tb_now() > deadline) {
			tb_fmt(err, errlen, "rank %d: no rendezvous file %s from rank 0 after %.0f s (is the path shared by all nodes?)",
			       d->rank, path, timeout_s);
			return -1;
		}
		usleep(100 * 1000);
	}
}
