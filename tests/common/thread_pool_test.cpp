// The worker pool: no exception thrown by a task may escape to a worker thread
// (std::terminate would end the daemon); a submitted task's exception becomes
// its error result.
#include "lib/common/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>

#include "lib/common/result.h"

namespace landfall {
namespace {

TEST(ThreadPoolTest, SubmittedTaskThatThrowsResultsInAnInternalError) {
  ThreadPool pool(2);
  auto future = pool.Submit([]() -> Result<int> { throw std::out_of_range("map::at"); });
  auto result = future.get();  // must not rethrow
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, "internal_error");
  EXPECT_NE(result.error().message.find("map::at"), std::string::npos) << result.error().message;
}

TEST(ThreadPoolTest, SubmittedTaskThatThrowsSomethingElseStillResultsInAnError) {
  ThreadPool pool(1);
  auto status = pool.Submit([]() -> Status { throw 42; }).get();
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, "internal_error");
}

TEST(ThreadPoolTest, PostedTaskThatThrowsLeavesThePoolWorking) {
  ThreadPool pool(1);  // one worker: the task after the throwing one runs on the same thread
  pool.Post([] { throw std::runtime_error("boom"); });
  pool.Post([] { throw 7; });
  auto after = pool.Submit([]() -> Result<int> { return 5; }).get();
  ASSERT_TRUE(after);
  EXPECT_EQ(*after, 5);
}

TEST(ThreadPoolTest, SubmittedTaskValueIsReturned) {
  ThreadPool pool(2);
  std::atomic<int> ran{0};
  auto a = pool.Submit([&]() -> Result<std::string> { ++ran; return std::string("a"); });
  auto b = pool.Submit([&]() -> Status { ++ran; return Ok(); });
  EXPECT_EQ(a.get().value(), "a");
  EXPECT_TRUE(b.get());
  EXPECT_EQ(ran.load(), 2);
}

}  // namespace
}  // namespace landfall
