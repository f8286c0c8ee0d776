#!/usr/bin/env python3
"""Traffic between the host and a program in the VM over virtio-net and
QEMU's user network (docs/net_device.md). Only 127.0.0.1 and QEMU's own
10.0.2.x are used: 10.0.2.2 is the host's 127.0.0.1 seen from the guest,
and `-p` forwards bind the host's 127.0.0.1.

  net_e2e.py KERNEL PROGRAM CASE [--machine M]
  CASE udp_client: the guest sends datagrams to a UDP echo server this
       script runs on the host (127.0.0.1, reached as 10.0.2.2) and checks
       each answer;
  CASE udp_server: the guest answers datagrams that this script sends to a
       published port (-p HOST:GUEST/udp) and checks each answer here too.
Passes when the guest prints "PASS udp_peer", exits 0, and (server) every
answer reached the host.
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "tools", "capsule"))
from capsule_cli import cli, image, qemu  # noqa: E402

TIMEOUT = 120


def free_port(kind):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def udp_echo_server():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                data, addr = s.recvfrom(4096)
            except OSError:
                return
            s.sendto(data.upper(), addr)
    threading.Thread(target=serve, daemon=True).start()
    return s


def boot(a, args, publish=()):
    work = tempfile.mkdtemp(prefix="capsule-net-")
    initrd, guest = image.static_program_initrd(a.program, work, [])
    cmdline = "--log=info -- " + " ".join(cli.quote_word(w) for w in [guest] + args)
    cmd = qemu.command(a.kernel, machine=a.machine, accel="tcg", cmdline=cmdline, initrd=initrd,
                       status_file=os.path.join(work, "status"), net="user", publish=publish)
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT), work


def finish(p, work, lines, problems):
    try:
        rest, _ = p.communicate(timeout=TIMEOUT)
        lines.append(rest.decode(errors="replace"))
    except subprocess.TimeoutExpired:
        p.kill()
        problems.append(f"the VM did not finish within {TIMEOUT} s")
    out = "".join(lines)
    status, problem = qemu.decode_status(p.returncode, os.path.join(work, "status"))
    if problem:
        problems.append(problem)
    elif status != 0:
        problems.append(f"guest exit status {status}")
    if "PASS udp_peer" not in out:
        problems.append("the guest did not print PASS udp_peer")
    if problems:
        print("FAIL: " + "; ".join(problems))
        print("--- serial output ---\n" + out[-4000:])
        return 1
    print("ok")
    return 0


def udp_client(a):
    srv = udp_echo_server()
    port = srv.getsockname()[1]
    p, work = boot(a, ["client", "10.0.2.2", str(port), "20"])
    return finish(p, work, [], [])


def udp_server(a):
    host_port = free_port(socket.SOCK_DGRAM)
    n = 20
    p, work = boot(a, ["server", "7777", str(n)], publish=[f"{host_port}:7777/udp"])
    lines, problems = [], []
    # Wait for the guest to listen (its line on the serial port).
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        line = p.stdout.readline().decode(errors="replace")
        if not line:
            break
        lines.append(line)
        # The kernel log shares the serial port and can cut the line: look
        # at everything so far.
        if "listening" in "".join(lines).replace("\n", ""):
            break
    else:
        problems.append("the guest never listened")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # Generous: under TCG on a loaded host an answer can take seconds, and a
    # datagram sent again would be answered twice (the guest counts them).
    s.settimeout(30)
    for i in range(n):
        msg = f"datagram {i} ".encode() + bytes(range(97, 123)) * (i + 1)
        data = None
        for attempt in range(3):  # UDP: the first may race the guest's bind on the path
            s.sendto(msg, ("127.0.0.1", host_port))
            try:
                while data != msg.upper():  # an answer to an earlier send is skipped
                    data, _ = s.recvfrom(65536)
                break
            except socket.timeout:
                pass
        if data != msg.upper():
            problems.append(f"datagram {i}: answer {data!r:.60}")
            break
    return finish(p, work, lines, problems)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kernel")
    ap.add_argument("program")
    ap.add_argument("case", choices=("udp_client", "udp_server"))
    ap.add_argument("--machine", default="microvm")
    a = ap.parse_args()
    return {"udp_client": udp_client, "udp_server": udp_server}[a.case](a)


if __name__ == "__main__":
    sys.exit(main())
