#pragma once
// In-kernel test cases, run with --test=NAME on the kernel command line.
//
//   KTEST(mm_buddy_coalesce) { ... KEXPECT(x == 1); ... }
//
// Names use '.' for grouping in the output: the identifier mm_buddy becomes
// "mm.buddy". --test=list prints every name; --test=all runs every test not
// marked KTEST_FAULT (those end the VM on purpose). Each test prints
// "ktest: NAME ... ok" or "... FAILED (n checks)"; the VM's exit status is 0
// only if every test ran passed.
#include <cstddef>

#include "capsule/log.h"

namespace capsule {

// The .ktests section is read as an array, so every entry must be exactly
// sizeof(KTestCase) apart. GCC raises the alignment of 24-byte statics to 32
// on x86-64, which left 8-byte holes; a 32-byte-aligned (and sized) struct
// makes the layout explicit.
struct alignas(32) KTestCase {
  const char* name;
  void (*fn)();
  bool fault;  // deliberately crashes the kernel; excluded from "all"
};

void ktest_fail(const char* expr, const char* file, int line);
int ktest_run(StringView pattern);  // returns the number of failed tests, -1 if none matched

}  // namespace capsule

#define KTEST_IMPL(ident, fault_flag)                                              \
  static void ktest_fn_##ident();                                                  \
  [[gnu::used, gnu::section(".ktests")]] static const ::capsule::KTestCase         \
      ktest_case_##ident = {#ident, ktest_fn_##ident, fault_flag};                 \
  static void ktest_fn_##ident()

#define KTEST(ident) KTEST_IMPL(ident, false)
#define KTEST_FAULT(ident) KTEST_IMPL(ident, true)

#define KEXPECT(cond)                                           \
  do {                                                          \
    if (!(cond)) ::capsule::ktest_fail(#cond, __FILE__, __LINE__); \
  } while (0)
