# VFS and ramfs (fs/vfs, fs/ramfs, docs/vfs.md): ramfs on real pages, mmap's
# page hook, 8 threads appending through sleeping mutexes, population from a
# cpio built in the test (and its error message), the fd table, an initrd
# file's pages used in place and copied on write (vfs.ramfs_pages).
capsule_guest_test(vfs.ktests_1cpu CMDLINE --test=vfs CPUS 1 TIMEOUT 120
  EXPECT "vfs.populate_cpio: a bad archive reports: initrd: bad hex digit in header at offset 0x8c"
         "ktest: vfs.ramfs_pages ok" "ktest: 5 passed, 0 failed" REJECT "FAILED|panic")
capsule_guest_test(vfs.ktests_4cpu CMDLINE --test=vfs CPUS 4 TIMEOUT 180
  EXPECT "ktest: vfs.concurrent_appends ok" "ktest: vfs.ramfs_pages ok"
  "ktest: 5 passed, 0 failed" REJECT "FAILED|panic")
