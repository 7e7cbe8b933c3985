/* Drive stub/of_interp.c the way the launcher would, for the experiments:
 *
 *   of_interp_demo choose APP_DIR [NEEDED]   print the python of APP_DIR a start would exec
 *                                            (bin/python or libc/bin/python), why on stderr
 *   of_interp_demo bench N [NEEDED]          time N choices, and N of today's of_libc_probe
 *   of_interp_demo patch FILE OFFSET SIZE RUNTIME_DIR
 *                                            patch one site the way the unpacker would
 *
 * NEEDED is y of the newest GLIBC_2.y the binary needs (the trailer's bitmap), default 36.
 * Build: cc -O2 -static -Istub of_interp_demo.c stub/of_interp.c stub/of_libc.c stub/of_error.c */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "of_error.h"
#include "of_interp.h"
#include "of_libc.h"

static double now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    struct of_interp_choice choice;
    int needed = 36;

    of_error_init(argv[0]);
    if (argc >= 3 && strcmp(argv[1], "choose") == 0) {
        if (argc >= 4)
            needed = atoi(argv[3]);
        of_interp_choose("", needed, &choice);
        printf("%s/%s\n", argv[2], choice.kind == OF_INTERP_SYSTEM ? "bin/python" : "libc/bin/python");
        fprintf(stderr, "%s (system glibc 2.%d, needs 2.%d)\n", choice.why, choice.system_minor, needed);
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "bench") == 0) {
        long n = atol(argv[2]);
        struct of_libc_system system;
        double t0, t1, t2;

        if (argc >= 4)
            needed = atoi(argv[3]);
        t0 = now();
        for (long i = 0; i < n; i++)
            of_interp_choose("", needed, &choice);
        t1 = now();
        for (long i = 0; i < n; i++)
            of_libc_probe("", &system);
        t2 = now();
        printf("of_interp_choose: %.1f us per call (%s, 2.%d)\n", (t1 - t0) / n * 1e6, choice.why,
               choice.system_minor);
        printf("of_libc_probe (today's check): %.1f us per call (2.%d)\n", (t2 - t1) / n * 1e6, system.glibc_minor);
        return 0;
    }
    if (argc == 6 && strcmp(argv[1], "patch") == 0) {
        int fd = open(argv[2], O_RDWR | O_CLOEXEC);

        if (fd < 0 || of_interp_patch_fd(fd, argv[2], strtoull(argv[3], NULL, 10), (uint32_t)atoi(argv[4]),
                                         argv[5]) != 0) {
            if (fd < 0)
                of_error_errno("cannot open %s", argv[2]);
            of_error_exit();
        }
        close(fd);
        return 0;
    }
    fprintf(stderr, "usage: see the comment at the top of of_interp_demo.c\n");
    return 2;
}
