// The hooks run before power-off (core/include/core/shutdown.h).
#include <atomic>

#include "core/shutdown.h"
#include "core/time.h"

namespace capsule {
namespace {

constexpr int MAX_HOOKS = 8;
ShutdownHook g_hooks[MAX_HOOKS];
std::atomic<int> g_count{0};
std::atomic<bool> g_ran{false};

}  // namespace

void shutdown_register(ShutdownHook hook) {
  int n = g_count.load(std::memory_order_relaxed);
  if (n == MAX_HOOKS) return;  // boot registers a handful; never reached
  g_hooks[n] = hook;
  g_count.store(n + 1, std::memory_order_release);
}

void shutdown_prepare() {
  if (g_ran.exchange(true)) return;
  uint64_t deadline = uptime_ns() + SHUTDOWN_WAIT_NS;
  int n = g_count.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i) g_hooks[i](deadline);
}

}  // namespace capsule
