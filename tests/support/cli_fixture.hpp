// Runs the `bpfvm` command as a user does: arguments in; stdout, stderr and exit status out.
// Each test gets a scratch folder of its own for input files and captured output.
#pragma once

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace bpfvm::test {

struct CliOutcome {
  int status = -1;
  std::string out;
  std::string err;
};

inline std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class CliFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("bpfvm-cli-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name() + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path write(const std::string& name, const std::string& content) {
    std::filesystem::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  // Runs `bpfvm ARGS` through the shell, with `stdin_text` on standard input.
  CliOutcome bpfvm(const std::string& args, const std::string& stdin_text = "") {
    std::filesystem::path in = write("stdin.txt", stdin_text);
    std::string command = std::string(BPFVM_CLI_PATH) + " " + args + " <" + in.string() + " >" +
                          (dir_ / "out.txt").string() + " 2>" + (dir_ / "err.txt").string();
    int raw = std::system(command.c_str());
    CliOutcome outcome;
    outcome.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    outcome.out = slurp(dir_ / "out.txt");
    outcome.err = slurp(dir_ / "err.txt");
    return outcome;
  }

  std::filesystem::path dir_;
};

}  // namespace bpfvm::test
