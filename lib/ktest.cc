#include "lib/ktest.h"

extern "C" const capsule::KTestCase __ktests_start[], __ktests_end[];

namespace capsule {
namespace {

unsigned g_failures;

// "mm_buddy_split" is shown as "mm.buddy_split": the first '_' separates the
// group from the name.
void display_name(const char* ident, char* out, size_t cap) {
  size_t i = 0;
  bool dotted = false;
  for (; ident[i] && i + 1 < cap; ++i) {
    out[i] = (!dotted && ident[i] == '_') ? '.' : ident[i];
    if (out[i] == '.') dotted = true;
  }
  out[i] = 0;
}

bool matches(StringView pattern, StringView name, bool fault) {
  if (pattern == "all") return !fault;
  if (pattern == name) return true;
  // "group.*" or "group" selects a group
  size_t dot = name.find('.');
  if (dot == StringView::npos) return false;
  StringView group = name.substr(0, dot);
  if (fault) return false;
  return pattern == group || (pattern.size() == group.size() + 2 && pattern.starts_with(group) &&
                              pattern.substr(group.size()) == ".*");
}

}  // namespace

void ktest_fail(const char* expr, const char* file, int line) {
  ++g_failures;
  kprint("ktest:   check failed: {} ({}:{})\n", expr, file, line);
}

int ktest_run(StringView pattern) {
  char name[96];
  if (pattern == "list") {
    for (const KTestCase* t = __ktests_start; t < __ktests_end; ++t) {
      display_name(t->name, name, sizeof(name));
      kprint("ktest: {}{}\n", name, t->fault ? " (fault)" : "");
    }
    return 0;
  }
  int ran = 0, failed = 0;
  for (const KTestCase* t = __ktests_start; t < __ktests_end; ++t) {
    display_name(t->name, name, sizeof(name));
    if (!matches(pattern, name, t->fault)) continue;
    ++ran;
    kprint("ktest: {} ...\n", name);
    g_failures = 0;
    t->fn();
    if (g_failures) {
      ++failed;
      kprint("ktest: {} FAILED ({} checks)\n", name, g_failures);
    } else {
      kprint("ktest: {} ok\n", name);
    }
  }
  if (!ran) {
    kprint("ktest: no test matches '{}' (--test=list shows them)\n", pattern);
    return -1;
  }
  kprint("ktest: {} passed, {} failed\n", ran - failed, failed);
  return failed;
}

}  // namespace capsule
