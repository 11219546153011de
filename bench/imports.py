"""Import time: the first import of a module, in a fresh interpreter.

The .pyc files are written beforehand, as they are for an installed
package; before the timed import the interpreter has loaded only the
bench/_child.py runner, which imports nothing.
"""
from time import perf_counter

from bench._suite import Group

G = Group("import", "import time")


def _module(name):
    return lambda lib: lib.has_module(name)


@G.child("import CLI.Nodeset", key="cli-nodeset", args=dict(module="CLI.Nodeset"),
         requires=_module("CLI.Nodeset"))
@G.child("import CLI.Clush", key="cli-clush", args=dict(module="CLI.Clush"),
         requires=_module("CLI.Clush"))
@G.child("import NodeSet", key="nodeset", args=dict(module="NodeSet"))
@G.child("import Task", key="task", args=dict(module="Task"))
def import_time(lib, module):
    start = perf_counter()
    lib.module(module)
    return perf_counter() - start
