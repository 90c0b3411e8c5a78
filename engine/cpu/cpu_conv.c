/*
 * cpu_conv.c — convolution, batch normalisation and pooling on the CPU.
 * (Filled in by the convolutional engine work; until then the entries stay
 * NULL and conv layers refuse to build on this backend.)
 */
#include "cpu_internal.h"

void cpu_conv_install(struct backend *be)
{
	(void)be;
}
