// LD_PRELOAD library for fault tests: makes the storage of one file fail the
// way a file system remounted read-only or a failing disk does. On a file
// whose path ends with $LANDFALL_FAULT_SUFFIX, fsync and fdatasync fail with
// EIO and ftruncate with EPERM; every other call goes to libc.
#include <dlfcn.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

bool Faulty(int fd) {
  const char* suffix = getenv("LANDFALL_FAULT_SUFFIX");
  if (suffix == nullptr || *suffix == '\0') return false;
  char link[64];
  char path[PATH_MAX];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return false;
  path[n] = '\0';
  const size_t len = strlen(suffix);
  return static_cast<size_t>(n) >= len && std::strcmp(path + n - len, suffix) == 0;
}

template <typename Fn>
Fn Next(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" {

int fsync(int fd) {
  if (Faulty(fd)) {
    errno = EIO;
    return -1;
  }
  return Next<int (*)(int)>("fsync")(fd);
}

int fdatasync(int fd) {
  if (Faulty(fd)) {
    errno = EIO;
    return -1;
  }
  return Next<int (*)(int)>("fdatasync")(fd);
}

int ftruncate(int fd, off_t length) {
  if (Faulty(fd)) {
    errno = EPERM;
    return -1;
  }
  return Next<int (*)(int, off_t)>("ftruncate")(fd, length);
}

int ftruncate64(int fd, off_t length) { return ftruncate(fd, length); }

}  // extern "C"
