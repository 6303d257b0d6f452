#ifndef C_SYNC_SHIMS_H
#define C_SYNC_SHIMS_H

#include <sys/stat.h>
#include <sys/types.h>

/// Opens `path` relative to `dirfd` without following any symlink in any component and
/// without leaving the tree below `dirfd` (openat2 with RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH).
/// Falls back to openat(2) with O_NOFOLLOW when the kernel has no openat2 (ENOSYS) or a
/// seccomp profile forbids it (EPERM); the fallback then refuses symlinks in the last
/// component only. Returns the fd or -1 with errno set.
int hasync_open_beneath(int dirfd, const char *path, int flags, unsigned int mode);

/// copy_file_range(2) on the current offsets of both fds.
ssize_t hasync_copy_file_range(int fd_in, int fd_out, size_t len);

/// copy_file_range(2) from `offset` of `fd_in` (its own offset unchanged) to the current
/// offset of `fd_out`.
ssize_t hasync_copy_file_range_from(int fd_in, long long offset, int fd_out, size_t len);

/// Shares the data of `fd_in` with `fd_out` (FICLONE: a reflink on btrfs, XFS, NFS 4.2 servers
/// that support CLONE). Returns 0, or -1 with errno set (EOPNOTSUPP, EXDEV, EINVAL... when the
/// file system cannot).
int hasync_clone(int fd_in, int fd_out);

/// posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL): read-ahead for a file read start to end.
void hasync_advise_sequential(int fd);

/// fstatat(dirfd, names[i], &stats[i], AT_SYMLINK_NOFOLLOW) for every i < count, on up to
/// `threads` threads at once (the caller's thread included; at most 16). errors[i] is 0 or
/// the errno of that call. On a network file system each call waits a round trip, and a
/// large folder's names are then examined side by side instead of one after the other.
void hasync_fstatat_many(int dirfd, const char *const *names, size_t count, struct stat *stats, int *errors, int threads);

/// rsync's weak checksum sums over `count` bytes: s1 the sum of the bytes, s2 the sum of
/// each byte times its distance from the end (count - i), both modulo 2^32.
void hasync_rolling_sums(const unsigned char *bytes, size_t count, unsigned int *s1, unsigned int *s2);

/// mallopt(M_ARENA_MAX, count) unless MALLOC_ARENA_MAX is set in the environment (glibc only).
void hasync_limit_malloc_arenas(int count);

#endif
