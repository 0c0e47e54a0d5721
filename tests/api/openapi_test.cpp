// The OpenAPI document served at /v1/openapi.json lists exactly the routes the
// server knows, and nothing else.
#include <gmock/gmock.h>

#include <nlohmann/json.hpp>
#include <set>

#include "tests/api/server_fixture.h"

namespace landfall::api {
namespace {

using json = nlohmann::json;

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

TEST_F(ServerTest, OpenApiDocumentsEveryRouteAndNoOther) {
  Start(Options());
  auto r = testing::HttpGet(port_, "/v1/openapi.json");
  ASSERT_EQ(r.status, 200);
  json doc = json::parse(r.body, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << "served openapi.json is not JSON";
  EXPECT_EQ(doc["openapi"].get<std::string>().substr(0, 2), "3.");

  std::set<std::pair<std::string, std::string>> documented;
  static const std::set<std::string> kMethods = {"get",   "post", "put",    "delete",
                                                 "patch", "head", "options"};
  for (const auto& [path, item] : doc["paths"].items()) {
    for (const auto& [method, op] : item.items()) {
      if (kMethods.contains(method)) documented.insert({method, path});
    }
  }
  std::set<std::pair<std::string, std::string>> served;
  for (const auto& [method, pattern] : HttpServer::Routes())
    served.insert({Lower(method), pattern});

  for (const auto& route : served) {
    EXPECT_TRUE(documented.contains(route))
        << route.first << " " << route.second << " is not documented";
  }
  for (const auto& route : documented) {
    EXPECT_TRUE(served.contains(route))
        << route.first << " " << route.second << " is documented but the server has no such route";
  }
}

TEST_F(ServerTest, OpenApiReferencesResolveAndOperationsHaveResponses) {
  Start(Options());
  json doc = json::parse(testing::HttpGet(port_, "/v1/openapi.json").body);
  // Every "$ref": "#/a/b" points at something in the document.
  std::function<void(const json&)> walk = [&](const json& node) {
    if (node.is_object()) {
      if (auto ref = node.find("$ref"); ref != node.end()) {
        const std::string target = ref->get<std::string>();
        ASSERT_EQ(target.rfind("#/", 0), 0u) << target;
        EXPECT_TRUE(doc.contains(json::json_pointer(target.substr(1))))
            << "dangling $ref " << target;
      }
      for (const auto& [k, v] : node.items()) walk(v);
    } else if (node.is_array()) {
      for (const auto& v : node) walk(v);
    }
  };
  walk(doc);
  for (const auto& [path, item] : doc["paths"].items()) {
    for (const auto& [method, op] : item.items()) {
      EXPECT_FALSE(op["responses"].empty()) << method << " " << path;
      // Path parameters in the pattern are declared.
      for (size_t open = path.find('{'); open != std::string::npos;
           open = path.find('{', open + 1)) {
        const std::string name = path.substr(open + 1, path.find('}', open) - open - 1);
        bool declared = false;
        for (const auto& p : op.value("parameters", json::array())) {
          const json& param = p.contains("$ref")
                                  ? doc[json::json_pointer(p["$ref"].get<std::string>().substr(1))]
                                  : p;
          declared |= param["in"] == "path" && param["name"] == name;
        }
        EXPECT_TRUE(declared) << method << " " << path << " does not declare {" << name << "}";
      }
    }
  }
}

}  // namespace
}  // namespace landfall::api
