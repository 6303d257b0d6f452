#define _GNU_SOURCE
#include <malloc.h>
#include <stdlib.h>
#include "CSyncShims.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

struct hasync_open_how {
    uint64_t flags;
    uint64_t mode;
    uint64_t resolve;
};

#define HASYNC_RESOLVE_NO_SYMLINKS 0x04
#define HASYNC_RESOLVE_BENEATH 0x08

// 1 once openat2 is known to be unavailable, so later calls skip the failing syscall.
static atomic_int openat2_unavailable = 0;

int hasync_open_beneath(int dirfd, const char *path, int flags, unsigned int mode) {
    if (!atomic_load_explicit(&openat2_unavailable, memory_order_relaxed)) {
        struct hasync_open_how how;
        memset(&how, 0, sizeof(how));
        how.flags = (uint64_t)(flags | O_CLOEXEC);
        how.mode = (flags & O_CREAT) ? mode : 0;
        how.resolve = HASYNC_RESOLVE_NO_SYMLINKS | HASYNC_RESOLVE_BENEATH;
        long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
        if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) {
            return (int)fd;
        }
        atomic_store_explicit(&openat2_unavailable, 1, memory_order_relaxed);
    }
    return openat(dirfd, path, flags | O_CLOEXEC | O_NOFOLLOW, mode);
}

ssize_t hasync_copy_file_range(int fd_in, int fd_out, size_t len) {
    return copy_file_range(fd_in, NULL, fd_out, NULL, len, 0);
}

ssize_t hasync_copy_file_range_from(int fd_in, long long offset, int fd_out, size_t len) {
    loff_t from = (loff_t)offset;
    return copy_file_range(fd_in, &from, fd_out, NULL, len, 0);
}

#ifndef FICLONE
#define FICLONE _IOW(0x94, 9, int)
#endif

int hasync_clone(int fd_in, int fd_out) {
    return ioctl(fd_out, FICLONE, fd_in);
}

void hasync_advise_sequential(int fd) {
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
}

struct hasync_stat_range {
    int dirfd;
    const char *const *names;
    struct stat *stats;
    int *errors;
    size_t begin;
    size_t end;
};

static void *hasync_stat_range_run(void *argument) {
    struct hasync_stat_range *range = argument;
    for (size_t index = range->begin; index < range->end; index++) {
        int result = fstatat(range->dirfd, range->names[index], &range->stats[index], AT_SYMLINK_NOFOLLOW);
        range->errors[index] = result == 0 ? 0 : errno;
    }
    return NULL;
}

#define HASYNC_STAT_MAX_THREADS 16

void hasync_fstatat_many(int dirfd, const char *const *names, size_t count, struct stat *stats, int *errors, int threads) {
    if (threads > HASYNC_STAT_MAX_THREADS) threads = HASYNC_STAT_MAX_THREADS;
    if (threads < 1) threads = 1;
    if ((size_t)threads > count) threads = count == 0 ? 1 : (int)count;
    struct hasync_stat_range ranges[HASYNC_STAT_MAX_THREADS];
    pthread_t ids[HASYNC_STAT_MAX_THREADS];
    int started[HASYNC_STAT_MAX_THREADS] = {0};
    size_t chunk = (count + (size_t)threads - 1) / (size_t)threads;
    for (int index = 0; index < threads; index++) {
        size_t begin = (size_t)index * chunk;
        size_t end = begin + chunk < count ? begin + chunk : count;
        ranges[index] = (struct hasync_stat_range){dirfd, names, stats, errors, begin < count ? begin : count, end};
    }
    pthread_attr_t attributes;
    int haveAttributes = pthread_attr_init(&attributes) == 0;
    // fstatat needs little stack: keep each helper's mapping small.
    if (haveAttributes) pthread_attr_setstacksize(&attributes, 128 * 1024);
    for (int index = 1; index < threads; index++) {
        // A thread that cannot be started leaves its range to the caller's thread.
        started[index] = pthread_create(&ids[index], haveAttributes ? &attributes : NULL, hasync_stat_range_run, &ranges[index]) == 0;
    }
    if (haveAttributes) pthread_attr_destroy(&attributes);
    hasync_stat_range_run(&ranges[0]);
    for (int index = 1; index < threads; index++) {
        if (started[index]) {
            pthread_join(ids[index], NULL);
        } else {
            hasync_stat_range_run(&ranges[index]);
        }
    }
}

// Summed in chunks of 64 bytes: within a chunk the weights are constants, which the compiler
// turns into multiply-adds on whole vectors; the chunk then weighs in at once (every earlier
// byte counts 64 more times). Built for AVX2 too, chosen at load time where the CPU has it.
__attribute__((target_clones("avx2", "default")))
void hasync_rolling_sums(const unsigned char *bytes, size_t count, unsigned int *s1, unsigned int *s2) {
    unsigned int sum = 0, weighted = 0;
    size_t i = 0;
    for (; i + 64 <= count; i += 64) {
        unsigned int chunk = 0, inner = 0;
        for (unsigned int j = 0; j < 64; j++) {
            chunk += bytes[i + j];
            inner += (64 - j) * bytes[i + j];
        }
        weighted += sum * 64 + inner;
        sum += chunk;
    }
    for (; i < count; i++) {
        sum += bytes[i];
        weighted += sum;
    }
    *s1 = sum;
    *s2 = weighted;
}

void hasync_limit_malloc_arenas(int count) {
#if defined(__GLIBC__)
    if (getenv("MALLOC_ARENA_MAX") == NULL) mallopt(M_ARENA_MAX, count);
#else
    (void)count;
#endif
}
