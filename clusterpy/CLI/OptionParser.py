"""The optparse parser shared by clush, cluset/nodeset and clubak.

Each tool starts from OptionParser (which always knows ``-s/--groupsource``
and stops at the first argument that is not an option) and adds option
groups with the ``install_*`` methods, the same sets ClusterShell 1.10.1's
tools have, with the same destinations, types and defaults.

Two option types are added to optparse's: ``safestring`` (a non-empty
value that does not start with "-") and ``autostep`` (a node count, a
percentage such as "50%", or "auto").
"""

import optparse
from typing import Any, Union

from clusterpy import CLUSTERSHELL_VERSION
from clusterpy.CLI.Display import THREE_CHOICES

_SUPPRESS = optparse.SUPPRESS_HELP

# options of both clush and cluset, the same in both
_DEBUG = (("-d", "--debug"), dict(action="store_true", dest="debug",
                                  help="print debugging messages"))
_QUIET = (("-q", "--quiet"), dict(action="store_true", dest="quiet",
                                  help="print only the essential"))
_AXIS = (("--axis",), dict(action="store", dest="axis", metavar="RANGESET",
                           help="fold nD node sets along these axes only "
                                "(1..n)"))
_PICK = (("--pick",), dict(action="store", dest="pick", metavar="N",
                           type="int", help="keep N nodes drawn at random"))


def check_autostep(option: Any, opt: str, value: str) -> Union[int, float, str]:
    """autostep type: "N" -> int, "P%" -> float fraction, or "auto"."""
    try:
        if "%" in value:
            return float(value[:-1]) / 100.0
        return int(value)
    except ValueError:
        if value == "auto":
            return value
        raise optparse.OptionValueError(
            "option %s: invalid value: %r, should be node count, node "
            "percentage or 'auto'" % (opt, value)) from None


def check_safestring(option: Any, opt: str, value: str) -> str:
    """safestring type: refuse an empty value or one looking like an option
    (``-w -x`` must not take "-x" as node set)."""
    if not value or value.startswith("-"):
        raise optparse.OptionValueError("option %s: invalid value: %r"
                                        % (opt, value))
    return value


class Option(optparse.Option):
    """optparse Option knowing the autostep and safestring types."""

    TYPES = optparse.Option.TYPES + ("autostep", "safestring")
    TYPE_CHECKER = dict(optparse.Option.TYPE_CHECKER,
                        autostep=check_autostep, safestring=check_safestring)


class OptionParser(optparse.OptionParser):
    """Option parser of the clusterpy command-line tools."""

    def __init__(self, usage: str, **kwargs: Any) -> None:
        optparse.OptionParser.__init__(
            self, usage, version="%prog " + CLUSTERSHELL_VERSION,
            option_class=Option, **kwargs)
        # options come first: "clush -w n1 ls -l" leaves "-l" to ls
        self.disable_interspersed_args()
        self.add_option("-s", "--groupsource", action="store",
                        type="safestring", dest="groupsource",
                        help="group source to use (see groups.conf(5))")

    def _group(self, title: str, *specs) -> optparse.OptionGroup:
        """Add an option group made of (flags, keyword arguments) specs."""
        group = optparse.OptionGroup(self, title)
        for flags, kwargs in specs:
            group.add_option(*flags, **kwargs)
        self.add_option_group(group)
        return group

    def install_clush_config_options(self) -> None:
        """--conf and -O/--option (clush.conf overrides)."""
        self.add_option("--conf", action="store", metavar="FILE",
                        help="read this file instead of clush.conf(5)")
        self.add_option("-O", "--option", action="append", dest="option",
                        metavar="KEY=VALUE", default=[],
                        help="set a clush.conf(5) key for this run")

    def install_groupsconf_option(self) -> None:
        """--groupsconf FILE."""
        self.add_option("--groupsconf", action="store", metavar="FILE",
                        help="read this file instead of groups.conf(5)")

    def install_nodes_options(self) -> None:
        """Target node selection: -w, -x, -a, -g, -X, -E, --hostfile,
        --topology, --pick."""
        from clusterpy.Engine.Factory import PreferredEngine
        engines = ["auto"] + list(PreferredEngine.engines)
        self._group(
            "Selecting target nodes",
            (("-w",), dict(action="append", type="safestring", dest="nodes",
                           help="target nodes")),
            (("-x",), dict(action="append", type="safestring", dest="exclude",
                           metavar="NODES", help="nodes to leave out")),
            (("-a", "--all"), dict(action="store_true", dest="nodes_all",
                                   help="target every node of the group "
                                        "source")),
            (("-g", "--group"), dict(action="append", type="safestring",
                                     dest="group",
                                     help="target the nodes of a group")),
            (("-X",), dict(action="append", type="safestring",
                           dest="exgroup", metavar="GROUP",
                           help="leave out the nodes of a group")),
            (("-E", "--engine"), dict(action="store", dest="engine",
                                      choices=engines, default="auto",
                                      help=_SUPPRESS)),
            (("--hostfile", "--machinefile"),
             dict(action="append", dest="hostfile", default=[],
                  metavar="FILE", help="file listing target hosts")),
            (("--topology",), dict(action="store", dest="topofile",
                                   default=None, metavar="FILE",
                                   help="tree mode topology file")),
            _PICK)

    def install_display_options(self, debug_option: bool = True,
                                verbose_options: bool = False,
                                separator_option: bool = False,
                                dshbak_compat: bool = False,
                                msgtree_mode: bool = False) -> None:
        """Output options read by CLI.Display (clush and clubak flavours).

        verbose_options adds -q/-v, separator_option makes -S the clubak
        separator (else clush's --maxrc), dshbak_compat gives -b the -c
        alias (else clush's -P/--progress), msgtree_mode adds clubak's -F,
        -T and --interpret-keys.
        """
        specs = []
        if verbose_options:
            specs += [
                _QUIET,
                (("-v", "--verbose"), dict(action="store_true",
                                           dest="verbose",
                                           help="print more information"))]
        if debug_option:
            specs.append(_DEBUG)
        specs += [
            (("-G", "--groupbase"), dict(action="store_true",
                                         dest="groupbase", default=False,
                                         help="omit the group source prefix "
                                              "of groups")),
            (("-L",), dict(action="store_true", dest="line_mode",
                           help="no header block; output ordered by node")),
            (("-N",), dict(action="store_false", dest="label", default=True,
                           help="do not prefix output with node names"))]
        gather_help = "gather the nodes having the same output"
        if dshbak_compat:
            specs.append((("-b", "-c", "--dshbak"),
                          dict(action="store_true", dest="gather",
                               help=gather_help)))
        else:
            specs += [
                (("-P", "--progress"), dict(action="store_true",
                                            dest="progress",
                                            help="show progress while "
                                                 "commands run")),
                (("-b", "--dshbak"), dict(action="store_true", dest="gather",
                                          help=gather_help))]
        specs += [
            (("-B",), dict(action="store_true", dest="gatherall",
                           default=False,
                           help="-b, standard error included")),
            (("-r", "--regroup"), dict(action="store_true", dest="regroup",
                                       default=False,
                                       help="show node sets with groups")),
            _AXIS]
        if separator_option:
            specs.append((("-S", "--separator"),
                          dict(action="store", dest="separator", default=":",
                               help="string between node and line "
                                    "(default: ':')")))
        else:
            specs.append((("-S", "--maxrc"),
                          dict(action="store_true", dest="maxrc",
                               help="exit with the largest return code of "
                                    "the commands")))
        if msgtree_mode:
            specs += [
                (("-F", "--fast"), dict(action="store_true",
                                        dest="fast_mode",
                                        help="faster, uses more memory")),
                (("-T", "--tree"), dict(action="store_true",
                                        dest="trace_mode",
                                        help="show the message tree")),
                (("--interpret-keys",),
                 dict(action="store", dest="interpret_keys",
                      choices=THREE_CHOICES, default=THREE_CHOICES[-1],
                      help="read keys as node sets: never, always or auto"))]
        specs += [
            (("--color",), dict(action="store", dest="whencolor",
                                choices=THREE_CHOICES,
                                help="ANSI colors: never, always or auto")),
            (("--diff",), dict(action="store_true", dest="diff",
                               help="print the differences between gathered "
                                    "outputs")),
            (("--outdir",), dict(action="store", dest="outdir",
                                 help="write each node's stdout to a file "
                                      "in this directory (OPTIONAL)")),
            (("--errdir",), dict(action="store", dest="errdir",
                                 help="write each node's stderr to a file "
                                      "in this directory (OPTIONAL)"))]
        self._group("Output behaviour", *specs)

    def _copy_callback(self, option, opt_str, value, parser) -> None:
        """-c/--rcopy: set the flag and let options follow the file
        arguments again."""
        self.enable_interspersed_args()
        setattr(parser.values, option.dest, True)

    def install_filecopy_options(self) -> None:
        """-c/--copy, --rcopy, --dest, -p."""
        self._group(
            "File copying",
            (("-c", "--copy"), dict(action="callback", dest="copy",
                                    callback=self._copy_callback,
                                    help="copy local files or directories "
                                         "to the nodes")),
            (("--rcopy",), dict(action="callback", dest="rcopy",
                                callback=self._copy_callback,
                                help="copy files or directories from the "
                                     "nodes")),
            (("--dest",), dict(action="store", dest="dest_path",
                               help="destination path on the nodes")),
            (("-p",), dict(action="store_true", dest="preserve_flag",
                           help="keep modification times and modes")))

    def add_ssh_reuse_options(self, group: Any) -> None:
        """--close-connections in `group` (clusterpy's ssh connection
        reuse, turned on with -O ssh_reuse=SECONDS)."""
        group.add_option("--close-connections", action="store_true",
                         dest="close_connections", default=False,
                         help="end the reused ssh connections (-O ssh_reuse=SECONDS "
                              "turns reuse on), all of them or those of the nodes "
                              "given, and exit")

    def install_connector_options(self) -> None:
        """-f, -l, -o, -t, -u, -m, -R, --remote (and hidden --grooming)."""
        self._group(
            "Connection options",
            (("-f", "--fanout"), dict(action="store", dest="fanout",
                                      type="int",
                                      help="number of commands run at once")),
            (("--grooming",), dict(action="store", dest="grooming_delay",
                                   type="float", help=_SUPPRESS)),
            (("-l", "--user"), dict(action="store", type="safestring",
                                    dest="user",
                                    help="remote user name")),
            (("-o", "--options"), dict(action="store", dest="options",
                                       help="extra ssh options")),
            (("-t", "--connect_timeout"),
             dict(action="store", dest="connect_timeout", type="float",
                  help="seconds allowed to connect to a node")),
            (("-u", "--command_timeout"),
             dict(action="store", dest="command_timeout", type="float",
                  help="seconds allowed for the command on a node")),
            (("-m", "--mode"), dict(action="store", dest="mode",
                                    help="run mode, one of the MODEs of "
                                         "<confdir>/*.conf")),
            (("-R", "--worker"), dict(action="store", dest="worker",
                                      help="worker running the commands: "
                                           "'exec', 'rsh', 'ssh'... "
                                           "(default: 'ssh')")),
            (("--remote",), dict(action="store", dest="remote",
                                 choices=("yes", "no"),
                                 help="tree mode: 'yes' runs the command on "
                                      "the leaf nodes, 'no' on their "
                                      "gateways (default: 'yes')")))

    def install_nodeset_commands(self) -> None:
        """cluset commands: -c, -e, -f, -l, -L, -r, --index,
        --list-sources (and hidden --completion)."""
        self._group(
            "Commands",
            (("-c", "--count"), dict(action="store_true", dest="count",
                                     default=False,
                                     help="print the number of nodes")),
            (("-e", "--expand"), dict(action="store_true", dest="expand",
                                      default=False,
                                      help="print the nodes one by one")),
            (("-f", "--fold"), dict(action="store_true", dest="fold",
                                    default=False,
                                    help="print the nodes as one folded "
                                         "node set")),
            (("-l", "--list"), dict(action="count", dest="list",
                                    default=False,
                                    help="list the groups of one group "
                                         "source (see -s GROUPSOURCE)")),
            (("-L", "--list-all"), dict(action="count", dest="listall",
                                        default=False,
                                        help="list the groups of every "
                                             "group source")),
            (("-r", "--regroup"), dict(action="store_true", dest="regroup",
                                       default=False,
                                       help="fold nodes into groups (see -s "
                                            "GROUPSOURCE)")),
            (("--index",), dict(action="store", dest="index",
                                metavar="NODE", type="string",
                                help="print the position of NODE in the "
                                     "set")),
            (("--list-sources", "--groupsources"),
             dict(action="store_true", dest="groupsources", default=False,
                  help="list the group sources (see groups.conf(5))")),
            (("--completion",), dict(action="store_true", dest="completion",
                                     default=False, help=_SUPPRESS)))

    def install_nodeset_operations(self) -> None:
        """cluset operations: -x, -i, -X."""
        self._group(
            "Operations",
            (("-x", "--exclude"), dict(action="append", dest="sub_nodes",
                                       default=[], type="string",
                                       help="remove these nodes")),
            (("-i", "--intersection"), dict(action="append",
                                            dest="and_nodes", default=[],
                                            type="string",
                                            help="keep only nodes also in "
                                                 "this set")),
            (("-X", "--xor"), dict(action="append", dest="xor_nodes",
                                   default=[], type="string",
                                   help="keep the nodes found in exactly "
                                        "one of the sets")))

    def install_nodeset_options(self) -> None:
        """cluset options: -a, --autostep, -d, -q, -R, -G, -S, -O, -I,
        --split, --contiguous, --axis, --pick."""
        self._group(
            "Options",
            (("-a", "--all"), dict(action="store_true", dest="all",
                                   help="start from all the nodes of the "
                                        "group source")),
            (("--autostep",), dict(action="store", dest="autostep",
                                   type="autostep",
                                   help="fold as a-b/step from this many "
                                        "nodes: a count, a percentage "
                                        "('50%') or 'auto'")),
            _DEBUG,
            _QUIET,
            (("-R", "--rangeset"), dict(action="store_true", dest="rangeset",
                                        help="work on numeric range sets "
                                             "(1,5,18-31) instead of node "
                                             "sets")),
            (("-G", "--groupbase"), dict(action="store_true",
                                         dest="groupbase",
                                         help="print groups as \"@group\", "
                                              "without source prefix")),
            (("-S", "--separator"), dict(action="store", dest="separator",
                                         default=" ",
                                         help="string between expanded "
                                              "nodes (default: ' ')")),
            (("-O", "--output-format"), dict(action="store",
                                             dest="output_format",
                                             metavar="FORMAT", default="%s",
                                             help="format of each result "
                                                  "(default: '%s')")),
            (("-I", "--slice"), dict(action="store", dest="slice_rangeset",
                                     type="string",
                                     help="keep the nodes at these "
                                          "positions")),
            (("--split",), dict(action="store", dest="maxsplit", type="int",
                                help="print the result as this many "
                                     "subsets")),
            (("--contiguous",), dict(action="store_true", dest="contiguous",
                                     help="print the result as contiguous "
                                          "subsets")),
            _AXIS,
            _PICK)
