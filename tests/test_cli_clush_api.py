"""clusterpy.CLI.Clush as a module: ClusterShell 1.10.1's names, and its
USER_* task defaults, still set for code that reads them, and read back by
its public functions and handlers when other code calls them."""
import io

from clusterpy.CLI import Clush
from clusterpy.CLI.Display import Display
from clusterpy.CLI._clush_run import ClushRun
from clusterpy.NodeSet import NodeSet

from _cli_run import clush_options

#: dir() of ClusterShell 1.10.1's ClusterShell.CLI.Clush, dunders left out
CLUSTERSHELL_NAMES = """
ClushConfig ClushConfigError CopyOutputHandler DEFAULTS DirectOutputDirHandler
DirectOutputHandler DirectProgressOutputHandler Display EventHandler GENERIC_ERRORS
GatherOutputHandler LiveGatherOutputHandler MsgTree NodeSet NodeSetParseError
OptionParser OutputHandler RESOLVER_NOGROUP RunTimer SortedOutputHandler
StdInputHandler Task UpdatePromptException VERB_DEBUG VERB_QUIET VERB_STD VERB_VERB
_load_workerclass _stdin_thread_start abspath ask_pass bind_stdin bufnodeset_cmpkey
clush_excepthook clush_exit dirname exists get_history_file getpass
handle_generic_error human_bi_bytes_unit isdir join logging main os parse_fold_axis
print_function random raw_input readline_setup resource run_command run_copy
run_rcopy set_fdlimit set_std_group_resolver_config shlex signal signal_handler
std_group_resolver sys sys_stdin task_self threading time ttyloop
""".split()


def test_clustershell_names():
    names = dir(Clush)
    for name in CLUSTERSHELL_NAMES:
        assert name in names, name
        assert getattr(Clush, name) is not None, name
    # and no public name ClusterShell's module does not have
    assert sorted(n for n in names if not n.startswith("_")) == \
        sorted(n for n in CLUSTERSHELL_NAMES if not n.startswith("_"))
    scope = {}
    exec("from clusterpy.CLI.Clush import *", scope)
    assert {"UpdatePromptException", "StdInputHandler", "main"} <= set(scope)
    assert issubclass(Clush.UpdatePromptException, Exception)
    assert callable(Clush.ttyloop) and callable(Clush._stdin_thread_start)


def _display(*args):
    display = Display(clush_options(*args), None, color=False)
    display.out, display.err = io.StringIO(), io.StringIO()
    return display


def test_run_sets_clustershell_task_defaults(task):
    run = ClushRun(task, _display())
    run.running, run.interactive, run.copies = True, True, 3
    assert (task.default("USER_running"), task.default("USER_interactive"),
            task.default("USER_copies")) == (True, True, 3)
    run.running = False
    assert task.default("USER_running") is False
    adopted = ClushRun.adopt(task, run.display)
    assert (adopted.running, adopted.interactive, adopted.copies) == (False, True, 3)
    run.interactive = False


def test_run_command_clustershell_signature(task):
    """run_command() called as ClusterShell's: the state from the task's
    defaults, USER_running cleared when the command is done."""
    display = _display()
    task.set_default("USER_stdin_worker", False)
    task.set_default("USER_running", False)
    Clush.run_command(task, "echo hi", NodeSet("n[1-2]"), -1, display, False, True)
    assert sorted(display.out.getvalue().splitlines()) == ["n1: hi", "n2: hi"]
    assert task.default("USER_running") is False


def test_handler_of_other_code_reads_task_defaults(task, capfd):
    """An output handler made by other code (no run) reports to the task's
    USER_* defaults, as ClusterShell's do."""
    display = _display()
    handler = Clush.DirectOutputHandler(display, prog="clush")
    task.set_default("USER_running", True)
    task.set_default("USER_handle_SIGUSR1", False)
    task.shell("echo out; exit 3", nodes="n1", handler=handler, remote=False)
    task.resume()
    assert display.out.getvalue() == "n1: out\n"
    assert capfd.readouterr().err == "clush: n1: exited with exit code 3\n"
    assert task.default("USER_running") is False
