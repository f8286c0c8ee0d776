#pragma once
// A small reader of an ELF64 shared object's dynamic symbols, as the libcs
// look up vDSO symbols (musl: DT_HASH's chain count, DT_VERSYM/DT_VERDEF;
// glibc: the same tables through its dynamic linker). Pure logic: the
// kernel's --test=vdso uses it on the mapped vDSO and the host tests on the
// built file.
#include <cstddef>
#include <cstdint>

#include "lib/result.h"

namespace capsule::vdso {

// Finds the defined dynamic symbol `name` (function, object or no type;
// global or weak) whose version is `version` (nullptr: any), in an image
// of `size` bytes laid out as in memory (for the vDSO, file = memory).
// Returns its offset from the image's start. NotFound if absent;
// BadFormat if the image is not a sane ELF64 x86-64 ET_DYN with DT_HASH,
// DT_SYMTAB and DT_STRTAB inside `size`.
Result<uint64_t> find_symbol(const uint8_t* image, size_t size, const char* name, const char* version);

// Whether the image defines version `version` (a non-base DT_VERDEF entry).
bool defines_version(const uint8_t* image, size_t size, const char* version);

}  // namespace capsule::vdso
