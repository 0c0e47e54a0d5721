// Files compiled into the binary from api/ (cmake/EmbedFiles.cmake): the
// OpenAPI document and the status page, so the daemon never looks for them on disk.
#pragma once

#include <string_view>
#include <vector>

namespace landfall::api {

struct Asset {
  std::string_view name;  // relative to api/, e.g. "openapi.json", "static/app.js"
  std::string_view content;
};

const std::vector<Asset>& EmbeddedAssets();

}  // namespace landfall::api
