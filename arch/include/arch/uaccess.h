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

// The same for a syscall argument (an address as an integer), true when
// the copy worked.
template <typename T>
  requires std::is_trivially_copyable_v<T>
bool put_user_at(uint64_t uaddr, const T& v) {
  return copy_to_user(reinterpret_cast<void*>(uaddr), &v, sizeof(T)).ok();
}

template <typename T>
  requires std::is_trivially_copyable_v<T>
bool get_user_at(uint64_t uaddr, T& v) {
  return copy_from_user(&v, reinterpret_cast<const void*>(uaddr), sizeof(T)).ok();
}

}  // namespace capsule
