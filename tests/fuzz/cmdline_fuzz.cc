// libFuzzer target: the kernel command line parser (kernel/cmdline.cc).
// Any text must parse or fail with a message; every word the settings hold
// must point into the storage it was given (exactly as large as the kernel's
// buffer allows: the text plus one byte), and the counts must agree.
#include <cstdlib>
#include <initializer_list>
#include <cstring>

#include "kernel/cmdline.h"
#include "tests/fuzz/fuzz_check.h"

using namespace capsule;

namespace {

const char* g_lo;
const char* g_hi;

void in_storage(StringView v) {
  if (v.empty()) return;
  FUZZ_CHECK(v.data() >= g_lo && v.data() + v.size() <= g_hi);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The kernel copies at most 4095 bytes of the boot loader's line, up to
  // its first NUL (kernel/main.cc).
  if (size > 4095) return -1;
  size_t len = strnlen(reinterpret_cast<const char*>(data), size);
  char* text = static_cast<char*>(std::malloc(len + 1));
  __builtin_memcpy(text, data, len);
  text[len] = 0;
  // Storage of exactly text + 1 bytes (ASan sees a write past it), and of
  // one byte less, which must fail cleanly or fit.
  for (size_t storage_size : {len + 1, len}) {
    char* storage = static_cast<char*>(std::malloc(storage_size ? storage_size : 1));
    g_lo = storage;
    g_hi = storage + storage_size;
    auto* out = new CmdlineResult;
    parse_cmdline(StringView(text, len), storage, storage_size, *out);
    FUZZ_CHECK(strnlen(out->error, sizeof out->error) < sizeof out->error);
    FUZZ_SAY("cmdline (storage %zu): %s, %zu commands, %zu words\n", storage_size, out->ok ? "ok" : out->error,
             out->settings.command_count, out->settings.argc);
    if (out->ok) {
      FUZZ_CHECK(out->error[0] == 0);
      const BootSettings& s = out->settings;
      FUZZ_CHECK(s.argc <= BootSettings::MAX_WORDS && s.env_count <= BootSettings::MAX_WORDS);
      FUZZ_CHECK(s.command_count <= BootSettings::MAX_COMMANDS && s.test_count <= BootSettings::MAX_TESTS);
      FUZZ_CHECK(s.disk_count <= BootSettings::MAX_DISKS && s.share_count <= BootSettings::MAX_SHARES);
      FUZZ_CHECK(s.virtio_mmio_count <= 16);
      size_t words = 0;
      for (size_t i = 0; i < s.command_count; ++i) {
        FUZZ_CHECK(s.command_argc[i] > 0);  // no empty command is accepted
        words += s.command_argc[i];
      }
      FUZZ_CHECK(words == s.argc);
      for (size_t i = 0; i < s.argc; ++i) in_storage(s.argv[i]);
      for (size_t i = 0; i < s.env_count; ++i) in_storage(s.env[i]);
      for (size_t i = 0; i < s.test_count; ++i) in_storage(s.tests[i]);
      for (size_t i = 0; i < s.disk_count; ++i) {
        in_storage(s.disks[i].id);
        in_storage(s.disks[i].mount);
        FUZZ_CHECK(!s.disks[i].id.empty());
      }
      for (size_t i = 0; i < s.share_count; ++i) {
        in_storage(s.shares[i].tag);
        in_storage(s.shares[i].dir);
        FUZZ_CHECK(!s.shares[i].tag.empty() && !s.shares[i].dir.empty() && s.shares[i].dir[0] == '/');
      }
      for (size_t i = 0; i < s.virtio_mmio_count; ++i) in_storage(s.virtio_mmio[i]);
      in_storage(s.cwd);
      in_storage(s.strace_filter);
      in_storage(s.trace_groups);
      if (s.net_ip) FUZZ_CHECK(s.net_prefix >= 1 && s.net_prefix <= 32);
      if (s.net_gw || s.net_dns) FUZZ_CHECK(s.net_ip);
      FUZZ_CHECK(s.trace_buffer_kib >= 4 && s.trace_buffer_kib <= 4096);
    } else {
      FUZZ_CHECK(out->error[0] != 0);
    }
    delete out;
    std::free(storage);
  }
  std::free(text);
  return 0;
}
