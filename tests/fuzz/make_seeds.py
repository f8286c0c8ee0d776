#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets (tests/fuzz/corpus/TARGET/):
small valid inputs of each format, made here from the format's definition
(nothing downloaded). The files are in git; rerun after changing this
script (`python3 tests/fuzz/make_seeds.py`) and commit the result. Inputs
that found bugs are kept next to them as crash-*/regress-* files (written
by hand, never by this script: it only replaces seed-* files)."""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = {}


def seed(target, name, data):
    SEEDS.setdefault(target, []).append((f"seed-{name}", bytes(data)))


# --- ELF (gABI Elf64_Ehdr / Elf64_Phdr) ---------------------------------------

PT_LOAD, PT_DYNAMIC, PT_INTERP, PT_NOTE, PT_PHDR, PT_TLS = 1, 2, 3, 4, 6, 7
PT_GNU_STACK, PT_GNU_RELRO = 0x6474E551, 0x6474E552


def elf(etype, entry, phdrs, tail=b"", size=None):
    """An ELF64 file: header, program headers at 64, then `tail`."""
    eh = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    eh += struct.pack("<HHIQQQIHHHHHH", etype, 62, 1, entry, 64, 0, 0, 64, 56, len(phdrs), 64, 0, 0)
    out = bytearray(eh)
    for (t, flags, off, vaddr, filesz, memsz, align) in phdrs:
        out += struct.pack("<IIQQQQQQ", t, flags, off, vaddr, vaddr, filesz, memsz, align)
    out += tail
    if size and len(out) < size:
        out += bytes(size - len(out))
    return out


def elf_seeds():
    code = b"\x31\xff\xb8\x3c\x00\x00\x00\x0f\x05"  # xor edi,edi; mov eax,60; syscall
    # A static executable: one R+X segment from offset 0.
    n = 1
    body = code
    seed("elf", "static", elf(2, 0x401000 + 64 + 56 * n, [(PT_LOAD, 5, 0, 0x401000, 64 + 56 * n + len(body),
                                                          64 + 56 * n + len(body), 0x1000)], body))
    # Static with RW data + bss, PT_TLS, PT_GNU_STACK, PT_NOTE.
    ph = [
        (PT_LOAD, 5, 0, 0x400000, 0x200, 0x200, 0x1000),
        (PT_LOAD, 6, 0x1000, 0x401000, 0x40, 0x3000, 0x1000),
        (PT_TLS, 4, 0x1000, 0x401000, 0x10, 0x28, 8),
        (PT_NOTE, 4, 0x100, 0x400100, 0x20, 0x20, 4),
        (PT_GNU_STACK, 6, 0, 0, 0, 0, 16),
    ]
    seed("elf", "static-bss-tls", elf(2, 0x400180, ph, size=0x1040))
    # A PIE with an interpreter, PT_PHDR, PT_DYNAMIC and RELRO.
    interp = b"/lib64/ld-linux-x86-64.so.2\x00"
    ph = [
        (PT_PHDR, 4, 64, 64, 56 * 7, 56 * 7, 8),
        (PT_INTERP, 4, 0x200, 0x200, len(interp), len(interp), 1),
        (PT_LOAD, 4, 0, 0, 0x300, 0x300, 0x1000),
        (PT_LOAD, 5, 0x1000, 0x1000, 0x100, 0x100, 0x1000),
        (PT_LOAD, 6, 0x2000, 0x2000, 0x80, 0x200, 0x1000),
        (PT_DYNAMIC, 6, 0x2000, 0x2000, 0x40, 0x40, 8),
        (PT_GNU_RELRO, 4, 0x2000, 0x2000, 0x40, 0x40, 1),
    ]
    img = bytearray(elf(3, 0x1000, ph, size=0x2080))
    img[0x200:0x200 + len(interp)] = interp
    seed("elf", "pie-interp", img)
    # A static-PIE (ET_DYN, no PT_INTERP) with 2 MiB alignment.
    ph = [(PT_LOAD, 5, 0, 0, 0x100, 0x100, 0x200000), (PT_GNU_STACK, 7, 0, 0, 0, 0, 16)]
    seed("elf", "static-pie", elf(3, 0x80, ph, size=0x100))


# --- cpio newc (cpio(5) "New ASCII Format") -----------------------------------


def newc(entries, magic=b"070701"):
    out = bytearray()
    ino = 1
    for (name, mode, data, nlink) in entries + [("TRAILER!!!", 0, b"", 1)]:
        nm = name.encode() + b"\x00"
        this = 100 if nlink > 1 and mode & 0o170000 == 0o100000 else ino  # hard links share an inode
        check = sum(data) & 0xFFFFFFFF if magic == b"070702" else 0
        fields = [this, mode, 0, 0, nlink, 1234, len(data), 8, 1, 0, 0, len(nm), check]
        out += magic + b"".join(b"%08X" % f for f in fields) + nm
        out += bytes(-len(out) % 4)
        out += data
        out += bytes(-len(out) % 4)
        ino += 1
    return out


def cpio_seeds():
    tree = [
        (".", 0o40755, b"", 2),
        ("bin", 0o40755, b"", 2),
        ("bin/prog", 0o100755, b"\x7fELF" + bytes(60), 1),
        ("bin/sh", 0o120777, b"prog", 1),
        ("etc", 0o40755, b"", 2),
        ("etc/hosts", 0o100644, b"127.0.0.1 localhost\n", 1),
        ("dev/null", 0o20666, b"", 1),
        ("tmp/fifo", 0o10644, b"", 1),
    ]
    seed("cpio", "tree", newc(tree))
    seed("cpio", "crc", newc([("./a", 0o100600, b"abc", 1), ("./d", 0o40700, b"", 2)], b"070702"))
    # Hard links (data on the last name, as GNU cpio writes), then a second
    # archive after zero padding (concatenated initrds).
    a = newc([("x", 0o100644, b"", 2), ("y", 0o100644, b"shared\n", 2)])
    b = newc([("/abs/z", 0o100644, b"z", 1)])
    seed("cpio", "links-concat", a + bytes(512) + b)


# --- the kernel command line (docs/cmdline.md) ------------------------------------


def cmdline_seeds():
    lines = [
        "--verbose --strace --stats -- /bin/sh -c 'echo hi'",
        "--log=info --tsc-khz=2000000 --tty=24x80 --env=A=1 --env=PATH=/bin --cwd=/tmp -- prog a \"b c\" \\\" \\\\",
        "--ip=10.0.2.15/24 --gw=10.0.2.2 --dns=10.0.2.3 --disk=vda:/mnt:ro --share=host:/share:ro -- ls /mnt",
        "--net-drop=12.5,7,rx -- ping",
        "virtio_mmio.device=512@0xfeb00000:5 --trace=sched,syscall --trace-buffer=64 -- a ; b \\; c ; d",
        "--hung-task=30 --cpu-stall=0 --hung-task-panic --test=all --strace-filter=open,%file --gdb -- x",
    ]
    for i, l in enumerate(lines):
        seed("cmdline", str(i), l.encode())
    # Round trips (cmdline_fuzz.cc): 1, then the argv words NUL-separated.
    words = [["/bin/sh", "-c", "echo \"$HOME\" a\\b", "", "tab\there"],
             ["busybox", "echo", "a", ";", "busybox", "echo", "\\;", "\\\\;", "x;y"],
             ["prog", "--", "--verbose", "virtio_mmio.device=1@2:3", "last\n"]]
    for i, w in enumerate(words):
        seed("cmdline", f"roundtrip-{i}", b"\x01" + b"\x00".join(x.encode() for x in w))


# --- the line discipline: [termios 36 bytes][ops...] (tests/fuzz/ldisc_fuzz.cc) ---

ICRNL, IXON, IUTF8 = 0o400, 0o2000, 0o40000
OPOST, ONLCR = 0o1, 0o4
ISIG, ICANON, ECHO, ECHOE, ECHOK, ECHOCTL, ECHOKE, IEXTEN = 1, 2, 0o10, 0o20, 0o40, 0o1000, 0o4000, 0o100000


def termios(iflag, oflag, lflag, cc):
    return struct.pack("<IIIIB", iflag, oflag, 0o277, lflag, 0) + bytes(cc)


def ldisc_seeds():
    cooked_cc = [3, 0x1C, 0x7F, 0x15, 4, 0, 1, 0, 0x11, 0x13, 0x1A, 0, 0x12, 0x0F, 0x17, 0x16, 0, 0, 0]
    cooked = termios(ICRNL | IXON | IUTF8, OPOST | ONLCR,
                     ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN, cooked_cc)
    raw = termios(0, 0, 0, [0] * 6 + [1] + [0] * 12)
    # Ops (tests/fuzz/ldisc_fuzz.cc): 0 N bytes: input (N | 0x40: 400 times);
    # 1 N: read N*97; 2 termios: new settings; 3 N bytes: output; 4: commit; 5: flush.
    def inp(b, rep=False):
        return bytes([0, len(b) | (0x40 if rep else 0)]) + b

    def rd(n):
        return bytes([1, n])

    seed("ldisc", "cooked", cooked + inp(b"hello wo\x7frld\x17x\r") + rd(1) + inp(b"\x03\x04ab") + rd(1))
    seed("ldisc", "raw", raw + inp(b"\x00\x01\x02\r\n\x7f\x03\x1a") + rd(1) + b"\x02" + cooked + inp(b"ab\n") + rd(1))
    seed("ldisc", "modes", cooked + inp(b"abc\x15d") + b"\x02" + raw + rd(1) + b"\x03\x04a\nb\r" + b"\x04\x05")
    seed("ldisc", "full", cooked + inp(b"0123456789abcdef0123456789abcdef", True) + inp(b"\n") + rd(200) + rd(200))


# --- packets ---------------------------------------------------------------------


def csum(b):
    if len(b) % 2:
        b += b"\x00"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip(src, dst):
    return struct.pack("!I", src), struct.pack("!I", dst)


HOST, US = 0x0A000202, 0x0A00020F


def ipv4(payload, proto=17, ident=1, frag=0, mf=False, src=HOST, dst=US, total=None):
    total = total or 20 + len(payload)
    flags = (0x2000 if mf else 0) | (frag // 8)
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ident, flags, 64, proto, 0, *ip(src, dst))
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def udp(sport, dport, data, src=HOST, dst=US):
    ulen = 8 + len(data)
    pseudo = struct.pack("!4s4sBBH", *ip(src, dst), 0, 17, ulen)
    h = struct.pack("!HHHH", sport, dport, ulen, 0)
    c = csum(pseudo + h + data) or 0xFFFF
    return struct.pack("!HHHH", sport, dport, ulen, c) + data


def tcp(flags, opts=b"", data=b""):
    doff = (20 + len(opts)) // 4
    return struct.pack("!HHIIBBHHH", 40000, 80, 1000, 2000, doff << 4, flags, 65535, 0, 0) + opts + data


HOST6 = bytes.fromhex("fe800000000000000000000000000002")
US6 = bytes.fromhex("fe80000000000000505400fffe123456")


def ipv6(payload, nh=17, ext=b"", src=HOST6, dst=US6):
    """`nh` names what follows the fixed header: `ext` (which chains on) or the payload."""
    return struct.pack("!IHBB16s16s", 6 << 28, len(ext) + len(payload), nh, 64, src, dst) + ext + payload


def udp6(sport, dport, data, src=HOST6, dst=US6):
    ulen = 8 + len(data)
    pseudo = src + dst + struct.pack("!IxxxB", ulen, 17)
    c = csum(pseudo + struct.pack("!HHHH", sport, dport, ulen, 0) + data) or 0xFFFF
    return struct.pack("!HHHH", sport, dport, ulen, c) + data


def rec(b, op=0):
    return bytes([op]) + struct.pack("<H", len(b)) + b


def packet_seeds():
    d = udp(1234, 53, b"query")
    seed("ipv4", "whole", rec(ipv4(d)))
    payload = bytes(range(40))
    f0 = ipv4(payload[:16], ident=7, frag=0, mf=True)
    f1 = ipv4(payload[16:32], ident=7, frag=16, mf=True)
    f2 = ipv4(payload[32:], ident=7, frag=32)
    seed("ipv4", "frags", rec(f0) + rec(f1) + rec(f2))
    # ICMP port unreachable quoting a UDP datagram we sent.
    sent = ipv4(udp(1234, 53, b"q", src=US, dst=HOST), src=US, dst=HOST)[:28]
    icmp = bytearray(struct.pack("!BBHI", 3, 3, 0, 0) + sent)
    icmp[2:4] = struct.pack("!H", csum(bytes(icmp)))
    seed("ipv4", "icmp-unreach", rec(ipv4(bytes(icmp), proto=1)))
    seed("ipv4", "frags-reordered", rec(f2) + rec(f0) + bytes([0xFF, 10]) + rec(f1) + bytes([0xFF, 80]) + rec(f0))
    # IPv6 in the same target: UDP, a hop-by-hop header, an ICMPv6 port
    # unreachable quoting what we sent, a fragment (dropped).
    seed("ipv4", "v6-udp", rec(ipv6(udp6(1234, 53, b"query"))))
    hbh = bytes([17, 0, 5, 2, 0, 0, 1, 0])  # next UDP; Router Alert, PadN
    seed("ipv4", "v6-hopopts", rec(ipv6(udp6(1234, 53, b"q"), nh=0, ext=hbh)))
    sent6 = ipv6(udp6(1234, 53, b"q", src=US6, dst=HOST6), src=US6, dst=HOST6)[:48]
    icmp6 = struct.pack("!BBHI", 1, 4, 0, 0) + sent6
    seed("ipv4", "v6-icmp-unreach", rec(ipv6(icmp6, nh=58)))
    # A Router Advertisement as QEMU's user network sends it (fe80::2,
    # prefix fec0::/64, its source link-layer address), hop limit 255.
    ra = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 1800, 0, 0)
    ra += bytes([1, 1, 0x52, 0x55, 0x0a, 0, 2, 2])
    ra += struct.pack("!BBBBIII16s", 3, 4, 64, 0xC0, 86400, 14400, 0, bytes.fromhex("fec0" + "00" * 14))
    ra_pkt = bytearray(ipv6(ra, nh=58, src=bytes.fromhex("fe80" + "00" * 13 + "02"), dst=bytes.fromhex("ff02" + "00" * 13 + "01")))
    ra_pkt[7] = 255
    seed("ipv4", "v6-nd-ra", rec(bytes(ra_pkt)))
    ns = struct.pack("!BBHI16s", 135, 0, 0, 0, US6) + bytes([1, 1, 0x52, 0x55, 0x0a, 0, 2, 2])
    ns_pkt = bytearray(ipv6(ns, nh=58))
    ns_pkt[7] = 255
    seed("ipv4", "v6-nd-ns", rec(bytes(ns_pkt)))
    seed("ipv4", "v6-fragment", rec(ipv6(udp6(1, 2, b"x"), nh=44, ext=bytes([17, 0, 0, 1, 0, 0, 0, 9]))))
    # A UDP datagram in two fragments (RFC 8200 4.5), the second first.
    whole = udp6(1234, 53, bytes(range(200)))
    fr0 = ipv6(whole[:104], nh=44, ext=struct.pack("!BBHI", 17, 0, 0 | 1, 77))
    fr1 = ipv6(whole[104:], nh=44, ext=struct.pack("!BBHI", 17, 0, 104, 77))
    seed("ipv4", "v6-frags", rec(fr1) + rec(fr0))
    seed("tcp", "syn", tcp(0x02, b"\x02\x04\x05\xb4\x01\x03\x03\x07"))
    seed("tcp", "data", tcp(0x18, b"\x01\x01\x08\x0a" + bytes(8), b"GET / HTTP/1.0\r\n\r\n"))
    seed("tcp", "sack-ts", tcp(0x10, b"\x01\x01\x08\x0a" + struct.pack("!II", 7, 9) + b"\x01\x01\x05\x12" +
                                struct.pack("!4I", 100, 200, 300, 400)))
    seed("tcp", "syn-sackok-ts", tcp(0x02, b"\x02\x04\x05\xb4\x04\x02\x08\x0a" + struct.pack("!II", 1, 0) +
                                      b"\x01\x03\x03\x07"))
    seed("tcp", "opts-end", tcp(0x12, b"\x02\x04\x05\xb4\x00\x00\x00\x00"))
    seed("udp", "dns", b"".join(ip(HOST, US)) + udp(53, 1234, b"\x12\x34answer"))
    seed("udp", "nocsum", b"".join(ip(HOST, US)) + struct.pack("!HHHH", 5, 6, 12, 0) + b"abcdpad")
    # Ethernet: frames in, packets out, ARP.
    ours = bytes([0x52, 0x54, 0, 0x12, 0x34, 0x56])
    host_mac = bytes([0x52, 0x55, 10, 0, 2, 2])
    bcast = b"\xff" * 6

    def arp(op, sha, spa, tha, tpa):
        return struct.pack("!HHBBH6s4s6s4s", 1, 0x800, 6, 4, op, sha, struct.pack("!I", spa), tha,
                           struct.pack("!I", tpa))

    def frame(dst, etype, payload):
        f = dst + host_mac + struct.pack("!H", etype) + payload
        return f + bytes(max(0, 60 - len(f)))

    req = frame(bcast, 0x806, arp(1, host_mac, HOST, bytes(6), US))
    rep = frame(ours, 0x806, arp(2, host_mac, HOST, ours, US))
    data_in = frame(ours, 0x800, ipv4(udp(1, 2, b"x")))
    out = ipv4(udp(68, 67, b"hello"), src=US, dst=HOST)
    seed("ether", "arp", rec(req) + rec(rep, 1) + rec(data_in))
    seed("ether", "resolve", bytes([6, 2]) + struct.pack("<H", len(out)) + out + bytes([3, 20]) + rec(rep) +
         bytes([2, 9]) + struct.pack("<H", len(out)) + out + bytes([3, 255]) * 3)
    # DHCP: an OFFER [RFC 2131 §2] with the options the client reads.
    fixed = struct.pack("!BBBBIHHIIII", 2, 1, 6, 0, 0x1234, 0, 0x8000, 0, US, HOST, 0)
    fixed += ours + bytes(10) + bytes(64) + bytes(128)
    opts = bytes([53, 1, 2, 54, 4]) + struct.pack("!I", HOST) + bytes([1, 4, 255, 255, 255, 0])
    opts += bytes([3, 4]) + struct.pack("!I", HOST) + bytes([6, 8]) + struct.pack("!II", 0x0A000203, 0x08080808)
    opts += bytes([51, 4]) + struct.pack("!I", 86400) + bytes([15, 7]) + b"example" + bytes([0, 0, 255])
    seed("dhcp", "offer", fixed + bytes([99, 130, 83, 99]) + opts)
    seed("dhcp", "ack", fixed + bytes([99, 130, 83, 99]) + bytes([53, 1, 5, 255]) + bytes(300))


# --- netlink (netlink(7), rtnetlink(7)) ------------------------------------------------


def nlmsg(mtype, flags, payload, seq=1):
    m = struct.pack("<IHHII", 16 + len(payload), mtype, flags, seq, 0) + payload
    return m + bytes(-len(m) % 4)


def nlattr(atype, data):
    a = struct.pack("<HH", 4 + len(data), atype) + data
    return a + bytes(-len(a) % 4)


def netlink_seeds():
    REQ, ACK, DUMP = 1, 4, 0x300
    ifinfo = struct.pack("<BBHiII", 0, 0, 0, 0, 0, 0)
    seed("netlink", "dumps", nlmsg(18, REQ | DUMP, ifinfo) + nlmsg(22, REQ | DUMP, struct.pack("<BBBBI", 2, 0, 0, 0, 0)) +
         nlmsg(26, REQ | DUMP, struct.pack("<BBBBBBBBI", 2, 0, 0, 0, 0, 0, 0, 0, 0)))
    seed("netlink", "getlink-name", nlmsg(18, REQ | ACK, ifinfo + nlattr(3, b"eth0\x00"), seq=2))
    seed("netlink", "getlink-index", nlmsg(18, REQ, struct.pack("<BBHiII", 0, 0, 0, 1, 0, 0), seq=4))
    rt = struct.pack("<BBBBBBBBI", 2, 32, 0, 0, 0, 0, 0, 0, 0)
    seed("netlink", "getroute", nlmsg(26, REQ, rt + nlattr(1, struct.pack("!I", 0x08080808)), seq=3) +
         nlmsg(24, REQ | ACK, rt) + nlmsg(3, 0, b""))


def procfs_write_seeds():
    for i, v in enumerate([b"120000\n", b"-1000", b"0x10", b" 5 \n", b"2\n", b"+18446744073709551615", b"0755"]):
        seed("procfs_write", str(i), v)


# --- 9P2000.L replies: [the request type's index in p9_fuzz.cc's TYPES][reply] ---


def p9_seeds():
    def reply(rtype, body):
        return struct.pack("<IBH", 7 + len(body), rtype, 1) + body

    def qid(t, path):
        return struct.pack("<BIQ", t, 0, path)

    def s9(text):
        return struct.pack("<H", len(text)) + text

    # TYPES = TVERSION TATTACH TWALK TLOPEN TLCREATE TREAD TWRITE TCLUNK TGETATTR ... TREADDIR (10) ...
    seed("p9", "version", bytes([0]) + reply(101, struct.pack("<I", 65536) + s9(b"9P2000.L")))
    seed("p9", "walk", bytes([2]) + reply(111, struct.pack("<H", 2) + qid(0x80, 1) + qid(0, 2)))
    seed("p9", "read", bytes([5]) + reply(117, struct.pack("<I", 5) + b"hello"))
    ents = b""
    for i, name in enumerate([b".", b"..", b"file", b"dir"]):
        ents += qid(0, i + 10) + struct.pack("<QB", i + 1, 4 if name != b"file" else 8) + s9(name)
    seed("p9", "readdir", bytes([10]) + reply(41, struct.pack("<I", len(ents)) + ents))
    seed("p9", "getattr", bytes([8]) + reply(25, struct.pack("<Q", 0x7ff) + qid(0, 5) + struct.pack("<III", 0o100644, 0, 0) +
                                        struct.pack("<15Q", *range(15))))
    seed("p9", "lerror", bytes([3]) + reply(7, struct.pack("<I", 2)))


# --- FUSE replies: [kind: 0 entry, 1 attr, 2 readdir, 3 write/open][reply], unique 7 ---


def fuse_seeds():
    def reply(body, error=0, unique=7):
        return struct.pack("<IiQ", 16 + len(body), error, unique) + body

    attr = struct.pack("<6Q", 5, 1000, 8, 1, 2, 3) + struct.pack("<10I", 0, 0, 0, 0o100644, 1, 0, 0, 0, 4096, 0)
    seed("fuse", "entry", bytes([0]) + reply(struct.pack("<4Q2I", 2, 0, 0, 0, 0, 0) + attr))
    seed("fuse", "attr", bytes([1]) + reply(struct.pack("<QII", 0, 0, 0) + attr))
    ents = b""
    for i, (name, t) in enumerate([(b".", 4), (b"..", 4), (b"file", 8), (b"a-longer-name", 10)]):
        e = struct.pack("<QQII", i + 10, i + 1, len(name), t) + name
        ents += e + bytes(-len(e) % 8)
    seed("fuse", "readdir", bytes([2]) + reply(ents))
    seed("fuse", "write", bytes([3]) + reply(struct.pack("<II", 4096, 0)))
    seed("fuse", "error", bytes([3]) + reply(b"", error=-2))


# --- ACPI (ACPI 6.4 5.2: RSDP, XSDT/RSDT, FADT, MADT, DSDT) ----------------------

ACPI_BASE = 0xE0000  # acpi_fuzz.cc's BASE: the input's memory starts there


def acpi_sum(b, at):
    """b with byte `at` set so that all bytes sum to zero."""
    b = bytearray(b)
    b[at] = 0
    b[at] = (-sum(b)) & 0xFF
    return bytes(b)


def sdt(sig, rev, body):
    hdr = sig + struct.pack("<IBB", 36 + len(body), rev, 0) + b"BOCHS " + b"BXPC    " + struct.pack("<I4sI", 1, b"BXPC", 1)
    return acpi_sum(hdr + body, 9)


def rsdp(rev, rsdt, xsdt):
    b = b"RSD PTR " + b"\0" + b"BOCHS " + struct.pack("<BI", rev, rsdt)
    b = acpi_sum(b, 8)
    if rev >= 2:
        b = acpi_sum(b + struct.pack("<IQ", 36, xsdt) + b"\0" * 4, 32)
    return b


def madt(x2apic=False):
    body = struct.pack("<II", 0xFEE00000, 1)
    for cpu in range(2):
        body += struct.pack("<BBBBI", 0, 8, cpu, cpu, 1)
    body += struct.pack("<BBBBII", 1, 12, 0, 0, 0xFEC00000, 0)
    body += struct.pack("<BBBBIH", 2, 10, 0, 0, 2, 0)
    body += struct.pack("<BBBBIH", 2, 10, 0, 9, 9, 0xD)
    if x2apic:
        body += struct.pack("<BBHIII", 9, 16, 0, 300, 1, 2)
        body += struct.pack("<BBHII", 5, 12, 0, 0xFEE00000, 0)
    return sdt(b"APIC", 3, body)


def fadt(dsdt, hw_reduced, length):
    f = bytearray(length - 36)
    def put(off, fmt, *v):
        struct.pack_into(fmt, f, off - 36, *v)
    put(40, "<I", dsdt)
    if length >= 72:
        put(48, "<I", 0xB2)
        f[52 - 36] = 0xF1
        put(64, "<I", 0x604)
    if length >= 116:
        put(112, "<I", (1 << 20) if hw_reduced else 0)
    if length >= 148:
        put(140, "<Q", dsdt)
    if length >= 256:
        put(244, "<BBBBQ", 0, 8, 0, 1, 0xFEA00204)
    return sdt(b"FACP", 6 if length >= 276 else 1, bytes(f))


def dsdt(s5=(5, 0)):
    a, b = s5
    aml = b"\x10\x05\\_SB_" + b"\x08\\_S5_\x12\x08\x04\x0a" + bytes([a]) + b"\x0a" + bytes([b]) + b"\x00\x00"
    return sdt(b"DSDT", 2, aml)


def acpi_memory(rev, tables, hw_reduced, fadt_len):
    """RSDP at 0, the root table at 0x40, the others after it."""
    layout, at, phys = [], 0x200, []
    for t in tables:
        phys.append(ACPI_BASE + at)
        layout.append((at, t))
        at += (len(t) + 15) & ~15
    dsdt_at = ACPI_BASE + at
    fadt_table = fadt(dsdt_at, hw_reduced, fadt_len)
    phys.append(ACPI_BASE + at + 0x100)
    layout += [(at, dsdt()), (at + 0x100, fadt_table)]
    if rev >= 2:
        root = sdt(b"XSDT", 1, b"".join(struct.pack("<Q", p) for p in phys))
    else:
        root = sdt(b"RSDT", 1, b"".join(struct.pack("<I", p) for p in phys))
    mem = bytearray(at + 0x100 + len(fadt_table))
    r = rsdp(rev, ACPI_BASE + 0x40, ACPI_BASE + 0x40 if rev >= 2 else 0)
    mem[0:len(r)] = r
    mem[0x40:0x40 + len(root)] = root
    for off, t in layout:
        mem[off:off + len(t)] = t
    return bytes(mem)


def acpi_seeds():
    for opt in (0, 1):
        seed("acpi", f"microvm-{opt}", bytes([opt]) + acpi_memory(2, [madt()], True, 276))
        seed("acpi", f"q35-rsdt-{opt}", bytes([opt]) + acpi_memory(0, [madt(x2apic=True)], False, 244))
        seed("acpi", f"fadt-rev1-{opt}", bytes([opt]) + acpi_memory(2, [madt(), madt(True)], False, 116))


# --- virtqueue (virtqueue_fuzz.cc's script) -------------------------------------


def virtqueue_seeds():
    def add(nbufs, writable_mask, lens):
        return bytes([0, (nbufs - 1) | (writable_mask << 2)]) + b"".join(struct.pack("<I", n) for n in lens)

    def complete(written):
        return bytes([2]) + struct.pack("<I", written)

    KICK, POP = bytes([1]), bytes([6])
    # A block request (header, data, status), completed and popped.
    seed("virtqueue", "blk", bytes([3]) + add(3, 0b110, [16, 4096, 1]) + KICK + complete(4097) + POP)
    # Receive buffers filled one by one, some past their size.
    rx = bytes([4])
    for i in range(6):
        rx += add(1, 1, [1526])
    rx += KICK
    for w in (60, 1526, 9000, 0):
        rx += complete(w)
    seed("virtqueue", "rx", rx + POP)
    # A full queue, then a device that returns a stale id and moves the index.
    full = bytes([1]) + add(1, 0, [64]) + add(1, 0, [64]) + add(1, 0, [64]) + KICK + complete(0) + POP
    full += bytes([3]) + struct.pack("<II", 0, 64) + POP + bytes([4]) + struct.pack("<I", 7) + POP
    seed("virtqueue", "stale", full)


def main():
    elf_seeds()
    cpio_seeds()
    cmdline_seeds()
    ldisc_seeds()
    packet_seeds()
    netlink_seeds()
    procfs_write_seeds()
    p9_seeds()
    fuse_seeds()
    acpi_seeds()
    virtqueue_seeds()
    for target, files in SEEDS.items():
        d = os.path.join(HERE, "corpus", target)
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            if f.startswith("seed-"):
                os.remove(os.path.join(d, f))
        for name, data in files:
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
    print(" ".join(f"{t}:{len(f)}" for t, f in sorted(SEEDS.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
