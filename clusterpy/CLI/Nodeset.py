"""cluset / nodeset: node set arithmetic on the command line.

One command (-c count, -e expand, -f fold, -r regroup, -l/-L list groups,
--index, --list-sources) applied to a set built from the arguments (or
from standard input when there are none), with the operations -x
(difference), -i (intersection) and -X (symmetric difference) applied in
order.  -R works on range sets (1,5,18-31) instead of node sets.  Output,
messages and exit codes are those of ClusterShell 1.10.1's cluset.

Standard input is read as text, one or more node sets per line, with "#"
starting a comment.
"""

import sys
from itertools import islice
from typing import Any, Callable, Iterator, List

from clusterpy.CLI.OptionParser import OptionParser
from clusterpy.NodeSet import NodeSet, RangeSet

__all__ = ["GENERIC_ERRORS",  # noqa: F822 (lazy, see __getattr__)
           "process_stdin", "compute_nodeset", "print_source_groups",
           "command_list", "nodeset", "main"]

_USAGE = "%prog [COMMAND] [OPTIONS] [ns1 [-ixX] ns2|...]"

# argument -> name of the in-place set method it applies
_OPERATIONS = {
    "-i": "intersection_update", "--intersection": "intersection_update",
    "-x": "difference_update", "--exclude": "difference_update",
    "-X": "symmetric_difference_update", "--xor": "symmetric_difference_update",
}


def __getattr__(name: str):
    # GENERIC_ERRORS imports the engine modules: only build it when asked
    if name == "GENERIC_ERRORS":
        from clusterpy.CLI import Error
        return Error.GENERIC_ERRORS
    raise AttributeError("module %r has no attribute %r" % (__name__, name))


def _stdin_words() -> List[str]:
    """Whitespace-separated words of standard input, comments removed.

    As in ClusterShell, each line is cut before its first "#", or else
    loses its last character: its newline, or the last character of a
    final line that has no newline.
    """
    text = sys.stdin.read()
    if "#" not in text:
        if text[-1:] != "\n":
            text = text[:-1]
        return text.split()
    lines = text.split("\n")
    last = lines.pop()      # text after the last newline
    words = []
    for line in lines:
        words += line.partition("#")[0].split()
    if last:
        words += last[:last.find("#")].split()
    return words


def process_stdin(xsetop: Callable, xsetcls: type, autostep: Any) -> None:
    """Read node sets from standard input and, if there is any node, give
    their union to xsetop (an in-place set method such as xset.update)."""
    stdin_set = xsetcls(autostep=autostep)
    stdin_set.updaten(_stdin_words())
    if stdin_set:
        xsetop(stdin_set)


def compute_nodeset(xset, args: List[str], autostep: Any):
    """Apply the positional arguments to xset (NodeSet or RangeSet) in
    order and return it: node sets are added, "-i SET", "-x SET" and
    "-X SET" combine the set so far with SET; "-" stands for standard
    input.  An argument may hold several lines, one node set each.
    Consumes args."""
    xsetcls = type(xset)
    while args:
        arg = args.pop(0)
        opname = _OPERATIONS.get(arg)
        if opname is None:
            operand, opname = arg, "update"
        else:
            operand = args.pop(0)
        operation = getattr(xset, opname)
        if operand == "-":
            process_stdin(operation, xsetcls, autostep)
        else:
            operation(xsetcls.fromlist(operand.splitlines(),
                                       autostep=autostep))
    return xset


def print_source_groups(source, level: int, xset, opts: Any) -> None:
    """Print the groups of a group source at list level 1 (names), 2
    (and nodes) or 3 (and counts).  When a set of nodes is given (or -a
    or an operation), only groups holding some of them are listed, with
    the nodes of the set that they hold."""
    if opts.all or xset or opts.and_nodes or opts.sub_nodes or opts.xor_nodes:
        groups = xset.groups(source, opts.groupbase)
        for name, (members, found) in sorted(groups.items()):
            if level == 1:
                print(name)
            elif level == 2:
                print("%s %s" % (name, found))
            else:
                print("%s %s %d/%d" % (name, found, len(found), len(members)))
        return
    from clusterpy.NodeSet import grouplist
    prefix = "@%s:" % source if source and not opts.groupbase else "@"
    for group in grouplist(source):
        name = prefix + group
        if level == 1:
            print(name)
            continue
        members = NodeSet(name)
        if level == 2:
            print("%s %s" % (name, members))
        else:
            print("%s %s %d" % (name, members, len(members)))


def command_list(options: Any, xset, group_resolver) -> None:
    """-l (one source) and -L (all sources; a source without a list
    upcall is then only a warning)."""
    from clusterpy.NodeUtils import GroupSourceNoUpcall
    level = options.list + options.listall + options.completion
    if options.listall:
        sources = group_resolver.sources()
        # the first is the default (or -s) source: listed without prefix
        if sources:
            sources[0] = None
    else:
        sources = [options.groupsource]
    for source in sources:
        try:
            print_source_groups(source, level, xset, options)
        except GroupSourceNoUpcall as exc:
            if not options.listall:
                raise
            print("Warning: No %s upcall defined for group source %s"
                  % (exc, source), file=sys.stderr)


def _parse_separator(text: str) -> str:
    """The -S value with its backslash escapes interpreted, as a Python
    string literal; SyntaxError if it is not one."""
    if "\\" not in text and "'" not in text:
        return text
    import ast
    try:
        value = ast.literal_eval("'''%s'''" % text)
    except ValueError:      # an expression, not a literal
        raise SyntaxError("invalid separator") from None
    if not isinstance(value, str):      # such as a tuple of strings
        raise SyntaxError("invalid separator")  # noqa: TRY004 (main's contract)
    return value


def _check_options(parser: OptionParser, options: Any) -> None:
    """Usage errors (exit 2), in ClusterShell's order."""
    commands = (options.count, options.expand, options.fold, options.list,
                options.listall, options.regroup, options.groupsources,
                options.completion, options.index is not None)
    ncommands = sum(1 for cmd in commands if cmd)
    if ncommands == 0:
        parser.error("No command specified.")
    if ncommands > 1:
        parser.error("Multiple commands not allowed.")
    if options.rangeset and (options.all or options.regroup):
        parser.error("-a/-r only supported in NodeSet mode")
    if options.maxsplit is not None and options.contiguous:
        parser.error("incompatible splitting options (split, contiguous)")
    if options.axis and (not options.fold or options.rangeset):
        parser.error("--axis option is only supported when folding nodeset")
    if options.index is not None and options.pick:
        parser.error("--index cannot be combined with --pick")


def _print_sources(group_resolver, quiet: bool) -> None:
    """--list-sources: one source a line, the default one first."""
    mark = "" if quiet else " (default)"
    for source in group_resolver.sources():
        print(source + mark)
        mark = ""


#: most elements -e prints (ClusterShell refuses to build larger ranges)
MAX_EXPANDED = 10 ** 9
#: names joined at a time by _joined
_EXPAND_CHUNK = 1 << 16


def _joined(sep: str, names: Iterator[str]) -> str:
    """sep.join(names), but a large set is written out piece by piece
    (what is left to print is returned): memory stays bounded."""
    chunk = list(islice(names, _EXPAND_CHUNK))
    if len(chunk) < _EXPAND_CHUNK:
        return sep.join(chunk)
    write = sys.stdout.write
    write(sep.join(chunk))
    for chunk in iter(lambda: list(islice(names, _EXPAND_CHUNK)), []):
        write(sep)
        write(sep.join(chunk))
    return ""


def _formatter(options: Any, xsetcls: type, xset, sep: str):
    """(set to print, function giving the text of a set or subset)."""
    fmt = options.output_format
    plain = fmt == "%s"
    if options.expand:
        if xset._size() > MAX_EXPANDED:
            raise OverflowError("range too large to expand: %d elements (at most %d)"
                                % (xset._size(), MAX_EXPANDED))
        if plain:
            return xset, lambda sub: _joined(sep, sub.striter())
        return xset, lambda sub: _joined(sep, (fmt % name for name in sub.striter()))
    if options.fold:
        if xsetcls is NodeSet and not plain:
            # format each node first, then fold the formatted names
            formatted = NodeSet._fromlist1([fmt % name for name in xset],
                                           autostep=xset.autostep)
            return formatted, str
        return xset, fmt.__mod__
    if options.regroup:
        return xset, lambda sub: fmt % sub.regroup(options.groupsource,
                                                   noprefix=options.groupbase)
    return xset, lambda sub: fmt % sub._size()


def _slice(xsetcls: type, xset, slices: str):
    """The elements of xset at the positions of a range set string."""
    sliced = xsetcls()
    for part in RangeSet(slices).slices():
        sliced.update(xset[part])
    return sliced


def _pick(xsetcls: type, xset, count: int) -> None:
    """Keep `count` elements of xset drawn at random."""
    import random
    # positions drawn, not a list of every element: the set may be huge
    size = xset._size()
    if size <= sys.maxsize:
        positions = random.sample(range(size), count)
    else:   # count < size: drawing again on a repeat ends soon
        positions = set()
        while len(positions) < count:
            positions.add(random.randrange(size))
    kept = [xset[index] for index in positions]
    xset.intersection_update(xsetcls(",".join(str(elem) for elem in kept)))


def nodeset() -> None:
    """Run cluset with sys.argv; print the result on stdout."""
    parser = OptionParser(_USAGE)
    parser.install_groupsconf_option()
    parser.install_nodeset_commands()
    parser.install_nodeset_operations()
    parser.install_nodeset_options()
    options, args = parser.parse_args()

    from clusterpy.NodeSet import (set_std_group_resolver_config,
                                   std_group_resolver)
    set_std_group_resolver_config(options.groupsconf)
    group_resolver = std_group_resolver()
    if options.debug:
        import logging
        logging.basicConfig(level=logging.DEBUG)

    _check_options(parser, options)
    xsetcls = RangeSet if options.rangeset else NodeSet
    if options.maxsplit is None:
        options.maxsplit = 1
    if options.groupsource:
        if options.rangeset and not options.quiet:
            print('WARNING: option group source "%s" ignored'
                  % options.groupsource, file=sys.stderr)
        # -s SOURCE makes SOURCE the default one: "@group" is looked up there
        group_resolver.default_source_name = options.groupsource
    if options.groupsources:
        _print_sources(group_resolver, options.quiet)
        return

    # a percentage or "auto" is turned into a node count once the set is
    # known; the set is built without autostep until then
    autostep = options.autostep
    if autostep == "auto" or isinstance(autostep, float):
        autostep = None
    xset = xsetcls(autostep=autostep)
    if options.all:
        xset.update(NodeSet.fromall())
    listing = options.list or options.listall or options.completion
    if not args and not options.all and not listing:
        process_stdin(xset.update, xsetcls, autostep)

    operations = (("intersection_update", options.and_nodes),
                  ("difference_update", options.sub_nodes),
                  ("symmetric_difference_update", options.xor_nodes))
    if not xset and not options.quiet and any(ops for _, ops in operations):
        print("WARNING: empty left operand for set operation",
              file=sys.stderr)
    for opname, operands in operations:
        operation = getattr(xset, opname)
        for operand in operands:
            if operand == "-":
                process_stdin(operation, xsetcls, autostep)
            else:
                operation(xsetcls(operand, autostep=autostep))
    compute_nodeset(xset, args, autostep)

    if options.list or options.listall:
        command_list(options, xset, group_resolver)
        return
    if options.completion:
        # bash completion: group source prefixes, groups, then the nodes
        # of the groups given as arguments
        if not options.groupsource:
            for source in group_resolver.sources():
                print("@%s:" % source)
        command_list(options, None, group_resolver)
        if not xset:
            return
        options.expand = True

    _emit(options, xsetcls, xset)


def _emit(options: Any, xsetcls: type, xset) -> None:
    """Transform the computed set (-I, --autostep, --axis, --pick) and
    print the command's result."""
    # checked whatever the command, as ClusterShell does
    sep = _parse_separator(options.separator)
    if options.slice_rangeset:
        xset = _slice(xsetcls, xset, options.slice_rangeset)
    autostep = options.autostep
    if autostep == "auto":
        xset.autostep = max(3, xset._size())
    elif isinstance(autostep, float):
        import math
        xset.autostep = math.ceil(xset._size() * autostep)
    if options.axis:
        from clusterpy.CLI.Utils import parse_fold_axis
        xset.fold_axis = parse_fold_axis(options.axis)
    if options.pick and options.pick < xset._size():
        _pick(xsetcls, xset, options.pick)

    if options.index is not None:
        print(options.output_format % xset.index(options.index))
        return
    xset, text = _formatter(options, xsetcls, xset, sep)
    if not xset or (options.maxsplit <= 1 and not options.contiguous):
        print(text(xset))
        return
    parts = xset.contiguous() if options.contiguous \
        else xset.split(options.maxsplit)
    for part in parts:
        print(text(part))


def main() -> None:
    """Console entry point of cluset and nodeset: exit 0 on success, 1 on
    error, 2 on usage error."""
    try:
        nodeset()
    except (AssertionError, IndexError, ValueError, OverflowError, MemoryError) as exc:
        print("ERROR: %s" % (exc or "out of memory"), file=sys.stderr)
        sys.exit(1)
    except SyntaxError:
        print("ERROR: invalid separator", file=sys.stderr)
        sys.exit(1)
    except (Exception, KeyboardInterrupt) as exc:
        from clusterpy.CLI.Error import GENERIC_ERRORS, handle_generic_error
        if not isinstance(exc, GENERIC_ERRORS):
            raise
        sys.exit(handle_generic_error(exc))
    sys.exit(0)


if __name__ == "__main__":
    main()
