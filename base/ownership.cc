#include "base/ownership.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace shoal::base {

std::string untrustedBecause(const struct stat& st) {
  const uid_t me = geteuid();
  if (st.st_uid != me) {
    return "owned by uid " + std::to_string(st.st_uid) + ", not by shoal's user (uid " +
           std::to_string(me) + ")";
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return std::string("mode ") + mode + ": writable by " +
           ((st.st_mode & S_IWOTH) != 0 ? "others" : "its group");
  }
  return {};
}

std::string untrustedBecause(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return std::string("fstat: ") + std::strerror(errno);
  return untrustedBecause(st);
}

}  // namespace shoal::base
