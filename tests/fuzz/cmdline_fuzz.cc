// libFuzzer target: the kernel command line parser (kernel/cmdline.cc).
// Any text must parse or fail with a message; every word the settings hold
// must point into the storage it was given (exactly as large as the kernel's
// buffer allows: the text plus one byte), and the counts must agree.
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <vector>
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

// The CLI's quoting (tools/capsule/capsule_cli/cli.py, quote_word): a word
// with a blank, a quote or a backslash goes in double quotes with \\ and
// \" escaped.
std::string quote_word(const std::string& w) {
  if (!w.empty() && w.find_first_of(std::string(" \t\n\"\\")) == std::string::npos) return w;
  std::string q = "\"";
  for (char c : w) {
    if (c == '\\' || c == '"') q += '\\';
    q += c;
  }
  return q + "\"";
}

// What a word becomes (docs/cmdline.md): a word of backslashes and a final
// ";" loses one backslash.
std::string unescaped(const std::string& w) {
  if (w.size() < 2 || w.back() != ';') return w;
  for (size_t i = 0; i + 1 < w.size(); ++i)
    if (w[i] != '\\') return w;
  return w.substr(1);
}

// Round trip: the words (NUL-separated in the input) as the CLI writes
// them after "--" must come back as the program's argv, split into
// commands at the ";" words, or fail when a command is empty or a limit is
// passed.
void round_trip(const uint8_t* data, size_t size) {
  std::vector<std::string> words(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) words.emplace_back();
    else words.back() += char(data[i]);
  }
  std::string line = "--";
  for (auto& w : words) line += " " + quote_word(w);
  if (line.size() > 4095) return;
  std::vector<std::vector<std::string>> cmds(1);
  size_t total = 0;
  bool bad = false;
  for (auto& w : words) {
    if (w.rfind("virtio_mmio.device=", 0) == 0) continue;  // QEMU's tokens are taken out anywhere
    if (w == ";") {
      if (cmds.back().empty()) bad = true;
      cmds.emplace_back();
      continue;
    }
    cmds.back().push_back(unescaped(w));
    ++total;
  }
  if (cmds.back().empty() && cmds.size() > 1) bad = true;
  if (cmds.size() > BootSettings::MAX_COMMANDS || total > BootSettings::MAX_WORDS) bad = true;
  char* storage = static_cast<char*>(std::malloc(line.size() + 1));
  auto* out = new CmdlineResult;
  parse_cmdline(StringView(line.data(), line.size()), storage, line.size() + 1, *out);
  FUZZ_SAY("cmdline round trip: %zu words: %s\n", words.size(), out->ok ? "ok" : out->error);
  if (bad) {
    FUZZ_CHECK(!out->ok);
  } else {
    FUZZ_CHECK(out->ok);
    const BootSettings& s = out->settings;
    size_t k = 0;
    if (total == 0) FUZZ_CHECK(s.command_count == 0);
    else FUZZ_CHECK(s.command_count == cmds.size());
    for (size_t c = 0; c < s.command_count; ++c) {
      FUZZ_CHECK(s.command_argc[c] == cmds[c].size());
      for (auto& w : cmds[c]) {
        FUZZ_CHECK(k < s.argc && std::string(s.argv[k].data(), s.argv[k].size()) == w);
        ++k;
      }
    }
    FUZZ_CHECK(k == s.argc);
  }
  delete out;
  std::free(storage);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A first byte of 1: the round trip of words through the CLI's quoting.
  if (size && data[0] == 1) {
    round_trip(data + 1, size - 1);
    return 0;
  }
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
      FUZZ_CHECK(s.net_drop_bp <= 10000);
    } else {
      FUZZ_CHECK(out->error[0] != 0);
    }
    delete out;
    std::free(storage);
  }
  std::free(text);
  return 0;
}
