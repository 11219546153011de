"""Where the time of one ssh connection goes, on the private test sshd.

    python -m bench.ssh_cost [RUNS]

For ``ssh node true`` run RUNS times in a row (one at a time, so that
nothing overlaps), each way of connecting gives:

- client CPU: user + system time of the ssh processes (RUSAGE_CHILDREN);
- server CPU: what sshd's per-connection processes used (the listener's
  cutime + cstime: it reaps them); for reused connections the sessions
  run in the master's sshd processes, which are not reaped yet, so the
  server column then holds the machine's CPU less the client's (the
  master and the server together);
- round trips: the same runs through a loopback proxy that delays every
  chunk by D ms each way; (wall with delay - wall without) / (2 D).

Ways: a fresh connection with OpenSSH 9.2's default key exchange
(sntrup761x25519-sha512, post-quantum hybrid), a fresh connection with
curve25519-sha256 (what the test ssh_config sets), a reused connection
(ControlMaster), and ``ssh -G`` (the ssh process alone: start-up and
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


def _ticks(pid):
    with open("/proc/%d/stat" % pid) as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def _machine_cpu():
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


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
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
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
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "tests"))
    import _sshd
    server = _sshd.Sshd().start()
    muxdir = tempfile.mkdtemp(prefix="cpcost-", dir="/tmp")
    direct = DelayProxy(server.port, 0.0)
    slow = DelayProxy(server.port, DELAY)
    rows = []
    try:
        base = ["ssh", "-F", server.config]
        ways = [
            ("fresh, default kex (sntrup761x25519)",
             ["-oKexAlgorithms=sntrup761x25519-sha512@openssh.com"], False),
            ("fresh, curve25519-sha256", [], False),
            ("reused (ControlMaster)", ["-oControlMaster=auto", "-oControlPersist=60"], True),
        ]
        for label, extra, mux in ways:
            cells = []
            for proxy in (direct, slow):
                argv = base + extra + ["-p", str(proxy.port)]
                if mux:
                    argv += ["-oControlPath=%s/%d" % (muxdir, proxy.port)]
                    subprocess.run(argv + ["node1", "true"], check=True)     # the master
                argv += ["node1", "true"]
                listener, machine = _ticks(server.proc.pid), _machine_cpu()
                wall, client = _runs(argv, runs)
                served = (_ticks(server.proc.pid) - listener) / runs
                if mux:
                    served = (_machine_cpu() - machine) / runs - client
                cells.append((wall, client, served))
            (wall, client, served), (slow_wall, _, _) = cells
            trips = (slow_wall - wall) / (2 * DELAY)
            rows.append((label, wall, client, served, trips))
        wall, client = _runs(base + ["-G", "node1"], runs)
        rows.append(("`ssh -G` (process start-up and configuration only)", wall, client,
                     0.0, 0.0))
    finally:
        for proxy in (direct, slow):
            proxy.close()
        from clusterpy import _sshmux
        _sshmux.close_connections(None, muxdir)
        shutil.rmtree(muxdir, ignore_errors=True)
        server.stop()
    print("| `ssh node true`, %d runs each | wall | client CPU | server CPU | round trips |"
          % runs)
    print("|---|---|---|---|---|")
    for label, wall, client, served, trips in rows:
        print("| %s | %.1f ms | %.1f ms | %.1f ms | %.1f |"
              % (label, wall * 1e3, client * 1e3, served * 1e3, trips))


if __name__ == "__main__":
    main(*[int(arg) for arg in sys.argv[1:2]])
