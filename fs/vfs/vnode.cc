// Vnode and FileSystem defaults.
#include "fs/vfs.h"

namespace capsule::vfs {
namespace {

std::atomic<uint64_t> g_next_dev{1};
Vfs* g_kernel_vfs;

}  // namespace

Vnode::Vnode(FileSystem* fs, uint64_t ino, uint32_t mode) : fs_(fs), ino_(ino), type_(type_of_mode(mode)) {
  fs_->retain();
}

Vnode::~Vnode() { fs_->release(); }

void Vnode::release() {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

// The defaults: what a file of a type that lacks the operation answers.
Result<VnodeRef> Vnode::lookup(StringView) { return Error::NotDir; }
Result<VnodeRef> Vnode::create(StringView, const CreateArgs&) { return Error::NotDir; }
Result<VnodeRef> Vnode::mkdir(StringView, const CreateArgs&) { return Error::NotDir; }
Result<VnodeRef> Vnode::symlink(StringView, StringView, const CreateArgs&) { return Error::NotDir; }
Result<void> Vnode::link(StringView, Vnode&) { return Error::NotDir; }
Result<void> Vnode::unlink(StringView) { return Error::NotDir; }
Result<void> Vnode::rmdir(StringView) { return Error::NotDir; }
Result<void> Vnode::rename(StringView, Vnode&, StringView, bool) { return Error::NotDir; }
Result<void> Vnode::readdir(uint64_t, DirSink&) { return Error::NotDir; }
Result<size_t> Vnode::readlink(char*, size_t) { return Error::Invalid; }
Result<VnodeRef> Vnode::follow_link() { return Error::NotSupported; }
Result<VnodeRef> Vnode::open_as(uint32_t) { return VnodeRef(this); }
Result<size_t> Vnode::read(uint64_t, IoBuffer&) { return is_dir() ? Error::IsDir : Error::Invalid; }
Result<size_t> Vnode::write(uint64_t*, IoBuffer&, bool) { return is_dir() ? Error::IsDir : Error::Invalid; }
Result<void> Vnode::truncate(uint64_t) { return is_dir() ? Error::IsDir : Error::Invalid; }
Result<uint64_t> Vnode::page(uint64_t) { return Error::NotSupported; }

uint64_t FileSystem::next_dev() { return g_next_dev.fetch_add(1, std::memory_order_relaxed); }

void FileSystem::release() {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

Vfs* kernel_vfs() { return g_kernel_vfs; }
void set_kernel_vfs(Vfs* vfs) { g_kernel_vfs = vfs; }

}  // namespace capsule::vfs
