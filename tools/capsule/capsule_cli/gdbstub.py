"""`capsule run --gdb[=PORT]` (docs/gdb.md): QEMU's gdb stub on the host's
127.0.0.1 only, the VM paused before its first instruction, and what gdb
needs to find the program: a JSON file (the stub's address, the kernel ELF
booted, and for each guest path of the image the host file it came from)
that tools/gdb/capsule-gdb.py reads (`capsule-connect FILE`).
"""
import errno
import os
import socket

DEFAULT_PORT = 1234  # gdb's and QEMU's (-s) customary port
HOST = "127.0.0.1"
MAP_VERSION = 1
SCRIPT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "gdb", "capsule-gdb.py"))


def parse_port(value):
    """--gdb's value: a TCP port 1..65535 (ValueError otherwise)."""
    text = str(value)
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"bad --gdb port '{value}' (a TCP port, 1..65535: --gdb or --gdb=PORT)")
    return int(text)


def check_port_free(port):
    """ValueError naming the port when something on this host already
    listens on (or holds) 127.0.0.1:PORT. QEMU binds with SO_REUSEADDR, so
    the probe does too: a connection in TIME_WAIT does not count."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((HOST, port))
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise ValueError(f"--gdb: port {port} on {HOST} is in use; choose another with --gdb=PORT")
        raise ValueError(f"--gdb: cannot listen on {HOST}:{port}: {e.strerror}")
    finally:
        s.close()


def qemu_args(port):
    """The stub on 127.0.0.1 only (never every interface: it gives whoever
    connects the whole VM), and no instruction runs until gdb says so."""
    return ["-gdb", f"tcp:{HOST}:{port}", "-S"]


def image_map(tree):
    """Guest path -> host file for every file with host contents, and guest
    path -> target for every symlink: the script resolves a guest path (the
    program's, a library's l_name) as the guest's walk does."""
    files, links = {}, {}
    if tree is not None:
        for path, node in tree.nodes.items():
            if node.kind == "file" and node.host:
                files[path] = os.path.abspath(node.host)
            elif node.kind == "link":
                links[path] = node.target
    return files, links


def write_map(path, port, kernel, tree):
    files, links = image_map(tree)
    with open(path, "w") as f:
        import json
        json.dump({"version": MAP_VERSION, "remote": f"{HOST}:{port}", "kernel": os.path.abspath(kernel),
                   "files": files, "links": links}, f)


def attach_command(map_path):
    import shlex
    return (f"gdb -q -x {shlex.quote(SCRIPT)} "
            f"-ex {shlex.quote('capsule-connect ' + shlex.quote(map_path))}")
