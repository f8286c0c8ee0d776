// In-kernel tests of the VFS and ramfs on real pages and real threads
// (--test=vfs, docs/vfs.md). The host tests (tests/unit/vfs_*, ramfs_*)
// cover the logic case by case; these check what only the kernel has: the
// page allocator, physical addresses for mmap, sleeping mutexes under
// preemption on several CPUs, and the boot initrd.
#include <new>

#include "fs/file.h"
#include "lib/ktest.h"
#include "core/mm.h"
#include "arch/percpu.h"
#include "core/thread.h"
#include "fs/vfs.h"
#include "fs/ramfs/ramfs.h"
#include "lib/format.h"

namespace capsule {
namespace {

using namespace vfs;

// A namespace of its own over a fresh ramfs.
struct TestWorld {
  TestWorld() {
    fs = ramfs::Ramfs::create().value_or(nullptr);
    KEXPECT(fs);
    vfs = new (std::nothrow) Vfs();
    KEXPECT(vfs && vfs->mount_root(FsRef(fs.get())).ok());
    root = vfs->root();
  }
  ~TestWorld() {
    root.reset();
    delete vfs;  // shuts the ramfs down
  }
  PathContext ctx() { return {root.get(), root.get()}; }
  FileRef open(StringView p, uint32_t flags) {
    OpenHow h;
    h.flags = flags;
    h.create.mode = 0644;
    return vfs->open(ctx(), p, h).value_or(nullptr);
  }
  RefPtr<ramfs::Ramfs> fs;
  Vfs* vfs = nullptr;
  VnodeRef root;
};

KTEST(vfs_ramfs_pages) {
  TestWorld w;
  uint64_t free_before = memory_stats().free_bytes;
  FileRef f = w.open("/data", OpenHow::READ | OpenHow::WRITE | OpenHow::CREATE);
  KEXPECT(f);
  if (!f) return;
  // 1 MiB of a pattern, written in odd-sized pieces.
  constexpr size_t SIZE = 1 << 20, CHUNK = 3000;
  auto* buf = static_cast<uint8_t*>(kmalloc(CHUNK));
  KEXPECT(buf);
  if (!buf) return;
  for (size_t off = 0; off < SIZE; off += CHUNK) {
    size_t n = SIZE - off < CHUNK ? SIZE - off : CHUNK;
    for (size_t i = 0; i < n; ++i) buf[i] = uint8_t((off + i) * 7 + 3);
    KernelBuffer b(buf, n);
    KEXPECT(f->write(b).value_or(0) == n);
  }
  KEXPECT(w.fs->pages_used() == SIZE / PAGE_SIZE);
  KEXPECT(memory_stats().free_bytes <= free_before - SIZE);
  bool same = true;
  for (size_t off = 0; off < SIZE; off += CHUNK) {
    size_t n = SIZE - off < CHUNK ? SIZE - off : CHUNK;
    KernelBuffer b(buf, n);
    if (f->pread(b, off).value_or(0) != n) same = false;
    for (size_t i = 0; i < n; ++i)
      if (buf[i] != uint8_t((off + i) * 7 + 3)) same = false;
  }
  KEXPECT(same);
  // The mmap hook hands out the physical page that read() reads.
  auto pa = f->vnode().page(5 * PAGE_SIZE);
  KEXPECT(pa.ok());
  if (pa.ok()) {
    auto* p = static_cast<uint8_t*>(phys_to_virt(pa.value()));
    KEXPECT(p[17] == uint8_t((5 * PAGE_SIZE + 17) * 7 + 3));
  }
  KEXPECT(f->vnode().page(SIZE).error() == Error::Range);
  // Sparse: a write 64 GiB in costs one page (plus tree nodes).
  KernelBuffer one("!", 1);
  KEXPECT(f->pwrite(one, 64ull << 30).ok());
  KEXPECT(w.fs->pages_used() == SIZE / PAGE_SIZE + 1);
  KernelBuffer hole(buf, 16);
  KEXPECT(f->pread(hole, 1ull << 30).value_or(0) == 16);
  bool zero = true;
  for (size_t i = 0; i < 16; ++i) zero = zero && buf[i] == 0;
  KEXPECT(zero);
  // Truncate gives every page back.
  KEXPECT(f->vnode().truncate(0).ok());
  KEXPECT(w.fs->pages_used() == 0);
  kfree(buf);
  f.reset();
  log_info("vfs.ramfs_pages: 1 MiB written and read back, {} KiB free before, {} KiB after",
           free_before / 1024, memory_stats().free_bytes / 1024);
}

// Eight threads append fixed-size records through their own descriptions;
// the file must hold every record exactly once, each thread's in order.
constexpr int APPEND_THREADS = 8, APPENDS = 400, REC = 16;

struct AppendArgs {
  TestWorld* w;
  int id;
  bool ok = true;
};

void append_worker(void* arg) {
  auto* a = static_cast<AppendArgs*>(arg);
  FileRef f = a->w->open("/log", OpenHow::WRITE | OpenHow::APPEND);
  if (!f) {
    a->ok = false;
    return;
  }
  char rec[REC + 1];
  for (int i = 0; i < APPENDS; ++i) {
    BufferSink s(rec, sizeof(rec));
    format(s, "{:02}:{:012}\n", a->id, i);
    KernelBuffer b(rec, REC);
    if (f->write(b).value_or(0) != REC) a->ok = false;
  }
}

unsigned parse(const char* p, int n) {
  unsigned v = 0;
  for (int i = 0; i < n; ++i) v = v * 10 + unsigned(p[i] - '0');
  return v;
}

KTEST(vfs_concurrent_appends) {
  TestWorld w;
  FileRef log = w.open("/log", OpenHow::READ | OpenHow::WRITE | OpenHow::CREATE);
  KEXPECT(log);
  if (!log) return;
  AppendArgs args[APPEND_THREADS];
  Thread* ts[APPEND_THREADS];
  for (int i = 0; i < APPEND_THREADS; ++i) {
    args[i].w = &w;
    args[i].id = i;
    ts[i] = thread_create("vfs-append", append_worker, &args[i]).value_or(nullptr);
    KEXPECT(ts[i]);
  }
  for (int i = 0; i < APPEND_THREADS; ++i) {
    if (ts[i]) KEXPECT(thread_join(ts[i]).ok());
    KEXPECT(args[i].ok);
  }
  constexpr size_t TOTAL = size_t(APPEND_THREADS) * APPENDS * REC;
  KEXPECT(log->vnode().getattr().value().size == TOTAL);
  auto* all = static_cast<char*>(kmalloc(TOTAL));
  KEXPECT(all);
  if (!all) return;
  KernelBuffer b(all, TOTAL);
  KEXPECT(log->pread(b, 0).value_or(0) == TOTAL);
  unsigned next[APPEND_THREADS] = {};
  bool in_order = true;
  for (size_t off = 0; off < TOTAL; off += REC) {
    unsigned t = parse(all + off, 2), i = parse(all + off + 3, 12);
    if (t >= APPEND_THREADS || all[off + 2] != ':' || all[off + REC - 1] != '\n' || i != next[t]) {
      in_order = false;
      break;
    }
    ++next[t];
  }
  KEXPECT(in_order);
  for (int t = 0; t < APPEND_THREADS; ++t) KEXPECT(next[t] == APPENDS);
  kfree(all);
  log_info("vfs.concurrent_appends: {} threads x {} records on {} CPUs, none lost", APPEND_THREADS, APPENDS,
           cpu_count());
}

// A cpio "newc" archive built here, as cpio.py would write it.
struct Cpio {
  char* buf;
  size_t len = 0, cap;
  uint32_t ino = 1;
  explicit Cpio(size_t c) : buf(static_cast<char*>(kzalloc(c))), cap(c) {}
  ~Cpio() { kfree(buf); }
  void put(const char* s, size_t n) {
    for (size_t i = 0; i < n && len < cap; ++i) buf[len++] = s[i];
  }
  void pad() {
    while (len % 4 && len < cap) buf[len++] = 0;
  }
  // page_align: NULs after the name put the data on a page boundary of
  // buf (a kzalloc'd block of pages), as cpio.py does for large files.
  void entry(StringView name, uint32_t mode, StringView data, bool page_align = false) {
    size_t namesize = name.size() + 1;
    if (page_align) namesize += (4096 - (len + 110 + namesize) % 4096) % 4096;
    char h[111];
    BufferSink s(h, sizeof(h));
    format(s, "070701{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}{:08X}", ino++, mode, 0u,
           0u, 1u, 1700000000u, unsigned(data.size()), 0u, 0u, 0u, 0u, unsigned(namesize), 0u);
    put(h, 110);
    put(name.data(), name.size());
    for (size_t i = name.size(); i < namesize; ++i) put("", 1);
    pad();
    put(data.data(), data.size());
    pad();
  }
};

KTEST(vfs_populate_cpio) {
  Cpio c(64 * 1024);
  KEXPECT(c.buf);
  if (!c.buf) return;
  static char big[3 * 4096 + 1];
  for (size_t i = 0; i + 1 < sizeof(big); ++i) big[i] = char('a' + i % 23);
  c.entry(".", 040755, "");
  c.entry("bin", 040755, "");
  c.entry("bin/prog", 0100755, StringView(big, sizeof(big) - 1));
  c.entry("bin/link", 0120777, "prog");
  c.entry("etc/hostname", 0100644, "capsule\n");
  c.entry("TRAILER!!!", 0, "");
  auto fs = ramfs::Ramfs::create().value_or(nullptr);
  KEXPECT(fs);
  if (!fs) return;
  ramfs::PopulateError err;
  ramfs::PopulateStats stats;
  KEXPECT(ramfs::populate(*fs, reinterpret_cast<const uint8_t*>(c.buf), c.len, &err, &stats).ok());
  KEXPECT(stats.files == 2 && stats.dirs == 1 && stats.symlinks == 1);
  KEXPECT(fs->pages_used() == 0);  // served from the archive in place
  {
    Vfs v;
    KEXPECT(v.mount_root(FsRef(fs.get())).ok());
    VnodeRef root = v.root();
    PathContext ctx{root.get(), root.get()};
    OpenHow how;
    how.flags = OpenHow::READ | OpenHow::WRITE;
    FileRef f = v.open(ctx, "/bin/link", how).value_or(nullptr);
    KEXPECT(f);
    if (f) {
      char got[16] = {};
      KernelBuffer b(got, 8);
      KEXPECT(f->pread(b, 4096 + 5).value_or(0) == 8);
      KEXPECT(got[0] == big[4096 + 5] && got[7] == big[4096 + 12]);
      KernelBuffer w("XYZ", 3);
      KEXPECT(f->pwrite(w, 4096).ok());
      KEXPECT(fs->pages_used() == 1);  // one page copied, on the first write
      KEXPECT(f->pread(b, 4096).value_or(0) == 8 && got[0] == 'X' && got[3] == big[4096 + 3]);
    }
    KEXPECT(v.stat(ctx, "/etc/hostname", true).value().size == 8);
  }
  // A defect stops population with the entry and the offset.
  size_t second = 0;
  {
    Cpio bad(4096);
    bad.entry("ok", 0100644, "1");
    second = bad.len;
    bad.entry("broken", 0100644, "2");
    bad.buf[second + 20] = 'Z';  // not a hex digit
    auto fs2 = ramfs::Ramfs::create().value_or(nullptr);
    ramfs::PopulateError e2;
    KEXPECT(ramfs::populate(*fs2, reinterpret_cast<const uint8_t*>(bad.buf), bad.len, &e2).error() ==
            Error::BadFormat);
    KEXPECT(e2.offset >= second && e2.offset < second + 110);
    kprint("vfs.populate_cpio: a bad archive reports: {}\n", e2);
    fs2->shutdown();
  }
  // The boot root, when the VM was started with an initrd.
  if (Vfs* kv = kernel_vfs()) {
    VnodeRef r = kv->root();
    Attr a = r->getattr().value_or(Attr{});
    KEXPECT((a.mode & MODE_TYPE) == MODE_DIR);
    log_info("vfs.populate_cpio: the boot root has {} links", a.nlink);
  }
}

// A file whose data lies page aligned in the archive uses the archive's
// whole pages as its own (no copy, nothing counted against the file
// system); the last, partial page is copied. Reads, writes, mappings'
// pages, truncation and unlinking treat them as any page of the file, and
// none is ever given to the page allocator.
KTEST(vfs_populate_in_place) {
  Cpio c(64 * 1024);
  KEXPECT(c.buf);
  if (!c.buf) return;
  constexpr size_t SIZE = 2 * 4096 + 100;
  char* data = static_cast<char*>(kmalloc(SIZE));
  KEXPECT(data);
  if (!data) return;
  for (size_t i = 0; i < SIZE; ++i) data[i] = char('A' + i % 26);
  c.entry(".", 040755, "");
  c.entry("big", 0100644, StringView(data, SIZE), true);
  const size_t at = c.len - SIZE - (4 - SIZE % 4) % 4;  // where the data went
  c.entry("TRAILER!!!", 0, "");
  KEXPECT(at % 4096 == 0);
  auto fs = ramfs::Ramfs::create().value_or(nullptr);
  KEXPECT(fs);
  if (!fs) {
    kfree(data);
    return;
  }
  ramfs::PopulateError err;
  KEXPECT(ramfs::populate(*fs, reinterpret_cast<const uint8_t*>(c.buf), c.len, &err).ok());
  {
    Vfs v;
    KEXPECT(v.mount_root(FsRef(fs.get())).ok());
    VnodeRef root = v.root();
    PathContext ctx{root.get(), root.get()};
    VnodeRef big = v.resolve(ctx, "/big", 0).value_or(nullptr);
    KEXPECT(big);
    mm::VmBacking* back = big.get();
    if (back) {
      // Whole pages: the archive's own; the tail: a copy (one page).
      KEXPECT(back->page(0).value_or(0) == vfs::fs_page_phys(reinterpret_cast<uint8_t*>(c.buf + at)));
      KEXPECT(back->page(4096).value_or(0) == vfs::fs_page_phys(reinterpret_cast<uint8_t*>(c.buf + at + 4096)));
      KEXPECT(fs->pages_used() == 0);
      KEXPECT(back->page(8192).value_or(0) != vfs::fs_page_phys(reinterpret_cast<uint8_t*>(c.buf + at + 8192)));
      KEXPECT(fs->pages_used() == 1);
    }
    OpenHow how;
    how.flags = OpenHow::READ | OpenHow::WRITE;
    FileRef f = v.open(ctx, "/big", how).value_or(nullptr);
    KEXPECT(f);
    if (f) {
      KernelBuffer w("xyz", 3);
      KEXPECT(f->pwrite(w, 4096 + 7).ok());
      KEXPECT(c.buf[at + 4096 + 7] == 'x');  // written in place
      KEXPECT(fs->pages_used() == 1);
      char got[8] = {};
      KernelBuffer b(got, 4);
      KEXPECT(f->pread(b, 4096 + 6).value_or(0) == 4);
      KEXPECT(got[0] == data[4096 + 6] && got[1] == 'x' && got[3] == 'z');
      // Truncated into the first page and grown again: zeros after the end.
      KEXPECT(big->truncate(10).ok());
      KEXPECT(big->truncate(6000).ok());
      KEXPECT(f->pread(b, 4096 + 6).value_or(0) == 4 && got[0] == 0 && got[1] == 0);
      KEXPECT(f->pread(b, 8).value_or(0) == 4 && got[0] == data[8] && got[2] == 0);
    }
    f = nullptr;
    big = nullptr;
    KEXPECT(v.unlink(ctx, "/big").ok());  // the archive's pages are not freed (page_free would panic)
  }
  kfree(data);
  fs->shutdown();
}

KTEST(vfs_fd_table) {
  TestWorld w;
  FdTable t(8);
  FileRef f = w.open("/x", OpenHow::READ | OpenHow::WRITE | OpenHow::CREATE);
  KEXPECT(t.install(f).value_or(-1) == 0);
  KEXPECT(t.dup2(0, 5).value_or(-1) == 5);
  KEXPECT(t.dup(0).value_or(-1) == 1);
  KEXPECT(t.dup3(0, 0, true).error() == Error::Invalid);
  for (int i = 0; i < 5; ++i) (void)t.dup(0);
  KEXPECT(t.count() == 8);
  KEXPECT(t.dup(0).error() == Error::TooManyFiles);
  KEXPECT(t.close_range(1, ~0u, false).ok());
  KEXPECT(t.count() == 1);
  KEXPECT(f->ref_count() == 2);  // ours and fd 0
}

}  // namespace
}  // namespace capsule
