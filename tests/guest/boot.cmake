# Boot, banner, command line.
capsule_guest_test(boot.banner
  EXPECT "Capsule [0-9.]+ \\(x86-64\\)" "memory: [0-9]+ KiB total" "booted in [0-9]+\\.[0-9]{3} ms")
capsule_guest_test(boot.bootchart CMDLINE --bootchart
  EXPECT "bootchart: memory" "booted in [0-9]+\\.[0-9]{3} ms")
capsule_guest_test(boot.verbose_reports_cpu CMDLINE --verbose
  EXPECT "cpu: .*family" "cpu: .*nx=true")
capsule_guest_test(boot.q35 MACHINE q35
  EXPECT "Capsule [0-9.]+" "booted in")
capsule_guest_test(boot.unknown_option_rejected CMDLINE --frobnicate STATUS 2
  EXPECT "bad kernel command line: unknown option '--frobnicate'" REJECT "booted in")
capsule_guest_test(boot.bad_value_rejected CMDLINE --tsc-khz=fast STATUS 2
  EXPECT "bad value 'fast' for --tsc-khz")
capsule_guest_test(ktest.unknown_name CMDLINE --test=no.such.test STATUS 1
  EXPECT "no test matches 'no.such.test'")
