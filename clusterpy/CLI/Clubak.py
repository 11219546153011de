"""clubak: gather "node: line" text (dshbak-style) as clush -b would.

Each line of standard input is split at the first separator (-S, ":" by
default) into a key and a message line.  Keys are node sets (or raw keys,
see --interpret-keys); lines are collected per node in a MsgTree, then
printed through CLI.Display: one block per node, gathered blocks (-b), line
mode (-L), diffs (--diff) or the message tree (-T).  Output, messages and
exit codes are those of ClusterShell 1.10.1's clubak.
"""

import sys
from typing import Any, Dict, List, Optional

from clusterpy.CLI.Display import Display, sys_stdin
from clusterpy.CLI.OptionParser import OptionParser
from clusterpy.CLI.Utils import bufnodeset_cmpkey, parse_fold_axis
from clusterpy.MsgTree import MODE_DEFER, MODE_TRACE, MsgTree
from clusterpy.NodeSet import (NodeSet, NodeSetParseError,
                               set_std_group_resolver_config)

__all__ = ["MODE_DEFER", "MODE_TRACE", "GENERIC_ERRORS",  # noqa: F822 (lazy)
           "display_tree", "display", "clubak", "main"]

_INDENT_STEP = 2


def __getattr__(name: str):
    # GENERIC_ERRORS imports the engine modules: only build it when asked
    if name == "GENERIC_ERRORS":
        from clusterpy.CLI import Error
        return Error.GENERIC_ERRORS
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def display_tree(tree: MsgTree, disp: Display, out: Any) -> None:
    """-T: print a trace-mode MsgTree as indented message lines, a header
    (or "nodes:" in line mode) before each line where nodes part ways."""
    indents: Dict[int, int] = {}
    indent = -_INDENT_STEP
    need_header = True
    for msgline, keys, depth, nchildren in tree.walk_trace():
        if need_header:
            if depth not in indents:
                indents[depth] = indent + _INDENT_STEP
            indent = indents[depth]
            nodes = NodeSet.fromlist(keys)
            if disp.line_mode:
                out.write("%s:\n" % nodes)
            else:
                out.write(disp.format_header(nodes, indent))
        out.write(" " * indent + bytes(msgline).decode(errors="replace") + "\n")
        # a line with one follower continues the same block
        need_header = nchildren != 1


def display(tree: MsgTree, disp: Display, gather: bool, trace_mode: bool,
            enable_nodeset_key: bool) -> None:
    """Print the messages of `tree` per node (sorted), per group of nodes
    with the same message (gather: biggest group first), or as a trace
    tree.  Keys are node names unless enable_nodeset_key is false."""
    if trace_mode:
        display_tree(tree, disp, sys.stdout)
        sys.stdout.flush()
        return
    if not enable_nodeset_key:
        if gather:
            for msg, keys in tree.walk():
                disp.print_gather_keys(keys, msg)
        else:
            for key in tree.keys():
                disp.print_gather_keys([key], tree[key])
        return
    if gather:
        gathered = [(msg, NodeSet.fromlist(keys)) for msg, keys in tree.walk()]
        gathered.sort(key=bufnodeset_cmpkey)
        for msg, nodes in gathered:
            disp.print_gather(nodes, msg)
    else:
        for node in NodeSet.fromlist(tree.keys()).nsiter():
            disp.print_gather(node, tree[str(node)])


class _KeyReader(object):
    """Turns input keys into node names, following --interpret-keys:
    always (bad node set: error), never (raw key), or auto (raw keys from
    the first key that is not a node set on)."""

    def __init__(self, interpret_keys: str) -> None:
        #: None: auto, True: always, False: never (or auto gave up)
        self.nodeset_keys: Optional[bool] = None
        if interpret_keys != "auto":
            self.nodeset_keys = interpret_keys == "always"
        self._names: Dict[str, List[str]] = {}

    def names(self, key: str) -> List[str]:
        if self.nodeset_keys is False:
            return [key]
        names = self._names.get(key)
        if names is None:
            try:
                names = list(NodeSet(key))
            except NodeSetParseError:
                if self.nodeset_keys:
                    raise
                self.nodeset_keys = False
                return [key]
            self._names[key] = names
        return names


def _read_input(options: Any, keys: _KeyReader, tree: MsgTree) -> None:
    """Feed the tree from standard input (-F: one whole message per node
    at the end)."""
    separator = options.separator.encode()
    echo = options.verbose or options.debug
    out = sys.stdout
    per_node: Dict[str, List[bytes]] = {}
    add = tree.add
    for line in sys_stdin():
        line = line.rstrip(b"\r\n")
        if echo:
            out.write("INPUT %s\n" % line.decode(errors="replace"))
        try:
            key, content = line.split(separator, 1)
            key = key.strip().decode(errors="replace")
            if not key:
                raise ValueError("no node found")
            names = keys.names(key)
        except ValueError as exc:
            raise ValueError('%s: "%s"' % (exc, line.decode(errors="replace"))) \
                from None
        if options.fast_mode:
            for name in names:
                per_node.setdefault(name, []).append(content)
        else:
            for name in names:
                add(name, content)
    for name, lines in per_node.items():
        add(name, b"\n".join(lines))


def clubak() -> None:
    """Run clubak with sys.argv: read stdin, print the gathered output."""
    parser = OptionParser("%prog [options]")
    parser.install_groupsconf_option()
    # -b/-c/--dshbak, -S separator, -q/-v, -F/-T/--interpret-keys
    parser.install_display_options(dshbak_compat=True, separator_option=True,
                                   verbose_options=True, msgtree_mode=True)
    options, _ = parser.parse_args()
    set_std_group_resolver_config(options.groupsconf)
    if options.axis:
        from clusterpy.Defaults import DEFAULTS
        DEFAULTS.fold_axis = parse_fold_axis(options.axis)

    keys = _KeyReader(options.interpret_keys)
    tree = MsgTree(mode=MODE_TRACE if options.trace_mode else MODE_DEFER)
    if options.fast_mode and (options.trace_mode or options.line_mode):
        parser.error("incompatible tree options")
    _read_input(options, keys, tree)

    try:
        disp = Display(options)
    except ValueError as exc:
        parser.error("option mismatch (%s)" % exc)
    if options.debug:
        print("clubak: line_mode=%s gather=%s tree_depth=%d"
              % (bool(options.line_mode), bool(disp.gather), tree._depth()),
              file=sys.stderr)
    display(tree, disp, disp.gather or disp.regroup, options.trace_mode,
            keys.nodeset_keys is not False)


def main() -> None:
    """Console entry point of clubak: exit 0, or 1 on error (2 on usage
    error)."""
    try:
        clubak()
    except (Exception, KeyboardInterrupt) as exc:
        from clusterpy.CLI.Error import GENERIC_ERRORS, handle_generic_error
        if not isinstance(exc, GENERIC_ERRORS):
            raise
        sys.exit(handle_generic_error(exc))
    sys.exit(0)


if __name__ == "__main__":
    main()
