// Dynamic-symbol lookup in an ELF64 image (core/vdso/vdso_elf.h). Field
// layouts from the System V gABI ("Object Files", "Dynamic Section",
// "Symbol Versioning" in the LSB). Every offset is checked against the
// image size before it is read.
#include "core/vdso/vdso_elf.h"

namespace capsule::vdso {
namespace {

struct Ehdr {
  uint8_t ident[16];
  uint16_t type, machine;
  uint32_t version;
  uint64_t entry, phoff, shoff;
  uint32_t flags;
  uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct Phdr {
  uint32_t type, flags;
  uint64_t offset, vaddr, paddr, filesz, memsz, align;
};
struct Dyn {
  int64_t tag;
  uint64_t val;
};
struct Sym {
  uint32_t name;
  uint8_t info, other;
  uint16_t shndx;
  uint64_t value, size;
};
struct Verdef {
  uint16_t version, flags, ndx, cnt;
  uint32_t hash, aux, next;
};
struct Verdaux {
  uint32_t name, next;
};

constexpr uint32_t PT_LOAD = 1, PT_DYNAMIC = 2;
constexpr int64_t DT_NULL = 0, DT_HASH = 4, DT_STRTAB = 5, DT_SYMTAB = 6, DT_STRSZ = 10;
constexpr int64_t DT_VERSYM = 0x6ffffff0, DT_VERDEF = 0x6ffffffc;
constexpr uint16_t VER_FLG_BASE = 1;

bool streq(const char* a, const char* b) {
  while (*a && *a == *b) ++a, ++b;
  return *a == *b;
}

class Image {
 public:
  Image(const uint8_t* p, size_t n) : p_(p), n_(n) {}

  template <typename T>
  const T* at(uint64_t off, uint64_t count = 1) const {
    if (off > n_ || count > (n_ - off) / sizeof(T)) return nullptr;
    return reinterpret_cast<const T*>(p_ + off);
  }
  // A NUL-terminated string inside [strtab, strtab + strsz).
  const char* str(uint64_t off) const {
    if (off >= strsz_ || strtab_ > n_ || off >= n_ - strtab_) return nullptr;
    const char* s = reinterpret_cast<const char*>(p_ + strtab_ + off);
    for (uint64_t i = 0; strtab_ + off + i < n_ && off + i < strsz_; ++i)
      if (!s[i]) return s;
    return nullptr;
  }

  Result<void> parse() {
    const Ehdr* eh = at<Ehdr>(0);
    if (!eh || eh->ident[0] != 0x7f || eh->ident[1] != 'E' || eh->ident[2] != 'L' || eh->ident[3] != 'F')
      return Error::BadFormat;
    if (eh->ident[4] != 2 || eh->ident[5] != 1 || eh->type != 3 || eh->machine != 62) return Error::BadFormat;
    if (eh->phentsize != sizeof(Phdr)) return Error::BadFormat;
    const Phdr* ph = at<Phdr>(eh->phoff, eh->phnum);
    if (!ph) return Error::BadFormat;
    const Phdr* load = nullptr;
    const Phdr* dyn = nullptr;
    for (unsigned i = 0; i < eh->phnum; ++i) {
      if (ph[i].type == PT_LOAD && !load) load = &ph[i];
      if (ph[i].type == PT_DYNAMIC) dyn = &ph[i];
    }
    if (!load || !dyn) return Error::BadFormat;
    // Addresses in the dynamic section are vaddrs: image offset = vaddr - bias.
    bias_ = load->vaddr - load->offset;
    const Dyn* d = at<Dyn>(dyn->offset, dyn->filesz / sizeof(Dyn));
    if (!d) return Error::BadFormat;
    uint64_t hash = 0, symtab = 0;
    for (uint64_t i = 0; i < dyn->filesz / sizeof(Dyn) && d[i].tag != DT_NULL; ++i) {
      switch (d[i].tag) {
        case DT_HASH: hash = d[i].val - bias_; break;
        case DT_STRTAB: strtab_ = d[i].val - bias_; break;
        case DT_STRSZ: strsz_ = d[i].val; break;
        case DT_SYMTAB: symtab = d[i].val - bias_; break;
        case DT_VERSYM: versym_ = d[i].val - bias_; break;
        case DT_VERDEF: verdef_ = d[i].val - bias_; break;
      }
    }
    // DT_HASH: nbucket, nchain, ...; nchain is the symbol count (musl relies on it).
    const uint32_t* h = hash ? at<uint32_t>(hash, 2) : nullptr;
    if (!h || !strtab_ || !strsz_ || !symtab) return Error::BadFormat;
    nsyms_ = h[1];
    syms_ = at<Sym>(symtab, nsyms_);
    if (!syms_) return Error::BadFormat;
    return {};
  }

  // The name of version index `ndx` (without the hidden bit), or nullptr.
  const char* version_name(uint16_t ndx) const {
    uint64_t off = verdef_;
    for (unsigned guard = 0; off && guard < 64; ++guard) {
      const Verdef* v = at<Verdef>(off);
      if (!v) return nullptr;
      if (!(v->flags & VER_FLG_BASE) && (v->ndx & 0x7fff) == ndx) {
        const Verdaux* a = at<Verdaux>(off + v->aux);
        return a ? str(a->name) : nullptr;
      }
      if (!v->next) return nullptr;
      off += v->next;
    }
    return nullptr;
  }

  bool defines(const char* version) const {
    uint64_t off = verdef_;
    for (unsigned guard = 0; off && guard < 64; ++guard) {
      const Verdef* v = at<Verdef>(off);
      if (!v) return false;
      if (!(v->flags & VER_FLG_BASE)) {
        const Verdaux* a = at<Verdaux>(off + v->aux);
        const char* n = a ? str(a->name) : nullptr;
        if (n && streq(n, version)) return true;
      }
      if (!v->next) return false;
      off += v->next;
    }
    return false;
  }

  Result<uint64_t> find(const char* name, const char* version) const {
    const uint16_t* vs = versym_ ? at<uint16_t>(versym_, nsyms_) : nullptr;
    for (uint32_t i = 1; i < nsyms_; ++i) {
      const Sym& s = syms_[i];
      uint8_t type = s.info & 15, bind = s.info >> 4;
      if (type > 2 || (bind != 1 && bind != 2) || s.shndx == 0) continue;  // NOTYPE/OBJECT/FUNC; GLOBAL/WEAK
      const char* n = str(s.name);
      if (!n || !streq(n, name)) continue;
      if (version) {
        if (!vs) continue;
        const char* vn = version_name(vs[i] & 0x7fff);
        if (!vn || !streq(vn, version)) continue;
      }
      return s.value - bias_;
    }
    return Error::NotFound;
  }

 private:
  const uint8_t* p_;
  size_t n_;
  uint64_t bias_ = 0, strtab_ = 0, strsz_ = 0, versym_ = 0, verdef_ = 0;
  uint32_t nsyms_ = 0;
  const Sym* syms_ = nullptr;
};

}  // namespace

Result<uint64_t> find_symbol(const uint8_t* image, size_t size, const char* name, const char* version) {
  Image img(image, size);
  TRY(img.parse());
  return img.find(name, version);
}

bool defines_version(const uint8_t* image, size_t size, const char* version) {
  Image img(image, size);
  if (!img.parse().ok()) return false;
  return img.defines(version);
}

}  // namespace capsule::vdso
