# Event layer (core/event, docs/events.md): pipes, poll, epoll, eventfd,
# timerfd and interrupted waits, as in-kernel tests on 1 and 4 CPUs.
capsule_guest_test(events.ktests_1cpu CMDLINE --test=event CPUS 1 TIMEOUT 120
  EXPECT "event.pipe_1mib_transfer: 1048576 bytes in [0-9]+ reads, 0 bad"
         "ktest: 11 passed, 0 failed" REJECT "FAILED|panic")
capsule_guest_test(events.ktests_4cpu CMDLINE --test=event CPUS 4 TIMEOUT 180
  EXPECT "event.pipe_1mib_transfer: 1048576 bytes in [0-9]+ reads, 0 bad"
         "ktest: 11 passed, 0 failed" REJECT "FAILED|panic")
