#pragma once
// Copying between kernel memory and application memory (the lower half).
//
// Every helper first checks that the whole application range lies below
// USER_END (a kernel address is Error::Fault, never dereferenced), then
// copies with instructions that have exception-table entries
// (arch/x64/cpu/extable.h): a page that is mapped lazily is faulted in by
// demand paging and the copy goes on; a page no VMA allows ends the copy
// with Error::Fault instead of a crash. The linux/ layer returns -EFAULT.
//
// Not to be called with the current address space's lock held (the fault
// path takes it).
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "lib/result.h"

namespace capsule {

// True if [p, p+n) lies entirely in the application half.
bool user_range_ok(const void* p, size_t n);

Result<void> copy_from_user(void* dst, const void* user_src, size_t n);
Result<void> copy_to_user(void* user_dst, const void* src, size_t n);
Result<void> clear_user(void* user_dst, size_t n);

// As much of the copy as the application's memory allows: the bytes
// copied before the first page that cannot be touched (n when all went,
// 0 for a range reaching past the application half). read(2) and
// write(2) report such partial transfers (docs/address-space.md).
size_t copy_to_user_partial(void* user_dst, const void* src, size_t n);
size_t copy_from_user_partial(void* dst, const void* user_src, size_t n);

// Copies a NUL-terminated string of at most max-1 characters plus its NUL
// into dst (max bytes) and returns its length. Error::TooBig if there is no
// NUL in the first max bytes (ENAMETOOLONG / E2BIG for the caller),
// Error::Fault for a bad pointer.
Result<size_t> strncpy_from_user(char* dst, const char* user_src, size_t max);

template <typename T>
  requires std::is_trivially_copyable_v<T>
Result<T> get_user(const T* user_p) {
  T v;
  TRY(copy_from_user(&v, user_p, sizeof(T)));
  return v;
}

template <typename T>
  requires std::is_trivially_copyable_v<T>
Result<void> put_user(T* user_p, const T& v) {
  return copy_to_user(user_p, &v, sizeof(T));
}

// A pointer into the application's memory, as a system call receives it:
// an address that is never dereferenced directly. Every access copies
// through the helpers above, so a bad address is Error::Fault (EFAULT),
// never a crash. T may be const (the kernel only reads through it).
//
//   UserPtr<Timespec> p = ...;
//   Timespec t = TRY(p.read());          // copy_in of one T
//   TRY(p.write(t));                     // copy_out of one T
//   TRY(buf.copy_out(data, n));          // n elements
template <typename T>
class UserPtr {
  using Value = std::remove_const_t<T>;

 public:
  constexpr UserPtr() = default;
  constexpr explicit UserPtr(uint64_t addr) : addr_(addr) {}

  constexpr uint64_t addr() const { return addr_; }
  constexpr bool is_null() const { return addr_ == 0; }
  constexpr explicit operator bool() const { return addr_ != 0; }
  // For interfaces that still take a raw user pointer (copy helpers, VFS
  // I/O buffers): the address as T*, still only to be passed on to code
  // that copies through the helpers above.
  T* unsafe_get() const { return reinterpret_cast<T*>(addr_); }

  // The i-th element after this one (pointer arithmetic in T units).
  constexpr UserPtr offset(size_t i) const { return UserPtr(addr_ + i * sizeof(Value)); }
  // The same address seen as another type (a struct's field, a byte view).
  template <typename U>
  constexpr UserPtr<U> cast() const { return UserPtr<U>(addr_); }

  Result<Value> read() const
    requires std::is_trivially_copyable_v<Value>
  {
    Value v;
    TRY(copy_from_user(&v, reinterpret_cast<const void*>(addr_), sizeof(Value)));
    return v;
  }
  Result<void> write(const Value& v) const
    requires(!std::is_const_v<T> && std::is_trivially_copyable_v<Value>)
  {
    return copy_to_user(reinterpret_cast<void*>(addr_), &v, sizeof(Value));
  }
  // n elements from the application into dst / from src to the application.
  Result<void> copy_in(Value* dst, size_t n) const
    requires std::is_trivially_copyable_v<Value>
  {
    if (n > SIZE_MAX / sizeof(Value)) return Error::Fault;
    return copy_from_user(dst, reinterpret_cast<const void*>(addr_), n * sizeof(Value));
  }
  Result<void> copy_out(const Value* src, size_t n) const
    requires(!std::is_const_v<T> && std::is_trivially_copyable_v<Value>)
  {
    if (n > SIZE_MAX / sizeof(Value)) return Error::Fault;
    return copy_to_user(reinterpret_cast<void*>(addr_), src, n * sizeof(Value));
  }

 private:
  uint64_t addr_ = 0;
};

}  // namespace capsule
