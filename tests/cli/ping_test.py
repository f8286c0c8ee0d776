"""Debian's ping (iputils-ping) in the VM (docs/net.md "Ping and raw
sockets"): it opens a ping socket (SOCK_DGRAM, IPPROTO_ICMP/ICMPV6) and
prints a line per echo reply.

    ping_test.py loopback   ping -c 3 127.0.0.1 and ::1 in the VM: every
                            line but the times equals the host's own
                            ping of the same address (which uses a raw
                            socket where the host allows no ping sockets:
                            the same output)
    ping_test.py raw        the same with /proc/sys/net/ipv4/ping_group_range
                            "1 0" (Linux's own default) written first:
                            ping gets EACCES for a ping socket and falls
                            back to a raw socket (ICMP_FILTER, the IP
                            header); the lines equal the host's
    ping_test.py gateway    QEMU's user network: 10.0.2.2 and fec0::2
                            (QEMU answers echo requests to its own
                            addresses); skipped (printed reason) for an
                            address QEMU does not answer
    ping_test.py tap        a tap device the test makes, the host's side
                            10.9.77.1/24 and fe80::1: the VM (--cmdline
                            --ip=10.9.77.2/24) pings both, 3 replies each;
                            skipped (77) where no tap can be made

Only 127.0.0.1, ::1, QEMU's user network and the test's own tap are used.
"""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CAPSULE = os.environ.get("CAPSULE_TEST_CLI") or os.path.join(HERE, "..", "..", "capsule")
TIMEOUT = 240


def no_times(text):
    """ping's output without what varies from run to run: times and rtt."""
    lines = []
    for line in text.decode(errors="replace").splitlines():
        if line.startswith("rtt "):
            continue
        line = re.sub(r" time=[0-9.]+ ms", "", line)
        line = re.sub(r", time [0-9]+ms", "", line)
        lines.append(line)
    return lines


def vm(args, extra=()):
    return subprocess.run([CAPSULE, "run", *extra, "ping", *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, timeout=TIMEOUT)


def replies(out):
    m = re.search(rb"(\d+) packets transmitted, (\d+) received", out)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def loopback():
    problems = []
    for addr in ("127.0.0.1", "::1"):
        args = ["-n", "-c", "3", addr]
        host = subprocess.run(["ping", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        guest = vm(args)
        if host.returncode != 0:
            problems.append(f"{addr}: the host's ping failed ({host.returncode}): {host.stderr[-300:]!r}")
            continue
        if guest.returncode != 0 or no_times(guest.stdout) != no_times(host.stdout) or guest.stderr:
            problems.append(f"{addr}: status {guest.returncode}, output {guest.stdout[-600:]!r} "
                            f"stderr {guest.stderr[-300:]!r}; the host's {host.stdout[-600:]!r}")
    return report(problems)


PY_RAW_PING = ("import os, sys\n"
               "open('/proc/sys/net/ipv4/ping_group_range', 'w').write('1 0')\n"
               "os.execv('/usr/bin/ping', ['ping'] + sys.argv[1:])\n")


def raw():
    """iputils' ping on raw sockets: python3 writes the sysctl, then execs it."""
    import shutil
    problems = []
    libs = []
    for line in subprocess.run(["ldd", shutil.which("ping")], stdout=subprocess.PIPE, text=True).stdout.splitlines():
        m = re.search(r"=> (/\S+)", line)
        if m and not re.search(r"/libc\.so|/ld-linux", m.group(1)):
            real = os.path.realpath(m.group(1))
            libs += ["--add", f"{real}:/usr/lib/x86_64-linux-gnu/{os.path.basename(m.group(1))}"]
    for addr in ("127.0.0.1", "::1"):
        args = ["-n", "-c", "3", addr]
        host = subprocess.run(["ping", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        guest = subprocess.run([CAPSULE, "run", "--add", f"{shutil.which('ping')}:/usr/bin/ping", *libs, "python3",
                                "-c", PY_RAW_PING, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=TIMEOUT)
        if host.returncode != 0:
            problems.append(f"{addr}: the host's ping failed ({host.returncode})")
            continue
        if guest.returncode != 0 or no_times(guest.stdout) != no_times(host.stdout) or guest.stderr:
            problems.append(f"{addr}: status {guest.returncode}, output {guest.stdout[-600:]!r} "
                            f"stderr {guest.stderr[-300:]!r}; the host's {host.stdout[-600:]!r}")
    return report(problems)


def gateway():
    problems = []
    for addr in ("10.0.2.2", "fec0::2"):
        r = vm(["-n", "-c", "3", "-W", "5", addr])
        sent, got = replies(r.stdout)
        if r.returncode == 1 and sent == 3 and got == 0:
            print(f"skipped {addr}: QEMU's user network answered no echo request here")
            continue
        if r.returncode != 0 or (sent, got) != (3, 3) or not re.search(rb"64 bytes from %s: icmp_seq=3 ttl=\d+" %
                                                                         addr.encode(), r.stdout):
            problems.append(f"{addr}: status {r.returncode}, {r.stdout[-600:]!r} {r.stderr[-300:]!r}")
    return report(problems)


def tap():
    problems = []
    name = f"capping{os.getpid() % 10000}"
    if subprocess.run(["ip", "tuntap", "add", "dev", name, "mode", "tap"], stderr=subprocess.DEVNULL).returncode:
        print("skipped: no tap device can be made here")
        return 77
    try:
        subprocess.run(["ip", "addr", "add", "10.9.77.1/24", "dev", name], check=True)
        subprocess.run(["ip", "-6", "addr", "add", "fe80::1/64", "dev", name, "nodad"], check=True)
        subprocess.run(["ip", "link", "set", name, "up"], check=True)
        extra = ["--net", f"tap:{name}", "--cmdline", "--ip=10.9.77.2/24"]
        for addr in ("10.9.77.1", "fe80::1%eth0"):
            r = vm(["-n", "-c", "3", "-W", "5", addr], extra)
            if r.returncode != 0 or replies(r.stdout) != (3, 3):
                problems.append(f"{addr}: status {r.returncode}, {r.stdout[-600:]!r} {r.stderr[-300:]!r}")
    finally:
        subprocess.run(["ip", "link", "del", name], stderr=subprocess.DEVNULL)
    return report(problems)


def report(problems):
    if problems:
        print("FAIL: " + "\n".join(problems))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit({"loopback": loopback, "raw": raw, "gateway": gateway, "tap": tap}[sys.argv[1]]())
