#pragma once
// ELF64 executables: validation and a load plan (docs/exec.md).
//
// parse_elf() reads the ELF header and program headers of a file, checks
// everything the loader will rely on, and describes what to map: page-aligned
// segments with protections, file ranges and bss, the entry point, PT_INTERP,
// the program-header address for AT_PHDR, PT_GNU_STACK and PT_TLS. It maps
// nothing itself and knows no address space; the loader adds a load bias
// (choose_load_bias) and maps the plan.
//
// Every rejection is Error::BadFormat (ENOEXEC, as execve(2) returns) with a
// static reason string and the index of the program header at fault.
#include <cstddef>
#include <cstdint>

#include "lib/result.h"
#include "lib/string_view.h"

namespace capsule::elf {

constexpr uint64_t ELF_PAGE_SIZE = 4096;  // the mapping granule
// Linux refuses execve(2) for a PT_INTERP longer than PATH_MAX.
constexpr uint64_t MAX_INTERP = 4096;
// Linux's load_elf_phdrs refuses a program-header table over 64 KiB (older
// kernels even over one page); with 56-byte entries that is 1170. Real programs have about a dozen; the plan
// keeps a fixed array of PT_LOAD entries.
constexpr uint16_t MAX_PHNUM = 1170;
constexpr size_t MAX_LOAD_SEGMENTS = 32;
// The lower canonical half as Linux x86-64 hands it to a process
// (TASK_SIZE_MAX = 2^47 - PAGE_SIZE).
constexpr uint64_t USER_END = 0x0000'7fff'ffff'f000;
// Linux's default vm.mmap_min_addr: nothing is mapped below 64 KiB, so a
// fixed-address program that asks for it is refused.
constexpr uint64_t USER_MIN = 0x10000;
// Where Linux x86-64 puts a PIE with an interpreter when ASLR is off:
// ELF_ET_DYN_BASE = 2/3 of the 47-bit window, page aligned.
constexpr uint64_t DEFAULT_PIE_BASE = 0x5555'5555'4000;

// gABI e_type values a plan can have (names differ from <elf.h>'s macros
// so the host tests can include both).
constexpr uint16_t TYPE_EXEC = 2;  // ET_EXEC
constexpr uint16_t TYPE_DYN = 3;   // ET_DYN

// Protection bits of a segment, from p_flags (the values of PROT_READ,
// PROT_WRITE, PROT_EXEC; core/ does not include Linux's headers).
enum SegmentProt : uint32_t { SEG_NONE = 0, SEG_R = 1, SEG_W = 2, SEG_X = 4 };

// One PT_LOAD, unbiased (add the load bias to every address).
//
//   map_start       vaddr           zero_start      mem_end      map_end
//   |<-page offset->|<--- p_filesz --->|<--- bss ----->|<-pad-->|
//   file_offset ..................... file_end
//
// Map [map_start, map_end) with `prot`; the bytes [map_start, file_end_vaddr)
// come from the file at [file_offset, file_offset + file_size); every byte
// from zero_start to map_end must read as zero (the tail of the last file
// page included: gABI "Program Header", p_memsz > p_filesz).
struct Segment {
  uint64_t vaddr = 0;        // p_vaddr
  uint64_t mem_end = 0;      // p_vaddr + p_memsz
  uint64_t map_start = 0;    // vaddr rounded down to a page
  uint64_t map_end = 0;      // mem_end rounded up to a page
  uint64_t file_offset = 0;  // p_offset rounded down to a page (= offset of map_start)
  uint64_t file_size = 0;    // (vaddr - map_start) + p_filesz
  uint64_t zero_start = 0;   // vaddr + p_filesz
  uint32_t prot = SEG_NONE;
  uint16_t phdr_index = 0;

  uint64_t file_end_vaddr() const { return map_start + file_size; }
  bool has_bss() const { return zero_start < map_end; }
};

// PT_TLS: the initialization image of the main thread's TLS block.
struct TlsInfo {
  bool present = false;
  uint64_t vaddr = 0;     // unbiased address of the .tdata image
  uint64_t file_size = 0; // .tdata
  uint64_t mem_size = 0;  // .tdata + .tbss
  uint64_t align = 1;
};

struct LoadPlan {
  uint16_t type = 0;            // TYPE_EXEC or TYPE_DYN
  uint64_t entry = 0;           // e_entry, unbiased
  uint64_t lo = 0, hi = 0;      // page-aligned span of all segments, unbiased
  uint64_t max_align = ELF_PAGE_SIZE;  // largest p_align of a PT_LOAD (for ET_DYN bias)
  size_t segment_count = 0;
  Segment segments[MAX_LOAD_SEGMENTS];

  // AT_PHDR/AT_PHENT/AT_PHNUM. phdr_vaddr is PT_PHDR's p_vaddr, or else the
  // address where the loaded segment covering e_phoff puts the table (what
  // Linux does); has_phdr is false when the table is not in memory at all.
  bool has_phdr = false;
  uint64_t phdr_vaddr = 0;
  uint16_t phent = 0;
  uint16_t phnum = 0;

  // PT_INTERP: a path of interp_size bytes (NUL included) at interp_offset in
  // the file. `interp` views it (without the NUL) when the whole file was
  // given to parse_elf; with an ElfSource use read_interp().
  bool has_interp = false;
  uint64_t interp_offset = 0;
  uint64_t interp_size = 0;
  StringView interp;

  bool has_dynamic = false;     // PT_DYNAMIC (static-PIE relocates itself from it)
  uint64_t dynamic_vaddr = 0;

  // PT_GNU_STACK's PF_X. Without PT_GNU_STACK x86-64 Linux gives a
  // non-executable stack to 64-bit programs (elf_read_implies_exec is false).
  bool has_gnu_stack = false;
  bool exec_stack = false;

  TlsInfo tls;

  // An ET_DYN without PT_INTERP: a static-PIE (or a loader run directly); it
  // relocates itself and needs AT_BASE = 0.
  bool static_pie() const { return type == TYPE_DYN && !has_interp; }
  bool is_pie() const { return type == TYPE_DYN; }
};

// Why parse_elf refused a file; reason is a static string.
struct ElfDiag {
  const char* reason = nullptr;
  int phdr_index = -1;   // program header at fault, -1 for the ELF header
};

// Random access to the bytes of a file (a vnode, or bytes already in memory).
// read() fills exactly `n` bytes or fails.
class ElfSource {
 public:
  virtual uint64_t size() const = 0;
  virtual Result<void> read(uint64_t offset, void* buf, size_t n) const = 0;

 protected:
  ~ElfSource() = default;
};

// The whole file in memory.
class SpanSource final : public ElfSource {
 public:
  SpanSource(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint64_t size() const override { return size_; }
  Result<void> read(uint64_t offset, void* buf, size_t n) const override;

 private:
  const uint8_t* data_;
  size_t size_;
};

// Parses a file read through `src`. On failure `plan` is unspecified and
// `diag` (if given) says why.
Result<void> parse_elf(const ElfSource& src, LoadPlan& plan, ElfDiag* diag = nullptr);
// Parses a file held entirely in memory; plan.interp views into `data`.
Result<void> parse_elf(const uint8_t* data, size_t size, LoadPlan& plan, ElfDiag* diag = nullptr);

// Copies PT_INTERP into buf (NUL-terminated) and returns its length. Fails
// with BadFormat for an embedded NUL, TooBig if buf is smaller than the path.
Result<size_t> read_interp(const ElfSource& src, const LoadPlan& plan, char* buf, size_t cap);

// The amount to add to every address of the plan. ET_EXEC is loaded where it
// was linked (bias 0). ET_DYN goes at `base` rounded up to the plan's largest
// segment alignment (so 2 MiB-aligned segments stay aligned); Invalid if the
// image would not fit below USER_END or would start below USER_MIN.
Result<uint64_t> choose_load_bias(const LoadPlan& plan, uint64_t base);

}  // namespace capsule::elf
