// Time that moves only when the test moves it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#include "lib/common/clock.h"

namespace landfall::testing {

class FakeClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override { return now.load(); }
  // Seconds since the epoch, as signatures and tokens carry them.
  int64_t Unix() const {
    return std::chrono::duration_cast<std::chrono::seconds>(now.load().time_since_epoch()).count();
  }
  std::atomic<std::chrono::system_clock::time_point> now{
      std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000))};
};

}  // namespace landfall::testing
