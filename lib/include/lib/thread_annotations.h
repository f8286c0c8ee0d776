#pragma once
// Lock annotations for clang's -Wthread-safety analysis (docs/locking.md).
// gcc ignores them: the kernel is built with gcc, and the test
// lint.thread_safety (tests/lint/thread_safety.py) runs clang over the same
// sources to check them. Names follow clang's documentation:
// https://clang.llvm.org/docs/ThreadSafetyAnalysis.html
//
//   CAPABILITY("spinlock")  on a lock class
//   SCOPED_CAPABILITY       on an RAII guard class
//   GUARDED_BY(l)           a field read or written only with `l` held
//   PT_GUARDED_BY(l)        the pointee of a pointer field, likewise
//   REQUIRES(l)             a function called with `l` held (`*_locked`)
//   EXCLUDES(l)             a function that takes `l` itself
//   ACQUIRE/RELEASE(...)    a function that takes/drops a lock (no argument:
//                           the object itself, for lock methods)
//   TRY_ACQUIRE(ok, ...)    acquires when it returns `ok`
//   ASSERT_CAPABILITY(l)    traps unless `l` is held (assert_held)
//   RETURN_CAPABILITY(l)    a function returning a reference to lock `l`
//   ACQUIRED_BEFORE/AFTER   lock order between two locks
//   NO_THREAD_SAFETY_ANALYSIS  opt a function out; say why beside it

#if defined(__clang__)
#define CAPSULE_TSA(x) __attribute__((x))
#else
#define CAPSULE_TSA(x)
#endif

#define CAPABILITY(x) CAPSULE_TSA(capability(x))
#define SCOPED_CAPABILITY CAPSULE_TSA(scoped_lockable)
#define GUARDED_BY(x) CAPSULE_TSA(guarded_by(x))
#define PT_GUARDED_BY(x) CAPSULE_TSA(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) CAPSULE_TSA(acquired_before(__VA_ARGS__))
#define ACQUIRED_AFTER(...) CAPSULE_TSA(acquired_after(__VA_ARGS__))
#define REQUIRES(...) CAPSULE_TSA(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) CAPSULE_TSA(requires_shared_capability(__VA_ARGS__))
#define ACQUIRE(...) CAPSULE_TSA(acquire_capability(__VA_ARGS__))
#define RELEASE(...) CAPSULE_TSA(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) CAPSULE_TSA(try_acquire_capability(__VA_ARGS__))
#define EXCLUDES(...) CAPSULE_TSA(locks_excluded(__VA_ARGS__))
#define ASSERT_CAPABILITY(x) CAPSULE_TSA(assert_capability(x))
#define RETURN_CAPABILITY(x) CAPSULE_TSA(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS CAPSULE_TSA(no_thread_safety_analysis)
