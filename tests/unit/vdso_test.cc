// The built vDSO (linux/vdso/, cmake/vdso.cmake) as the libcs will see it:
// an ET_DYN with DT_HASH (musl) and DT_GNU_HASH (glibc), a LINUX_2.6
// version definition, the __vdso_* symbols at that version, no
// relocations and nothing writable. Checked with Capsule's own reader
// (core/vdso/vdso_elf.h) and, independently, with the host's <elf.h> and
// glibc's own dynamic linker (dlopen + dlvsym: the lookup glibc performs
// on the real vDSO).
#include "core/vdso/vdso_elf.h"

#include <dlfcn.h>
#include <elf.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

using namespace capsule;

#ifdef CAPSULE_VDSO_SO
namespace {

std::vector<uint8_t> load() {
  std::ifstream f(CAPSULE_VDSO_SO, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

const char* const SYMBOLS[] = {"__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time",
                               "__vdso_getcpu",        "__vdso_clock_getres", "clock_gettime",
                               "gettimeofday",         "time",                "getcpu",
                               "clock_getres"};

}  // namespace

TEST(Vdso, HeaderSegmentsAndDynamicTables) {
  auto img = load();
  ASSERT_GE(img.size(), sizeof(Elf64_Ehdr));
  EXPECT_LE(img.size(), 8192u);  // a page or two
  auto* eh = reinterpret_cast<const Elf64_Ehdr*>(img.data());
  ASSERT_EQ(memcmp(eh->e_ident, ELFMAG, SELFMAG), 0);
  EXPECT_EQ(eh->e_ident[EI_CLASS], ELFCLASS64);
  EXPECT_EQ(eh->e_type, ET_DYN);
  EXPECT_EQ(eh->e_machine, EM_X86_64);
  auto* ph = reinterpret_cast<const Elf64_Phdr*>(img.data() + eh->e_phoff);
  int loads = 0;
  const Elf64_Phdr* dyn = nullptr;
  for (int i = 0; i < eh->e_phnum; ++i) {
    if (ph[i].p_type == PT_LOAD) {
      ++loads;
      EXPECT_EQ(ph[i].p_vaddr, 0u);
      EXPECT_EQ(ph[i].p_offset, 0u);
      EXPECT_EQ(ph[i].p_flags, uint32_t(PF_R | PF_X));  // nothing writable
      EXPECT_EQ(ph[i].p_filesz, ph[i].p_memsz);         // no bss
    }
    if (ph[i].p_type == PT_DYNAMIC) dyn = &ph[i];
    if (ph[i].p_type == PT_GNU_STACK) {
      EXPECT_EQ(ph[i].p_flags & PF_X, 0u);
    }
  }
  EXPECT_EQ(loads, 1);
  ASSERT_NE(dyn, nullptr);
  bool hash = false, gnu_hash = false, verdef = false, versym = false, soname = false;
  uint64_t strtab = 0, soname_off = 0;
  for (auto* d = reinterpret_cast<const Elf64_Dyn*>(img.data() + dyn->p_offset); d->d_tag != DT_NULL; ++d) {
    switch (d->d_tag) {
      case DT_HASH: hash = true; break;
      case DT_GNU_HASH: gnu_hash = true; break;
      case DT_VERDEF: verdef = true; break;
      case DT_VERSYM: versym = true; break;
      case DT_STRTAB: strtab = d->d_un.d_ptr; break;
      case DT_SONAME: soname = true; soname_off = d->d_un.d_val; break;
      case DT_REL: case DT_RELA: case DT_JMPREL: case DT_TEXTREL: case DT_NEEDED:
        ADD_FAILURE() << "unexpected dynamic tag " << d->d_tag;
    }
  }
  EXPECT_TRUE(hash && gnu_hash && verdef && versym && soname);
  EXPECT_STREQ(reinterpret_cast<const char*>(img.data() + strtab + soname_off), "linux-vdso.so.1");
}

TEST(Vdso, SymbolsAtLinux26) {
  auto img = load();
  EXPECT_TRUE(vdso::defines_version(img.data(), img.size(), "LINUX_2.6"));
  for (const char* s : SYMBOLS) {
    auto r = vdso::find_symbol(img.data(), img.size(), s, "LINUX_2.6");
    ASSERT_TRUE(r.ok()) << s;
    EXPECT_GT(*r, 0u);
    EXPECT_LT(*r, img.size());
  }
  EXPECT_EQ(*vdso::find_symbol(img.data(), img.size(), "time", nullptr),
            *vdso::find_symbol(img.data(), img.size(), "__vdso_time", nullptr));
  EXPECT_EQ(vdso::find_symbol(img.data(), img.size(), "__vdso_time", "GLIBC_2.2.5").error(), Error::NotFound);
  EXPECT_EQ(vdso::find_symbol(img.data(), img.size(), "capsule_vvar", nullptr).error(), Error::NotFound);
}

TEST(Vdso, ReaderRejectsGarbage) {
  auto img = load();
  EXPECT_EQ(vdso::find_symbol(img.data(), 10, "time", nullptr).error(), Error::BadFormat);
  std::vector<uint8_t> bad = img;
  bad[0] = 0;
  EXPECT_EQ(vdso::find_symbol(bad.data(), bad.size(), "time", nullptr).error(), Error::BadFormat);
  // Truncated before the dynamic tables: refused, not read out of bounds.
  EXPECT_FALSE(vdso::find_symbol(img.data(), 0x100, "time", nullptr).ok());
}

// glibc's own lookup (GNU hash, symbol versions) finds every symbol.
TEST(Vdso, HostGlibcFindsVersionedSymbols) {
  void* h = dlopen(CAPSULE_VDSO_SO, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(h, nullptr) << dlerror();
  for (const char* s : SYMBOLS) {
    void* p = dlvsym(h, s, "LINUX_2.6");
    EXPECT_NE(p, nullptr) << s;
    Dl_info info{};
    ASSERT_TRUE(p && dladdr(p, &info)) << s;
    EXPECT_STREQ(info.dli_fname, CAPSULE_VDSO_SO) << s;  // ours, not the host's vDSO
  }
  EXPECT_EQ(dlvsym(h, "__vdso_clock_gettime", "LINUX_2.4"), nullptr);
  dlclose(h);
}
#endif
