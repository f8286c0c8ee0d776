# Where the TSC rate comes from (kernel/main.cc, drivers/clock/pit.cc).
# --tsc-khz=0 stops the CLI from passing the host's rate, so the kernel must
# find it itself: q35 has a PIT, which must give the host's rate within 2%
# (sleep accuracy follows from the rate; sched.sleep_accuracy's own 20 ms
# bound is too tight for a host this test may share with 3 other VMs); microvm (started with pit=off) has none,
# which must be detected at once (a guess and a warning, no hang).
capsule_guest_test(time.pit_calibration_q35 CMDLINE --tsc-khz=0 --log=info
  MACHINE q35 CPUS 2 TIMEOUT 60 TSC_TOLERANCE 2
  EXPECT "tsc: calibrated against the PIT: [0-9]+ kHz" "booted in" REJECT "panic|rate unknown")
capsule_guest_test(time.no_pit_microvm CMDLINE --tsc-khz=0 --log=info
  TIMEOUT 30
  EXPECT "tsc: rate unknown \\(no PIT" "booted in" REJECT "panic|calibrated against")
