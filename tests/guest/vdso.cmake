# The vDSO (core/vdso, linux/vdso, docs/vdso.md): mapped into an address
# space, symbols found by version, called from kernel context; getcpu on
# every CPU through IA32_TSC_AUX.
capsule_guest_test(vdso.ktests_1cpu CMDLINE --test=vdso CPUS 1 TIMEOUT 120
  EXPECT "vdso.getcpu: right on 1 of 1 CPUs" "vdso.clock_gettime: 20000 monotonic reads, 0 backwards"
         "ktest: 4 passed, 0 failed" REJECT "FAILED|panic")
capsule_guest_test(vdso.ktests_4cpu CMDLINE --test=vdso CPUS 4 TIMEOUT 120
  EXPECT "vdso.getcpu: right on 4 of 4 CPUs" "ktest: 4 passed, 0 failed" REJECT "FAILED|panic")
capsule_guest_test(vdso.ktests_q35 CMDLINE --test=vdso MACHINE q35 CPUS 2 TIMEOUT 120
  EXPECT "vdso.getcpu: right on 2 of 2 CPUs" "ktest: 4 passed, 0 failed" REJECT "FAILED|panic")
