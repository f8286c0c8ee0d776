/* bench/run's static hello: the program whose time to first output both
 * guests are measured on. It prints one line and exits; built by
 * bench/run/run.py with `gcc -static -O2 -s` into build/bench/run/.
 *   hello              what `./capsule run` boots
 *   hello --poweroff   as the Linux guest's /init: after the line, drain the
 *                      console and power the machine off (init may not exit)
 */
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <termios.h>
#include <unistd.h>

int main(int argc, char** argv) {
    printf("capsule-bench: hello, world\n");
    fflush(stdout);
    if (argc > 1 && strcmp(argv[1], "--poweroff") == 0) {
        tcdrain(1); /* let the UART send the line before the power goes */
        reboot(RB_POWER_OFF);
        return 1; /* power-off failed: init returns, panic=-1 ends QEMU */
    }
    return 0;
}
