#include "lib/common/sha256.h"

#include <openssl/evp.h>

#include "lib/common/hex.h"

namespace landfall {

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr);
  return ToHex(digest, length);
}

}  // namespace landfall
