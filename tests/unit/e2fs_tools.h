#pragma once
// What the ext4 unit tests share for checking images with Debian's
// e2fsprogs (mke2fs, e2fsck, debugfs) on the host, and for writing through
// a vnode: one copy instead of one per test file.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/io_buffer.h"
#include "fs/vfs.h"

namespace e2fs_tools {

// mke2fs, e2fsck and debugfs are installed (/usr/sbin need not be on PATH).
inline bool have_e2fsprogs() {
  return system("PATH=$PATH:/usr/sbin command -v mke2fs >/dev/null 2>&1 && PATH=$PATH:/usr/sbin command -v e2fsck "
                ">/dev/null 2>&1 && PATH=$PATH:/usr/sbin command -v debugfs >/dev/null 2>&1") == 0;
}

// cmd's output (stdout and stderr) and a last line "rc=N".
inline std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(("PATH=$PATH:/usr/sbin " + cmd + " 2>&1").c_str(), "r");
  if (!p) return "popen failed";
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  out += "\nrc=" + std::to_string(WEXITSTATUS(rc));
  return out;
}

// A directory under /tmp, removed with what it holds.
struct TempDir {
  std::string path;
  TempDir() {
    char d[] = "/tmp/capsule-e2fs-XXXXXX";
    path = mkdtemp(d) ? d : "";
  }
  ~TempDir() { (void)system(("rm -rf " + path).c_str()); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

inline void save(const std::vector<uint8_t>& bytes, const std::string& path) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

inline std::vector<uint8_t> load(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), {});
}

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

// `e2fsck -fn` over the image: its output and "rc=N".
inline std::string fsck(const std::vector<uint8_t>& bytes) {
  TempDir t;
  save(bytes, t.path + "/img");
  return run("e2fsck -fn " + t.path + "/img");
}

// n bytes that differ with the seed and from page to page.
inline std::string pattern(size_t n, int seed) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = char((i * 131 + seed * 7 + i / 4096) & 0xff);
  return s;
}

inline capsule::vfs::CreateArgs args(uint32_t mode) {
  capsule::vfs::CreateArgs a;
  a.mode = mode;
  return a;
}

// data written at off through the vnode.
inline capsule::Result<size_t> put(capsule::vfs::Vnode& f, uint64_t off, const std::string& data) {
  std::string copy = data;
  capsule::KernelBuffer kb(copy.data(), copy.size());
  return f.write(&off, kb, false);
}

}  // namespace e2fs_tools
