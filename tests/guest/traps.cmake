# CPU tables, exceptions, IRQ vectors, extable (arch/x64/cpu, docs/traps.md).
#
# In-kernel checks that do not crash.
capsule_guest_test(traps.ktests CMDLINE --test=traps --test=irq
  EXPECT "ktest: traps.idt_every_vector_on_an_ist ok" "ktest: [0-9]+ passed, 0 failed"
         "ktest: irq.stub_preserves_registers ok" "ktest: [0-9]+ passed, 0 failed"
  REJECT "FAILED" "panic")

# Deliberate faults (KTEST_FAULT): each must end in one readable panic with
# status 125, the exception's name, and the faulting test function in the
# symbolized RIP and backtrace.
set(TRAPS_PANIC_STATUS 125)
function(traps_fault_test name)
  capsule_guest_test(traps.fault_${name} CMDLINE --test=fault.${name}
    STATUS ${TRAPS_PANIC_STATUS} ${ARGN})
endfunction()

traps_fault_test(ud
  EXPECT "panic: #UD Invalid Opcode \\(vector 6\\)"
         "RIP 0xffffffff[0-9a-f]+ .*ktest_fn_fault_ud"
         "RSP 0x[0-9a-f]+ RFLAGS 0x[0-9a-f]+ CS 0x8 SS 0x10"
         "RAX .* RBX .* RCX " "RDX .* RSI .* RDI " "RBP .* R8 .* R9 "
         "R10 .* R11 .* R12 " "R13 .* R14 .* R15 " "CR0 .* CR3 .* CR4 "
         "backtrace:" "#0 .*ktest_fn_fault_ud" "kernel_main"
  REJECT "nested" "ktest: fault.ud ok")
traps_fault_test(gp
  EXPECT "panic: #GP General Protection \\(vector 13\\)" "error 0x0" "backtrace:"
         "ktest_fn_fault_gp"
  REJECT "nested")
traps_fault_test(divide
  EXPECT "panic: #DE Divide Error \\(vector 0\\)" "backtrace:" "ktest_fn_fault_divide"
  REJECT "nested")
traps_fault_test(breakpoint
  EXPECT "panic: #BP Breakpoint \\(vector 3\\)" "backtrace:" "ktest_fn_fault_breakpoint"
  REJECT "nested")
traps_fault_test(unmapped
  EXPECT "panic: #PF Page Fault \\(vector 14\\)" "error 0x0: not-present read kernel"
         "CR2 0xffffff0000000000" "backtrace:" "ktest_fn_fault_unmapped"
  REJECT "nested" "stack overflow")
# #DE through a not-present gate escalates to #DF, reported from its own IST.
traps_fault_test(double
  EXPECT "panic: #DF Double Fault \\(vector 8\\)" "backtrace:" "ktest_fn_fault_double"
  REJECT "nested")
traps_fault_test(nmi_vector
  EXPECT "panic: NMI Non-Maskable Interrupt \\(vector 2\\)" "ktest_fn_fault_nmi_vector"
  REJECT "nested")
# A fault inside the panic printer: one extra line, then halt; no loop.
traps_fault_test(in_panic
  EXPECT "panic: #UD Invalid Opcode" "ktest_fn_fault_in_panic"
         "panic: nested #PF Page Fault at 0x[0-9a-f]+ \\(CR2 0xffffff0000000008\\) while panicking, halting"
  REJECT "panic: #PF")

# These two need the kernel's own page tables (the mm work): until then the
# boot page tables map the lower 1 GiB and the boot stack's guard page.
traps_fault_test(null
  EXPECT "panic: #PF Page Fault \\(vector 14\\)" "error 0x0: not-present read kernel"
         "CR2 0x0000000000000000" "backtrace:" "ktest_fn_fault_null"
  REJECT "nested")
traps_fault_test(stack_overflow TIMEOUT 20
  EXPECT "panic: kernel stack overflow: #PF Page Fault" "CR2 0x[0-9a-f]+ \\(in a stack guard page\\)"
         "backtrace:" "ktest_fn_fault_stack_overflow"
  REJECT "nested")
