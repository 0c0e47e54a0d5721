// The fixture of tests that run models through the binary: a config with a
// models folder (and the API when asked), model files, and the steps of a
// run's or plan's JSON.
#pragma once

#include <gmock/gmock.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/cli/operate_fixture.h"

namespace landfall::testing {

class ModelsTest : public OperateTest {
 protected:
  using Strings = std::vector<std::string>;

  void SetUp() override {
    OperateTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    WriteRunConfig();
  }

  // The CLI's config, with models; `api` adds the serve fixture's API block.
  void WriteRunConfig(bool api = false) {
    std::ofstream out(config());
    out << "environment: " << env_ << "\n"
        << "landing:\n  dir: landing\n  debounce_ms: 100\n"
        << "state:\n  postgres_url: ${LANDFALL_TEST_PG_URL}\n"
        << WarehouseYaml() << "  staging_schema: staging\n"
        << "models:\n  dir: models\n  schema: analytics\n"
        << "workers: 2\n"
        << (api ? "api:\n  listen: 127.0.0.1:" + std::to_string(port_) + "\n"
                : "api:\n  enabled: false\n")
        << "log: {level: info, format: text}\n";
  }

  std::filesystem::path models() const { return dir_ / "models"; }
  void WriteModel(const std::string& name, const std::string& sql, const std::string& yaml = "") {
    std::filesystem::create_directories(models());
    std::ofstream(models() / (name + ".sql")) << sql;
    if (!yaml.empty()) std::ofstream(models() / (name + ".yaml")) << yaml;
  }

  static nlohmann::json ModelOf(const nlohmann::json& out, const std::string& model) {
    for (const auto& m : out["models"]) {
      if (m["model"] == model) return m;
    }
    ADD_FAILURE() << "no model " << model << " in " << out.dump();
    return nlohmann::json::object();
  }
  static std::string ModelAction(const nlohmann::json& out, const std::string& model) {
    return ModelOf(out, model).value("action", "(absent)");
  }
  static Strings ModelReasons(const nlohmann::json& out, const std::string& model) {
    Strings codes;
    const nlohmann::json step = ModelOf(out, model);
    for (const auto& r : step["reasons"]) codes.push_back(r["code"]);
    return codes;
  }
};

}  // namespace landfall::testing
