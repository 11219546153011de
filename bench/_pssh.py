"""parallel-ssh (libssh2, in process) running one command on loopback
nodes of the test sshd: the ssh group's parallel-ssh peer.

Run by a Python where parallel-ssh is installed (never clusterpy's
environment: see bench/ssh.py), as
``python _pssh.py PORT KEY FANOUT NODES COMMAND``; exits 1 unless every
node returned 0.
"""
import getpass
import sys


def main(port, key, fanout, nodes, command):
    from pssh.clients import ParallelSSHClient
    hosts = nodes.split(",")
    client = ParallelSSHClient(hosts, user=getpass.getuser(), port=int(port), pkey=key,
                               pool_size=int(fanout), num_retries=1, timeout=30)
    output = client.run_command(command)
    client.join(output)
    lines = 0
    for host_output in output:
        lines += sum(1 for _ in host_output.stdout)
    codes = [host_output.exit_code for host_output in output]
    if codes.count(0) != len(hosts):
        sys.exit("parallel-ssh: exit codes %r" % sorted(set(codes), key=str))
    print("lines", lines)


if __name__ == "__main__":
    main(*sys.argv[1:6])
