"""TCP on a lossy link: Capsule's TCP against QEMU user networking's with
frames lost on purpose (the kernel's --net-drop test option, docs/cmdline.md,
docs/net_device.md "Loss"), both ways, in both directions of the transfer.
No tc netem here: the VM loses frames itself, seeded, so a run is
repeatable.

    net_loss_test.py fetch MACHINE   python3's urllib in the VM downloads 4 MiB
                                     from a server on the host (the VM
                                     receives: its out-of-order queue and
                                     duplicate ACKs); length and sha256 equal
                                     the file's
    net_loss_test.py serve MACHINE   python3 -m http.server in the VM behind
                                     -p; the host's curl downloads 4 MiB (the
                                     VM sends: fast retransmit, NewReno
                                     recovery, CUBIC); the bytes equal the
                                     file's

Each transfer must finish within a timeout (not a timed assertion: under
TCG on a loaded machine times vary a lot; without loss recovery the same
transfer takes many retransmission timeouts). The kernel's log must show
that frames were dropped in both directions (capsule run --verbose streams
the kernel log to stderr).
"""
import hashlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

from net_test import free_port, report  # the same directory: the network tests' helpers

HERE = os.path.dirname(os.path.abspath(__file__))
CAPSULE = os.environ.get("CAPSULE_TEST_CLI") or os.path.join(HERE, "..", "..", "capsule")
TIMEOUT = 420
SIZE = 4 << 20
DROP = "--net-drop=4,{seed}"  # 4 % of IPv4 frames, received and sent
PY_FETCH = ("import hashlib, sys, urllib.request\n"
            "d = urllib.request.urlopen(sys.argv[1], timeout=300).read()\n"
            "print(len(d), hashlib.sha256(d).hexdigest())\n")
DROPPED = re.compile(rb"--net-drop dropped (\d+) of (\d+) IPv4 frames received, (\d+) of (\d+) sent")


def make_blob(d):
    data = os.urandom(SIZE)
    with open(os.path.join(d, "blob.bin"), "wb") as f:
        f.write(data)
    with open(os.path.join(d, "index.txt"), "w") as f:
        f.write("ok\n")
    return f"{len(data)} {hashlib.sha256(data).hexdigest()}"


def curl(port, path, timeout):
    r = subprocess.run(["curl", "-sS", "--max-time", str(timeout), "-o", "-", f"http://127.0.0.1:{port}{path}"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return r.returncode, r.stdout, r.stderr


def check(cond, what, problems):
    if not cond:
        problems.append(what)
    return cond


def check_drops(err, problems):
    m = DROPPED.search(err)
    if check(m, "the kernel log has no --net-drop report", problems):
        rx, tx = int(m.group(1)), int(m.group(3))
        print(f"dropped {rx} of {int(m.group(2))} frames received, {tx} of {int(m.group(4))} sent")
        check(rx > 0 and tx > 0, f"--net-drop dropped {rx} received and {tx} sent frames: the test lost nothing",
              problems)


def fetch(machine):
    problems = []
    with tempfile.TemporaryDirectory() as d:
        want = make_blob(d)
        port = free_port()
        srv = subprocess.Popen(["python3", "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", d],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and curl(port, "/index.txt", 5)[0] != 0:
                time.sleep(0.2)
            start = time.monotonic()
            try:
                vm = subprocess.run([CAPSULE, "run", "--verbose", "--machine", machine, "--cmdline", DROP.format(seed=7),
                                     "python3", "-c", PY_FETCH, f"http://10.0.2.2:{port}/blob.bin"],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    timeout=TIMEOUT)
            except subprocess.TimeoutExpired as e:
                problems.append(f"the download did not finish in {TIMEOUT} s")
                return report(problems, (e.stdout or b"") + (e.stderr or b""))
            took = time.monotonic() - start
        finally:
            srv.terminate()
            srv.wait(30)
    got = vm.stdout.decode(errors="replace").strip()
    check(vm.returncode == 0, f"status {vm.returncode}", problems)
    check(got == want, f"the VM read '{got}', the file is '{want}'", problems)
    check_drops(vm.stderr, problems)
    print(f"4 MiB into the VM with 4% loss each way: {took:.1f} s")
    return report(problems, vm.stdout + vm.stderr)


def serve(machine):
    problems = []
    with tempfile.TemporaryDirectory() as d:
        want = make_blob(d)
        port = free_port()
        vm = subprocess.Popen([CAPSULE, "run", "--verbose", "--machine", machine, "--cmdline", DROP.format(seed=11),
                               "-p", f"{port}:8000", "--add", f"{d}:/www", "--cwd", "/www",
                               "python3", "-m", "http.server", "8000"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + TIMEOUT
            up = False
            while time.monotonic() < deadline and vm.poll() is None:
                if curl(port, "/index.txt", 20)[0] == 0:
                    up = True
                    break
                time.sleep(0.5)
            if check(up, "the server in the VM never answered", problems):
                start = time.monotonic()
                code, body, cerr = curl(port, "/blob.bin", TIMEOUT)
                took = time.monotonic() - start
                got = f"{len(body)} {hashlib.sha256(body).hexdigest()}"
                check(code == 0, f"curl's status {code}: {cerr.decode(errors='replace').strip()}", problems)
                check(got == want, f"curl read '{got}', the file is '{want}'", problems)
                print(f"4 MiB out of the VM with 4% loss each way: {took:.1f} s")
        finally:
            vm.send_signal(signal.SIGTERM)
            try:
                out, err = vm.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                vm.kill()
                out, err = vm.communicate()
                problems.append("the VM did not stop after SIGTERM")
    check_drops(err, problems)
    return report(problems, out + err)


def main():
    case, machine = sys.argv[1], sys.argv[2]
    return {"fetch": fetch, "serve": serve}[case](machine)


if __name__ == "__main__":
    sys.exit(main())
