/* Hostile agent (x86_64, compiled by the test with `gcc -no-pie`): speaks the protocol itself and, at its
 * first move, calls chmod on the canary whose path is in the file `canary` through the other ABIs the
 * kernel may accept: as an x32 call (number | 0x40000000) and as an i386 call (int 0x80). Each result goes to
 * stderr; the x32 calls must fail with EPERM (the filter, not the kernel's ENOSYS), the i386 call must not
 * return (the filter kills the process). */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define X32 0x40000000L
#define I386_CHMOD 15

/* In .data at a low address (no PIE), so that the i386 ABI's 32-bit pointer reaches it. */
static char canary[4096];

static long i386_chmod(const char *path, long mode) {
    long result;
    __asm__ volatile("int $0x80" : "=a"(result) : "a"(I386_CHMOD), "b"(path), "c"(mode) : "memory");
    return result;
}

int main(void) {
    FILE *pids = NULL;
    char line[65536];
    const char *home = getenv("HOME");
    char path[4096];
    snprintf(path, sizeof path, "%s/pids", home ? home : ".");
    if ((pids = fopen(path, "a"))) {
        fprintf(pids, "%d\n", getpid());
        fclose(pids);
    }
    FILE *name = fopen("canary", "r");
    if (!name || !fgets(canary, sizeof canary, name)) {
        fprintf(stderr, "abi: no canary path\n");
        return 2;
    }
    canary[strcspn(canary, "\n")] = 0;
    int moves = 0;
    while (fgets(line, sizeof line, stdin)) {
        if (strstr(line, "\"type\":\"init\"")) {
            printf("{\"type\":\"ready\"}\n");
        } else if (strstr(line, "\"type\":\"step\"")) {
            if (++moves == 1) {
                long r = syscall(X32 | SYS_chmod, canary, 0666);
                fprintf(stderr, "abi x32-chmod: result %ld errno %d\n", r, r == -1 ? errno : 0);
                r = syscall(X32 | SYS_getpid);
                fprintf(stderr, "abi x32-getpid: result %ld errno %d\n", r, r == -1 ? errno : 0);
                fprintf(stderr, "abi i386-chmod: calling\n");
                fflush(stderr);
                r = i386_chmod(canary, 0666);
                fprintf(stderr, "abi i386-chmod: RETURNED %ld\n", r);
                fflush(stderr);
            }
            printf("{\"action\":1}\n");
        } else {
            break;
        }
        fflush(stdout);
    }
    return 0;
}
