# Threads, scheduling, synchronization, time and SMP (core/sched).
capsule_guest_test(sched.all_1cpu SERIAL CMDLINE --test=sched CPUS 1 TIMEOUT 120
  EXPECT "sched.thousand_threads: 1000 threads ran" "ktest: 11 passed, 0 failed" REJECT "FAILED|panic")
capsule_guest_test(sched.all_4cpu SERIAL CMDLINE --test=sched CPUS 4 TIMEOUT 240
  EXPECT "sched.pinned_thread: 200 samples on cpu 2, 0 elsewhere"
         "sched.clock_monotonic: 80000 ordered reads on 4 CPUs, 0 went backwards"
         "sched.mutex_counter: 160000 increments, threads ran on [234] of 4 CPUs"
         "sched.pingpong: 100000 round trips on 4 CPUs"
         "ktest: 11 passed, 0 failed" REJECT "FAILED|panic")
capsule_guest_test(sched.all_2cpu_q35 SERIAL CMDLINE --test=sched MACHINE q35 CPUS 2 TIMEOUT 240
  EXPECT "ktest: 11 passed, 0 failed" REJECT "FAILED|panic")
capsule_guest_test(smp.16_cpus CMDLINE --log=info CPUS 16 TIMEOUT 120
  EXPECT "acpi: .* cpus 16" "smp: 16 CPUs online" "booted in" REJECT "did not start|panic")
capsule_guest_test(sched.fault_thread_stack_overflow CMDLINE --test=fault.thread_stack_overflow STATUS 125 TIMEOUT 30
  EXPECT "panic: kernel stack overflow: #PF Page Fault" "in thread 'overflow-test'" "in a stack guard page")
