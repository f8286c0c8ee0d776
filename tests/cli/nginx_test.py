#!/usr/bin/env python3
"""guest.cli.nginx: Debian's nginx-light in the VM (modules/nginx, `capsule
run --module nginx -p PORT:80 --add DIR:/var/www/html`) serving files that
the host's curl fetches through QEMU's user network.

DIR holds 3 MiB of random bytes, a text page and a subdirectory. The same
requests go to nginx on the host (the module's nginx.conf with the host's
port, root and pid file) and to the VM: HTTP status and body must be equal
(the 3 MiB file byte-exact by sha256, a Range request's 206, a missing
path's 404 page, a directory without its slash's 301, HEAD's headers);
then the file twice from 2 connections at once. The VM's access log (its
stdout) must show the fetch, its error log (stderr) no alert (nginx
alerts on every setsockopt it needs and does not get: TCP_CORK). SIGTERM to the CLI: nginx's master stops its
worker and exits, with the host's nginx's status for SIGTERM.

Exit 77 (skip) when the host lacks nginx-light.
"""
import concurrent.futures
import hashlib
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from server_vm import ServerVm, free_port, report  # noqa: E402

NGINX = "/usr/sbin/nginx"
CONF = os.path.join(HERE, "..", "..", "modules", "nginx", "nginx.conf")
BLOB = 3 << 20


def curl(port, path, *opts):
    """(status, body) of one request from the host's curl."""
    r = subprocess.run(["curl", "-sS", "--max-time", "120", *opts, "-o", "-", "-w", "\n%{http_code}",
                        f"http://127.0.0.1:{port}{path}"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       timeout=150)
    body, _, code = r.stdout.rpartition(b"\n")
    return code.decode(), body


def ready(port):
    return curl(port, "/index.html", "--max-time", "5")[0] == "200"


def make_root(d):
    with open(os.path.join(d, "blob.bin"), "wb") as f:
        f.write(os.urandom(BLOB))
    with open(os.path.join(d, "index.html"), "w") as f:
        f.write("<html><body>" + "".join(f"<p>line {i}</p>\n" for i in range(500)) + "</body></html>\n")
    os.mkdir(os.path.join(d, "sub"))
    with open(os.path.join(d, "sub", "index.html"), "w") as f:
        f.write("nested\n")


def headers_of(body):
    """HEAD's response headers without the ones that differ by time."""
    lines = body.replace(b"\r", b"").split(b"\n")
    return b"\n".join(l for l in lines if l and not l.lower().startswith((b"date:", b"last-modified:", b"etag:")))


def requests(port):
    out = []
    code, body = curl(port, "/blob.bin")
    out.append(("/blob.bin", (code, len(body), hashlib.sha256(body).hexdigest())))
    out.append(("/blob.bin range", curl(port, "/blob.bin", "-r", "1000000-1065535")))
    out.append(("/", curl(port, "/")))
    out.append(("/index.html", curl(port, "/index.html")))
    out.append(("/sub/", curl(port, "/sub/")))
    out.append(("/missing", curl(port, "/missing")))
    out.append(("/sub (no slash)", curl(port, "/sub")[0]))
    code, body = curl(port, "/blob.bin", "-I")
    out.append(("HEAD /blob.bin", (code, headers_of(body))))
    return out


def main():
    if not os.path.exists(NGINX):
        print("SKIP: the host lacks nginx-light")
        return 77
    problems = []
    with tempfile.TemporaryDirectory() as d:
        www = os.path.join(d, "www")
        os.mkdir(www)
        make_root(www)
        with open(os.path.join(www, "blob.bin"), "rb") as f:
            want_blob = hashlib.sha256(f.read()).hexdigest()
        ref_port = free_port()
        conf = open(CONF).read()
        conf = conf.replace("pid /run/nginx.pid;", f"pid {d}/nginx.pid;")
        conf = conf.replace("listen 80 ", f"listen 127.0.0.1:{ref_port} ")
        conf = conf.replace("root /var/www/html;", f"root {www};")
        conf = conf.replace("access_log /dev/stdout;", f"access_log {d}/access.log;")
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write(conf)
        ref = subprocess.Popen([NGINX, "-c", os.path.join(d, "nginx.conf"), "-e", "stderr"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        vm = ServerVm("nginx", 80, run_args=["--add", f"{www}:/var/www/html"])
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not ready(ref_port):
                time.sleep(0.2)
            want = requests(ref_port)
            if want[0][1] != ("200", BLOB, want_blob):
                problems.append(f"the host's nginx served {want[0][1]}: the reference is broken")
            if not vm.start(ready):
                problems.append("nginx in the VM never served /index.html")
                return report("nginx", problems, vm)
            got = requests(vm.port)
            for (name, w), (_, g) in zip(want, got):
                if w != g:
                    problems.append(f"{name}: the VM gave {str(g)[:300]}, the host's nginx {str(w)[:300]}")
            with concurrent.futures.ThreadPoolExecutor(2) as ex:
                par = list(ex.map(lambda _: curl(vm.port, "/blob.bin"), range(2)))
            for i, (code, body) in enumerate(par):
                if code != "200" or hashlib.sha256(body).hexdigest() != want_blob:
                    problems.append(f"parallel fetch {i}: HTTP {code}, {len(body)} bytes, not the file")
        finally:
            ref.terminate()
            try:
                ref_status = ref.wait(30)
            except subprocess.TimeoutExpired:
                ref.kill()
                ref_status = None
            status = vm.stop()
        # Popen gives -15 for a death by SIGTERM; capsule run says 143 as a shell.
        want_status = 128 - ref_status if ref_status is not None and ref_status < 0 else ref_status
        if status != want_status:
            problems.append(f"after SIGTERM the VM ended with {status}, the host's nginx with {want_status}")
        for level in ("[alert]", "[crit]", "[emerg]"):
            if level in vm.err.decode(errors="replace"):
                problems.append(f"nginx's error log in the VM has {level} lines")
        if f'"GET /blob.bin HTTP/1.1" 200 {BLOB} ' not in vm.out.decode(errors="replace"):
            problems.append("the access log (stdout) has no GET /blob.bin 200 of the whole file")
    return report("nginx", problems, vm)


if __name__ == "__main__":
    sys.exit(main())
