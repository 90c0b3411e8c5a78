/*
 * executor.c — the registry of executor kinds (see executor.h): one row
 * per kind, read by the settings parser and by runq_new; no other list of
 * names exists.
 *
 * Threads: read-only data.
 */
#include "executor.h"

#include <string.h>

static const struct executor_kind *const kinds[] = {&executor_local, &executor_slurm};

const struct executor_kind *executor_find(const char *name)
{
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (!strcmp(kinds[i]->name, name))
			return kinds[i];
	return NULL;
}

/* Built once, on the main thread while the settings are read. */
const char *executor_names(void)
{
	static char names[128];
	if (!names[0])
		for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
			if (i)
				strcat(names, ", ");
			strcat(names, kinds[i]->name);
		}
	return names;
}
