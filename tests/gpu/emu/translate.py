"""Turn a .cu file into C++ for the CPU emulator: kernel launches
`k<<<grid, block, shmem, stream>>>(args)` become
`emu_launch(k, "k", grid, block, shmem, stream, args)` (the name for
EMU_TRACE's graph listing); everything else is left
to the macros of emu_cuda.h.

    translate.py IN.cu OUT.cpp
"""
import re
import sys

src = open(sys.argv[1]).read()
launch = re.compile(r"(\b\w+)<<<(.*?)>>>\(\s*(\)?)", re.S)


def repl(m):
    config = " ".join(m.group(2).split())
    if len(config.split(",")) < 4:
        sys.exit("%s: launch of %s needs explicit shared-memory and stream arguments" % (sys.argv[1], m.group(1)))
    return "emu_launch(%s, \"%s\", %s%s" % (m.group(1), m.group(1), config, ")" if m.group(3) else ", ")


out = launch.sub(repl, src)
with open(sys.argv[2], "w") as f:
    f.write('#line 1 "%s"\n' % sys.argv[1])
    f.write(out)
