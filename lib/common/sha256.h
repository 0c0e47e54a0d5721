// SHA-256 of bytes, as lowercase hex.
#pragma once

#include <string>
#include <string_view>

namespace landfall {

std::string Sha256Hex(std::string_view data);

}  // namespace landfall
