"""MsgTree: gathering identical and distinct outputs of many keys.

Micro scenarios in the benchmark process, with the tree's default mode (the
one tasks use).  Lines arrive interleaved, line i of every key before line
i + 1, as they do from commands running side by side.  Adding ends with
one walk, because in that mode the tree may defer its work to the first
walk; walking again then measures reading a built tree.
"""
from bench._suite import Group

G = Group("msgtree", "MsgTree")

KEYS, LINES = 128, 100


def _lines(shared):
    """{key: its lines}: the same lines for every key, or distinct ones."""
    keys = ["node%d" % i for i in range(KEYS)]
    return {key: [b"line %d of the output of %s" % (i, b"all" if shared else key.encode())
                  for i in range(LINES)] for key in keys}


def _fill(lib, outputs):
    tree = lib.MsgTree.MsgTree()
    rows = list(zip(*outputs.values()))
    keys = list(outputs)
    add = tree.add
    for row in rows:
        for key, line in zip(keys, row):
            add(key, line)
    return tree


def _walk(tree):
    return [(msg.message(), len(keys)) for msg, keys in tree.walk()]


def _register(shared):
    kind = "shared" if shared else "unique"

    @G.micro("add %d keys × %d %s lines, then walk once" % (KEYS, LINES, kind),
             key="add-" + kind)
    def add(lib):
        outputs = _lines(shared)
        return lambda: _walk(_fill(lib, outputs))

    @G.micro("walk a built tree of %d keys × %d %s lines" % (KEYS, LINES, kind),
             key="walk-" + kind)
    def walk(lib):
        tree = _fill(lib, _lines(shared))
        _walk(tree)
        return lambda: _walk(tree)


_register(shared=True)
_register(shared=False)
