// What the state store's tests share.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>

#include "lib/state/state_store.h"
#include "tests/support/testing.h"

namespace landfall::state {

// The store of `environment` on `url` (the test PostgreSQL unless told
// otherwise), migrated; null, with the current test failed, when it cannot be
// opened or migrated.
inline std::unique_ptr<StateStore> OpenMigrated(const std::string& environment,
                                                const std::string& url = testing::PostgresUrl()) {
  auto store = OpenPostgres({.url = url, .environment = environment});
  if (!store) {
    ADD_FAILURE() << store.error().ToString();
    return nullptr;
  }
  if (auto migrated = (*store)->Migrate(); !migrated) {
    ADD_FAILURE() << migrated.error().ToString();
    return nullptr;
  }
  return std::move(*store);
}

}  // namespace landfall::state
