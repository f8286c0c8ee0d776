#pragma once
// The Linux system-call adapter (docs/syscall.md). Each family file in
// linux/ defines its calls; the table is assembled from a linker section at
// boot, so adding a syscall touches only its own file.
//
// A definition names the Linux types once (linux/syscall_types.h):
//
//   DEFINE_SYSCALL(228, clock_gettime, Result<void>, int clock_id, UserPtr<Timespec> tp) {
//     ...
//     return Error::Invalid;            // the application sees -EINVAL
//   }
//
// The arguments are decoded from the registers by their types (an int is
// the low 32 bits sign-extended, ...), --strace prints them by their types,
// and the handler returns Result<T>: the value, or an Error that is the
// errno (linux/linux_errno.h maps them one to one).
#include <cstddef>
#include <cstdint>
#include <utility>

#include "arch/x64/cpu/syscall_frame.h"
#include "lib/format.h"
#include "linux/linux_errno.h"
#include "linux/syscall_types.h"

namespace capsule::linux_abi {

struct SyscallArgs {
  uint64_t a[6];
  x64::SyscallFrame* frame;      // rt_sigreturn, clone and signal delivery edit it
  bool full_return = false;      // restore every register on the way out
  uint64_t nr = 0;               // [signals] the call's number (restarting a call)
};

using SyscallHandler = int64_t (*)(SyscallArgs& args);

using SyscallPrinter = void (*)(Sink& s, const SyscallArgs& args);

struct SyscallDef {
  uint32_t nr;
  const char* name;
  SyscallHandler fn;
  SyscallPrinter print_args;     // --strace: the arguments, derived from their types
  bool hex_result;               // --strace: print the result in hex
  // DEFINE_SYSCALL_IRQS_OFF: the call runs with interrupts off, as SYSCALL
  // left them (docs/syscall.md "Calls that run with interrupts off").
  bool irqs_off;
};

namespace detail {

// The register index of each parameter (SyscallArgs& takes none).
template <typename... P>
constexpr auto syscall_slots() {
  struct Slots {
    size_t at[sizeof...(P) + 1];
    size_t count;
  } r{};
  [[maybe_unused]] size_t k = 0, i = 0;
  ((r.at[k++] = i, i += size_t(SyscallArg<P>::slots)), ...);
  r.count = i;
  return r;
}

template <typename P>
decltype(auto) syscall_param(SyscallArgs& a, size_t slot) {
  if constexpr (SyscallArg<P>::slots == 0) return (a);
  else return SyscallArg<P>::decode(a.a[slot]);
}

template <typename F>
struct TypedSyscall;

template <typename T, typename... P>
struct TypedSyscall<Result<T> (*)(P...)> {
  static constexpr auto slots = syscall_slots<P...>();
  static_assert(slots.count <= 6, "a system call has at most six arguments");
  static constexpr bool hex_result = SyscallReturn<T>::hex;
  using Indices = std::index_sequence_for<P...>;

  template <auto Fn, size_t... I>
  static int64_t call(SyscallArgs& a, std::index_sequence<I...>) {
    Result<T> r = Fn(syscall_param<P>(a, slots.at[I])...);
    if (!r.ok()) return -int64_t(errno_of(r.error()));
    if constexpr (std::is_void_v<T>) return 0;
    else return SyscallReturn<T>::encode(r.value());
  }

  template <size_t... I>
  static void print(Sink& s, const SyscallArgs& a, std::index_sequence<I...>) {
    [[maybe_unused]] bool first = true;
    [[maybe_unused]] auto one = [&](auto tag, size_t slot) {
      using Arg = SyscallArg<typename decltype(tag)::type>;
      if constexpr (Arg::slots > 0) {
        if (!first) format(s, ", ");
        first = false;
        Arg::print(s, a.a[slot], slot + 1 < 6 ? a.a[slot + 1] : 0);
      }
    };
    (one(std::type_identity<P>{}, slots.at[I]), ...);
  }
};

}  // namespace detail

// The dispatcher's entry for a typed handler Fn: decode, call, encode.
template <auto Fn>
int64_t typed_syscall_entry(SyscallArgs& a) {
  using S = detail::TypedSyscall<decltype(Fn)>;
  return S::template call<Fn>(a, typename S::Indices{});
}

// --strace for a typed handler: its arguments by their types.
template <auto Fn>
void typed_syscall_print(Sink& s, const SyscallArgs& a) {
  using S = detail::TypedSyscall<decltype(Fn)>;
  S::print(s, a, typename S::Indices{});
}

// The same for a DEFINE_SYSCALL_IRQS_OFF handler: a few loads with no
// buffer of its own, so without the stack protector's canary check (a
// branch, and a translation block, per call under TCG).
template <auto Fn>
[[gnu::no_stack_protector]] int64_t typed_syscall_entry_irqs_off(SyscallArgs& a) {
  using S = detail::TypedSyscall<decltype(Fn)>;
  return S::template call<Fn>(a, typename S::Indices{});
}

template <auto Fn>
constexpr SyscallDef typed_syscall_def(uint32_t nr, const char* name, bool irqs_off = false) {
  using S = detail::TypedSyscall<decltype(Fn)>;
  return SyscallDef{nr, name, irqs_off ? &typed_syscall_entry_irqs_off<Fn> : &typed_syscall_entry<Fn>,
                    &typed_syscall_print<Fn>, S::hex_result, irqs_off};
}

const char* syscall_name(uint32_t nr);  // "openat", or nullptr if unknown
void strace_enable(bool on);
// --stats (linux/stats.h): count each call and its TSC cycles per CPU.
void syscall_stats_enable(bool on);
bool strace_enabled();
// --log-missing: each call that fails with ENOENT (a file the program looked
// for and did not find) is printed as "[missing] " and its --strace form,
// with path arguments whole.
void log_missing_enable(bool on);

// Run by the dispatcher before a return to the application that
// syscall_return_quiet (linux/syscall_return.h, inline in the dispatcher)
// did not find quiet (linux/signal_delivery.cc): delivers pending signals,
// restarts or ends an interrupted call (-ERESTART*), parks the thread for
// a group stop. Interrupts on.
void syscall_return_work(SyscallArgs& args, int64_t result);

// Boot: builds the table, installs the SYSCALL entry on this CPU.
void syscalls_init();

}  // namespace capsule::linux_abi

// DEFINE_SYSCALL(nr, name, Result<T>, params...) { body }: a typed system
// call (see the top of this file and docs/syscall.md).
#define DEFINE_SYSCALL(number, ident, ResultType, ...)                                            \
  static ResultType sys_##ident(__VA_ARGS__);                                                       \
  [[gnu::used, gnu::section(".linux_syscalls")]] alignas(::capsule::linux_abi::SyscallDef) static const \
      ::capsule::linux_abi::SyscallDef sysdef_##ident =                                             \
          ::capsule::linux_abi::typed_syscall_def<&sys_##ident>(number, #ident);                    \
  static ResultType sys_##ident(__VA_ARGS__)

// DEFINE_SYSCALL_IRQS_OFF(nr, name, Result<T>, params...) { body }: the same,
// for a call that runs with interrupts off, as SYSCALL left them, which
// saves the entry's POPFQ (docs/syscall.md "Calls that run with interrupts
// off"). Its body must not sleep (no mutex, no wait, no allocation that can
// wait) nor touch application memory (a fault there may sleep); spinlocks
// are fine. The debug kernel reports either ("lock_check: sleeping ... in
// the interrupts-off system call ...").
#define DEFINE_SYSCALL_IRQS_OFF(number, ident, ResultType, ...)                                   \
  static ResultType sys_##ident(__VA_ARGS__);                                                       \
  [[gnu::used, gnu::section(".linux_syscalls")]] alignas(::capsule::linux_abi::SyscallDef) static const \
      ::capsule::linux_abi::SyscallDef sysdef_##ident =                                             \
          ::capsule::linux_abi::typed_syscall_def<&sys_##ident>(number, #ident, true);              \
  static ResultType sys_##ident(__VA_ARGS__)
