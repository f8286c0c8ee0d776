list(APPEND HOST_SOURCES
  ${CMAKE_SOURCE_DIR}/lib/rbtree.cc
)
list(APPEND HOST_SOURCES
  ${CMAKE_SOURCE_DIR}/core/sched/fair_policy.cc
  ${CMAKE_SOURCE_DIR}/core/sched/round_robin_policy.cc
  ${CMAKE_SOURCE_DIR}/core/sched/load_balance.cc
  ${CMAKE_SOURCE_DIR}/core/time/timer_queue.cc
)
