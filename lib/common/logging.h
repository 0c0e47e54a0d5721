// Process-wide logging setup (spdlog). Text or JSON lines on stderr.
#pragma once

#include <string>

#include "lib/common/result.h"

namespace landfall {

// level: trace|debug|info|warn|error; format: text|json. The first call creates
// the logger; later calls (SIGHUP) only change its level and format, so they are
// safe while other threads log. On error nothing changes.
Status SetupLogging(const std::string& level, const std::string& format);

}  // namespace landfall
