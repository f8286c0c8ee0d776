#pragma once
// Capsule's own lines on the program's standard error, where a shell's
// messages appear on the host ("bash: foo: No such file or directory",
// "Killed"): why the program could not start, or why the kernel ended it.
// Without them the user sees only an exit status; the kernel log (shown
// with --verbose) gets the same line. Thread context only: the line goes
// through the console device (docs/console.md).
#include "lib/format.h"
#include "lib/result.h"
#include "lib/string_view.h"

namespace capsule::linux_abi {

void notice_v(StringView fmt, const FormatArg* args, size_t n);
// One line, "capsule: " and a newline added.
template <typename... Args>
void notice(StringView fmt, const Args&... args) {
  if constexpr (sizeof...(Args) == 0) {
    notice_v(fmt, nullptr, 0);
  } else {
    const FormatArg list[] = {detail::make_arg(args)...};
    notice_v(fmt, list, sizeof...(Args));
  }
}

// "capsule: out of memory WHAT (guest memory N MiB, K KiB free): OUTCOME;
// run with more, e.g. --mem 2N": lack of memory named as such, with the
// size that would do.
void notice_out_of_memory(StringView what, StringView outcome);

// A command (the first, or the next of a ";" sequence) could not start:
// says why and ends the VM with the shell's status, 127 when the program
// was not found and 126 when it was found but cannot run (docs/cmdline.md,
// "Exit status").
[[noreturn]] void start_failed(StringView program, Error e);

}  // namespace capsule::linux_abi
