// Our BPF C programs (tests/bpf/*.bpf.c, clang-built into BPFVM_BPF_OBJECTS_DIR) verified by
// us (as bpfvm loads them: verify_options_for) and by the kernel (libbpf loads the object with
// only that program autoloaded, so each program gets its own verdict). The test prints the
// table, lists the programs Linux accepts that we reject (precision, reported), and fails on
// any program we accept that Linux rejects. Without bpf(2) only our verdicts are printed.
#include "support/kernel_bpf.hpp"

#include <bpf/libbpf.h>

#include <bpfvm/object.hpp>
#include <bpfvm/object_verify.hpp>
#include <bpfvm/verifier.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdarg>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>

#include <fmt/format.h>

namespace bpfvm::verifier::testing {
namespace {

int quiet(enum libbpf_print_level, const char*, va_list) { return 0; }

struct ObjectCloser {
  void operator()(bpf_object* o) const { bpf_object__close(o); }
};

// Whether libbpf loads every program of the object at `path` (raw ones, which Linux has no
// type for, not autoloaded): then each of them is accepted. Objects whose programs need each
// other (a program array libbpf fills with them) only load whole.
bool linux_loads_whole(const std::string& path, const ObjectSpec& spec) {
  std::unique_ptr<bpf_object, ObjectCloser> object(bpf_object__open_file(path.c_str(), nullptr));
  if (!object) return false;
  bpf_program* prog = nullptr;
  bpf_object__for_each_program(prog, object.get()) {
    const ObjectProgram* p = spec.program(bpf_program__name(prog));
    bpf_program__set_autoload(prog, p != nullptr && p->type != ProgramType::raw);
  }
  return bpf_object__load(object.get()) == 0;
}

// Linux's verdict on program `name` of the object at `path` loaded alone, and its log when it
// rejects.
std::pair<bool, std::string> linux_verdict(const std::string& path, const std::string& name) {
  std::unique_ptr<bpf_object, ObjectCloser> object(bpf_object__open_file(path.c_str(), nullptr));
  if (!object) return {false, "bpf_object__open_file failed"};
  std::string log(1 << 20, '\0');
  bpf_program* prog = nullptr;
  bool found = false;
  bpf_object__for_each_program(prog, object.get()) {
    const bool wanted = name == bpf_program__name(prog);
    found |= wanted;
    bpf_program__set_autoload(prog, wanted);
    if (wanted) bpf_program__set_log_buf(prog, log.data(), log.size());
  }
  if (!found) return {false, "libbpf does not see the program"};
  const int err = bpf_object__load(object.get());
  if (err == 0) return {true, ""};
  log.resize(std::strlen(log.c_str()));
  // The reason is the log's last lines before the statistics.
  return {false,
          fmt::format("libbpf: {}\n{}", err, log.substr(log.size() > 600 ? log.size() - 600 : 0))};
}

TEST(VerifierBpfObjects, WhatWeAcceptLinuxAccepts) {
  const std::filesystem::path dir = BPFVM_BPF_OBJECTS_DIR;
  if (!std::filesystem::exists(dir))
    GTEST_SKIP() << dir << " does not exist (bpf objects not built)";
  const bool kernel = static_cast<bool>(bpfvm::test::kernel::probe());
  if (!kernel) std::cout << "no kernel verifier here: only our verdicts\n";
  libbpf_set_print(quiet);
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".o") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  int programs = 0, ours = 0, linux_accepts = 0, both = 0, kernel_programs = 0;
  std::vector<std::string> linux_only;
  for (const auto& file : files) {
    auto spec = ObjectSpec::parse_file(file.string());
    ASSERT_TRUE(spec) << file << ": " << spec.error().to_string();
    // libbpf 1.x no longer opens legacy `SEC("maps")` objects: Linux cannot judge those here.
    const bool opens = std::unique_ptr<bpf_object, ObjectCloser>(
                           bpf_object__open_file(file.c_str(), nullptr)) != nullptr;
    const bool whole = kernel && opens && linux_loads_whole(file.string(), *spec);
    for (std::size_t i = 0; i < spec->programs.size(); ++i) {
      const ObjectProgram& p = spec->programs[i];
      auto helpers = object_program_helpers(*spec, i);
      ASSERT_TRUE(helpers) << helpers.error().to_string();
      const VerifyResult r = verify(p.insns, verify_options_for(*spec, i, &*helpers));
      ++programs;
      ours += r.ok();
      const std::string what =
          fmt::format("{}:{} ({})", file.filename().string(), p.name, p.section);
      std::string linux_says = "-";
      const bool calls_builtins =
          std::any_of(p.relocations.begin(), p.relocations.end(),
                      [](const ObjectRelocation& r) { return r.kind == RelocationKind::builtin; });
      if (kernel && p.type == ProgramType::raw) {
        linux_says = "n/a (bpfvm-only section)";
      } else if (kernel && calls_builtins) {
        linux_says = "n/a (calls bpfvm's built-in memset/memcpy)";
      } else if (kernel && !opens) {
        linux_says = "n/a (libbpf cannot open the object)";
      } else if (kernel) {
        const auto [ok, log] =
            whole ? std::pair<bool, std::string>{true, ""} : linux_verdict(file.string(), p.name);
        linux_says = ok ? "accept" : "reject";
        ++kernel_programs;
        linux_accepts += ok;
        both += ok && r.ok();
        if (ok && !r.ok()) linux_only.push_back(what + ": " + r.error->to_string());
        if (!ok && r.ok()) ADD_FAILURE() << what << ": we accept, Linux rejects:\n" << log;
      }
      std::cout << fmt::format("  {:<50} ours {:<6} linux {}{}\n", what,
                               r.ok() ? "accept" : "reject", linux_says,
                               r.ok() ? "" : "  (" + r.error->reason + ")");
    }
  }
  std::cout << programs << " programs in " << files.size() << " objects: we accept " << ours;
  if (kernel)
    std::cout << "; of the " << kernel_programs << " Linux can load, Linux accepts "
              << linux_accepts << ", we accept " << both << " of those";
  std::cout << "\n";
  for (const auto& s : linux_only) std::cout << "Linux accepts, we reject: " << s << "\n";
  EXPECT_GT(programs, 10);
}

}  // namespace
}  // namespace bpfvm::verifier::testing
