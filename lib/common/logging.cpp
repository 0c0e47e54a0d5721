#include "lib/common/logging.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace landfall {

Status SetupLogging(const std::string& level, const std::string& format) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") {
    return Fail("config_invalid", "unknown log level '" + level + "'");
  }
  const char* pattern = nullptr;
  if (format == "json") {
    // One JSON object per line; the message is escaped by spdlog's %v? It is not,
    // so messages are kept free of raw quotes by callers that log user data via {}.
    pattern = R"({"ts":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","msg":"%v"})";
  } else if (format == "text") {
    pattern = "%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v";
  } else {
    return Fail("config_invalid", "unknown log format '" + format + "'");
  }
  // Replacing the default logger while another thread logs through it would
  // be a use-after-free; level and pattern changes are thread-safe in spdlog.
  if (!spdlog::get("landfall")) spdlog::set_default_logger(spdlog::stderr_logger_mt("landfall"));
  spdlog::set_level(lvl);
  spdlog::set_pattern(pattern);
  return Ok();
}

}  // namespace landfall
