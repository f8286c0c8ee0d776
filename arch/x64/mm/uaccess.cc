// Range checks around the copy loops of arch/x64/mm/uaccess.S.
#include "arch/uaccess.h"

#include "arch/arch.h"
#include "arch/memory_layout.h"
#ifdef CAPSULE_DEBUG_KERNEL
#include "arch/lock_debug.h"
#include "arch/percpu.h"
#endif

extern "C" size_t uaccess_copy(void* dst, const void* src, size_t n);
extern "C" size_t uaccess_clear(void* dst, size_t n);
extern "C" long uaccess_strncpy(char* dst, const char* src, size_t max);

namespace capsule {
namespace {

// uaccess_copy, going on past a fault the #PF vector could not serve
// without sleeping (a page of a mapped file: arch_serve_user_fault_sleeping
// fetches it). `user` is the application's side, `write` whether the copy
// stores there. The bytes not copied (0: all went). Bounded: a fault that
// is served but comes back at the same byte ends it.
size_t copy_serving(void* dst, const void* src, size_t n, uintptr_t user, bool write) {
  size_t done = 0;
  uintptr_t last_fault = ~uintptr_t(0);
  while (done < n) {
    size_t left = uaccess_copy(static_cast<char*>(dst) + done, static_cast<const char*>(src) + done, n - done);
    done = n - left;
    if (!left) break;
    if (user + done == last_fault || !arch_serve_user_fault_sleeping(user + done, write)) break;
    last_fault = user + done;
  }
  return n - done;
}

size_t clear_serving(void* dst, size_t n) {
  size_t done = 0;
  const uintptr_t user = reinterpret_cast<uintptr_t>(dst);
  uintptr_t last_fault = ~uintptr_t(0);
  while (done < n) {
    size_t left = uaccess_clear(static_cast<char*>(dst) + done, n - done);
    done = n - left;
    if (!left) break;
    if (user + done == last_fault || !arch_serve_user_fault_sleeping(user + done, true)) break;
    last_fault = user + done;
  }
  return n - done;
}

// The debug kernel: application memory from a system call that runs with
// interrupts off (DEFINE_SYSCALL_IRQS_OFF) is a bug even when the page is
// there, since a fault on it may have to sleep: reported as a sleep.
inline void check_may_touch_user() {
#ifdef CAPSULE_DEBUG_KERNEL
  if (this_cpu()->irqs_off_call) lock_debug_might_sleep("application memory");
#endif
}

}  // namespace

bool user_range_ok(const void* p, size_t n) {
  auto a = reinterpret_cast<uintptr_t>(p);
  return n <= mm::USER_END && a <= mm::USER_END - n;
}

Result<void> copy_from_user(void* dst, const void* user_src, size_t n) {
  check_may_touch_user();
  if (!user_range_ok(user_src, n)) return Error::Fault;
  if (n && copy_serving(dst, user_src, n, reinterpret_cast<uintptr_t>(user_src), false)) return Error::Fault;
  return {};
}

Result<void> copy_to_user(void* user_dst, const void* src, size_t n) {
  check_may_touch_user();
  if (!user_range_ok(user_dst, n)) return Error::Fault;
  if (n && copy_serving(user_dst, src, n, reinterpret_cast<uintptr_t>(user_dst), true)) return Error::Fault;
  return {};
}

// uaccess_copy stops at the faulting byte (rep movsb is restartable and
// leaves RCX at the bytes not done), so what it returns is exact.
size_t copy_to_user_partial(void* user_dst, const void* src, size_t n) {
  check_may_touch_user();
  if (!user_range_ok(user_dst, n)) return 0;
  return n ? n - copy_serving(user_dst, src, n, reinterpret_cast<uintptr_t>(user_dst), true) : 0;
}

size_t copy_from_user_partial(void* dst, const void* user_src, size_t n) {
  check_may_touch_user();
  if (!user_range_ok(user_src, n)) return 0;
  return n ? n - copy_serving(dst, user_src, n, reinterpret_cast<uintptr_t>(user_src), false) : 0;
}

Result<void> clear_user(void* user_dst, size_t n) {
  check_may_touch_user();
  if (!user_range_ok(user_dst, n)) return Error::Fault;
  if (n && clear_serving(user_dst, n)) return Error::Fault;
  return {};
}

Result<size_t> strncpy_from_user(char* dst, const char* user_src, size_t max) {
  check_may_touch_user();
  auto a = reinterpret_cast<uintptr_t>(user_src);
  if (a >= mm::USER_END) return Error::Fault;
  if (max == 0) return Error::TooBig;
  // Never read past the application half, whatever max says.
  size_t limit = max < mm::USER_END - a ? max : mm::USER_END - a;
  // A page at a time, so that a fault the #PF vector could not serve
  // without sleeping (a path in a mapped file's page not read yet: a
  // program's .rodata on a disk root) is served here and the page tried
  // again, as copy_serving does.
  constexpr size_t PAGE = 4096;
  size_t done = 0;
  uintptr_t last_fault = ~uintptr_t(0);
  while (done < limit) {
    const uintptr_t at = a + done;
    const size_t room = PAGE - at % PAGE;
    const size_t chunk = limit - done < room ? limit - done : room;
    long r = uaccess_strncpy(dst + done, user_src + done, chunk);
    if (r < 0) {
      if (at == last_fault || !arch_serve_user_fault_sleeping(at, false)) return Error::Fault;
      last_fault = at;
      continue;
    }
    if (size_t(r) < chunk) return done + size_t(r);  // the NUL is in
    done += chunk;
  }
  return limit < max ? Error::Fault : Error::TooBig;
}

}  // namespace capsule
