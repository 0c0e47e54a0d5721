// Process-wide logging setup (spdlog). Text or JSON lines on stderr.
#pragma once

#include <string>

#include "lib/common/result.h"

namespace landfall {

// level: trace|debug|info|warn|error; format: text|json.
Status SetupLogging(const std::string& level, const std::string& format);

}  // namespace landfall
