# Futexes (core/sync/futex.cc, docs/futex.md): wait/wake, requeue, wake_op,
# bitsets, timeouts, interrupts, a futex mutex and a many-waiter stress.
capsule_guest_test(futex.ktests_1cpu CMDLINE --test=futex CPUS 1 TIMEOUT 180
  EXPECT "futex.stress: 48 waiters x 100 generations" "futex.mutex_counter: 80000 increments"
         "ktest: 11 passed, 0 failed" REJECT "FAILED|panic")
capsule_guest_test(futex.ktests_4cpu CMDLINE --test=futex CPUS 4 TIMEOUT 240
  EXPECT "futex.stress: 48 waiters x 100 generations" "futex.mutex_counter: 80000 increments by 4 threads, [0-9]+ futex sleeps, on [234] of 4 CPUs"
         "ktest: 11 passed, 0 failed" REJECT "FAILED|panic")
