# What each instruction of the system-call path costs (issue 16,
# arch/x64/cpu/syscall_probe_ktest.cc): the probe prints the figures
# bench/README.md quotes and checks only that it measured them.
capsule_guest_test(probe.ktests CMDLINE --test=probe CPUS 1 TIMEOUT 120
  EXPECT "probe: syscall_bare " "ktest: 1 passed, 0 failed" REJECT "FAILED|panic")
