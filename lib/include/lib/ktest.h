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

#include "lib/log.h"

namespace capsule {

struct KTestCase {
  const char* name;
  void (*fn)();
  bool fault;  // deliberately crashes the kernel; excluded from "all"
};

void ktest_fail(const char* expr, const char* file, int line);
int ktest_run(StringView pattern);  // returns the number of failed tests, -1 if none matched

}  // namespace capsule

// alignas: without an explicit alignment GCC pads objects of 16 bytes or
// more to 16 (x86-64 DATA_ALIGNMENT), which leaves holes between the
// entries of the .ktests array whenever a file defines more than one test.
#define KTEST_IMPL(ident, fault_flag)                                              \
  static void ktest_fn_##ident();                                                  \
  [[gnu::used, gnu::section(".ktests")]] alignas(                                  \
      ::capsule::KTestCase) static const ::capsule::KTestCase                      \
      ktest_case_##ident = {#ident, ktest_fn_##ident, fault_flag};                 \
  static void ktest_fn_##ident()

#define KTEST(ident) KTEST_IMPL(ident, false)
#define KTEST_FAULT(ident) KTEST_IMPL(ident, true)

#define KEXPECT(cond)                                           \
  do {                                                          \
    if (!(cond)) ::capsule::ktest_fail(#cond, __FILE__, __LINE__); \
  } while (0)
