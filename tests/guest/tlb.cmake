# TLB shoot-down IPIs (core/sched/tlb.cc).
capsule_guest_test(tlb.4cpu CMDLINE --test=tlb CPUS 4 TIMEOUT 300
  EXPECT "tlb.concurrent: 4 CPUs x 2000 shoot-downs in [0-9]+ ms, 24000 requests served"
         "tlb.remap: 3 of 3 other CPUs saw the new page, 3 faulted after unmap"
         "ktest: 2 passed, 0 failed" REJECT "FAILED|panic")
capsule_guest_test(tlb.2cpu_q35 CMDLINE --test=tlb MACHINE q35 CPUS 2 TIMEOUT 120
  EXPECT "tlb.remap: 1 of 1 other CPUs saw the new page, 1 faulted after unmap"
         "ktest: 2 passed, 0 failed" REJECT "FAILED|panic")
