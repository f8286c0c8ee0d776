// File change notification (fs/vfs/notify.h, docs/inotify.md): which
// events the Vfs and OpenFile send, in which order, to which watches; the
// watch life cycle; and watches changing while other threads make events.
#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fs/vfs/notify.h"
#include "vfs_test_util.h"

namespace {

using namespace vfs_test;

// Records events as "wd MASK name" (wd and names as given).
class Recorder final : public NotifyGroup {
 public:
  ~Recorder() { drop_watches(); }
  std::string take() {
    std::lock_guard<std::mutex> g(m_);
    std::string s;
    for (auto& e : events_) s += (s.empty() ? "" : ";") + e;
    events_.clear();
    return s;
  }
  std::vector<uint32_t> cookies;
  size_t count() {
    std::lock_guard<std::mutex> g(m_);
    return events_.size();
  }

 protected:
  void queue(int wd, uint32_t mask, uint32_t cookie, StringView name) override {
    static const struct {
      uint32_t bit;
      const char* name;
    } bits[] = {{NOTE_ACCESS, "ACCESS"},       {NOTE_MODIFY, "MODIFY"},         {NOTE_ATTRIB, "ATTRIB"},
                {NOTE_CLOSE_WRITE, "CLOSE_WRITE"}, {NOTE_CLOSE_NOWRITE, "CLOSE_NOWRITE"}, {NOTE_OPEN, "OPEN"},
                {NOTE_MOVED_FROM, "MOVED_FROM"}, {NOTE_MOVED_TO, "MOVED_TO"},     {NOTE_CREATE, "CREATE"},
                {NOTE_DELETE, "DELETE"},       {NOTE_DELETE_SELF, "DELETE_SELF"}, {NOTE_MOVE_SELF, "MOVE_SELF"},
                {NOTE_UNMOUNT, "UNMOUNT"},     {NOTE_IGNORED, "IGNORED"},       {NOTE_ISDIR, "ISDIR"}};
    std::string s = std::to_string(wd) + " ";
    bool first = true;
    for (auto& b : bits)
      if (mask & b.bit) {
        s += (first ? "" : "|") + std::string(b.name);
        first = false;
      }
    if (name.size()) s += " " + std::string(name.data(), name.size());
    std::lock_guard<std::mutex> g(m_);
    if (mask & (NOTE_MOVED_FROM | NOTE_MOVED_TO)) cookies.push_back(cookie);
    events_.push_back(s);
  }

 private:
  std::mutex m_;
  std::vector<std::string> events_;
};

int watch(World& w, Recorder& r, const char* path, uint32_t mask = NOTE_EVENTS) {
  VnodeRef v = w.vfs.resolve(w.ctx(), path, WALK_FOLLOW).value();
  return r.add_watch(*v, mask, false, false).value();
}

TEST(Notify, NothingWatchedCostsNothing) {
  World w;
  ASSERT_FALSE(notify_active());
  w.write_file("/f", "x");
  auto f = w.open("/f");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f.value()->note_path(), nullptr);  // no path kept while nothing watches
}

TEST(Notify, DirectoryAndFileEventsInLinuxOrder) {
  World w;
  ASSERT_EQ(w.mkdir("/d"), Error::None);
  Recorder r;
  int d = watch(w, r, "/d");
  EXPECT_EQ(d, 1);
  w.write_file("/d/f", "abc");
  EXPECT_EQ(r.take(), "1 CREATE f;1 OPEN f;1 MODIFY f;1 CLOSE_WRITE f");
  int f = watch(w, r, "/d/f");
  EXPECT_EQ(f, 2);
  {
    auto file = w.open("/d/f");
    ASSERT_TRUE(file.ok());
    char buf[8];
    KernelBuffer b(buf, sizeof buf);
    EXPECT_EQ(file.value()->read(b).value(), 3u);
  }  // the last close
  EXPECT_EQ(r.take(), "1 OPEN f;2 OPEN;1 ACCESS f;2 ACCESS;1 CLOSE_NOWRITE f;2 CLOSE_NOWRITE");
  SetAttr s;
  s.mask = SetAttr::MODE;
  s.mode = 0600;
  ASSERT_TRUE(w.vfs.setattr(w.ctx(), "/d/f", s, true).ok());
  EXPECT_EQ(r.take(), "1 ATTRIB f;2 ATTRIB");
  ASSERT_TRUE(w.vfs.rename(w.ctx(), "/d/f", "/d/g").ok());
  EXPECT_EQ(r.take(), "1 MOVED_FROM f;1 MOVED_TO g;2 MOVE_SELF");
  ASSERT_EQ(r.cookies.size(), 2u);
  EXPECT_EQ(r.cookies[0], r.cookies[1]);
  EXPECT_NE(r.cookies[0], 0u);
  ASSERT_EQ(w.mkdir("/d/sub"), Error::None);
  EXPECT_EQ(r.take(), "1 CREATE|ISDIR sub");
  ASSERT_TRUE(w.vfs.rmdir(w.ctx(), "/d/sub").ok());
  EXPECT_EQ(r.take(), "1 DELETE|ISDIR sub");
  // The last name goes while nothing has it open: DELETE_SELF at once.
  ASSERT_TRUE(w.vfs.unlink(w.ctx(), "/d/g").ok());
  EXPECT_EQ(r.take(), "2 ATTRIB;2 DELETE_SELF;2 IGNORED;1 DELETE g");
  EXPECT_EQ(r.remove_watch(2).error(), Error::Invalid);
}

TEST(Notify, DeleteSelfWaitsForTheLastClose) {
  World w;
  w.write_file("/x", "1");
  Recorder r;
  watch(w, r, "/x");
  {
    auto f = w.open("/x", OpenHow::READ | OpenHow::WRITE);
    ASSERT_TRUE(f.ok());
    r.take();
    ASSERT_TRUE(w.vfs.unlink(w.ctx(), "/x").ok());
    EXPECT_EQ(r.take(), "1 ATTRIB");
  }
  EXPECT_EQ(r.take(), "1 CLOSE_WRITE;1 DELETE_SELF;1 IGNORED");
  EXPECT_FALSE(notify_active());
}

TEST(Notify, WatchLifeCycle) {
  World w;
  w.write_file("/a", "");
  w.write_file("/b", "");
  Recorder r;
  VnodeRef a = w.vfs.resolve(w.ctx(), "/a", 0).value();
  uint32_t refs = a->ref_count();
  EXPECT_EQ(r.add_watch(*a, NOTE_MODIFY | NOTE_ONESHOT, false, false).value(), 1);
  EXPECT_EQ(a->ref_count(), refs + 1);  // the watch holds the file
  EXPECT_EQ(r.add_watch(*a, NOTE_MODIFY, false, true).error(), Error::Exists);
  w.write_file("/a", "1");
  w.write_file("/a", "2");
  EXPECT_EQ(r.take(), "1 MODIFY;1 IGNORED");
  EXPECT_EQ(a->ref_count(), refs);
  // Replace, add, remove; wds are not reused.
  EXPECT_EQ(r.add_watch(*a, NOTE_ATTRIB, false, false).value(), 2);
  EXPECT_EQ(r.add_watch(*a, NOTE_MODIFY, true, false).value(), 2);
  w.write_file("/a", "3");
  EXPECT_EQ(r.take(), "2 MODIFY;2 MODIFY");  // O_TRUNC, then the write (inotify's queue merges them)
  EXPECT_TRUE(r.remove_watch(2).ok());
  EXPECT_EQ(r.take(), "2 IGNORED");
  EXPECT_EQ(r.remove_watch(2).error(), Error::Invalid);
  // The watch limit.
  uint32_t old = NotifyGroup::max_watches.load();
  NotifyGroup::max_watches.store(1);
  VnodeRef b = w.vfs.resolve(w.ctx(), "/b", 0).value();
  EXPECT_EQ(r.add_watch(*a, NOTE_MODIFY, false, false).value(), 3);
  EXPECT_EQ(r.add_watch(*b, NOTE_MODIFY, false, false).error(), Error::NoSpace);
  NotifyGroup::max_watches.store(old);
}

TEST(Notify, UnmountEndsTheWatches) {
  World w;
  ASSERT_EQ(w.mkdir("/m"), Error::None);
  auto sub = ramfs::Ramfs::create().release_value();
  ASSERT_TRUE(w.vfs.mount(FsRef(sub.get()), w.ctx(), "/m").ok());
  w.write_file("/m/f", "");
  Recorder r;
  watch(w, r, "/m/f");
  watch(w, r, "/m");
  r.take();
  ASSERT_TRUE(w.vfs.unmount(w.ctx(), "/m").ok());
  EXPECT_EQ(r.take(), "1 UNMOUNT;1 IGNORED;2 UNMOUNT|ISDIR;2 IGNORED");
  EXPECT_FALSE(notify_active());
}

// Writers in a watched directory while watches come and go (ASan/TSan
// find the races; the counts say nothing was lost or duplicated).
TEST(Notify, WatchesChangeUnderLoad) {
  World w;
  ASSERT_EQ(w.mkdir("/d"), Error::None);
  Recorder r;
  int d = watch(w, r, "/d", NOTE_CREATE);
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t)
    writers.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) w.write_file("/d/f" + std::to_string(t) + "_" + std::to_string(i), "x");
    });
  std::thread churn([&] {
    for (int i = 0; i < 200 && !stop; ++i) {
      auto v = w.vfs.resolve(w.ctx(), "/d/f0_0", 0);
      if (!v.ok()) continue;
      Recorder other;
      ASSERT_TRUE(other.add_watch(*v.value(), NOTE_EVENTS, false, false).ok());
    }
  });
  for (auto& t : writers) t.join();
  stop = true;
  churn.join();
  EXPECT_EQ(r.count(), 800u);  // one CREATE per file, none lost
  EXPECT_TRUE(r.remove_watch(d).ok());
}

}  // namespace
