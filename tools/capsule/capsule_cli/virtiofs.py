"""The virtiofsd daemons behind `--share` over virtio-fs (docs/virtiofs.md).

One virtiofsd per share, started before QEMU: it makes its vhost-user
socket, QEMU connects to it, and it serves that one connection (it exits
when QEMU goes). The CLI kills what is left when the VM ends, on errors
and on ^C alike (Daemons.stop from a finally)."""
import os
import subprocess
import time


class DaemonError(OSError):
    pass


class Daemons:
    def __init__(self, commands, log_dir):
        self.commands = commands  # [(argv, socket)] from qemu.virtiofsd_commands
        self.log_dir = log_dir
        self.procs = []

    def start(self, timeout=10.0):
        """Starts every daemon and waits for its socket; DaemonError (with
        the daemon's own words) when one exits or is not ready in time."""
        for i, (argv, sock) in enumerate(self.commands):
            log_path = os.path.join(self.log_dir, f"virtiofsd{i}.log")
            with open(log_path, "wb") as log:
                # Its own session: the terminal's ^C goes to the CLI, which
                # stops QEMU and then the daemons in order.
                p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     start_new_session=True)
            self.procs.append(p)
            deadline = time.monotonic() + timeout
            while not os.path.exists(sock):
                if p.poll() is not None or time.monotonic() > deadline:
                    with open(log_path, errors="replace") as f:
                        said = f.read().strip()
                    why = f"exited with status {p.returncode}" if p.returncode is not None else "did not start"
                    raise DaemonError(f"virtiofsd for --share #{i + 1} {why}: {said or '(no output)'}")
                time.sleep(0.005)

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=2)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False
