// kconfig.bpf.c: `.kconfig` externs read the running kernel's version (uname) and config
// (/proc/config.gz, read here with zcat, independently of the loader), a __weak option the
// config lacks reads 0, and a strong one fails only the program that uses it.
#include <bpfvm/object.hpp>
#include <bpfvm/vm.hpp>

#include <gtest/gtest.h>
#include <sys/utsname.h>

#include <cstdio>
#include <string>

namespace bpfvm {
namespace {

// The config line's value for `name`, read with zcat; "" when unreadable or unset.
std::string config_value(const std::string& name) {
  std::FILE* pipe = popen("zcat /proc/config.gz 2>/dev/null", "r");
  if (pipe == nullptr) return "";
  std::string found;
  char line[4096];
  while (std::fgets(line, sizeof line, pipe) != nullptr) {
    std::string text(line);
    if (text.starts_with(name + "=")) {
      found = text.substr(name.size() + 1);
      while (!found.empty() && (found.back() == '\n')) found.pop_back();
    }
  }
  pclose(pipe);
  return found;
}

TEST(Kconfig, ExternsReadTheRunningKernel) {
  auto spec = ObjectSpec::parse_file(std::string(BPFVM_BPF_OBJECTS_DIR) + "/kconfig.o");
  ASSERT_TRUE(spec.ok()) << spec.error().to_string();
  auto index = spec->map_index(".kconfig");
  ASSERT_TRUE(index.has_value());
  EXPECT_EQ(spec->maps[*index].spec.flags, map_flag::rdonly_prog);

  const ObjectProgram* strong = spec->program("strong_missing");
  ASSERT_NE(strong, nullptr);
  EXPECT_NE(strong->link_error.find("CONFIG_BPFVM_STRONG_NOT_AN_OPTION"), std::string::npos)
      << strong->link_error;
  const ObjectProgram* reader = spec->program("read_kconfig");
  ASSERT_NE(reader, nullptr);
  EXPECT_TRUE(reader->link_error.empty()) << reader->link_error;

  auto object = Object::load(*spec, {.autoload = autoload_linked});
  ASSERT_TRUE(object.ok()) << object.error().to_string();
  std::uint64_t out[4] = {9, 9, 9, 9};
  auto result = interpret(*object->program("read_kconfig"),
                          RunInput::raw({reinterpret_cast<std::uint8_t*>(out), sizeof out}));
  ASSERT_TRUE(result.ok()) << result.error().to_string();

  utsname names{};
  ASSERT_EQ(uname(&names), 0);
  unsigned a = 0, b = 0, c = 0;
  std::sscanf(names.release, "%u.%u.%u", &a, &b, &c);
  EXPECT_EQ(out[0], (a << 16) | (b << 8) | (c > 255 ? 255 : c));
  EXPECT_EQ(out[3], 0u);  // weak and unset
  std::string syscall = config_value("CONFIG_BPF_SYSCALL");
  std::string hz = config_value("CONFIG_HZ");
  if (syscall.empty() || hz.empty()) GTEST_SKIP() << "no readable /proc/config.gz to compare";
  EXPECT_EQ(out[1], syscall == "y" ? 1u : 0u);
  EXPECT_EQ(out[2], std::stoull(hz));
}

}  // namespace
}  // namespace bpfvm
