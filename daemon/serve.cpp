#include "daemon/serve.h"

#include <iostream>

#include "daemon/cli.h"
#include "daemon/server.h"
#include "lib/common/logging.h"
#include "lib/config/config.h"

namespace landfall::daemon {

int Serve(const std::string& config_path) {
  auto config = config::LoadConfig(config_path);
  if (!config) {
    std::cerr << "landfall: " << config.error().message << "\n";
    return kExitUsage;
  }
  if (auto s = SetupLogging(config->log.level, config->log.format); !s) {
    std::cerr << "landfall: " << s.error().message << "\n";
    return kExitUsage;
  }
  Server server(config_path, std::move(*config));
  return server.Run();
}

}  // namespace landfall::daemon
