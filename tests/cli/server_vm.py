"""A bundled server module (modules/redis, nginx, memcached) booted with
`capsule run --module NAME -p HOSTPORT:GUESTPORT` as a user runs it, for the
server tests (redis_test.py, nginx_test.py, memcached_test.py).

Through QEMU's user network a connection to the forwarded port is accepted
by QEMU before the guest answers, so readiness is an exchange with the
server (`ready(port)` returns True once it answered), tried until a bounded
deadline. `stop()` sends SIGTERM to the CLI (the program gets it) unless the
VM already ended, then waits a bounded time and kills QEMU if it must.

The machine is microvm unless the test's command line says `--machine q35`
(the same test then runs over virtio-net on PCI with MSI-X).
"""
import os
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CAPSULE = os.environ.get("CAPSULE_TEST_CLI") or os.path.join(HERE, "..", "..", "capsule")
MACHINE = sys.argv[sys.argv.index("--machine") + 1] if "--machine" in sys.argv[:-1] else "microvm"
BOOT_TIMEOUT = 240
STOP_TIMEOUT = 60


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class ServerVm:
    def __init__(self, module, guest_port, extra=(), machine=None, run_args=()):
        self.port = free_port()
        self.cmd = [CAPSULE, "run", "--machine", machine or MACHINE, "-p", f"{self.port}:{guest_port}",
                    *run_args, "--module", module, *extra]
        self.proc = None
        self.out = b""
        self.err = b""

    def start(self, ready):
        """Boots the VM; True once ready(port) said so, False when the VM
        ended or the deadline passed first."""
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + BOOT_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if ready(self.port):
                    return True
            except OSError:
                pass
            time.sleep(0.5)
        return False

    def wait(self, timeout=STOP_TIMEOUT):
        """The VM's exit status once it ended by itself, None when it did
        not within `timeout` (then it is killed)."""
        try:
            self.out, self.err = self.proc.communicate(timeout=timeout)
            return self.proc.returncode
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.out, self.err = self.proc.communicate()
            return None

    def stop(self):
        """SIGTERM to the program (through the CLI); its exit status, or
        None when the VM had to be killed."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait()

    def log(self):
        return (self.out[-3000:] + b"\n--- stderr\n" + self.err[-5000:]).decode(errors="replace")


def report(name, problems, vm):
    if problems:
        print("FAIL: " + "; ".join(problems))
        print("--- output ---\n" + vm.log())
        return 1
    print(f"PASS {name}")
    return 0
