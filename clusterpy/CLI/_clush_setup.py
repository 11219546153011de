"""How clush sets its Task up from clush.conf and the options: debug
logging, ssh/rsh settings and timeouts, the worker and tree mode, the open
files limit and a fanout that fits in it, the run mode's password.
"""

import os
import sys

from clusterpy.CLI.Display import VERB_DEBUG, VERB_QUIET, VERB_VERB
from clusterpy.CLI._clush_exit import clush_exit
from clusterpy.CLI._clush_options import target_nodes
from clusterpy.Defaults import _load_workerclass

#: file descriptors a running command holds (stdin, stdout, stderr, pidfd)
FDS_PER_COMMAND = 4
#: descriptors kept free for the rest (a spawn's child ends, config files...)
FDS_RESERVED = 16


def set_logging(verbosity):
    """Python logging: everything at -d, else critical messages only."""
    import logging
    debug = verbosity >= VERB_DEBUG
    logging.basicConfig(level=logging.DEBUG if debug else logging.CRITICAL)
    if debug:
        logging.debug("clush: STARTING DEBUG")  # noqa: LOG015 (ClusterShell's output)


def foreground_tty(stream):
    """Whether `stream` is the terminal of the foreground process group."""
    try:
        return stream is not None and stream.isatty() \
            and os.tcgetpgrp(stream.fileno()) == os.getpgrp()
    except OSError:
        return False    # ENOTTY: a terminal, but not our controlling one


def configure_connections(task, config):
    """ssh/rsh settings and timeouts (of the run mode, if any)."""
    for key in ("ssh_user", "ssh_path", "ssh_options", "scp_path", "scp_options",
                "rsh_path", "rcp_path", "rsh_options"):
        value = getattr(config, key)
        if value:
            task.set_info(key, value)
    task.set_info("connect_timeout", config.connect_timeout)
    task.set_info("command_timeout", config.command_timeout)
    # clusterpy's ssh connection reuse (-O ssh_reuse=SECONDS...)
    for key in ("ssh_reuse", "ssh_reuse_max", "ssh_reuse_dir"):
        value = getattr(config, key)
        if value:
            task.set_info(key, value)
    if config.tree_gateway_module:
        task.set_default("tree_gateway_module", config.tree_gateway_module)


def close_connections(task, optparser, options, config, display, nodes, exclude):
    """--close-connections: end the reused ssh connections (of the nodes
    given, if any) and exit."""
    from clusterpy.Worker.Ssh import close_connections
    configure_connections(task, config)
    if nodes or options.nodes_all or options.group:
        nodes = target_nodes(optparser, options, config, display, nodes, exclude)
    else:
        nodes = None
    closed = close_connections(nodes, task)
    display.vprint_err(VERB_VERB, "clush: %d ssh connection(s) closed" % closed)
    clush_exit(0, task)


def set_worker(task, options, config, display):
    """-R/--worker and tree mode (--topology, or a topology.conf found by
    the task).  In tree mode, -R names the worker the gateways use for
    their nodes (see docs/compat.md); the task still reaches its gateways
    with its distant worker.  Returns whether commands may go through
    gateways."""
    tree_mode = bool(options.topofile) or task._default_tree_is_enabled()
    if options.topofile:
        task.load_topology(options.topofile)
    if options.worker:
        try:
            workerclass = _load_workerclass(options.worker)
            if tree_mode and options.remote != "no":
                task.set_info("tree_default:distant_workername", options.worker)
            else:
                key = "local_worker" if options.remote == "no" else "distant_worker"
                task.set_default(key, workerclass)
        except (ImportError, AttributeError):
            display.vprint_err(VERB_QUIET, "ERROR: Could not load worker '%s'"
                               % options.worker)
            clush_exit(1, task)
    if tree_mode and config.verbosity >= VERB_VERB:
        roots = len(task.topology.root.nodeset)
        gateways = task.topology.inner_node_count() - roots
        print("clush: enabling tree topology (%d gateways)" % gateways, file=sys.stderr)
    return tree_mode or options.worker is None


def set_fdlimit(fd_max, display):
    """Set the soft limit of open files to fd_max (at most the hard one)."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < fd_max:
        display.vprint_err(VERB_VERB, "Warning: fd_max set to %d but max open files hard "
                                      "limit is %d" % (fd_max, hard))
    wanted = min(hard, fd_max)
    if soft == wanted:
        return
    display.vprint(VERB_DEBUG, "Changing max open files soft limit from %d to %d"
                   % (soft, wanted))
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    except (ValueError, OSError) as exc:
        display.vprint_err(VERB_VERB, "Warning: Failed to set max open files limit to "
                                      "%d (%s)" % (wanted, exc))


def fitting_fanout(fanout, nodes, display):
    """The fanout to run `nodes` commands with: `fanout`, or less when
    the open files limit (ulimit -n) cannot hold that many commands at
    once, which is then said once on stderr."""
    import resource
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY or min(fanout, nodes) * FDS_PER_COMMAND < soft / 2:
        return fanout   # far from it: no need to count the open fds
    try:
        used = len(os.listdir("/proc/self/fd")) - 1
    except OSError:
        used = 16
    fits = max(1, (soft - used - FDS_RESERVED) // FDS_PER_COMMAND)
    if min(fanout, nodes) <= fits:
        return fanout
    display.vprint_err(VERB_QUIET, "clush: fanout %d needs %d file descriptors, more than "
                       "the open files limit allows (ulimit -n %d, %d in use): running "
                       "with fanout %d" % (fanout, fanout * FDS_PER_COMMAND, soft, used, fits))
    return fits


def ask_pass():
    """Read a password on the terminal (run modes with password_prompt)."""
    import getpass
    return getpass.getpass()
