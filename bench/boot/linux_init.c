/* The Linux guest's whole userspace for bench/boot: print one line (so the
 * timed boot includes reaching userspace and the console), then power off.
 * Built by bench/boot/run.py with `gcc -static -Os -s`. */
#include <fcntl.h>
#include <sys/reboot.h>
#include <termios.h>
#include <unistd.h>

#define MARK "capsule-bench: linux init reached userspace\n"

int main(void) {
    int fd = 1;
    if (write(fd, MARK, sizeof MARK - 1) < 0) {
        /* No console on fd 1 (no /dev/console in the initramfs): open it. */
        fd = open("/dev/console", O_WRONLY | O_NOCTTY);
        if (fd >= 0)
            (void)!write(fd, MARK, sizeof MARK - 1);
    }
    if (fd >= 0)
        tcdrain(fd); /* let the UART send the line before the power goes */
    reboot(RB_POWER_OFF);
    /* Power-off failed: returning from init panics the kernel, which with
     * panic=-1 reboots at once, and QEMU's -no-reboot then exits. */
    return 1;
}
