"""clush's standard input, when it is not a terminal: forwarded to every
command.  A daemon thread reads it and passes what it reads to a port of
the command's task, whose handler (StdInputHandler) writes it to the
command's worker, then closes the worker's stdin at end of file.
Imported only when stdin is forwarded.
"""

import os
import sys
import threading

from clusterpy.CLI.Display import VERB_VERB, sys_stdin
from clusterpy.Event import EventHandler


class StdInputHandler(EventHandler):
    """Port handler passing what the stdin reader thread read on to the
    command's worker (EOF as an empty or None message)."""

    def __init__(self, worker):
        EventHandler.__init__(self)
        self.master_worker = worker

    def ev_msg(self, port, msg):
        if msg:
            self.master_worker.write(msg)
        else:
            self.master_worker.set_write_eof()


def stdin_reader(port, display):
    """Stdin reader thread: stdin's data as port messages, then None."""
    try:
        fileno = sys_stdin().fileno()
        while True:
            # big reads, as ssh does; os.read returns what is there
            buf = os.read(fileno, 65536)
            if not buf:
                break
            port.msg(buf)
    except OSError as exc:
        display.vprint(VERB_VERB, "stdin: %s" % exc)
    port.msg(None)


def bind_stdin(worker, display):
    """Forward stdin (not a terminal) to `worker`: a daemon thread reads it
    and sends what it reads to a port of the worker's task."""
    assert sys.stdin is not None and not sys.stdin.isatty()
    port = worker.task.port(handler=StdInputHandler(worker), autoclose=True)
    reader = threading.Thread(None, stdin_reader, args=(port, display))
    # the thread may be left blocked in read() when the commands are done
    reader.daemon = True
    reader.start()
