// The argv and envp arrays posix_spawn takes, built from strings: the
// arguments as given, and this process's environment plus extra entries.
#pragma once

#include <unistd.h>  // environ

#include <string>
#include <vector>

namespace landfall::testing {

// NULL-terminated char* array over strings it owns.
class CStringArray {
 public:
  explicit CStringArray(std::vector<std::string> strings) : strings_(std::move(strings)) {
    for (auto& s : strings_) pointers_.push_back(s.data());
    pointers_.push_back(nullptr);
  }
  CStringArray(const CStringArray&) = delete;
  CStringArray& operator=(const CStringArray&) = delete;
  char** data() { return pointers_.data(); }

 private:
  std::vector<std::string> strings_;
  std::vector<char*> pointers_;
};

// This process's environment with `extra` ("NAME=value") after it.
inline CStringArray EnvironWith(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  env.insert(env.end(), extra.begin(), extra.end());
  return CStringArray(std::move(env));
}

}  // namespace landfall::testing
