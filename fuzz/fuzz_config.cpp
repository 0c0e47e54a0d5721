// Fuzzes config parsing (lib/config): YAML text in, a Config or a file:line
// error out, never an exception, crash or undefined behaviour.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "lib/config/config.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // So that ${LANDFALL_FUZZ_VAR} expands and other ${...} fail, both paths.
  setenv("LANDFALL_FUZZ_VAR", "postgresql://fuzz@127.0.0.1/db", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto config = landfall::config::ParseConfig(text, "/fuzz/landfall.yaml");
  if (config) {
    // A parsed config is used at once by every command; exercise the lookup.
    (void)config->PolicyFor("orders");
    (void)config->PolicyFor(config->environment);
  } else if (config.error().message.empty()) {
    __builtin_trap();  // every error says what and where
  }
  return 0;
}
