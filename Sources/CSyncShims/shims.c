#define _GNU_SOURCE
#include "CSyncShims.h"

#include <errno.h>
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

#ifndef FICLONE
#define FICLONE _IOW(0x94, 9, int)
#endif

int hasync_clone(int fd_in, int fd_out) {
    return ioctl(fd_out, FICLONE, fd_in);
}

void hasync_advise_sequential(int fd) {
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
}
