#include "sovereign/hardening.hpp"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace sovereign {

Status HardenProcess() {
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return Status(ErrorCode::kInternal, std::string("prctl(PR_SET_DUMPABLE) failed: ") + std::strerror(errno));
  }
  const rlimit no_core{0, 0};
  if (setrlimit(RLIMIT_CORE, &no_core) != 0) {
    return Status(ErrorCode::kInternal, std::string("setrlimit(RLIMIT_CORE) failed: ") + std::strerror(errno));
  }
  return OkStatus();
}

}  // namespace sovereign
