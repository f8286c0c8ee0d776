// ELF64 header and program-header validation (docs/exec.md).
// Facts from the System V gABI ("ELF Header", "Program Header") and the
// x86-64 psABI; limits where Linux's execve(2) sets them.
#include "core/elf/elf.h"

namespace capsule::elf {
namespace {

// gABI e_ident indices and values.
constexpr size_t EI_CLASS = 4, EI_DATA = 5, EI_VERSION = 6;
constexpr uint8_t ELFCLASS64 = 2, ELFDATA2LSB = 1, EV_CURRENT = 1;
constexpr uint16_t EM_X86_64 = 62;
constexpr size_t EHDR_SIZE = 64;   // sizeof(Elf64_Ehdr)
constexpr size_t PHDR_SIZE = 56;   // sizeof(Elf64_Phdr)
constexpr uint16_t PN_XNUM = 0xffff;  // gABI: real count in section 0; Linux refuses it too

// gABI p_flags bits.
constexpr uint32_t PF_X = 1, PF_W = 2, PF_R = 4;

enum : uint32_t {
  PT_LOAD = 1,
  PT_DYNAMIC = 2,
  PT_INTERP = 3,
  PT_PHDR = 6,
  PT_TLS = 7,
  PT_GNU_STACK = 0x6474e551,
};

// Largest p_align accepted: 1 GiB, the largest x86-64 page. Anything bigger
// would waste most of the address space on ET_DYN placement.
constexpr uint64_t MAX_ALIGN = uint64_t(1) << 30;
// A TLS block larger than this is a broken file, not a program.
constexpr uint64_t MAX_TLS = uint64_t(1) << 30;

uint16_t rd16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }
uint32_t rd32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint64_t rd64(const uint8_t* p) { return uint64_t(rd32(p)) | uint64_t(rd32(p + 4)) << 32; }

struct Phdr {
  uint32_t type, flags;
  uint64_t offset, vaddr, filesz, memsz, align;
};

Phdr decode_phdr(const uint8_t* p) {
  // gABI Elf64_Phdr: type, flags, offset, vaddr, paddr, filesz, memsz, align.
  return {rd32(p), rd32(p + 4), rd64(p + 8), rd64(p + 16), rd64(p + 32), rd64(p + 40), rd64(p + 48)};
}

bool add_overflows(uint64_t a, uint64_t b, uint64_t& sum) { return __builtin_add_overflow(a, b, &sum); }
bool is_pow2(uint64_t v) { return v && !(v & (v - 1)); }
uint64_t page_down(uint64_t v) { return v & ~(ELF_PAGE_SIZE - 1); }

// A file range [offset, offset+len) lies inside a file of `size` bytes.
bool in_file(uint64_t offset, uint64_t len, uint64_t size) {
  uint64_t end;
  return !add_overflows(offset, len, end) && end <= size;
}

class Checker {
 public:
  Checker(ElfDiag* diag) : diag_(diag) {}
  Error fail(const char* reason, int index = -1) {
    if (diag_) *diag_ = {reason, index};
    return Error::BadFormat;
  }

 private:
  ElfDiag* diag_;
};

uint32_t prot_of(uint32_t flags) {
  uint32_t p = SEG_NONE;
  if (flags & PF_R) p |= SEG_R;
  if (flags & PF_W) p |= SEG_W;
  if (flags & PF_X) p |= SEG_X;
  return p;
}

Result<void> add_load(const Phdr& ph, int index, uint16_t type, uint64_t file_size, LoadPlan& plan,
                      Checker& c) {
  // gABI: "p_filesz ... may not be larger than p_memsz".
  if (ph.filesz > ph.memsz) return c.fail("PT_LOAD p_filesz > p_memsz", index);
  if (!in_file(ph.offset, ph.filesz, file_size)) return c.fail("PT_LOAD file range past end of file", index);
  uint64_t mem_end;
  if (add_overflows(ph.vaddr, ph.memsz, mem_end) || mem_end > USER_END)
    return c.fail("PT_LOAD extends past the user address space", index);
  // gABI: p_align 0 or 1 means none; otherwise a power of two with
  // p_vaddr = p_offset modulo p_align.
  if (ph.align > 1) {
    if (!is_pow2(ph.align)) return c.fail("PT_LOAD p_align is not a power of two", index);
    if (ph.align > MAX_ALIGN) return c.fail("PT_LOAD p_align above 1 GiB", index);
    if ((ph.offset & (ph.align - 1)) != (ph.vaddr & (ph.align - 1)))
      return c.fail("PT_LOAD p_offset and p_vaddr not congruent modulo p_align", index);
  }
  // Mapping is by pages, so the file page and the memory page must line up
  // whatever p_align says (gABI: "congruent modulo the page size").
  if ((ph.offset & (ELF_PAGE_SIZE - 1)) != (ph.vaddr & (ELF_PAGE_SIZE - 1)))
    return c.fail("PT_LOAD p_offset and p_vaddr not congruent modulo the page size", index);
  if (type == TYPE_EXEC && ph.memsz && page_down(ph.vaddr) < USER_MIN)
    return c.fail("PT_LOAD below the lowest mappable address", index);
  if (ph.memsz == 0) return {};  // nothing to map; Linux skips it as well

  Segment s;
  s.vaddr = ph.vaddr;
  s.mem_end = mem_end;
  s.map_start = page_down(ph.vaddr);
  s.map_end = page_down(mem_end + ELF_PAGE_SIZE - 1);  // mem_end <= USER_END: no overflow
  s.file_offset = page_down(ph.offset);
  s.file_size = (ph.vaddr - s.map_start) + ph.filesz;
  s.zero_start = ph.vaddr + ph.filesz;
  s.prot = prot_of(ph.flags);
  s.phdr_index = uint16_t(index);

  if (plan.segment_count > 0) {
    const Segment& prev = plan.segments[plan.segment_count - 1];
    // gABI: "Loadable segment entries ... appear in ascending order, sorted
    // on the p_vaddr member." Sharing a page would make two segments with
    // different file offsets and protections fight over it.
    if (s.vaddr < prev.vaddr) return c.fail("PT_LOAD segments not sorted by p_vaddr", index);
    if (s.map_start < prev.map_end) return c.fail("PT_LOAD segments overlap", index);
  }
  if (plan.segment_count == MAX_LOAD_SEGMENTS) return c.fail("too many PT_LOAD segments", index);
  plan.segments[plan.segment_count++] = s;
  uint64_t align = ph.align > ELF_PAGE_SIZE ? ph.align : ELF_PAGE_SIZE;
  if (align > plan.max_align) plan.max_align = align;
  return {};
}

const Segment* segment_containing(const LoadPlan& plan, uint64_t vaddr, uint64_t len) {
  for (size_t i = 0; i < plan.segment_count; ++i) {
    const Segment& s = plan.segments[i];
    if (vaddr >= s.vaddr && vaddr <= s.mem_end && len <= s.mem_end - vaddr) return &s;
  }
  return nullptr;
}

}  // namespace

Result<void> SpanSource::read(uint64_t offset, void* buf, size_t n) const {
  if (!in_file(offset, n, size_)) return Error::Range;
  __builtin_memcpy(buf, data_ + offset, n);
  return {};
}

Result<void> parse_elf(const ElfSource& src, LoadPlan& plan, ElfDiag* diag) {
  Checker c(diag);
  plan = LoadPlan{};
  const uint64_t file_size = src.size();
  if (file_size < EHDR_SIZE) return c.fail("file shorter than an ELF header");
  uint8_t eh[EHDR_SIZE];
  if (!src.read(0, eh, sizeof(eh))) return c.fail("cannot read the ELF header");

  if (eh[0] != 0x7f || eh[1] != 'E' || eh[2] != 'L' || eh[3] != 'F') return c.fail("bad ELF magic");
  if (eh[EI_CLASS] != ELFCLASS64) return c.fail("not ELFCLASS64");
  if (eh[EI_DATA] != ELFDATA2LSB) return c.fail("not little-endian (ELFDATA2LSB)");
  if (eh[EI_VERSION] != EV_CURRENT || rd32(eh + 20) != EV_CURRENT) return c.fail("bad ELF version");
  const uint16_t type = rd16(eh + 16);
  if (type != TYPE_EXEC && type != TYPE_DYN) return c.fail("e_type is neither ET_EXEC nor ET_DYN");
  if (rd16(eh + 18) != EM_X86_64) return c.fail("e_machine is not EM_X86_64");
  if (rd16(eh + 52) < EHDR_SIZE) return c.fail("e_ehsize too small");
  const uint16_t phentsize = rd16(eh + 54);
  const uint16_t phnum = rd16(eh + 56);
  const uint64_t phoff = rd64(eh + 32);
  if (phentsize != PHDR_SIZE) return c.fail("e_phentsize is not sizeof(Elf64_Phdr)");
  if (phnum == 0) return c.fail("no program headers");
  if (phnum == PN_XNUM || phnum > MAX_PHNUM) return c.fail("too many program headers");
  const uint64_t table_size = uint64_t(phnum) * PHDR_SIZE;
  if (!in_file(phoff, table_size, file_size)) return c.fail("program headers past end of file");

  plan.type = type;
  plan.entry = rd64(eh + 24);
  plan.phent = phentsize;
  plan.phnum = phnum;

  bool has_pt_phdr = false;
  uint64_t pt_phdr_size = 0;
  // Program headers are read a batch at a time: few reads through a vnode,
  // bounded stack use in the kernel.
  constexpr size_t BATCH = 16;
  uint8_t buf[BATCH * PHDR_SIZE];
  for (size_t base = 0; base < phnum; base += BATCH) {
    size_t n = phnum - base < BATCH ? phnum - base : BATCH;
    if (!src.read(phoff + base * PHDR_SIZE, buf, n * PHDR_SIZE)) return c.fail("cannot read program headers");
    for (size_t k = 0; k < n; ++k) {
      const int index = int(base + k);
      const Phdr ph = decode_phdr(buf + k * PHDR_SIZE);
      switch (ph.type) {
        case PT_LOAD:
          TRY(add_load(ph, index, type, file_size, plan, c));
          break;
        case PT_INTERP: {
          if (plan.has_interp) return c.fail("more than one PT_INTERP", index);
          // Linux (fs/binfmt_elf.c) wants 2..PATH_MAX bytes ending in NUL.
          if (ph.filesz < 2 || ph.filesz > MAX_INTERP) return c.fail("PT_INTERP size out of range", index);
          if (!in_file(ph.offset, ph.filesz, file_size)) return c.fail("PT_INTERP past end of file", index);
          char last;
          if (!src.read(ph.offset + ph.filesz - 1, &last, 1)) return c.fail("cannot read PT_INTERP", index);
          if (last != 0) return c.fail("PT_INTERP not NUL-terminated", index);
          plan.has_interp = true;
          plan.interp_offset = ph.offset;
          plan.interp_size = ph.filesz;
          break;
        }
        case PT_PHDR:
          if (has_pt_phdr) return c.fail("more than one PT_PHDR", index);
          has_pt_phdr = true;
          plan.phdr_vaddr = ph.vaddr;
          pt_phdr_size = ph.memsz;
          if (pt_phdr_size < table_size) return c.fail("PT_PHDR smaller than the program header table", index);
          break;
        case PT_TLS:
          if (plan.tls.present) return c.fail("more than one PT_TLS", index);
          if (ph.filesz > ph.memsz) return c.fail("PT_TLS p_filesz > p_memsz", index);
          if (ph.memsz > MAX_TLS) return c.fail("PT_TLS too large", index);
          if (ph.align > 1 && (!is_pow2(ph.align) || ph.align > MAX_ALIGN))
            return c.fail("PT_TLS p_align invalid", index);
          if (!in_file(ph.offset, ph.filesz, file_size)) return c.fail("PT_TLS past end of file", index);
          plan.tls = {true, ph.vaddr, ph.filesz, ph.memsz, ph.align > 1 ? ph.align : 1};
          break;
        case PT_GNU_STACK:
          plan.has_gnu_stack = true;
          plan.exec_stack = (ph.flags & PF_X) != 0;
          break;
        case PT_DYNAMIC:
          if (plan.has_dynamic) return c.fail("more than one PT_DYNAMIC", index);
          plan.has_dynamic = true;
          plan.dynamic_vaddr = ph.vaddr;
          break;
        default:
          break;  // PT_NOTE, PT_GNU_PROPERTY, PT_GNU_RELRO, ...: nothing to load
      }
    }
  }

  if (plan.segment_count == 0) return c.fail("no PT_LOAD segment");
  plan.lo = plan.segments[0].map_start;
  plan.hi = plan.segments[plan.segment_count - 1].map_end;
  if (type == TYPE_DYN && plan.hi - plan.lo > USER_END - USER_MIN) return c.fail("image larger than the address space");
  if (!segment_containing(plan, plan.entry, 1)) return c.fail("entry point outside every PT_LOAD");
  if (plan.tls.present && !segment_containing(plan, plan.tls.vaddr, plan.tls.file_size))
    return c.fail("PT_TLS image outside every PT_LOAD");

  if (has_pt_phdr) {
    if (!segment_containing(plan, plan.phdr_vaddr, pt_phdr_size)) return c.fail("PT_PHDR outside every PT_LOAD");
    plan.has_phdr = true;
  } else {
    // Without PT_PHDR, AT_PHDR is where the segment whose file bytes cover
    // e_phoff puts the table (Linux does the same).
    for (size_t i = 0; i < plan.segment_count; ++i) {
      const Segment& s = plan.segments[i];
      uint64_t p_offset = s.file_offset + (s.vaddr - s.map_start);
      uint64_t p_filesz = s.zero_start - s.vaddr;
      if (phoff >= p_offset && table_size <= p_filesz && phoff - p_offset <= p_filesz - table_size) {
        plan.has_phdr = true;
        plan.phdr_vaddr = s.vaddr + (phoff - p_offset);
        break;
      }
    }
  }
  return {};
}

Result<void> parse_elf(const uint8_t* data, size_t size, LoadPlan& plan, ElfDiag* diag) {
  SpanSource src(data, size);
  TRY(parse_elf(src, plan, diag));
  if (plan.has_interp) {
    const char* path = reinterpret_cast<const char*>(data + plan.interp_offset);
    size_t len = plan.interp_size - 1;
    for (size_t i = 0; i < len; ++i)
      if (path[i] == 0) return Checker(diag).fail("PT_INTERP has an embedded NUL");
    if (len == 0) return Checker(diag).fail("PT_INTERP is empty");
    plan.interp = StringView(path, len);
  }
  return {};
}

Result<size_t> read_interp(const ElfSource& src, const LoadPlan& plan, char* buf, size_t cap) {
  if (!plan.has_interp) return Error::NotFound;
  if (cap < plan.interp_size) return Error::TooBig;
  TRY(src.read(plan.interp_offset, buf, plan.interp_size));
  size_t len = plan.interp_size - 1;
  for (size_t i = 0; i < len; ++i)
    if (buf[i] == 0) return Error::BadFormat;
  if (buf[len] != 0 || len == 0) return Error::BadFormat;
  return len;
}

Result<uint64_t> choose_load_bias(const LoadPlan& plan, uint64_t base) {
  if (plan.type == TYPE_EXEC) return uint64_t(0);
  // The bias is a multiple of max_align so every segment keeps the
  // alignment it was linked for (gABI p_align).
  const uint64_t mask = plan.max_align - 1;
  uint64_t start;
  if (add_overflows(base, mask, start)) return Error::Invalid;
  start &= ~mask;
  const uint64_t lo_down = plan.lo & ~mask;
  const uint64_t span = plan.hi - lo_down;
  if (start < USER_MIN || start > USER_END || span > USER_END - start) return Error::Invalid;
  return start - lo_down;
}

}  // namespace capsule::elf
