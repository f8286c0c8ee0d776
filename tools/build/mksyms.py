#!/usr/bin/env python3
"""Turn `nm -n --defined-only -C` output into the kernel's symbol table.

Layout (section .ksyms, read by symbolize() in lib/symbols.cc):
  u64 count; then count × {u64 address, u64 name_offset}; then the names,
  NUL-terminated, name_offset counted from ksyms_table.
Only text symbols are kept; they are sorted by address for binary search.
"""
import sys

def main(src, dst):
    syms = []
    with open(src) as f:
        for line in f:
            parts = line.rstrip("\n").split(" ", 2)
            if len(parts) != 3 or parts[1] not in "tTwW":
                continue
            addr = int(parts[0], 16)
            if addr < 0xffffffff80000000:
                continue
            syms.append((addr, parts[2]))
    syms.sort()
    out = ['    .section .ksyms, "a"', "    .balign 8",
           "    .globl ksyms_count, ksyms_table",
           f"ksyms_count: .quad {len(syms)}", "ksyms_table:"]
    offset = 16 * len(syms)
    names = []
    for addr, name in syms:
        out.append(f"    .quad {addr:#x}, {offset}")
        data = name.encode() + b"\0"
        names.append(data)
        offset += len(data)
    for data in names:
        out.append("    .byte " + ",".join(str(b) for b in data))
    with open(dst, "w") as f:
        f.write("\n".join(out) + "\n")

if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
