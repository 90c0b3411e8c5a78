/* cuda_fp16.h for the CPU emulator: everything is in emu_cuda.h. */
#include "../emu_cuda.h"
