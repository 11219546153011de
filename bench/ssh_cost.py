"""Where the time of one ssh connection goes, on the private test sshd.

    python -m bench.ssh_cost [RUNS]

For ``ssh node true`` run RUNS times in a row (one at a time, so that
nothing overlaps), each way of connecting gives:

- client CPU: user + system time of the ssh processes (RUSAGE_CHILDREN);
- master CPU: what the ControlMaster process used (reused connections);
- server CPU: what sshd used for the connection: the listener's cutime +
  cstime (it reaps the per-connection processes of fresh connections)
  plus the CPU time, own and reaped, of the per-connection processes
  still alive (a master's connection);
- round trips: the same runs through a loopback proxy that delays every
  chunk by D ms each way; (wall with delay - wall without) / (2 D).

Ways: a fresh connection with OpenSSH 9.2's default key exchange
(sntrup761x25519-sha512, post-quantum hybrid), a fresh connection with
curve25519-sha256 (what the test ssh_config sets), a reused connection
(ControlMaster) through ssh, the same through clusterpy's mux client
(csrc/sshmux/client.c), and ``ssh -G`` (the ssh process alone: start-up and
configuration, no network) as the floor of anything that runs one ssh per
node.  Prints a Markdown table.
"""
import asyncio
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time

DELAY = 0.010


def _cpu(pid, reaped=True):
    """CPU seconds of `pid`, with those of its reaped children."""
    try:
        with open("/proc/%d/stat" % pid) as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    used = [int(value) for value in fields[11:15 if reaped else 13]]
    return sum(used) / os.sysconf("SC_CLK_TCK")


def _descendants(pid):
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            for tid in os.listdir("/proc/%d/task" % current):
                with open("/proc/%d/task/%s/children" % (current, tid)) as fh:
                    kids = [int(p) for p in fh.read().split()]
                found += kids
                todo += kids
        except OSError:
            continue
    return found


def _server_cpu(listener, sessions):
    """sshd's CPU: the listener's reaped children and `sessions` (pids)."""
    return _cpu(listener) - _cpu(listener, reaped=False) + sum(_cpu(p) for p in sessions)


class DelayProxy(object):
    """127.0.0.1:port forwarding to `target`, every chunk held `delay` s."""

    def __init__(self, target, delay):
        self.target = target
        self.delay = delay
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._main, daemon=True)
        self.thread.start()
        self.ready.wait()

    def _main(self):
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self.server = server
        self.ready.set()
        self.loop.run_forever()

    async def _pipe(self, reader, writer):
        queue = asyncio.Queue()

        async def send():
            while True:
                due, data = await queue.get()
                pause = due - self.loop.time()
                if pause > 0:
                    await asyncio.sleep(pause)
                if not data:
                    writer.close()
                    return
                writer.write(data)
                await writer.drain()
        sender = asyncio.ensure_future(send())
        while True:
            data = await reader.read(65536)
            queue.put_nowait((self.loop.time() + self.delay, data))
            if not data:
                break
        await sender

    async def _client(self, reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        except (ConnectionError, OSError):
            writer.close()

    def close(self):
        async def finish():
            self.server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()
            self.loop.stop()
        asyncio.run_coroutine_threadsafe(finish(), self.loop)
        self.thread.join()


def _runs(argv, runs):
    """(wall per run, client CPU per run) of `argv` run `runs` times."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    for _ in range(runs):
        subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall / runs, cpu / runs


def main(runs=40):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path[:0] = [os.path.join(root, "tests"), root]
    import _sshd
    server = _sshd.Sshd().start()
    muxdir = tempfile.mkdtemp(prefix="cpcost-", dir="/tmp")
    direct = DelayProxy(server.port, 0.0)
    slow = DelayProxy(server.port, DELAY)
    rows = []
    try:
        from clusterpy import _sshmux
        base = ["ssh", "-F", server.config]
        ways = [
            ("fresh, default kex (sntrup761x25519)",
             ["-oKexAlgorithms=sntrup761x25519-sha512@openssh.com"], None),
            ("fresh, curve25519-sha256", [], None),
            ("reused, through ssh", ["-oControlMaster=auto", "-oControlPersist=60"], "ssh"),
        ]
        if os.access(_sshmux.MUX_CLIENT, os.X_OK):
            ways.append(("reused, through clusterpy's mux client",
                         ["-oControlMaster=auto", "-oControlPersist=60"], "client"))
        for label, extra, mux in ways:
            cells = []
            for proxy in (direct, slow):
                argv = base + extra + ["-p", str(proxy.port)]
                master = []
                if mux:
                    sock = "%s/%s%d" % (muxdir, mux, proxy.port)
                    argv += ["-oControlPath=" + sock]
                    subprocess.run(argv + ["node1", "true"], check=True)     # the master
                    master = [pid for pid, path in _sshmux.masters(muxdir) if path == sock]
                    if mux == "client":
                        argv = [_sshmux.MUX_CLIENT, sock, "-", "true"] + argv
                argv += ["node1", "true"]
                sessions = _descendants(server.proc.pid)
                served, mastered = _server_cpu(server.proc.pid, sessions), _cpu(*master or [0])
                wall, client = _runs(argv, runs)
                served = (_server_cpu(server.proc.pid, sessions) - served) / runs
                mastered = (_cpu(*master or [0]) - mastered) / runs
                cells.append((wall, client, mastered, served))
            (wall, client, mastered, served), slow_cell = cells
            trips = (slow_cell[0] - wall) / (2 * DELAY)
            rows.append((label, wall, client, mastered, served, trips))
        wall, client = _runs(base + ["-G", "node1"], runs)
        rows.append(("`ssh -G` (process start-up and configuration only)", wall, client,
                     0.0, 0.0, 0.0))
    finally:
        from clusterpy import _sshmux as mux
        mux.close_connections(None, muxdir)
        shutil.rmtree(muxdir, ignore_errors=True)
        time.sleep(0.2)
        for proxy in (direct, slow):
            proxy.close()
        server.stop()
    print("| `ssh node true`, %d runs each | wall | client CPU | master CPU | server CPU "
          "| round trips |" % runs)
    print("|---|--:|--:|--:|--:|--:|")
    for label, wall, client, mastered, served, trips in rows:
        print("| %s | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.1f |"
              % (label, wall * 1e3, client * 1e3, mastered * 1e3, served * 1e3, trips))


if __name__ == "__main__":
    main(*[int(arg) for arg in sys.argv[1:2]])
