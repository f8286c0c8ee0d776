# Memory: allocators, page tables, MMIO mappings (core/mm, docs/memory.md).
# ktest prints in section order, which is not source order: check each alone.
foreach(t buddy heap oom wx mmio)
  capsule_guest_test(mm.${t} CMDLINE --test=mm.${t} EXPECT "ktest: mm.${t} ok" REJECT "FAILED")
endforeach()
capsule_guest_test(mm.all_1g CMDLINE --test=mm MEM 1G TIMEOUT 120
  EXPECT "memory: 10[0-9][0-9][0-9][0-9][0-9] KiB total" "ktest: 5 passed, 0 failed" REJECT "FAILED")
# q35 with 3 GiB puts 1 GiB above the 32-bit hole: it must be used.
capsule_guest_test(mm.all_3g_q35 CMDLINE --test=mm MACHINE q35 MEM 3G TIMEOUT 180
  EXPECT "memory: 31[0-9][0-9][0-9][0-9][0-9] KiB total" "mm.buddy: [0-9]+ pages .* [1-9][0-9]* above 4 GiB"
         "ktest: 5 passed, 0 failed" REJECT "FAILED")
capsule_guest_test(mm.all_3g_microvm CMDLINE --test=mm MEM 3G TIMEOUT 180
  EXPECT "memory: 31[0-9][0-9][0-9][0-9][0-9] KiB total" "ktest: 5 passed, 0 failed" REJECT "FAILED")
capsule_guest_test(mm.q35 CMDLINE --test=mm MACHINE q35
  EXPECT "ktest: 5 passed, 0 failed" REJECT "FAILED")

# Deliberate faults: each must end in a page-fault panic (status 125).
capsule_guest_test(mm.fault_write_text CMDLINE --test=fault.write_text STATUS 125 TIMEOUT 30
  EXPECT "fault.write_text: writing to" "panic: #PF Page Fault" REJECT "did not fault")
capsule_guest_test(mm.fault_exec_data CMDLINE --test=fault.exec_data STATUS 125 TIMEOUT 30
  EXPECT "fault.exec_data: calling" "panic: #PF Page Fault" REJECT "did not fault")
