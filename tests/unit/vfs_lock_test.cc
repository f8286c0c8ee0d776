// LockList (fs/vfs/lock.cc): conflicts, splitting, merging and owners, as
// fcntl(2) and flock(2) describe them.
#include <gtest/gtest.h>

#include <string>

#include "fs/file_lock.h"

using capsule::vfs::FileLock;
using capsule::vfs::LOCK_TO_EOF;
using capsule::vfs::LockList;
using capsule::vfs::LockType;

namespace {

const int A = 0, B = 0;  // two owners: only their addresses matter
const void* const OWNER_A = &A;
const void* const OWNER_B = &B;
constexpr LockType R = LockType::Read, W = LockType::Write;

// "owner:start-end:type ..." in list order, for compact expectations.
std::string dump(const LockList& l) {
  std::string s;
  for (const FileLock* f = l.first(); f; f = f->next) {
    if (!s.empty()) s += ' ';
    s += f->owner == OWNER_A ? "A" : "B";
    s += ':' + std::to_string(f->start) + '-' + (f->end == LOCK_TO_EOF ? std::string("eof") : std::to_string(f->end));
    s += f->type == R ? 'r' : 'w';
  }
  return s;
}

TEST(FileLocks, ReadersShareWritersExclude) {
  LockList l;
  ASSERT_TRUE(l.lock(OWNER_A, 1, R, 0, 99).ok());
  EXPECT_EQ(l.conflict(OWNER_B, R, 50, 60), nullptr);
  const FileLock* c = l.conflict(OWNER_B, W, 50, 60);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->owner, OWNER_A);
  EXPECT_EQ(c->start, 0u);
  EXPECT_EQ(c->end, 99u);
  EXPECT_EQ(l.conflict(OWNER_B, W, 100, 200), nullptr);  // just past the end
  EXPECT_EQ(l.conflict(OWNER_A, W, 0, 99), nullptr);     // own locks never conflict
}

TEST(FileLocks, ToEofConflictsWithEverythingAfter) {
  LockList l;
  ASSERT_TRUE(l.lock(OWNER_A, 1, W, 1000, LOCK_TO_EOF).ok());
  EXPECT_NE(l.conflict(OWNER_B, R, uint64_t(1) << 62, uint64_t(1) << 62), nullptr);
  EXPECT_EQ(l.conflict(OWNER_B, R, 0, 999), nullptr);
}

TEST(FileLocks, SameTypeMergesWhenTouching) {
  LockList l;
  ASSERT_TRUE(l.lock(OWNER_A, 1, W, 0, 9).ok());
  ASSERT_TRUE(l.lock(OWNER_A, 1, W, 10, 19).ok());
  ASSERT_TRUE(l.lock(OWNER_A, 1, W, 30, 39).ok());
  EXPECT_EQ(dump(l), "A:0-19w A:30-39w");
  ASSERT_TRUE(l.lock(OWNER_A, 1, W, 15, 35).ok());
  EXPECT_EQ(dump(l), "A:0-39w");
}

TEST(FileLocks, OtherTypeSplitsInThree) {
  LockList l;
  ASSERT_TRUE(l.lock(OWNER_A, 1, W, 0, 99).ok());
  ASSERT_TRUE(l.lock(OWNER_A, 1, R, 40, 59).ok());
  EXPECT_EQ(dump(l), "A:0-39w A:40-59r A:60-99w");
  // Back to a write lock over all: one lock again.
  ASSERT_TRUE(l.lock(OWNER_A, 1, W, 0, 99).ok());
  EXPECT_EQ(dump(l), "A:0-99w");
}

TEST(FileLocks, OtherTypeTrimsEnds) {
  LockList l;
  ASSERT_TRUE(l.lock(OWNER_A, 1, R, 10, 19).ok());
  ASSERT_TRUE(l.lock(OWNER_A, 1, W, 15, 25).ok());
  EXPECT_EQ(dump(l), "A:10-14r A:15-25w");
  ASSERT_TRUE(l.lock(OWNER_A, 1, R, 5, 16).ok());
  EXPECT_EQ(dump(l), "A:5-16r A:17-25w");
}

TEST(FileLocks, TouchingOtherTypeStaysSeparate) {
  LockList l;
  ASSERT_TRUE(l.lock(OWNER_A, 1, R, 0, 9).ok());
  ASSERT_TRUE(l.lock(OWNER_A, 1, W, 10, 19).ok());
  EXPECT_EQ(dump(l), "A:0-9r A:10-19w");
}

TEST(FileLocks, UnlockMiddleSplits) {
  LockList l;
  ASSERT_TRUE(l.lock(OWNER_A, 1, W, 0, LOCK_TO_EOF).ok());
  ASSERT_TRUE(l.unlock(OWNER_A, 100, 199).ok());
  EXPECT_EQ(dump(l), "A:0-99w A:200-eofw");
  EXPECT_EQ(l.conflict(OWNER_B, W, 100, 199), nullptr);
  EXPECT_NE(l.conflict(OWNER_B, W, 199, 200), nullptr);
  ASSERT_TRUE(l.unlock(OWNER_A, 0, LOCK_TO_EOF).ok());
  EXPECT_TRUE(l.empty());
}

TEST(FileLocks, UnlockTouchesOnlyTheOwner) {
  LockList l;
  ASSERT_TRUE(l.lock(OWNER_A, 1, R, 0, 9).ok());
  ASSERT_TRUE(l.lock(OWNER_B, 2, R, 0, 9).ok());
  ASSERT_TRUE(l.unlock(OWNER_A, 0, 9).ok());
  EXPECT_EQ(dump(l), "B:0-9r");
  EXPECT_TRUE(l.holds(OWNER_B));
  EXPECT_FALSE(l.holds(OWNER_A));
}

TEST(FileLocks, UnlockAllDropsOneOwner) {
  LockList l;
  ASSERT_TRUE(l.lock(OWNER_A, 1, R, 0, 9).ok());
  ASSERT_TRUE(l.lock(OWNER_A, 1, W, 20, 29).ok());
  ASSERT_TRUE(l.lock(OWNER_B, 2, R, 5, 6).ok());
  EXPECT_EQ(l.count(), 3u);
  l.unlock_all(OWNER_A);
  EXPECT_EQ(dump(l), "B:5-6r");
}

TEST(FileLocks, ReportsPid) {
  LockList l;
  ASSERT_TRUE(l.lock(OWNER_A, 42, W, 0, 0).ok());
  ASSERT_TRUE(l.lock(OWNER_A, 42, R, 0, 0).ok());  // downgrade keeps the pid
  const FileLock* c = l.conflict(OWNER_B, W, 0, 0);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->pid, 42);
  EXPECT_EQ(c->type, R);
}

TEST(FileLocks, BadRangeIsInvalid) {
  LockList l;
  EXPECT_FALSE(l.lock(OWNER_A, 1, R, 10, 9).ok());
  EXPECT_FALSE(l.unlock(OWNER_A, 10, 9).ok());
  EXPECT_TRUE(l.empty());
}

}  // namespace
