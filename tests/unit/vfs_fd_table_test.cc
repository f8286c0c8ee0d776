// FdTable: lowest free descriptor, dup/dup2/dup3 and F_DUPFD semantics,
// close-on-exec, limits, close_range; OpenFile: offsets shared by dups.
#include "vfs_test_util.h"

using namespace vfs_test;

namespace {

class Fds : public ::testing::Test {
 protected:
  FileRef file(const std::string& p = "/f") {
    auto f = w.open(p, OpenHow::READ | OpenHow::WRITE | OpenHow::CREATE);
    EXPECT_TRUE(f.ok());
    return f.release_value();
  }
  World w;
};

TEST_F(Fds, LowestFreeFirst) {
  FdTable t;
  EXPECT_EQ(t.install(file()).value_or(-1), 0);
  EXPECT_EQ(t.install(file()).value_or(-1), 1);
  EXPECT_EQ(t.install(file()).value_or(-1), 2);
  ASSERT_TRUE(t.close(1).ok());
  EXPECT_EQ(t.install(file()).value_or(-1), 1);
  EXPECT_EQ(t.install(file()).value_or(-1), 3);
  EXPECT_EQ(t.close(7).error(), Error::BadFd);
  EXPECT_EQ(t.close(-1).error(), Error::BadFd);
  EXPECT_EQ(t.get(9).error(), Error::BadFd);
  EXPECT_EQ(t.count(), 4u);
}

TEST_F(Fds, LimitIsEmfile) {
  FdTable t(3);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(t.install(file()).ok());
  EXPECT_EQ(t.install(file()).error(), Error::TooManyFiles);
  EXPECT_EQ(t.dup(0).error(), Error::TooManyFiles);
  EXPECT_EQ(t.dup2(0, 3).error(), Error::BadFd);  // dup2(2): EBADF past the limit
  EXPECT_EQ(t.dup_from(0, 3, false).error(), Error::Invalid);  // F_DUPFD: EINVAL
  // Lowering the limit closes nothing but refuses new ones.
  t.set_limit(1);
  EXPECT_EQ(t.count(), 3u);
  ASSERT_TRUE(t.close(2).ok());
  EXPECT_EQ(t.install(file()).error(), Error::TooManyFiles);
  t.set_limit(100);
  EXPECT_EQ(t.install(file()).value_or(-1), 2);
  // Growing past the first chunk of slots.
  for (int i = 3; i < 100; ++i) ASSERT_EQ(t.install(file()).value_or(-1), i);
  EXPECT_EQ(t.install(file()).error(), Error::TooManyFiles);
}

TEST_F(Fds, DupSharesTheDescription) {
  FdTable t;
  int a = t.install(file(), /*cloexec=*/true).value();
  int b = t.dup(a).value();
  EXPECT_EQ(b, 1);
  EXPECT_FALSE(t.cloexec(b).value());  // dup clears FD_CLOEXEC
  EXPECT_TRUE(t.cloexec(a).value());
  FileRef fa = t.get(a).value(), fb = t.get(b).value();
  EXPECT_EQ(fa.get(), fb.get());
  KernelBuffer hello("hello", 5);
  ASSERT_TRUE(fa->write(hello).ok());
  EXPECT_EQ(fb->offset(), 5u);  // one offset for both
  ASSERT_TRUE(fb->seek(1, Whence::Set).ok());
  char buf[8] = {};
  KernelBuffer out(buf, 4);
  EXPECT_EQ(fa->read(out).value_or(0), 4u);
  EXPECT_EQ(std::string(buf, 4), "ello");
  // Status flags are the description's too.
  fa->set_flags(OpenFile::APPEND | OpenFile::READ);  // access mode is not settable
  EXPECT_TRUE(fb->flags() & OpenFile::APPEND);
  EXPECT_TRUE(fb->writable());
}

TEST_F(Fds, Dup2AndDup3) {
  FdTable t;
  FileRef f1 = file("/one"), f2 = file("/two");
  ASSERT_EQ(t.install(f1).value(), 0);
  ASSERT_EQ(t.install(f2, true).value(), 1);
  EXPECT_EQ(t.dup2(0, 0).value_or(-1), 0);        // same fd: a no-op
  EXPECT_EQ(t.dup2(5, 5).error(), Error::BadFd);  // ...if it is open
  EXPECT_EQ(t.dup3(0, 0, false).error(), Error::Invalid);
  EXPECT_EQ(t.dup3(5, 5, false).error(), Error::BadFd);
  EXPECT_EQ(t.dup2(7, 1).error(), Error::BadFd);
  // dup2 over an open fd replaces it (and its cloexec bit).
  EXPECT_EQ(t.dup2(0, 1).value_or(-1), 1);
  EXPECT_EQ(t.get(1).value().get(), f1.get());
  EXPECT_FALSE(t.cloexec(1).value());
  EXPECT_EQ(f2->ref_count(), 1u);  // the table let go of it
  EXPECT_EQ(t.dup3(0, 9, true).value_or(-1), 9);
  EXPECT_TRUE(t.cloexec(9).value());
  EXPECT_EQ(t.install(file()).value_or(-1), 2);  // holes below 9 are still lowest
  EXPECT_EQ(t.dup_from(0, 5, true).value_or(-1), 5);
  EXPECT_TRUE(t.cloexec(5).value());
  EXPECT_EQ(t.dup_from(0, 5, false).value_or(-1), 6);
}

TEST_F(Fds, CloseOnExecAndCloseRange) {
  FdTable t;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(t.install(file(), i % 2 == 0).ok());
  ASSERT_TRUE(t.set_cloexec(1, true).ok());
  EXPECT_EQ(t.set_cloexec(42, true).error(), Error::BadFd);
  t.close_on_exec();
  // Left: 3, 5, 7, 9.
  EXPECT_EQ(t.count(), 4u);
  EXPECT_EQ(t.get(0).error(), Error::BadFd);
  EXPECT_TRUE(t.get(3).ok());
  EXPECT_EQ(t.close_range(5, 4, false).error(), Error::Invalid);
  ASSERT_TRUE(t.close_range(6, ~0u, true).ok());  // CLOSE_RANGE_CLOEXEC
  EXPECT_TRUE(t.cloexec(7).value());
  EXPECT_FALSE(t.cloexec(5).value());
  ASSERT_TRUE(t.close_range(4, ~0u, false).ok());
  EXPECT_EQ(t.count(), 1u);
  EXPECT_EQ(t.install(file()).value_or(-1), 0);
}

TEST_F(Fds, ManyFilesCloseRangeBatches) {
  FdTable t(4096);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(t.install(file()).ok());
  ASSERT_TRUE(t.close_range(0, ~0u, false).ok());
  EXPECT_EQ(t.count(), 0u);
}

TEST_F(Fds, CloneSharesDescriptions) {
  FdTable t;
  ASSERT_TRUE(t.install(file(), true).ok());
  ASSERT_TRUE(t.install(file()).ok());
  FdTable* c = t.clone().value();
  EXPECT_EQ(c->get(0).value().get(), t.get(0).value().get());
  EXPECT_TRUE(c->cloexec(0).value());
  ASSERT_TRUE(c->close(1).ok());
  EXPECT_TRUE(t.get(1).ok());
  EXPECT_EQ(c->install(file()).value_or(-1), 1);
  delete c;
}

TEST_F(Fds, SeekRules) {
  FileRef f = file();
  KernelBuffer data("0123456789", 10);
  ASSERT_TRUE(f->write(data).ok());
  EXPECT_EQ(f->seek(-3, Whence::End).value_or(0), 7u);
  EXPECT_EQ(f->seek(2, Whence::Current).value_or(0), 9u);
  EXPECT_EQ(f->seek(-10, Whence::Current).error(), Error::Invalid);
  EXPECT_EQ(f->offset(), 9u);  // unchanged by the failure
  EXPECT_EQ(f->seek(INT64_MAX, Whence::Current).error(), Error::Invalid);  // overflow
  EXPECT_EQ(f->seek(100, Whence::Set).value_or(0), 100u);  // past the end is fine
  // Read-only descriptions cannot write, and vice versa.
  auto ro = w.open("/f", OpenHow::READ).release_value();
  EXPECT_EQ(ro->write(data).error(), Error::BadFd);
  auto wo = w.open("/f", OpenHow::WRITE).release_value();
  char b[4];
  KernelBuffer out(b, 4);
  EXPECT_EQ(wo->read(out).error(), Error::BadFd);
}

}  // namespace
