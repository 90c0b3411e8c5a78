/* cuda_runtime.h for the CPU emulator: everything is in emu_cuda.h. */
#include "../emu_cuda.h"
