#pragma once
// The types a system-call definition names (docs/syscall.md). Each one says
// how its register is decoded (Linux's width and sign rules) and how
// --strace prints it, so a definition written with Linux's types
//
//   DEFINE_SYSCALL(0, read, Result<size_t>, Fd fd, UserPtr<uint8_t> buf, size_t n)
//
// gets its arguments decoded once and its strace line for free.
//
// Decoding (x86-64: every argument arrives in a 64-bit register, and Linux
// reads only the width of the C type the kernel declares):
//   int, pid_t, clockid_t ... low 32 bits, sign-extended (a -1 fd passed as
//                             0x00000000ffffffff is -1)
//   unsigned int, uint32_t    low 32 bits
//   long, size_t, uint64_t    the whole register
//   enums                     as their underlying type
//   Fd, AtFd                  an int; AtFd also takes AT_FDCWD
//   Mode                      mode_t (unsigned int), printed octal
//   Flags<T>, Hex<T>          a T, printed in hex
//   Address                   an address used as a number (mmap, brk)
//   UserPtr<T>                an application pointer (arch/include/arch/uaccess.h)
//   UserString                a NUL-terminated application string (a path)
//   UserBytes                 an application buffer whose length is the next
//                             argument (printed as text by --strace: write)
//   SyscallArgs&              no register: the raw call (frame, restart)
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "arch/uaccess.h"
#include "lib/format.h"
#include "lib/result.h"

namespace capsule::linux_abi {

struct SyscallArgs;

inline constexpr int64_t AT_FDCWD = -100;

// A file descriptor (int).
struct Fd {
  int value = 0;
  constexpr operator int() const { return value; }
};

// A directory file descriptor of an *at call: an fd or AT_FDCWD.
struct AtFd {
  int value = 0;
  constexpr bool is_cwd() const { return value == AT_FDCWD; }
  constexpr operator int() const { return value; }
};

// A file mode (mode_t: unsigned int).
struct Mode {
  uint32_t value = 0;
  constexpr operator uint32_t() const { return value; }
};

// Flag bits of C type T (int flags are still 32 bits wide).
template <typename T = uint32_t>
  requires std::integral<T>
struct Flags {
  T value = 0;
  constexpr operator T() const { return value; }
  constexpr bool has(T bits) const { return (value & bits) == bits; }
  constexpr bool any(T bits) const { return (value & bits) != 0; }
};

// A number of C type T that reads best in hex (a command code, a mask).
template <typename T = uint64_t>
  requires std::integral<T>
struct Hex {
  T value = 0;
  constexpr operator T() const { return value; }
};

// An address in the application half used as a number (mmap hints and
// results, brk): never dereferenced.
struct Address {
  uint64_t value = 0;
  constexpr operator uint64_t() const { return value; }
};

// A NUL-terminated string in the application (usually a path).
struct UserString {
  UserPtr<const char> ptr;
  constexpr bool is_null() const { return ptr.is_null(); }
  // Copies it into dst (max bytes with the NUL): its length, Error::Fault,
  // or Error::TooBig when no NUL is in the first max bytes.
  Result<size_t> copy_in(char* dst, size_t max) const { return strncpy_from_user(dst, ptr.unsafe_get(), max); }
};

// A buffer in the application whose length is the next argument.
struct UserBytes {
  UserPtr<const uint8_t> ptr;
  constexpr bool is_null() const { return ptr.is_null(); }
};

// --strace helpers for what lives in application memory (linux/syscall.cc):
// read safely; a bad pointer prints as its address.
void strace_user_string(Sink& s, uint64_t addr);
void strace_user_bytes(Sink& s, uint64_t addr, uint64_t len);
inline void strace_pointer(Sink& s, uint64_t addr) {
  if (addr) format(s, "{:#x}", addr);
  else format(s, "NULL");
}

// SyscallArg<T>: how a parameter of type T is taken from its register.
//   slots       registers it uses (0 for SyscallArgs&)
//   decode(raw) the value
//   print(s, raw, next) its --strace form (next: the following register)
template <typename T>
struct SyscallArg;  // a parameter type with no rule here does not compile

template <typename T>
  requires(std::integral<T> && !std::same_as<T, bool>)
struct SyscallArg<T> {
  static constexpr int slots = 1;
  // Conversion to a narrower integer keeps the low bits (C++20: modulo
  // 2^N), and a signed narrow type then sign-extends when widened.
  static constexpr T decode(uint64_t raw) { return T(raw); }
  static void print(Sink& s, uint64_t raw, uint64_t) {
    if constexpr (std::is_signed_v<T>) format(s, "{}", int64_t(decode(raw)));
    else format(s, "{}", uint64_t(decode(raw)));
  }
};

template <typename T>
  requires std::is_enum_v<T>
struct SyscallArg<T> {
  using U = std::underlying_type_t<T>;
  static constexpr int slots = 1;
  static constexpr T decode(uint64_t raw) { return T(SyscallArg<U>::decode(raw)); }
  static void print(Sink& s, uint64_t raw, uint64_t next) { SyscallArg<U>::print(s, raw, next); }
};

template <>
struct SyscallArg<Fd> {
  static constexpr int slots = 1;
  static constexpr Fd decode(uint64_t raw) { return Fd{int(raw)}; }
  static void print(Sink& s, uint64_t raw, uint64_t) { format(s, "{}", decode(raw).value); }
};

template <>
struct SyscallArg<AtFd> {
  static constexpr int slots = 1;
  static constexpr AtFd decode(uint64_t raw) { return AtFd{int(raw)}; }
  static void print(Sink& s, uint64_t raw, uint64_t) { format(s, "{}", decode(raw).value); }
};

template <>
struct SyscallArg<Mode> {
  static constexpr int slots = 1;
  static constexpr Mode decode(uint64_t raw) { return Mode{uint32_t(raw)}; }
  static void print(Sink& s, uint64_t raw, uint64_t) { format(s, "{:#o}", decode(raw).value); }
};

template <typename T>
struct SyscallArg<Flags<T>> {
  static constexpr int slots = 1;
  static constexpr Flags<T> decode(uint64_t raw) { return Flags<T>{T(raw)}; }
  static void print(Sink& s, uint64_t raw, uint64_t) { format(s, "{:#x}", uint64_t(std::make_unsigned_t<T>(raw))); }
};

template <typename T>
struct SyscallArg<Hex<T>> {
  static constexpr int slots = 1;
  static constexpr Hex<T> decode(uint64_t raw) { return Hex<T>{T(raw)}; }
  static void print(Sink& s, uint64_t raw, uint64_t) { format(s, "{:#x}", uint64_t(std::make_unsigned_t<T>(raw))); }
};

template <>
struct SyscallArg<Address> {
  static constexpr int slots = 1;
  static constexpr Address decode(uint64_t raw) { return Address{raw}; }
  static void print(Sink& s, uint64_t raw, uint64_t) { format(s, "{:#x}", raw); }
};

template <typename T>
struct SyscallArg<UserPtr<T>> {
  static constexpr int slots = 1;
  static constexpr UserPtr<T> decode(uint64_t raw) { return UserPtr<T>(raw); }
  static void print(Sink& s, uint64_t raw, uint64_t) { strace_pointer(s, raw); }
};

template <>
struct SyscallArg<UserString> {
  static constexpr int slots = 1;
  static constexpr UserString decode(uint64_t raw) { return UserString{UserPtr<const char>(raw)}; }
  static void print(Sink& s, uint64_t raw, uint64_t) { strace_user_string(s, raw); }
};

template <>
struct SyscallArg<UserBytes> {
  static constexpr int slots = 1;
  static constexpr UserBytes decode(uint64_t raw) { return UserBytes{UserPtr<const uint8_t>(raw)}; }
  static void print(Sink& s, uint64_t raw, uint64_t next) { strace_user_bytes(s, raw, next); }
};

template <>
struct SyscallArg<SyscallArgs&> {
  static constexpr int slots = 0;
};

// SyscallReturn<T>: how a handler's Result<T> value becomes the register
// the application reads (errors are -errno_of(error), linux/linux_errno.h).
template <typename T>
struct SyscallReturn;

template <>
struct SyscallReturn<void> {
  static constexpr bool hex = false;
};

template <typename T>
  requires(std::integral<T> && !std::same_as<T, bool>)
struct SyscallReturn<T> {
  static constexpr bool hex = false;
  static constexpr int64_t encode(T v) { return int64_t(v); }
};

template <>
struct SyscallReturn<Fd> {
  static constexpr bool hex = false;
  static constexpr int64_t encode(Fd v) { return v.value; }
};

template <>
struct SyscallReturn<Address> {
  static constexpr bool hex = true;
  static constexpr int64_t encode(Address v) { return int64_t(v.value); }
};

}  // namespace capsule::linux_abi
