# Disks: virtio-blk on both transports, NVMe on q35, the block cache and
# ext4 (drivers/virtio/blk.cc, drivers/nvme/, fs/block/, fs/ext4/,
# kernel/disks.cc;
# docs/block.md, docs/ext4.md). tests/guest/disk_test.py makes the trees and
# images with Debian's mke2fs at test time and compares with the host.
find_program(CAPSULE_MKE2FS mke2fs PATHS /usr/sbin /sbin)
set(DISK_VARIANT glibc-static)
if(NOT "glibc-static" IN_LIST CAPSULE_GUEST_VARIANTS)
  list(GET CAPSULE_GUEST_VARIANTS 0 DISK_VARIANT)
endif()
if(CAPSULE_MKE2FS AND DISK_VARIANT)
  capsule_guest_c_program(disk_tree disk-programs ${DISK_VARIANT}
    ${CMAKE_SOURCE_DIR}/tests/guest/programs-disk/disk_tree.c)
  function(disk_test name)
    add_test(NAME guest.disk.${name}
      COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/guest/disk_test.py --kernel $<TARGET_FILE:capsule.elf>
              --program ${disk_tree} ${ARGN})
    set_tests_properties(guest.disk.${name} PROPERTIES TIMEOUT 300 PASS_REGULAR_EXPRESSION "PASS disk ")
  endfunction()
  foreach(machine microvm q35)
    disk_test(${machine}.ktest --machine ${machine} ktest)
    disk_test(${machine}.tree_ext4 --machine ${machine} --fs ext4 tree)
  endforeach()
  # 4 CPUs, 4 threads reading every file at once: the request queue, the
  # block cache and the files' pages under contention. ~40 s under TCG on a
  # loaded 2-core host, ~2 min with another 4-CPU VM beside it: generous.
  disk_test(microvm.tree_ext4_4cpu --fs ext4 --cpus 4 --timeout 400 tree)
  disk_test(q35.tree_ext4_4cpu --machine q35 --fs ext4 --cpus 4 --timeout 400 tree)
  set_tests_properties(guest.disk.microvm.tree_ext4_4cpu guest.disk.q35.tree_ext4_4cpu PROPERTIES TIMEOUT 480)
  # NVMe (q35): the same block checks and ext4 tree, 4 threads at once on
  # the one I/O queue, a disk that is not ext4, and a virtio-blk and an
  # NVMe disk side by side (each found by its serial).
  disk_test(q35-nvme.ktest --machine q35 --bus nvme ktest)
  disk_test(q35-mixed.ktest --machine q35 --bus mixed ktest)
  disk_test(q35-nvme.tree_ext4 --machine q35 --bus nvme --fs ext4 tree)
  disk_test(q35-nvme.tree_ext4_4cpu --machine q35 --bus nvme --fs ext4 --cpus 4 --timeout 400 tree)
  set_tests_properties(guest.disk.q35-nvme.tree_ext4_4cpu PROPERTIES TIMEOUT 480)
  disk_test(q35-nvme.not_ext4 --machine q35 --bus nvme not_ext4)
  # 4 KiB logical blocks: 512-byte sectors and 1 KiB ext4 blocks inside
  # them are read through a bounce page and written by read-modify-write.
  disk_test(q35-nvme4k.ktest --machine q35 --bus nvme --nvme-block 4096 ktest)
  disk_test(q35-nvme4k.tree_ext4 --machine q35 --bus nvme --nvme-block 4096 --fs ext4 tree)
  disk_test(microvm.tree_ext4_4k --fs ext4-4k tree)
  disk_test(microvm.tree_ext2 --fs ext2 tree)
  # A 200 MiB file read whole twice (read(), then mmap()) in a 64 MiB
  # guest: clean pages of disk files are evicted (docs/vfs.md "Page cache
  # eviction"), mapped ones unmapped first; hashes as on the host.
  disk_test(microvm.big_file_small_mem --mem 64M --timeout 400 big)
  disk_test(q35.big_file_small_mem --machine q35 --mem 64M --timeout 400 big)
  set_tests_properties(guest.disk.microvm.big_file_small_mem guest.disk.q35.big_file_small_mem PROPERTIES TIMEOUT 480)
  # A disk root (docs/overlay.md): overlay_ops changes the read-only lower
  # tree through the RAM layer, with the same results as on the host.
  capsule_guest_c_program(overlay_ops disk-programs ${DISK_VARIANT}
    ${CMAKE_SOURCE_DIR}/tests/guest/programs-disk/overlay_ops.c)
  foreach(machine microvm q35)
    add_test(NAME guest.disk.${machine}.overlay_root
      COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/guest/disk_test.py --kernel $<TARGET_FILE:capsule.elf>
              --program ${overlay_ops} --machine ${machine} overlay)
    set_tests_properties(guest.disk.${machine}.overlay_root PROPERTIES TIMEOUT 300 PASS_REGULAR_EXPRESSION "PASS disk overlay")
  endforeach()
  # A bad root disk: one line and status 2, never a panic.
  disk_test(microvm.bad_root bad_root)
  disk_test(microvm.not_ext4 not_ext4)
  # ext4 read-write: disk_write in the VM and on the host over tmpfs; the
  # image must pass e2fsck -fn and hold the host's tree (debugfs rdump).
  capsule_guest_c_program(disk_write disk-programs ${DISK_VARIANT}
    ${CMAKE_SOURCE_DIR}/tests/guest/programs-disk/disk_write.c)
  function(disk_write_test name)
    add_test(NAME guest.disk.${name}
      COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/guest/disk_test.py --kernel $<TARGET_FILE:capsule.elf>
              --program ${disk_write} ${ARGN})
    set_tests_properties(guest.disk.${name} PROPERTIES TIMEOUT 300 PASS_REGULAR_EXPRESSION "PASS disk write")
  endfunction()
  disk_write_test(microvm.write_ext4 --fs ext4 write)
  disk_write_test(microvm.write_ext4_4k --fs ext4-4k write)
  disk_write_test(q35.write_ext4_4k --machine q35 --fs ext4-4k write)
  disk_write_test(microvm.write_fill --fs ext4-4k --fill --timeout 240 write)
  # 4 threads changing files at once on 4 CPUs: the meta lock, the inode
  # cache and the journal under contention; a request queue per CPU (the
  # boot lines say 4).
  disk_write_test(microvm.write_threads_4cpu --fs ext4-4k --cpus 4 --threads --timeout 240 write)
  # The same over virtio-pci (MSI-X): 4 request queues on one vector.
  disk_write_test(q35.write_threads_4cpu --machine q35 --fs ext4-4k --cpus 4 --threads --timeout 240 write)
  # Write-back (docs/ext4.md "Write-back"): overwrites no fsync asked for
  # reach the disk at the exit, by the flusher before a kill -9, and stay
  # while the page cache around them is evicted (64 MiB VM); O_SYNC,
  # O_DSYNC and RWF_DSYNC writes are on the disk when they return (sync:
  # kill -9 at once); the host reads the image (disk_test.py case_writeback).
  capsule_guest_c_program(disk_writeback disk-programs ${DISK_VARIANT}
    ${CMAKE_SOURCE_DIR}/tests/guest/programs-disk/disk_writeback.c)
  foreach(mode exit flusher sync evict)
    set(wb_mem 256M)
    if(mode STREQUAL "evict")
      set(wb_mem 64M)
    endif()
    add_test(NAME guest.disk.microvm.writeback_${mode}
      COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/guest/disk_test.py --kernel $<TARGET_FILE:capsule.elf>
              --program ${disk_writeback} --mem ${wb_mem} --timeout 240 --mode ${mode} writeback)
    set_tests_properties(guest.disk.microvm.writeback_${mode} PROPERTIES TIMEOUT 300
      PASS_REGULAR_EXPRESSION "PASS disk writeback ${mode}")
  endforeach()
  add_test(NAME guest.disk.q35.writeback_exit
    COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/guest/disk_test.py --kernel $<TARGET_FILE:capsule.elf>
            --program ${disk_writeback} --machine q35 --cpus 2 --mode exit writeback)
  set_tests_properties(guest.disk.q35.writeback_exit PROPERTIES TIMEOUT 300 PASS_REGULAR_EXPRESSION "PASS disk writeback exit")
  # The same two contended runs on the debug kernel: any report of it (lock
  # order, sleeping or a spinlock taken with interrupts on, heap misuse)
  # fails them (disk_test.py DEBUG_REPORT). The interrupts-off check is off
  # here (--irq-off-max-ms=0): four vCPUs mapping and unmapping at once on a
  # 2-core host that runs other VMs wait on the address space's lock for
  # longer than 2 s while the host runs something else (seen at load 9).
  if(TARGET capsule-debug.elf)
    add_test(NAME guest.disk.debug.tree_ext4_4cpu
      COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/guest/disk_test.py --kernel $<TARGET_FILE:capsule-debug.elf>
              --program ${disk_tree} --kernel-word=--irq-off-max-ms=0 --fs ext4 --cpus 4 --timeout 400 tree)
    add_test(NAME guest.disk.debug.write_threads_4cpu
      COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/guest/disk_test.py --kernel $<TARGET_FILE:capsule-debug.elf>
              --program ${disk_write} --kernel-word=--irq-off-max-ms=0 --fs ext4-4k --cpus 4 --threads
              --timeout 400 write)
    set_tests_properties(guest.disk.debug.tree_ext4_4cpu PROPERTIES TIMEOUT 480 PASS_REGULAR_EXPRESSION "PASS disk ")
    set_tests_properties(guest.disk.debug.write_threads_4cpu PROPERTIES TIMEOUT 480
      PASS_REGULAR_EXPRESSION "PASS disk write")
  endif()
  # 6,000 names into an htree directory (e2fsck -D's index of 400): leaf
  # splits, a second index level with 1 KiB blocks, half removed, renames.
  disk_write_test(microvm.write_htree --fs ext4 --htree --timeout 280 write)
  disk_write_test(microvm.write_htree_4k --fs ext4-4k --htree --timeout 280 write)
  # A file written every other block then filled: its extent tree grows
  # past depth 1 (1 KiB blocks: 8,192 extents), then truncated back.
  disk_write_test(microvm.write_frag --fs ext4 --then frag --timeout 280 write)
  # fallocate: unwritten extents, KEEP_SIZE, punched holes, refused modes.
  disk_write_test(microvm.write_falloc --fs ext4 --then falloc write)
  disk_write_test(microvm.write_falloc_4k --fs ext4-4k --then falloc write)
  # Extended attributes: mke2fs -d's, set, replaced, removed; both runs
  # print every file's and must agree.
  disk_write_test(microvm.write_xattr --fs ext4 --then xattr write)
  disk_write_test(microvm.write_xattr_4k --fs ext4-4k --then xattr write)
  # QEMU killed (SIGKILL) at 20 seeded random moments while the guest
  # changes files and appends fsync'd records: each time the journal
  # replays (e2fsck's and the kernel's own) to a clean volume holding
  # every record reported fsync'd. ~5 s a moment under TCG here.
  disk_write_test(microvm.write_crash --timeout 60 --moments 20 crash)
  set_tests_properties(guest.disk.microvm.write_crash PROPERTIES PASS_REGULAR_EXPRESSION "PASS disk crash"
    TIMEOUT 900)
  # The raw disks through /dev/vdX (docs/block.md "Device nodes"):
  # BLKDISCARD, BLKZEROOUT, sizes and Linux's errors from blk_ops; the host
  # reads the image (zeros where asked, the rest intact, a hole punched).
  # With 2 CPUs: 2 request queues per disk.
  capsule_guest_c_program(blk_ops disk-programs ${DISK_VARIANT}
    ${CMAKE_SOURCE_DIR}/tests/guest/programs-disk/blk_ops.c)
  foreach(machine microvm q35)
    add_test(NAME guest.disk.${machine}.blkops
      COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/guest/disk_test.py --kernel $<TARGET_FILE:capsule.elf>
              --program ${blk_ops} --machine ${machine} --cpus 2 blkops)
    set_tests_properties(guest.disk.${machine}.blkops PROPERTIES TIMEOUT 300 PASS_REGULAR_EXPRESSION "PASS disk blkops")
  endforeach()
  # The same over NVMe: Dataset Management (deallocate) and Write Zeroes.
  add_test(NAME guest.disk.q35-nvme.blkops
    COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/guest/disk_test.py --kernel $<TARGET_FILE:capsule.elf>
            --program ${blk_ops} --machine q35 --bus nvme blkops)
  set_tests_properties(guest.disk.q35-nvme.blkops PROPERTIES TIMEOUT 300 PASS_REGULAR_EXPRESSION "PASS disk blkops")
  add_test(NAME guest.disk.q35-nvme4k.blkops
    COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/guest/disk_test.py --kernel $<TARGET_FILE:capsule.elf>
            --program ${blk_ops} --machine q35 --bus nvme --nvme-block 4096 blkops)
  set_tests_properties(guest.disk.q35-nvme4k.blkops PROPERTIES TIMEOUT 300 PASS_REGULAR_EXPRESSION "PASS disk blkops")
  # The raw-disk run on the debug kernel too (any report fails it).
  if(TARGET capsule-debug.elf)
    add_test(NAME guest.disk.debug.blkops
      COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/guest/disk_test.py --kernel $<TARGET_FILE:capsule-debug.elf>
              --program ${blk_ops} --machine q35 --cpus 2 blkops)
    set_tests_properties(guest.disk.debug.blkops PROPERTIES TIMEOUT 300 PASS_REGULAR_EXPRESSION "PASS disk blkops")
  endif()
  # ext4 gives freed blocks back (docs/ext4.md "Discard"): a file removed
  # and a hole punched; the host's image must shrink, e2fsck -fn clean.
  capsule_guest_c_program(disk_discard disk-programs ${DISK_VARIANT}
    ${CMAKE_SOURCE_DIR}/tests/guest/programs-disk/disk_discard.c)
  foreach(fs ext4 ext4-4k)
    add_test(NAME guest.disk.microvm.discard_${fs}
      COMMAND python3 ${CMAKE_SOURCE_DIR}/tests/guest/disk_test.py --kernel $<TARGET_FILE:capsule.elf>
              --program ${disk_discard} --fs ${fs} discard)
    set_tests_properties(guest.disk.microvm.discard_${fs} PROPERTIES TIMEOUT 300
      PASS_REGULAR_EXPRESSION "PASS disk discard")
  endforeach()
  foreach(kind sb_magic sb_field gd inode extent dir extent_csum dir_csum)
    disk_test(microvm.corrupt_${kind} --kind ${kind} corrupt)
  endforeach()
else()
  message(STATUS "mke2fs not found: the disk tests are skipped (apt-get install e2fsprogs)")
endif()
