# Application address spaces, demand paging, copy helpers (core/mm/vma.h,
# core/mm/address_space.cc, docs/address-space.md).
# ktest prints in section order, not source order: one name, then the total.
capsule_guest_test(vm.ktests CMDLINE --test=vm TIMEOUT 120
  EXPECT "vm.random_against_model: 1000 ops" "ktest: 10 passed, 0 failed"
  REJECT "FAILED" "panic")
capsule_guest_test(vm.ktests_q35_1g CMDLINE --test=vm MACHINE q35 MEM 1G TIMEOUT 120
  EXPECT "ktest: 10 passed, 0 failed" REJECT "FAILED" "panic")

# Deliberate faults: the default on_user_fault panics (status 125) with the
# reason and the faulting code's backtrace; linux/ will turn these into
# SIGSEGV.
capsule_guest_test(vm.segfault_write_readonly CMDLINE --test=vm.segfault_write_readonly
  STATUS 125 TIMEOUT 30
  EXPECT "vm.segfault_write_readonly: writing to 0x30000010"
         "panic: segmentation fault at 0x30000010 \\(write to read-only\\)"
         "backtrace:" "#0 .*ktest_fn_vm_segfault_write_readonly"
  REJECT "did not fault" "nested")
capsule_guest_test(vm.segfault_no_mapping CMDLINE --test=vm.segfault_no_mapping
  STATUS 125 TIMEOUT 30
  EXPECT "panic: segmentation fault at 0x12345678 \\(no mapping\\)" "ktest_fn_vm_segfault_no_mapping"
  REJECT "did not fault" "nested")
