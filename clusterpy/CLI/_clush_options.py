"""clush's command line: the options (ClusterShell's, then clusterpy's
additions), the checks between them, and the node set they name (-w,
--hostfile, -a, -g, less -x and -X, then --pick).
"""

import sys
from os.path import abspath, dirname, exists, join

from clusterpy.CLI.Display import VERB_DEBUG, VERB_STD, VERB_VERB, Display
from clusterpy.CLI.OptionParser import OptionParser
from clusterpy.NodeSet import RESOLVER_NOGROUP, NodeSet


def parser():
    """clush's OptionParser, options in --help order."""
    optparser = OptionParser("%prog [options] command")
    optparser.add_option("-n", "--nostdin", action="store_true", dest="nostdin",
                         help="do not forward standard input to the commands")
    for install in (optparser.install_groupsconf_option,
                    optparser.install_clush_config_options, optparser.install_nodes_options):
        install()
    optparser.install_display_options(verbose_options=True)
    for install in (optparser.install_filecopy_options, optparser.install_connector_options):
        install()
    import optparse
    group = optparse.OptionGroup(optparser, "clusterpy additions")
    group.add_option("--json", action="store_true", dest="json", default=False,
                     help="print one JSON object per node (per group of nodes "
                          "with -b) on stdout")
    group.add_option("-k", "--fail-fast", action="store_true", dest="fail_fast",
                     default=False, help="stop everything at the first node "
                                         "whose command fails")
    group.add_option("--retry", action="store", dest="retry", type="int", default=0,
                     metavar="N", help="run the command again, up to N times, on "
                                       "the nodes where it exited with 255")
    optparser.add_ssh_reuse_options(group)
    optparser.add_option_group(group)
    return optparser


def check_additions(optparser, options, interactive):
    """Option errors of --json, --fail-fast and --retry."""
    if options.retry < 0:
        optparser.error("option --retry: invalid value: %d" % options.retry)
    copying = options.copy or options.rcopy
    if options.json:
        for given, name in ((options.line_mode, "-L"), (options.diff, "--diff"),
                            (options.outdir or options.errdir, "--outdir/--errdir"),
                            (copying, "--copy/--rcopy"), (interactive, "interactive mode")):
            if given:
                optparser.error("option mismatch (--json not supported with %s)" % name)
    if copying:
        for given, name in ((options.fail_fast, "--fail-fast"), (options.retry, "--retry")):
            if given:
                optparser.error("option mismatch (%s not supported with --copy/--rcopy)"
                                % name)


def listed_nodes(options, display):
    """(nodes, excluded nodes) given by -w, --hostfile and -x."""
    picked = [NodeSet(nodes) for nodes in options.nodes or ()]
    excluded = [NodeSet(nodes) for nodes in options.exclude or ()]
    for flag, nodesets in (("w", picked), ("x", excluded)):
        for nodes in nodesets:
            if len(nodes) == 1 and exists(str(nodes)):
                display.vprint_err(VERB_STD, "Warning: using '-%s %s' and local path '%s' "
                                             "exists, was it expanded by the shell?"
                                   % (flag, nodes, nodes))
    for path in options.hostfile:
        from_file = NodeSet()
        with open(path) as hostfile:
            for line in hostfile.read().splitlines():
                from_file.updaten(line.split())
        display.vprint_err(VERB_DEBUG, "Using nodeset %s from hostfile %s"
                           % (from_file, path))
        picked.append(from_file)
    return NodeSet.fromlist(picked), NodeSet.fromlist(excluded)


def target_nodes(optparser, options, config, display, nodes, exclude):
    """The node set to run on: `nodes` with -a and -g, less `exclude` and
    -X, then --pick."""
    if options.nodes_all:
        everything = NodeSet.fromall()
        display.vprint(VERB_DEBUG, "Adding nodes from option -a: %s" % everything)
        nodes.add(everything)
    for groups, target, verb in ((options.group, nodes, "Adding nodes from option -g"),
                                 (options.exgroup, exclude, "Excluding nodes from option -X")):
        if groups:
            for group in NodeSet.fromlist(groups, resolver=RESOLVER_NOGROUP):
                members = NodeSet("@" + group)
                display.vprint(VERB_DEBUG, "%s %s: %s" % (verb, group, members))
                target.update(members)
    nodes.difference_update(exclude)
    if len(nodes) < 1:
        optparser.error("No node to run on.")
    if options.pick and options.pick < len(nodes):
        import random
        nodes.intersection_update(",".join(random.sample(list(nodes), options.pick)))
        if config.verbosity >= VERB_VERB:
            print(Display.COLOR_RESULT_FMT % ("Picked random nodes: %s" % nodes))
    return nodes


def color(config, options):
    """Colours wanted by clush.conf (True/False): "auto" means stdout is a
    terminal, and stderr too unless -B merges it."""
    whencolor = config.color
    if whencolor != "auto":
        return whencolor == "always"
    return sys.stdout.isatty() and (options.gatherall or sys.stderr.isatty())


def copy_destinations(options, args):
    """Destination of each source of --copy/--rcopy, and the debug text."""
    if options.dest_path:
        dests = [options.dest_path] * len(args)
    elif options.copy:
        # a trailing '/' marks a directory
        dests = [join(dirname(abspath(arg)), "") for arg in args]
    else:
        dests = [dirname(abspath(arg)) for arg in args]
    what = "copy" if options.copy else "rcopy"
    return dests, "%s sources=%s dest=%s" % (what, args, dests)
