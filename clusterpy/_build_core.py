"""cffi builder of ``clusterpy._core``, the compiled C reactor (csrc/).

Out-of-line API mode: the C sources are compiled together with cffi's
generated wrapper into one extension module.  The cdef is the part of
csrc/cp.h between the CDEF-BEGIN and CDEF-END markers, preprocessor lines
removed, so the compiler checks the declarations cffi sees against the
code.  setup.py names this file in ``cffi_modules``.  Developer build in
place: ``python setup.py build_ext --inplace`` (or ``pip install -e .``).
"""
import os
import re

from cffi import FFI

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_CSRC = "csrc"
SOURCES = [
    "reactor.c", "backend_epoll.c", "backend_poll.c", "slots.c", "heap.c",
    "timer.c", "linebuf.c", "writeq.c", "stream.c", "spawn.c", "child.c",
    "fanout.c", "userfd.c", "util.c",
]


def read_cdef(header: str) -> str:
    """The declarations of cp.h that cffi must see."""
    with open(header) as fh:
        text = fh.read()
    match = re.search(r"/\* CDEF-BEGIN \*/(.*)/\* CDEF-END \*/", text, re.S)
    if match is None:
        raise RuntimeError("%s: no CDEF-BEGIN/CDEF-END markers" % header)
    return "\n".join(line for line in match.group(1).splitlines()
                     if not line.lstrip().startswith("#"))


ffibuilder = FFI()
ffibuilder.cdef(read_cdef(os.path.join(_ROOT, _CSRC, "cp.h")))
ffibuilder.set_source(
    "clusterpy._core",
    '#include "cp.h"\n',
    # relative to the project root, the working directory of every build
    sources=[_CSRC + "/" + name for name in SOURCES],
    include_dirs=[_CSRC],
    extra_compile_args=["-O2", "-fvisibility=hidden"],
)
