// Positive control for lint.thread_safety (tests/lint/thread_safety.py):
// every line marked `expect:` breaks a lock rule on purpose, and clang's
// -Wthread-safety must say so there, with the quoted words in its message.
// If the annotations turned into no-ops (a wrong macro, a flag the test
// lost), these warnings would vanish and the test fails. Not built into the
// kernel; g++ must also accept it (the annotations vanish under gcc).
#include "arch/spinlock.h"
#include "core/sync/wait_queue.h"
#include "lib/thread_annotations.h"

namespace capsule::probe {

struct Counter {
  SpinLock lock;
  int value GUARDED_BY(lock) = 0;
  int* slot PT_GUARDED_BY(lock) = nullptr;

  void bump_locked() REQUIRES(lock) {
    lock.assert_held();
    ++value;
  }
};

struct Table {
  Mutex mu;
  int rows GUARDED_BY(mu) = 0;
};

void write_without_lock(Counter& c) {
  c.value = 1;  // expect: writing variable 'value' requires holding spinlock
}

int read_without_lock(Counter& c) {
  return c.value;  // expect: reading variable 'value' requires holding spinlock
}

void pointee_without_lock(Counter& c) {
  *c.slot = 2;  // expect: writing the value pointed to by 'slot' requires holding spinlock
}

void call_locked_without_lock(Counter& c) {
  c.bump_locked();  // expect: calling function 'bump_locked' requires holding spinlock
}

void lock_twice(Counter& c) {
  SpinGuard g(c.lock);
  c.lock.lock();  // expect: 'c.lock' that is already held
  c.lock.unlock();
}

void leak_lock(Counter& c) {
  c.lock.lock();
}  // expect: 'c.lock' is still held at the end of function

void unlock_not_held(Counter& c) {
  c.lock.unlock();  // expect: 'c.lock' that was not held
}

void mutex_without_lock(Table& t) {
  t.rows = 3;  // expect: writing variable 'rows' requires holding mutex
}

// The right way: these must stay silent.
void all_good(Counter& c, Table& t) {
  {
    SpinGuard g(c.lock);
    c.bump_locked();
    *c.slot = c.value;
  }
  MutexGuard g(t.mu);
  ++t.rows;
}

}  // namespace capsule::probe
