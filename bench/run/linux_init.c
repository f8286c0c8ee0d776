/* The Linux guest's /init for bench/run's python3 series: runs the program
 * named by its arguments (the words after "--" on the kernel command line)
 * as a child, with the environment `capsule run` gives a program (PATH,
 * HOME=/root), waits for it to exit, drains the console and powers off.
 * Built by bench/run/run.py with `gcc -static -O2 -s`. */
#include <stdio.h>
#include <sys/reboot.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

int main(int argc, char** argv) {
    static char* env[] = {
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME=/root",
        NULL,
    };
    if (argc < 2) {
        fprintf(stderr, "init: usage: init PROGRAM [ARGS...]\n");
    } else {
        pid_t pid = fork();
        if (pid == 0) {
            execve(argv[1], argv + 1, env);
            perror("init: execve");
            _exit(127);
        }
        int status = 0;
        if (pid < 0)
            perror("init: fork");
        else if (waitpid(pid, &status, 0) < 0)
            perror("init: waitpid");
        else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fprintf(stderr, "init: %s ended with status %#x\n", argv[1], status);
    }
    tcdrain(1); /* let the UART send everything before the power goes */
    reboot(RB_POWER_OFF);
    return 1; /* power-off failed: init returns, panic=-1 ends QEMU */
}
