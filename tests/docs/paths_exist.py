#!/usr/bin/env python3
"""Every repository path the documentation names must exist.

Scans docs/*.md (and the top-level README.md) for words that look like a
path inside this repository -- they start with one of the repository's
top-level folders, e.g. `fs/ramfs/dir.cc`, `core/mm/`, `fs/cpio/newc.{h,cc}`
-- and fails listing each one that names nothing. A layer's public header
may be named as it is included ("fs/vfs.h" for fs/include/fs/vfs.h). Brace lists are
expanded; a path with a glob character or a placeholder in capitals
(`modules/NAME/module.py`, `linux/sys_<family>.cc`) matches if anything
matches it.
Paths of other projects quoted for facts (Linux's `mm/mmap.c`) are told
apart by their project's name just before them, see FOREIGN below.

Usage: paths_exist.py [REPO_ROOT]   (default: two folders up from here)
"""
import glob
import os
import re
import sys

# A path whose preceding text ends with one of these names another
# project's tree, not ours (e.g. "Linux's mm/mmap.c", "SerenityOS
# Kernel/Net"): not checked.
FOREIGN = re.compile(
    r"(linux|linux's|gvisor|gvisor's|starnix|fuchsia|zircon|serenityos|includeos|seastar|"
    r"osv|osv's|qemu|qemu's|musl|musl's|glibc|glibc's)\s*\(?\s*[`\"']?$",
    re.IGNORECASE)

TOKEN = re.compile(r"[A-Za-z0-9_.*{},/+-]+")


def expand_braces(s):
    m = re.search(r"\{([^{}]*)\}", s)
    if not m:
        return [s]
    out = []
    for alt in m.group(1).split(","):
        out += expand_braces(s[: m.start()] + alt + s[m.end():])
    return out


def candidates(text, tops):
    for m in TOKEN.finditer(text):
        tok = m.group(0)
        start = m.start()
        # A path inside a URL or an absolute guest path (/proc/self/fd,
        # /dev/null, https://...) is not ours.
        if start > 0 and text[start - 1] in "/:@~.$":
            continue
        if tok.startswith("/"):
            continue
        # A placeholder in angle brackets (linux/sys_<family>.cc) stands
        # for any name.
        end = m.end()
        while end < len(text) and text[end] == "<":
            close = text.find(">", end)
            if close < 0:
                break
            rest = TOKEN.match(text, close + 1)
            tok += "*" + (rest.group(0) if rest else "")
            end = rest.end() if rest else close + 1
        tok = tok.rstrip(".,;:")
        if "/" not in tok:
            continue
        top = tok.split("/", 1)[0]
        if top not in tops:
            continue
        line_start = text.rfind("\n", 0, start) + 1
        if FOREIGN.search(text[line_start:start]):
            continue
        yield tok, text.count("\n", 0, start) + 1


def exists(root, path):
    # A placeholder segment in capitals (modules/NAME/module.py) stands
    # for any name.
    path = "/".join("*" if re.fullmatch(r"[A-Z]+", seg) else seg for seg in path.split("/"))
    for p in expand_braces(path):
        if any(c in p for c in "*?["):
            if glob.glob(os.path.join(root, p)):
                continue
            return False
        if not os.path.exists(os.path.join(root, p)):
            # An include spelling of a layer's public header: "fs/vfs.h"
            # is fs/include/fs/vfs.h.
            top = p.split("/", 1)[0]
            if not os.path.exists(os.path.join(root, top, "include", p)):
                return False
    return True


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), "..", ".."))
    tops = {d for d in os.listdir(root)
            if os.path.isdir(os.path.join(root, d)) and not d.startswith(".") and d != "build"}
    docs = sorted(glob.glob(os.path.join(root, "docs", "**", "*.md"), recursive=True))
    readme = os.path.join(root, "README.md")
    if os.path.exists(readme):
        docs.append(readme)
    missing = []
    checked = 0
    for doc in docs:
        with open(doc, encoding="utf-8") as f:
            text = f.read()
        for path, line in candidates(text, tops):
            checked += 1
            if not exists(root, path):
                missing.append(f"{os.path.relpath(doc, root)}:{line}: {path}")
    if missing:
        print(f"{len(missing)} path(s) named in the docs do not exist:")
        for m in missing:
            print("  " + m)
        return 1
    print(f"docs: {checked} path mentions in {len(docs)} files, all exist")
    return 0


if __name__ == "__main__":
    sys.exit(main())
