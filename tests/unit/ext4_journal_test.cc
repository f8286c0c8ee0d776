// The journal replayed at mount with revoke records (fs/ext4/journal.cc,
// docs/ext4.md "Journal"): e2fsprogs' debugfs writes transactions into an
// image's journal (jo / jw / jc): block A logged, block B logged, then A
// revoked. This driver's mount must leave blocks A and B as e2fsck's own
// replay leaves them (A not written back: revoked; B written), with and
// without journal checksums (v3), and the volume clean for e2fsck -fn.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "fs/ext4/layout.h"
#include "tests/fuzz/ext4_harness.h"
#include "tests/unit/e2fs_tools.h"

using namespace capsule;
using ext4_harness::MemIo;
using namespace e2fs_tools;

TEST(Ext4Journal, RevokeRecordsAreHonouredAsE2fsckDoes) {
  if (!have_e2fsprogs()) GTEST_SKIP() << "no e2fsprogs";
  constexpr uint64_t A = 5000, B = 5001;
  constexpr size_t BS = 1024;
  for (const char* open : {"jo", "jo -c"}) {
    TempDir t;
    std::string img = t.path + "/img";
    ASSERT_NE(run("mke2fs -q -F -t ext4 -b 1024 " + img + " 8M").find("rc=0"), std::string::npos);
    std::ofstream(t.path + "/a") << std::string(BS, 'A');
    std::ofstream(t.path + "/b") << std::string(BS, 'B');
    std::ofstream(t.path + "/script") << open << "\njw -b " << A << " " << t.path << "/a\njw -b " << B << " " << t.path
                                      << "/b\njw -r " << A << "\njc\n";
    run("debugfs -w -f " + t.path + "/script " + img);
    std::string log = run("debugfs -R logdump " + img);
    ASSERT_NE(log.find("revoke table"), std::string::npos) << open << "\n" << log;
    std::string before = slurp(img);
    // e2fsck's replay, on a copy.
    std::ofstream(t.path + "/ref", std::ios::binary) << before;
    run("e2fsck -fy " + t.path + "/ref");
    std::string ref = slurp(t.path + "/ref");
    ASSERT_EQ(ref.size(), before.size());
    EXPECT_EQ(ref.substr(B * BS, BS), std::string(BS, 'B')) << open;
    EXPECT_NE(ref.substr(A * BS, BS), std::string(BS, 'A')) << open << ": e2fsck honours the revoke";
    // This driver's.
    MemIo io(std::vector<uint8_t>(before.begin(), before.end()), true);
    ext4::MountResult mr;
    ASSERT_TRUE(ext4::mount(io, mr).ok()) << mr.note;
    EXPECT_FALSE(mr.read_only) << open << ": " << mr.note;
    mr.fs->shutdown();
    std::string got(io.bytes_.begin(), io.bytes_.end());
    EXPECT_TRUE(got.substr(A * BS, BS) == ref.substr(A * BS, BS)) << open << ": the revoked block";
    EXPECT_TRUE(got.substr(B * BS, BS) == ref.substr(B * BS, BS)) << open << ": the logged block";
    std::ofstream(img, std::ios::binary) << got;
    std::string fsck = run("e2fsck -fn " + img);
    EXPECT_NE(fsck.find("rc=0"), std::string::npos) << open << "\n" << fsck;
  }
}
