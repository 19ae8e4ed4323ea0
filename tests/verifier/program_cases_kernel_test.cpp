// The case files against the kernel's verifier: every case the kernel can judge the same way
// (no r2 at all, which the kernel leaves unset at entry and raw programs get as a length; no
// context size; no helpers, whose numbers mean other helpers in Linux) is loaded as a
// socket filter; typed cases (`@type`) are loaded with their own program type (and
// `@attach` as expected_attach_type), helper calls, r2 and context accesses included, since
// the ids and contexts are Linux's own. Asserted: Linux's verdict is the case's `@expect`, or its
// `@linux` where the case documents a difference (Linux lets root leak and mangle pointers and read
// unwritten stack; our scalar domain proves some edges impossible that Linux's does not).
//
// Cases with maps (`@map`, `@helpers linux`: case_maps.hpp) call Linux's own helper numbers
// and never read r2 before writing it nor use r1 as anything but the context, by
// convention: they are loaded too, with every declared map created in the kernel
// (BPF_MAP_CREATE with the same type, sizes and flags; @contents written to entry 0 and the
// map frozen) and the lddw pseudo sources pointed at those fds.
#include "support/kernel_bpf.hpp"
#include "verifier/case_maps.hpp"
#include "verifier/verify.hpp"

#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpfvm/assembler.hpp>
#include <bpfvm/linux_helpers.hpp>
#include <bpfvm/program_type.hpp>

#include <algorithm>
#include <cstring>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>

namespace bpfvm::verifier::testing {
namespace {

struct Case {
  std::string where, name, source;
  bool accept = false, compatible = true, linux_given = false;
  ProgramType type = ProgramType::raw;
  std::uint32_t attach = 0;
  std::string raw_only;  // a line that makes an untyped case incompatible
  CaseMaps maps = {};
};

long sys_bpf(int cmd, union bpf_attr* attr) { return syscall(__NR_bpf, cmd, attr, sizeof(*attr)); }

// The case's maps in the kernel, in declaration order; an error names the map and errno.
Result<std::vector<bpfvm::test::kernel::Fd>> kernel_maps(const CaseMaps& maps) {
  std::vector<bpfvm::test::kernel::Fd> fds;
  auto fail = [](std::string what) {
    Error e;
    e.kind = Error::Kind::usage;
    e.message = what + ": " + std::strerror(errno);
    return e;
  };
  for (std::size_t i = 0; i < maps.specs.size(); ++i) {
    const MapSpec& m = maps.specs[i];
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof(attr));
    attr.map_type = static_cast<std::uint32_t>(m.type);
    attr.key_size = m.key_size;
    attr.value_size = m.value_size;
    attr.max_entries = m.max_entries;
    attr.map_flags = m.flags;
    if (m.inner) {
      // The inner shape is an earlier map's (case_maps.hpp): find it to use as the template.
      for (std::size_t k = 0; k < i; ++k)
        if (maps.specs[k].type == m.inner->type && maps.specs[k].key_size == m.inner->key_size &&
            maps.specs[k].value_size == m.inner->value_size)
          attr.inner_map_fd = static_cast<std::uint32_t>(fds[k].get());
    }
    const long fd = sys_bpf(BPF_MAP_CREATE, &attr);
    if (fd < 0) return fail("BPF_MAP_CREATE of map " + std::to_string(i));
    fds.emplace_back(static_cast<int>(fd));
    if (maps.contents[i].empty()) continue;
    std::vector<std::uint8_t> value(m.value_size, 0);
    std::copy_n(maps.contents[i].begin(), std::min(value.size(), maps.contents[i].size()),
                value.begin());
    const std::uint32_t key = 0;
    std::memset(&attr, 0, sizeof(attr));
    attr.map_fd = static_cast<std::uint32_t>(fd);
    attr.key = reinterpret_cast<std::uintptr_t>(&key);
    attr.value = reinterpret_cast<std::uintptr_t>(value.data());
    if (sys_bpf(BPF_MAP_UPDATE_ELEM, &attr) < 0) return fail("BPF_MAP_UPDATE_ELEM");
    std::memset(&attr, 0, sizeof(attr));
    attr.map_fd = static_cast<std::uint32_t>(fd);
    if (sys_bpf(BPF_MAP_FREEZE, &attr) < 0) return fail("BPF_MAP_FREEZE");
  }
  return fds;
}

// Linux takes function pointers (lddw src 4) only from programs with BTF describing every
// subprogram ("missing btf func_info"): a BTF blob of one `int f(void)` prototype and one
// static FUNC per subprogram, loaded with BPF_BTF_LOAD, and the program loaded with its
// func_info. The verdict (and the log on rejection) as load_program gives it.
bool has_func_pointer(const std::vector<Insn>& insns) {
  for (const Insn& in : insns)
    if (in.opcode == 0x18 && in.src == lddw_src::func) return true;
  return false;
}

struct KernelVerdict {
  bool ok = false;
  std::string log;
};

KernelVerdict load_with_func_info(const std::vector<Insn>& insns) {
  std::vector<std::uint32_t> starts{0};
  for (std::size_t i = 0; i < insns.size(); ++i) {
    const Insn& in = insns[i];
    if ((in.opcode == 0x85 && in.src == 1) || (in.opcode == 0x18 && in.src == lddw_src::func))
      starts.push_back(static_cast<std::uint32_t>(static_cast<std::int64_t>(i) + 1 + in.imm));
    if (in.opcode == 0x18) ++i;
  }
  std::sort(starts.begin(), starts.end());
  starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
  // Types: 1 int, 2 int(void), 3.. one FUNC per subprogram named f0, f1, ...
  std::vector<std::uint32_t> types = {1, 1u << 24,  4, (1u << 24) | 32,  // INT "int", signed
                                      0, 13u << 24, 1};                  // FUNC_PROTO
  std::string strings("\0int\0", 5);
  for (std::size_t k = 0; k < starts.size(); ++k) {
    const auto name = static_cast<std::uint32_t>(strings.size());
    strings += "f" + std::to_string(k);
    strings.push_back('\0');
    types.insert(types.end(), {name, 12u << 24, 2});  // FUNC, static linkage
  }
  const auto type_len = static_cast<std::uint32_t>(types.size() * 4);
  std::vector<std::uint8_t> blob(24 + type_len + strings.size());
  const std::uint32_t header[6] = {
      0x0001eb9f, 24, 0, type_len, type_len, static_cast<std::uint32_t>(strings.size())};
  std::memcpy(blob.data(), header, sizeof(header));
  std::memcpy(blob.data() + 24, types.data(), type_len);
  std::memcpy(blob.data() + 24 + type_len, strings.data(), strings.size());
  std::string log(1 << 20, '\0');
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.btf = reinterpret_cast<std::uintptr_t>(blob.data());
  attr.btf_size = static_cast<std::uint32_t>(blob.size());
  attr.btf_log_buf = reinterpret_cast<std::uintptr_t>(log.data());
  attr.btf_log_size = static_cast<std::uint32_t>(log.size());
  attr.btf_log_level = 1;
  const long btf = sys_bpf(BPF_BTF_LOAD, &attr);
  if (btf < 0) return {false, "BPF_BTF_LOAD: " + std::string(std::strerror(errno)) + "\n" + log};
  bpfvm::test::kernel::Fd btf_fd(static_cast<int>(btf));
  std::vector<bpf_func_info> infos;
  for (std::size_t k = 0; k < starts.size(); ++k)
    infos.push_back({starts[k], static_cast<std::uint32_t>(3 + k)});
  static const char license[] = "GPL";
  std::memset(&attr, 0, sizeof(attr));
  attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
  attr.insns = reinterpret_cast<std::uintptr_t>(insns.data());
  attr.insn_cnt = static_cast<std::uint32_t>(insns.size());
  attr.license = reinterpret_cast<std::uintptr_t>(license);
  attr.log_buf = reinterpret_cast<std::uintptr_t>(log.data());
  attr.log_size = static_cast<std::uint32_t>(log.size());
  attr.log_level = 1;
  attr.prog_btf_fd = static_cast<std::uint32_t>(btf_fd.get());
  attr.func_info_rec_size = sizeof(bpf_func_info);
  attr.func_info = reinterpret_cast<std::uintptr_t>(infos.data());
  attr.func_info_cnt = static_cast<std::uint32_t>(infos.size());
  const long prog = sys_bpf(BPF_PROG_LOAD, &attr);
  if (prog < 0)
    return {false, "BPF_PROG_LOAD: " + std::string(std::strerror(errno)) + "\n" + log.c_str()};
  bpfvm::test::kernel::Fd prog_fd(static_cast<int>(prog));
  return {true, ""};
}

// Map indexes become the kernel's fds (src 5/6, by index, become 1/2, by fd); an index out
// of range becomes -1, which no fd is.
void point_at_fds(std::vector<Insn>& insns, const std::vector<bpfvm::test::kernel::Fd>& fds) {
  for (std::size_t i = 0; i + 1 < insns.size(); ++i) {
    Insn& in = insns[i];
    if (in.opcode != 0x18) continue;
    if (in.src == lddw_src::map_idx) in.src = lddw_src::map_fd;
    if (in.src == lddw_src::map_idx_value) in.src = lddw_src::map_value;
    if (in.src == lddw_src::map_fd || in.src == lddw_src::map_value)
      in.imm = in.imm >= 0 && static_cast<std::size_t>(in.imm) < fds.size()
                   ? fds[static_cast<std::size_t>(in.imm)].get()
                   : -1;
    ++i;  // the second slot
  }
}

std::vector<Case> compatible_cases() {
  std::vector<Case> out;
  const auto dir = std::filesystem::path(BPFVM_TEST_DATA_DIR) / "verifier/cases";
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".txt") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    std::ifstream in(path);
    std::string line;
    int number = 0;
    bool in_file = false;
    while (std::getline(in, line)) {
      ++number;
      if (line.rfind("==", 0) == 0) {
        Case c;
        c.where = path.filename().string() + ":" + std::to_string(number);
        c.name = line.substr(line.find_first_not_of("= "));
        out.push_back(std::move(c));
        in_file = true;
        continue;
      }
      if (!in_file) continue;
      Case& c = out.back();
      if (auto directive = parse_map_directive(line, c.maps); !directive || *directive) {
        if (!directive) c.compatible = false;
      } else if (line.rfind("@expect ", 0) == 0 && !c.linux_given)
        c.accept = line.substr(8) == "accept";
      else if (line.rfind("@linux ", 0) == 0) {
        c.accept = line.substr(7) == "accept";
        c.linux_given = true;
      } else if (line.rfind("@type ", 0) == 0) {
        c.type = program_type_from_name(line.substr(6)).value_or(ProgramType::raw);
      } else if (line.rfind("@attach ", 0) == 0) {
        c.attach = static_cast<std::uint32_t>(std::stoul(line.substr(8)));
      } else if (line.rfind("@context", 0) == 0 || line.rfind("@budget", 0) == 0)
        c.compatible = false;
      else if (line.find("call 0x7f0000") != std::string::npos)
        c.compatible = false;  // bpfvm's built-ins (builtins.txt): Linux has no such helper
      else if (line.rfind("@", 0) != 0) {
        if (!c.maps.linux_helpers &&
            (line.find("%r2") != std::string::npos || line.rfind("call ", 0) == 0 ||
             line.find("[%r1") != std::string::npos))
          c.raw_only = line;
        c.source += line + "\n";
      }
    }
    in_file = false;
  }
  std::erase_if(out, [](const Case& c) {
    return !c.compatible || (c.type == ProgramType::raw && !c.raw_only.empty());
  });
  return out;
}

// The kernel's verdict on a case program with its maps' fds.
KernelVerdict kernel_verdict(std::vector<Insn> insns,
                             const std::vector<bpfvm::test::kernel::Fd>& fds,
                             bpfvm::test::kernel::ProgLoadOptions options = {}) {
  point_at_fds(insns, fds);
  if (has_func_pointer(insns)) return load_with_func_info(insns);
  options.retry_with_log = false;
  auto loaded = bpfvm::test::kernel::load_program(insns, options);
  return {loaded.ok(), loaded.ok() ? "" : loaded.error().to_string()};
}

// The mutants of every map case we accept (case_maps.hpp), against the kernel: whatever we
// accept, root Linux accepts too, so the map rules are at least as strict as the kernel's
// around every case, not only on it (cases with `@linux` keep their difference in their
// mutants and are left out).
TEST(VerifierCasesKernel, MapCaseMutantsWeAcceptLinuxAccepts) {
  if (auto probe = bpfvm::test::kernel::probe(); !probe)
    GTEST_SKIP() << "the kernel's verifier is not available: " << probe.error().to_string();
  const HelperRegistry helpers = linux_helpers();
  int ours = 0, both = 0, linux_only = 0;
  for (const Case& c : compatible_cases()) {
    // Cases documenting a difference with Linux keep it in their mutants.
    if (!c.maps.linux_helpers || c.linux_given) continue;
    auto insns = assemble_case(c.source);
    ASSERT_TRUE(insns) << c.where;
    auto fds = kernel_maps(c.maps);
    ASSERT_TRUE(fds) << c.where << ": " << fds.error().to_string();
    VerifyOptions options;
    options.helpers = &helpers;
    options.maps = c.maps.specs;
    options.map_contents = c.maps.contents;
    options.budget = 200'000;
    for (const auto& [m, what] : case_mutants(*insns)) {
      const bool we_accept = verify(m, options).ok();
      const KernelVerdict kernel = kernel_verdict(m, *fds);
      if (!we_accept) {
        linux_only += kernel.ok ? 1 : 0;
        continue;
      }
      ++ours;
      if (kernel.ok) {
        ++both;
        continue;
      }
      ADD_FAILURE() << c.where << " " << c.name << ", " << what << ": we accept, Linux rejects:\n"
                    << kernel.log;
    }
  }
  std::cout << "map case mutants: we accept " << ours << ", Linux accepts " << both
            << " of those; Linux accepts " << linux_only << " that we reject\n";
  EXPECT_GT(ours, 100);
}

TEST(VerifierCasesKernel, WhatWeAcceptLinuxAccepts) {
  if (auto probe = bpfvm::test::kernel::probe(); !probe)
    GTEST_SKIP() << "the kernel's verifier is not available: " << probe.error().to_string();
  int compared = 0, agree = 0, typed = 0, with_maps = 0, with_maps_agree = 0;
  for (const Case& c : compatible_cases()) {
    auto insns = assemble_case(c.source);
    ASSERT_TRUE(insns) << c.where;
    auto fds = kernel_maps(c.maps);
    ASSERT_TRUE(fds) << c.where << " " << c.name << ": " << fds.error().to_string();
    bpfvm::test::kernel::ProgLoadOptions load;
    if (c.type != ProgramType::raw) {
      load.type = static_cast<bpfvm::test::kernel::ProgType>(c.type);
      load.expected_attach_type = c.attach;
      ++typed;
    }
    const KernelVerdict kernel = kernel_verdict(*insns, *fds, load);
    ++compared;
    if (c.maps.linux_helpers) ++with_maps;
    if (kernel.ok == c.accept) {
      ++agree;
      if (c.maps.linux_helpers) ++with_maps_agree;
      continue;
    }
    ADD_FAILURE() << c.where << " " << c.name << ": Linux " << (kernel.ok ? "accepts" : "rejects")
                  << ", the case says it " << (c.accept ? "accepts" : "rejects")
                  << " (add or fix `@linux accept|reject`):\n"
                  << kernel.log;
  }
  std::cout << compared << " cases compared with the kernel (" << typed << " typed), " << agree
            << " same verdict (" << with_maps << " with maps or Linux helpers, " << with_maps_agree
            << " same)\n";
  EXPECT_GT(compared, 50);
}

}  // namespace
}  // namespace bpfvm::verifier::testing
