/* Well-behaved native agent (compiled by the test with gcc): what C programs commonly do at their start and
 * on their moves (threads, memory, time, a temporary file in its home, random numbers), then moves its paddle
 * towards the ball. Any failure ends it with a message on stderr, which the match charges. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

static void *work(void *arg) {
    double *sum = arg;
    for (int i = 1; i < 100000; i++) *sum += 1.0 / i;
    return NULL;
}

static void fail(const char *what) {
    perror(what);
    exit(3);
}

static void exercise(void) {
    pthread_t threads[4];
    double sums[4] = {0};
    for (int i = 0; i < 4; i++)
        if (pthread_create(&threads[i], NULL, work, &sums[i])) fail("pthread_create");
    for (int i = 0; i < 4; i++) pthread_join(threads[i], NULL);
    char *big = malloc(64 << 20);
    if (!big) fail("malloc");
    memset(big, 1, 64 << 20);
    free(big);
    struct timespec now;
    if (clock_gettime(CLOCK_MONOTONIC, &now)) fail("clock_gettime");
    unsigned char random[16];
    if (getrandom(random, sizeof random, 0) != sizeof random) fail("getrandom");
    char path[4096];
    snprintf(path, sizeof path, "%s/native-XXXXXX", getenv("HOME"));
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, random, sizeof random) != sizeof random) fail("mkstemp");
    close(fd);
    unlink(path);
}

int main(void) {
    char line[65536], path[4096];
    snprintf(path, sizeof path, "%s/pids", getenv("HOME"));
    FILE *pids = fopen(path, "a");
    if (!pids) fail("pids");
    fprintf(pids, "%d\n", getpid());
    fclose(pids);
    exercise();
    fprintf(stderr, "native: started\n");
    while (fgets(line, sizeof line, stdin)) {
        if (strstr(line, "\"type\":\"init\"")) {
            printf("{\"type\":\"ready\"}\n");
        } else if (strstr(line, "\"type\":\"step\"")) {
            exercise();
            double o[8] = {0};
            char *at = strstr(line, "\"observation\":[");
            if (!at) fail("observation");
            at += strlen("\"observation\":[");
            for (int i = 0; i < 8 && at; i++) {
                o[i] = strtod(at, &at);
                at = strchr(at, ',');
                if (at) at++;
            }
            int action = o[1] > o[4] + 0.02 ? 2 : o[1] < o[4] - 0.02 ? 0 : 1;
            printf("{\"action\":%d}\n", action);
        } else {
            break;
        }
        fflush(stdout);
    }
    return 0;
}
