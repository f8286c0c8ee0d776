# The debug kernel (capsule-debug.elf, docs/debug-kernel.md).
#
# 1. Each check made to fire on purpose (core/debug/debug_kernel_ktests.cc):
#    the heap's reports end in a panic (status 125), one boot each; the lock
#    checker's do not, and each ktest counts them.
# 2. The real use: programs and ktests that stress the kernel, run on the
#    debug kernel; any report of it fails the test.
if(NOT TARGET capsule-debug.elf)
  return()
endif()

# Every report line of the debug kernel starts with one of these.
set(DEBUG_REPORTS "debug_heap: (invalid free|double free|out-of-bounds|write after free)" "lock_check: (lock order|sleeping|interrupts were off|spinlock taken with interrupts on)" "table is full")

set(DK_OBJ "of the [0-9]+-byte object at 0x[0-9a-f]+")
capsule_guest_test(debugk.heap_overflow DEBUG_KERNEL CMDLINE --test=debugk.heap_overflow STATUS 125
  EXPECT "debug_heap: out-of-bounds write \\(red zone changed\\) of the 24-byte object at 0x[0-9a-f]+, first changed byte at offset 24"
         "debug_heap: allocated at:" "#0 .*ktest_fn_debugk_heap_overflow"
         "panic.*debug_heap: out-of-bounds write" "backtrace:" "kfree"
  REJECT "was not seen" "freed at:")
capsule_guest_test(debugk.heap_underflow DEBUG_KERNEL CMDLINE --test=debugk.heap_underflow STATUS 125
  EXPECT "debug_heap: out-of-bounds write \\(red zone changed\\) of the 64-byte object at 0x[0-9a-f]+, first changed byte at offset -1"
         "debug_heap: allocated at:" "#0 .*ktest_fn_debugk_heap_underflow" "panic.*debug_heap"
  REJECT "was not seen")
capsule_guest_test(debugk.heap_use_after_free DEBUG_KERNEL CMDLINE --test=debugk.heap_use_after_free STATUS 125
  EXPECT "debug_heap: write after free \\(poison changed\\) of the 100-byte object at 0x[0-9a-f]+, first changed byte at offset 40"
         "debug_heap: allocated at:" "#0 .*ktest_fn_debugk_heap_use_after_free" "debug_heap: freed at:"
         "#0 .*ktest_fn_debugk_heap_use_after_free" "panic.*debug_heap: write after free"
  REJECT "was not seen")
capsule_guest_test(debugk.heap_double_free DEBUG_KERNEL CMDLINE --test=debugk.heap_double_free STATUS 125
  EXPECT "debug_heap: double free of the 32-byte object at 0x[0-9a-f]+"
         "debug_heap: allocated at:" "#0 .*ktest_fn_debugk_heap_double_free" "debug_heap: freed at:"
         "#0 .*ktest_fn_debugk_heap_double_free" "panic.*debug_heap: double free" "backtrace:"
  REJECT "was not seen")
capsule_guest_test(debugk.heap_invalid_free DEBUG_KERNEL CMDLINE --test=debugk.heap_invalid_free STATUS 125
  EXPECT "debug_heap: invalid free of the 64-byte object at 0x[0-9a-f]+"
         "debug_heap: allocated at:" "#0 .*ktest_fn_debugk_heap_invalid_free" "panic.*debug_heap: invalid free"
  REJECT "was not seen")

set(DK_SPIN "spinlock .*core/debug/debug_kernel_ktests.cc:[0-9]+")
set(DK_MUTEX "mutex .*core/debug/debug_kernel_ktests.cc:[0-9]+")
capsule_guest_test(debugk.lock_inversion_spin DEBUG_KERNEL CMDLINE --test=lockcheck.inversion_spin
  EXPECT "lock_check: lock order inversion: taking ${DK_SPIN}"
         "lock_check:   while holding ${DK_SPIN}"
         "lock_check: the opposite order was seen before:"
         "lock_check: first, at:" "ktest_fn_lockcheck_inversion_spin"
         "lock_check: now, at:" "ktest_fn_lockcheck_inversion_spin"
         "ktest: lockcheck.inversion_spin ok" "ktest: 1 passed, 0 failed"
  REJECT "panic" "FAILED")
capsule_guest_test(debugk.lock_inversion_mutex DEBUG_KERNEL CMDLINE --test=lockcheck.inversion_mutex
  EXPECT "lock_check: lock order inversion: taking ${DK_MUTEX}"
         "lock_check:   while holding ${DK_MUTEX}"
         "lock_check: first, at:" "ktest_fn_lockcheck_inversion_mutex"
         "lock_check: now, at:" "ktest_fn_lockcheck_inversion_mutex"
         "ktest: 1 passed, 0 failed"
  REJECT "panic" "FAILED")
capsule_guest_test(debugk.sleep_under_spinlock DEBUG_KERNEL CMDLINE --test=lockcheck.sleep_under_spinlock
  EXPECT "lock_check: sleeping \\(mutex lock\\) with a spinlock held:"
         "lock_check:   ${DK_SPIN} at 0x[0-9a-f]+, taken at .*ktest_fn_lockcheck_sleep_under_spinlock"
         "lock_check: at:" "ktest_fn_lockcheck_sleep_under_spinlock"
         "ktest: 1 passed, 0 failed"
  REJECT "panic" "FAILED")
capsule_guest_test(debugk.sleep_in_irqs_off_syscall DEBUG_KERNEL CMDLINE --test=lockcheck.sleep_in_irqs_off_syscall
  EXPECT "lock_check: sleeping \\(mutex lock\\) in the interrupts-off system call ktest_call \\(DEFINE_SYSCALL_IRQS_OFF\\)"
         "lock_check: sleeping \\(application memory\\) in the interrupts-off system call ktest_call"
         "lock_check: at:" "ktest_fn_lockcheck_sleep_in_irqs_off_syscall"
         "ktest: 1 passed, 0 failed"
  REJECT "panic" "FAILED" "with a spinlock held")
capsule_guest_test(debugk.spinlock_with_interrupts_on DEBUG_KERNEL CMDLINE --test=lockcheck.spinlock_with_interrupts_on
  EXPECT "lock_check: spinlock taken with interrupts on, at .*ktest_fn_lockcheck_spinlock_with_interrupts_on"
         "ktest: 1 passed, 0 failed"
  REJECT "panic" "FAILED")
capsule_guest_test(debugk.irq_off_too_long DEBUG_KERNEL CMDLINE --test=lockcheck.irq_off_too_long --irq-off-max-ms=100
  EXPECT "lock_check: interrupts were off for [0-9]+ us \\(the limit is 100000 us"
         "ktest_fn_lockcheck_irq_off_too_long" "ktest: 1 passed, 0 failed"
  REJECT "panic" "FAILED")

# The stack protector's canary is random in both kernels.
capsule_guest_test(runtime.stack_guard CMDLINE --test=runtime.stack_guard_random
  EXPECT "ktest: runtime.stack_guard_random ok" REJECT "FAILED")
capsule_guest_test(debugk.stack_guard DEBUG_KERNEL CMDLINE --test=runtime.stack_guard_random
  EXPECT "ktest: runtime.stack_guard_random ok" REJECT "FAILED")
