// ELF load plans: images built here (no binaries in the tree), the host's
// own programs cross-checked against glibc's <elf.h>, and malformed files.
#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/elf/elf.h"

using namespace capsule;
namespace E = capsule::elf;

namespace {

// Builds an ELF64 image byte by byte with the host's <elf.h> structures.
struct Builder {
  Elf64_Ehdr eh{};
  std::vector<Elf64_Phdr> ph;
  std::vector<uint8_t> body;  // file bytes after the header and phdrs
  uint64_t file_size = 0;     // 0: just large enough

  Builder(uint16_t type = ET_EXEC) {
    std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = type;
    eh.e_machine = EM_X86_64;
    eh.e_version = EV_CURRENT;
    eh.e_phoff = sizeof(Elf64_Ehdr);
    eh.e_ehsize = sizeof(Elf64_Ehdr);
    eh.e_phentsize = sizeof(Elf64_Phdr);
  }
  Elf64_Phdr& add(uint32_t type, uint32_t flags, uint64_t off, uint64_t vaddr, uint64_t filesz, uint64_t memsz,
                  uint64_t align) {
    ph.push_back({type, flags, off, vaddr, vaddr, filesz, memsz, align});
    return ph.back();
  }
  void put(uint64_t off, const void* p, size_t n) {
    if (bytes_extra.size() < off + n) bytes_extra.resize(off + n);
    std::memcpy(bytes_extra.data() + off, p, n);
  }
  std::vector<uint8_t> bytes() {
    if (eh.e_phnum == 0) eh.e_phnum = uint16_t(ph.size());  // a case may force another count
    // Cases that point past any sane size set file_size themselves.
    uint64_t need = eh.e_phoff + ph.size() * sizeof(Elf64_Phdr);
    for (auto& p : ph)
      if (p.p_type == PT_LOAD || p.p_type == PT_INTERP) need = std::max<uint64_t>(need, p.p_offset + p.p_filesz);
    need = std::max<uint64_t>(need, bytes_extra.size());
    std::vector<uint8_t> out(file_size ? file_size : need, 0);
    auto copy = [&](uint64_t off, const void* p, size_t n) {
      if (off <= out.size() && n <= out.size() - off) std::memcpy(out.data() + off, p, n);
    };
    for (size_t i = 0; i < bytes_extra.size() && i < out.size(); ++i) out[i] = bytes_extra[i];
    copy(0, &eh, sizeof(eh));
    for (size_t i = 0; i < ph.size(); ++i) {
      uint64_t at;
      if (!__builtin_add_overflow(eh.e_phoff, i * sizeof(Elf64_Phdr), &at)) copy(at, &ph[i], sizeof(Elf64_Phdr));
    }
    return out;
  }
  std::vector<uint8_t> bytes_extra;
};

// A static non-PIE program as GNU ld lays one out: headers and text in the
// first page, data+bss on a later page at the same page offset as in the file.
Builder static_exec() {
  Builder b(ET_EXEC);
  b.eh.e_entry = 0x401010;
  b.add(PT_LOAD, PF_R, 0, 0x400000, 0x1200, 0x1200, 0x1000);
  b.add(PT_LOAD, PF_R | PF_X, 0x2000, 0x402000, 0x800, 0x800, 0x1000);
  b.add(PT_LOAD, PF_R | PF_W, 0x2e10, 0x403e10, 0x300, 0x2000, 0x1000);
  b.add(PT_TLS, PF_R, 0x2e10, 0x403e10, 0x10, 0x30, 8);
  b.add(PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 16);
  b.eh.e_entry = 0x402010;
  return b;
}

const char INTERP[] = "/lib64/ld-linux-x86-64.so.2";

Builder dynamic_pie() {
  Builder b(ET_DYN);
  b.add(PT_PHDR, PF_R, 64, 64, 4 * sizeof(Elf64_Phdr), 4 * sizeof(Elf64_Phdr), 8);
  b.add(PT_INTERP, PF_R, 0x200, 0x200, sizeof(INTERP), sizeof(INTERP), 1);
  b.add(PT_LOAD, PF_R | PF_X, 0, 0, 0x1800, 0x1800, 0x200000);
  b.add(PT_LOAD, PF_R | PF_W, 0x1e00, 0x201e00, 0x100, 0x400, 0x200000);
  b.put(0x200, INTERP, sizeof(INTERP));
  b.eh.e_entry = 0x1000;
  return b;
}

Result<void> parse(std::vector<uint8_t>& img, E::LoadPlan& plan, E::ElfDiag* d = nullptr) {
  return E::parse_elf(img.data(), img.size(), plan, d);
}

std::string sv(StringView v) { return std::string(v.data(), v.size()); }

}  // namespace

TEST(Elf, StaticExecutablePlan) {
  auto img = static_exec().bytes();
  E::LoadPlan plan;
  E::ElfDiag d;
  ASSERT_TRUE(parse(img, plan, &d).ok()) << d.reason;
  EXPECT_EQ(plan.type, E::TYPE_EXEC);
  EXPECT_EQ(plan.entry, 0x402010u);
  EXPECT_FALSE(plan.has_interp);
  EXPECT_FALSE(plan.static_pie());
  EXPECT_FALSE(plan.exec_stack);
  EXPECT_TRUE(plan.has_gnu_stack);
  ASSERT_EQ(plan.segment_count, 3u);
  const E::Segment& text = plan.segments[1];
  EXPECT_EQ(text.map_start, 0x402000u);
  EXPECT_EQ(text.map_end, 0x403000u);
  EXPECT_EQ(text.prot, uint32_t(E::SEG_R | E::SEG_X));
  EXPECT_FALSE(text.has_bss() && text.zero_start < text.mem_end);
  const E::Segment& data = plan.segments[2];
  EXPECT_EQ(data.map_start, 0x403000u);
  EXPECT_EQ(data.file_offset, 0x2000u);
  EXPECT_EQ(data.file_size, 0xe10u + 0x300u);
  EXPECT_EQ(data.zero_start, 0x404110u);
  EXPECT_EQ(data.mem_end, 0x405e10u);
  EXPECT_EQ(data.map_end, 0x406000u);
  EXPECT_TRUE(data.has_bss());
  EXPECT_EQ(data.prot, uint32_t(E::SEG_R | E::SEG_W));
  EXPECT_EQ(plan.lo, 0x400000u);
  EXPECT_EQ(plan.hi, 0x406000u);
  // No PT_PHDR: the table sits at e_phoff inside the first segment.
  EXPECT_TRUE(plan.has_phdr);
  EXPECT_EQ(plan.phdr_vaddr, 0x400040u);
  EXPECT_EQ(plan.phnum, 5u);
  EXPECT_EQ(plan.phent, 56u);
  ASSERT_TRUE(plan.tls.present);
  EXPECT_EQ(plan.tls.vaddr, 0x403e10u);
  EXPECT_EQ(plan.tls.file_size, 0x10u);
  EXPECT_EQ(plan.tls.mem_size, 0x30u);
  EXPECT_EQ(plan.tls.align, 8u);
  auto bias = E::choose_load_bias(plan, 0x7f0000000000);
  ASSERT_TRUE(bias.ok());
  EXPECT_EQ(*bias, 0u);  // ET_EXEC goes where it was linked
}

TEST(Elf, DynamicPiePlanAndBias) {
  auto img = dynamic_pie().bytes();
  E::LoadPlan plan;
  E::ElfDiag d;
  ASSERT_TRUE(parse(img, plan, &d).ok()) << d.reason;
  EXPECT_TRUE(plan.is_pie());
  EXPECT_FALSE(plan.static_pie());
  ASSERT_TRUE(plan.has_interp);
  EXPECT_EQ(sv(plan.interp), INTERP);
  EXPECT_TRUE(plan.has_phdr);
  EXPECT_EQ(plan.phdr_vaddr, 64u);
  EXPECT_FALSE(plan.has_gnu_stack);
  EXPECT_FALSE(plan.exec_stack);
  EXPECT_EQ(plan.max_align, 0x200000u);

  char buf[64];
  E::SpanSource src(img.data(), img.size());
  auto n = E::read_interp(src, plan, buf, sizeof(buf));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(buf, *n), INTERP);
  EXPECT_EQ(E::read_interp(src, plan, buf, 4).error(), Error::TooBig);

  // Bias keeps 2 MiB alignment: base rounded up to max_align.
  auto bias = E::choose_load_bias(plan, E::DEFAULT_PIE_BASE);
  ASSERT_TRUE(bias.ok());
  EXPECT_EQ(*bias % 0x200000, 0u);
  EXPECT_GE(*bias, E::DEFAULT_PIE_BASE);
  EXPECT_LT(*bias, E::DEFAULT_PIE_BASE + 0x200000);
  EXPECT_EQ(E::choose_load_bias(plan, E::USER_END - 0x1000).error(), Error::Invalid);
  EXPECT_EQ(E::choose_load_bias(plan, uint64_t(-4096)).error(), Error::Invalid);
  EXPECT_EQ(E::choose_load_bias(plan, 0).error(), Error::Invalid);  // below mmap_min_addr
}

TEST(Elf, StaticPieAndExecStack) {
  Builder b(ET_DYN);
  b.add(PT_LOAD, PF_R | PF_X, 0, 0, 0x800, 0x800, 0x1000);
  b.add(PT_DYNAMIC, PF_R | PF_W, 0x700, 0x700, 0x100, 0x100, 8);
  b.add(PT_GNU_STACK, PF_R | PF_W | PF_X, 0, 0, 0, 0, 16);
  b.eh.e_entry = 0x400;
  auto img = b.bytes();
  E::LoadPlan plan;
  ASSERT_TRUE(parse(img, plan).ok());
  EXPECT_TRUE(plan.static_pie());
  EXPECT_TRUE(plan.exec_stack);
  EXPECT_TRUE(plan.has_dynamic);
  EXPECT_EQ(plan.dynamic_vaddr, 0x700u);
  auto bias = E::choose_load_bias(plan, 0x10000);
  ASSERT_TRUE(bias.ok());
  EXPECT_EQ(*bias, 0x10000u);
}

TEST(Elf, MalformedFilesAreRejectedWithAReason) {
  struct Case {
    const char* name;
    void (*mutate)(Builder&);
    const char* reason_part;
  } cases[] = {
      {"bad magic", [](Builder& b) { b.eh.e_ident[1] = 'X'; }, "magic"},
      {"32-bit", [](Builder& b) { b.eh.e_ident[EI_CLASS] = ELFCLASS32; }, "ELFCLASS64"},
      {"big endian", [](Builder& b) { b.eh.e_ident[EI_DATA] = ELFDATA2MSB; }, "little-endian"},
      {"ident version", [](Builder& b) { b.eh.e_ident[EI_VERSION] = 0; }, "version"},
      {"e_version", [](Builder& b) { b.eh.e_version = 2; }, "version"},
      {"relocatable", [](Builder& b) { b.eh.e_type = ET_REL; }, "e_type"},
      {"core", [](Builder& b) { b.eh.e_type = ET_CORE; }, "e_type"},
      {"aarch64", [](Builder& b) { b.eh.e_machine = EM_AARCH64; }, "EM_X86_64"},
      {"phentsize", [](Builder& b) { b.eh.e_phentsize = 32; }, "e_phentsize"},
      {"ehsize", [](Builder& b) { b.eh.e_ehsize = 10; }, "e_ehsize"},
      {"no phdrs", [](Builder& b) { b.ph.clear(); }, "no program headers"},
      {"phoff past EOF", [](Builder& b) { b.eh.e_phoff = 0x3100; b.file_size = 0x3200; }, "past end of file"},
      {"phoff overflow", [](Builder& b) { b.eh.e_phoff = uint64_t(-8); b.file_size = 0x3200; }, "past end of file"},
      {"filesz > memsz", [](Builder& b) { b.ph[2].p_memsz = b.ph[2].p_filesz - 1; }, "p_filesz > p_memsz"},
      {"segment past EOF", [](Builder& b) { b.ph[1].p_filesz = b.ph[1].p_memsz = 0x100000; b.file_size = 0x3200; },
       "past end of file"},
      {"offset overflow", [](Builder& b) { b.ph[1].p_offset = uint64_t(-4096) + 0x10; b.ph[1].p_vaddr = 0x402010; b.file_size = 0x3200; },
       "past end of file"},
      {"huge memsz", [](Builder& b) { b.ph[2].p_memsz = uint64_t(-1); }, "user address space"},
      {"past user space", [](Builder& b) { b.ph[2].p_memsz = 0x800000000000; }, "user address space"},
      {"overlap", [](Builder& b) { b.ph[2].p_vaddr = 0x402e10; b.ph[3].p_vaddr = 0x402e10; }, "overlap"},
      {"shared page", [](Builder& b) { b.ph[1].p_filesz = b.ph[1].p_memsz = 0x1e20; }, "overlap"},
      {"unsorted", [](Builder& b) { std::swap(b.ph[0], b.ph[1]); }, "sorted"},
      {"align not pow2", [](Builder& b) { b.ph[1].p_align = 0x3000; }, "power of two"},
      {"align huge", [](Builder& b) { b.ph[1].p_align = uint64_t(1) << 40; }, "1 GiB"},
      {"not congruent", [](Builder& b) { b.ph[2].p_vaddr = 0x403e18; b.ph[3].p_vaddr = 0x403e18; b.ph[2].p_align = 0x10; },
       "congruent"},
      {"page offset", [](Builder& b) { b.ph[2].p_vaddr += 0x100; b.ph[3].p_vaddr += 0x100; b.ph[2].p_align = 0; },
       "page size"},
      {"low address", [](Builder& b) { b.ph[0].p_vaddr = 0x1000; }, "lowest mappable"},
      {"no PT_LOAD", [](Builder& b) { b.ph.erase(b.ph.begin(), b.ph.begin() + 3); b.file_size = 0x3200; }, "no PT_LOAD"},
      {"entry outside", [](Builder& b) { b.eh.e_entry = 0x900000; }, "entry point"},
      {"tls outside", [](Builder& b) { b.ph[3].p_vaddr = 0x800000; }, "PT_TLS"},
      {"tls filesz", [](Builder& b) { b.ph[3].p_filesz = 0x40; }, "PT_TLS"},
      {"two TLS", [](Builder& b) { b.ph.push_back(b.ph[3]); }, "more than one PT_TLS"},
      {"too many phdrs", [](Builder& b) { b.eh.e_phnum = 0xffff; }, "too many"},
      {"interp unterminated",
       [](Builder& b) {
         b.add(PT_INTERP, PF_R, 0x1100, 0x401100, 4, 4, 1);
         b.put(0x1100, "/abc", 4);
       },
       "NUL-terminated"},
      {"interp embedded NUL",
       [](Builder& b) {
         b.add(PT_INTERP, PF_R, 0x1100, 0x401100, 5, 5, 1);
         b.put(0x1100, "/a\0b", 5);
       },
       "embedded NUL"},
      {"interp past EOF", [](Builder& b) { b.add(PT_INTERP, PF_R, 0x100000, 0, 8, 8, 1); b.file_size = 0x3200; },
       "PT_INTERP past end"},
      {"interp too long", [](Builder& b) { b.add(PT_INTERP, PF_R, 0x100, 0, 5000, 5000, 1); }, "size out of range"},
      {"interp empty", [](Builder& b) { b.add(PT_INTERP, PF_R, 0x100, 0, 1, 1, 1); }, "size out of range"},
      {"two interps",
       [](Builder& b) {
         b.add(PT_INTERP, PF_R, 0x1100, 0, 2, 2, 1);
         b.add(PT_INTERP, PF_R, 0x1100, 0, 2, 2, 1);
         b.put(0x1100, "/\0", 2);
       },
       "more than one PT_INTERP"},
      {"phdr outside", [](Builder& b) { b.add(PT_PHDR, PF_R, 64, 0x900000, 0x200, 0x200, 8); }, "PT_PHDR"},
  };
  for (const Case& c : cases) {
    Builder b = static_exec();
    c.mutate(b);
    auto img = b.bytes();
    E::LoadPlan plan;
    E::ElfDiag d;
    auto r = parse(img, plan, &d);
    EXPECT_EQ(r.error(), Error::BadFormat) << c.name;
    if (r.ok() || !d.reason) continue;
    EXPECT_NE(std::string(d.reason).find(c.reason_part), std::string::npos) << c.name << ": " << d.reason;
  }
}

TEST(Elf, EveryTruncationIsRejected) {
  for (auto img : {static_exec().bytes(), dynamic_pie().bytes()}) {
    E::LoadPlan plan;
    ASSERT_TRUE(parse(img, plan).ok());
    for (size_t n = 0; n < img.size(); ++n) {
      // A heap copy of exactly n bytes so ASan catches any read past it.
      std::vector<uint8_t> cut(img.begin(), img.begin() + n);
      E::LoadPlan p;
      auto r = E::parse_elf(cut.data(), cut.size(), p);
      EXPECT_EQ(r.error(), Error::BadFormat) << "length " << n;
    }
  }
}

namespace {

// Reads a host file through pread: the ElfSource a vnode will provide.
class FileSource final : public E::ElfSource {
 public:
  explicit FileSource(int fd) : fd_(fd) {
    struct stat st;
    size_ = fstat(fd, &st) == 0 ? uint64_t(st.st_size) : 0;
  }
  uint64_t size() const override { return size_; }
  Result<void> read(uint64_t off, void* buf, size_t n) const override {
    if (pread(fd_, buf, n, off_t(off)) != ssize_t(n)) return Error::Range;
    return {};
  }

 private:
  int fd_;
  uint64_t size_;
};

// An independent decode of a host file with glibc's <elf.h>.
struct HostView {
  Elf64_Ehdr eh;
  std::vector<Elf64_Phdr> ph;
};

bool host_view(int fd, HostView& v) {
  if (pread(fd, &v.eh, sizeof(v.eh), 0) != sizeof(v.eh)) return false;
  if (std::memcmp(v.eh.e_ident, ELFMAG, SELFMAG) || v.eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      v.eh.e_machine != EM_X86_64 || (v.eh.e_type != ET_EXEC && v.eh.e_type != ET_DYN))
    return false;
  v.ph.resize(v.eh.e_phnum);
  ssize_t want = ssize_t(v.ph.size() * sizeof(Elf64_Phdr));
  return pread(fd, v.ph.data(), size_t(want), off_t(v.eh.e_phoff)) == want;
}

}  // namespace

TEST(Elf, HostProgramsMatchGlibcElfH) {
  const char* paths[] = {"/bin/true", "/usr/bin/env", "/bin/busybox"};
  int parsed = 0;
  for (const char* path : paths) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) continue;
    HostView v;
    if (!host_view(fd, v)) {
      close(fd);
      continue;
    }
    FileSource src(fd);
    E::LoadPlan plan;
    E::ElfDiag d;
    ASSERT_TRUE(E::parse_elf(src, plan, &d).ok()) << path << ": " << (d.reason ? d.reason : "");
    EXPECT_EQ(plan.type, v.eh.e_type);
    EXPECT_EQ(plan.entry, v.eh.e_entry);
    EXPECT_EQ(plan.phnum, v.eh.e_phnum);
    size_t loads = 0;
    bool interp = false;
    for (const Elf64_Phdr& p : v.ph) {
      if (p.p_type == PT_LOAD && p.p_memsz) {
        ASSERT_LT(loads, plan.segment_count) << path;
        const E::Segment& s = plan.segments[loads++];
        EXPECT_EQ(s.vaddr, p.p_vaddr);
        EXPECT_EQ(s.mem_end, p.p_vaddr + p.p_memsz);
        EXPECT_EQ(s.zero_start, p.p_vaddr + p.p_filesz);
        EXPECT_EQ(s.file_offset + (s.vaddr - s.map_start), p.p_offset);
        EXPECT_EQ(s.map_start % 4096, 0u);
        EXPECT_EQ(s.map_end % 4096, 0u);
        EXPECT_EQ((s.prot & E::SEG_X) != 0, (p.p_flags & PF_X) != 0);
        EXPECT_EQ((s.prot & E::SEG_W) != 0, (p.p_flags & PF_W) != 0);
      }
      if (p.p_type == PT_PHDR) {
        EXPECT_EQ(plan.phdr_vaddr, p.p_vaddr);
      }
      if (p.p_type == PT_INTERP) {
        interp = true;
        std::string want(p.p_filesz - 1, '\0');
        ASSERT_EQ(pread(fd, want.data(), want.size(), off_t(p.p_offset)), ssize_t(want.size()));
        char buf[4096];
        auto n = E::read_interp(src, plan, buf, sizeof(buf));
        ASSERT_TRUE(n.ok());
        EXPECT_EQ(std::string(buf, *n), want);
      }
    }
    EXPECT_EQ(loads, plan.segment_count) << path;
    EXPECT_EQ(plan.has_interp, interp) << path;
    EXPECT_TRUE(plan.has_phdr) << path;
    close(fd);
    ++parsed;
  }
  if (parsed == 0) GTEST_SKIP() << "no x86-64 host programs to parse";
}

// Every x86-64 executable and shared object in the host's bin and lib
// directories must be accepted: the checks are strict, not unrealistic.
TEST(Elf, AcceptsEveryHostBinary) {
  const char* dirs[] = {"/usr/bin", "/usr/sbin", "/usr/lib/x86_64-linux-gnu", "/usr/libexec"};
  int accepted = 0;
  for (const char* dir : dirs) {
    DIR* dp = opendir(dir);
    if (!dp) continue;
    while (dirent* de = readdir(dp)) {
      std::string path = std::string(dir) + "/" + de->d_name;
      struct stat st;
      if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      int fd = open(path.c_str(), O_RDONLY);
      if (fd < 0) continue;
      HostView v;
      if (host_view(fd, v)) {
        FileSource src(fd);
        E::LoadPlan plan;
        E::ElfDiag d;
        auto r = E::parse_elf(src, plan, &d);
        EXPECT_TRUE(r.ok()) << path << ": " << (d.reason ? d.reason : "") << " (phdr " << d.phdr_index << ")";
        accepted += r.ok();
      }
      close(fd);
    }
    closedir(dp);
  }
  if (accepted == 0) GTEST_SKIP() << "no host binaries found";
  std::printf("accepted %d host ELF files\n", accepted);
}
