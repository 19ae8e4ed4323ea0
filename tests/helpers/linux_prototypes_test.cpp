// The table of every Linux helper (linux_prototypes.hpp) against the uapi header's
// __BPF_FUNC_MAPPER and helper documentation, the running kernel's BTF (enum bpf_func_id),
// the registries that take their prototypes from it, and the verifier's use of it.
#include <bpfvm/linux_helpers.hpp>
#include <bpfvm/linux_prototypes.hpp>
#include <bpfvm/progtypes.hpp>
#include <bpfvm/verifier.hpp>

#include <bpf/btf.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace bpfvm {
namespace {

constexpr const char* uapi_header = "/usr/include/linux/bpf.h";

std::string read_text(const char* path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool same(const HelperPrototype& a, const HelperPrototype& b) {
  return a.returns == b.returns && std::memcmp(a.args, b.args, sizeof a.args) == 0 &&
         a.changes_packet == b.changes_packet &&
         std::memcmp(a.arg_size, b.arg_size, sizeof a.arg_size) == 0;
}

TEST(LinuxPrototypes, EveryIdHasANameAndAPrototype) {
  const auto table = linux_helper_table();
  ASSERT_EQ(table.size(), max_linux_helper_id);
  std::set<std::string_view> names;
  for (std::uint32_t id = 1; id <= max_linux_helper_id; ++id) {
    const LinuxHelperInfo* info = linux_helper_info(id);
    ASSERT_NE(info, nullptr) << id;
    EXPECT_EQ(info->id, id);
    EXPECT_TRUE(info->name.starts_with("bpf_")) << info->name;
    EXPECT_TRUE(names.insert(info->name).second) << "duplicate " << info->name;
    EXPECT_EQ(linux_helper_id(info->name), id);
    EXPECT_EQ(linux_helper_id(info->name.substr(4)), id);
    // A size argument always follows the pointer it measures, and fixed-size memory has a
    // size: the verifier reads the pair.
    const HelperPrototype& p = info->prototype;
    for (int i = 0; i < 5; ++i) {
      const bool is_size =
          p.args[i] == ArgKind::const_size || p.args[i] == ArgKind::const_size_or_zero;
      if (is_size) {
        ASSERT_GT(i, 0) << info->name;
        const ArgKind before = p.args[i - 1];
        EXPECT_TRUE(before == ArgKind::mem || before == ArgKind::mem_or_null ||
                    before == ArgKind::uninit_mem || before == ArgKind::writable_mem ||
                    before == ArgKind::writable_mem_or_null)
            << info->name << " argument " << i + 1;
      }
      EXPECT_EQ(p.args[i] == ArgKind::fixed_size_mem, p.arg_size[i] != 0) << info->name;
    }
    // No argument after an unused one.
    for (int i = argument_count(p); i < 5; ++i) EXPECT_EQ(p.args[i], ArgKind::none) << info->name;
  }
  EXPECT_EQ(linux_helper_info(0), nullptr);
  EXPECT_EQ(linux_helper_info(max_linux_helper_id + 1), nullptr);
  EXPECT_EQ(linux_helper_name(84), "bpf_sk_lookup_tcp");
  EXPECT_EQ(linux_helper_id("no_such_helper"), std::nullopt);
}

// __BPF_FUNC_MAPPER(FN) lists FN(unspec), FN(map_lookup_elem), ... in id order.
std::vector<std::string> mapper_names(const std::string& header) {
  std::vector<std::string> names;
  const auto start = header.find("#define __BPF_FUNC_MAPPER(FN");
  if (start == std::string::npos) return names;
  const auto end = header.find("/* */", start);
  const std::string body = header.substr(start, end - start);
  const std::regex fn(R"(\bFN\((\w+))");
  for (auto it = std::sregex_iterator(body.begin(), body.end(), fn); it != std::sregex_iterator();
       ++it)
    if ((*it)[1] != "FN") names.push_back((*it)[1]);
  return names;
}

TEST(LinuxPrototypes, NamesFollowTheUapiMapper) {
  const std::string header = read_text(uapi_header);
  if (header.empty()) GTEST_SKIP() << uapi_header << " is absent";
  const auto names = mapper_names(header);
  ASSERT_GT(names.size(), 200u) << "could not parse __BPF_FUNC_MAPPER";
  EXPECT_EQ(names[0], "unspec");
  // The installed header may be older than the kernel: compare the ids it has.
  for (std::size_t id = 1; id < names.size() && id <= max_linux_helper_id; ++id)
    EXPECT_EQ(linux_helper_info(static_cast<std::uint32_t>(id))->name, "bpf_" + names[id]);
}

// Each helper's documentation in the uapi header opens with its C signature,
// " * long bpf_skb_store_bytes(struct sk_buff *skb, u32 offset, ...)": its parameter count is
// the prototype's argument count (variadic trace_printk: its two fixed parameters, since
// Linux leaves the variadic registers unchecked, ARG_DONTCARE).
TEST(LinuxPrototypes, ArgumentCountsFollowTheUapiDocumentation) {
  const std::string header = read_text(uapi_header);
  if (header.empty()) GTEST_SKIP() << uapi_header << " is absent";
  const std::regex signature(R"(\n \* [^\n(]*\bbpf_(\w+)\(([^)\n]*)\)[ \t]*\n)");
  std::map<std::string, int> counts;
  for (auto it = std::sregex_iterator(header.begin(), header.end(), signature);
       it != std::sregex_iterator(); ++it) {
    const std::string params = (*it)[2];
    int count = 0;
    if (params.find("...") != std::string::npos)
      count = static_cast<int>(std::count(params.begin(), params.end(), ','));
    else if (params != "void")
      count = 1 + static_cast<int>(std::count(params.begin(), params.end(), ','));
    counts.emplace((*it)[1], count);
  }
  int checked = 0;
  for (const LinuxHelperInfo& info : linux_helper_table()) {
    const auto found = counts.find(std::string(info.name.substr(4)));
    if (found == counts.end()) continue;
    EXPECT_EQ(argument_count(info.prototype), found->second) << info.name;
    ++checked;
  }
  EXPECT_GT(checked, 200) << "signatures found in " << uapi_header;
}

// The running kernel's own numbering: enum bpf_func_id in /sys/kernel/btf/vmlinux.
TEST(LinuxPrototypes, NamesMatchTheKernelBtf) {
  btf* vmlinux = btf__load_vmlinux_btf();
  if (vmlinux == nullptr) GTEST_SKIP() << "no kernel BTF (/sys/kernel/btf/vmlinux)";
  const int type_id = btf__find_by_name_kind(vmlinux, "bpf_func_id", BTF_KIND_ENUM);
  if (type_id < 0) {
    btf__free(vmlinux);
    GTEST_SKIP() << "the kernel BTF has no enum bpf_func_id";
  }
  const btf_type* type = btf__type_by_id(vmlinux, static_cast<__u32>(type_id));
  const struct btf_enum* values = btf_enum(type);
  int compared = 0;
  for (int i = 0; i < btf_vlen(type); ++i) {
    const std::string name = btf__name_by_offset(vmlinux, values[i].name_off);
    const auto id = static_cast<std::uint32_t>(values[i].val);
    if (!name.starts_with("BPF_FUNC_") || id == 0 || name == "BPF_FUNC_unspec") continue;
    if (name == "__BPF_FUNC_MAX_ID") continue;
    if (id > max_linux_helper_id) {
      ADD_FAILURE() << "the kernel has helper " << name << " = " << id << " past the table";
      continue;
    }
    EXPECT_EQ("bpf_" + name.substr(9), linux_helper_info(id)->name);
    ++compared;
  }
  btf__free(vmlinux);
  EXPECT_EQ(compared, static_cast<int>(max_linux_helper_id));
}

// bpfvm's own helpers take their prototypes (and names) from the table.
TEST(LinuxPrototypes, ImplementedHelpersUseTheTable) {
  const HelperRegistry registry = linux_helpers();
  // the 25 of issue 4, 7 tracing helpers, jiffies64 and get_stackid
  EXPECT_EQ(registry.all().size(), 34u);
  for (const auto& [id, helper] : registry.all()) {
    const LinuxHelperInfo* info = linux_helper_info(id);
    ASSERT_NE(info, nullptr);
    ASSERT_TRUE(helper.prototype.has_value());
    EXPECT_TRUE(same(*helper.prototype, info->prototype)) << info->name;
    EXPECT_EQ("bpf_" + helper.name, info->name);
    EXPECT_TRUE(same(*linux_helper_prototype(id), info->prototype));
  }
  for (const Helper& helper : packet_helpers()) {
    const LinuxHelperInfo* info = linux_helper_info(helper.id);
    ASSERT_NE(info, nullptr);
    EXPECT_TRUE(same(*helper.prototype, info->prototype)) << info->name;
    EXPECT_EQ("bpf_" + helper.name, info->name);
  }
}

TEST(LinuxPrototypes, KindNamesAreLinuxs) {
  EXPECT_EQ(linux_kind_name(ArgKind::spin_lock), "ARG_PTR_TO_SPIN_LOCK");
  EXPECT_EQ(linux_kind_name(ReturnKind::tcp_sock_or_null), "RET_PTR_TO_TCP_SOCK_OR_NULL");
  for (const LinuxHelperInfo& info : linux_helper_table()) {
    EXPECT_FALSE(linux_kind_name(info.prototype.returns).ends_with("?"));
    for (ArgKind kind : info.prototype.args) EXPECT_FALSE(linux_kind_name(kind).ends_with("?"));
  }
}

// ---- The verifier's use of the table (VerifyOptions::linux_prototypes).
Insn mov(int dst, std::int32_t imm) {
  return {.opcode = 0xb7, .dst = static_cast<std::uint8_t>(dst), .imm = imm};
}
Insn call(std::int32_t id) { return {.opcode = 0x85, .imm = id}; }
Insn exit_insn() { return {.opcode = 0x95}; }

verifier::VerifyResult verify_call(std::int32_t id, bool linux_prototypes,
                                   std::vector<Insn> setup = {}) {
  std::vector<Insn> insns = std::move(setup);
  insns.push_back(call(id));
  insns.push_back(mov(0, 0));
  insns.push_back(exit_insn());
  static const HelperRegistry empty;
  return verifier::verify(
      insns, {.context_size = 64, .helpers = &empty, .linux_prototypes = linux_prototypes});
}

TEST(LinuxPrototypesVerifier, UnimplementedHelpersAreCheckedAgainstTheTable) {
  // bpf_redirect(ifindex, flags): two scalars.
  const std::vector<Insn> two_scalars = {mov(1, 3), mov(2, 0)};
  EXPECT_FALSE(verify_call(23, false, two_scalars).ok());
  EXPECT_TRUE(verify_call(23, true, two_scalars).ok())
      << verify_call(23, true, two_scalars).error->to_string();
  // r1 still the context: a pointer where the prototype wants a number.
  const auto pointer = verify_call(23, true, {mov(2, 0)});
  ASSERT_FALSE(pointer.ok());
  EXPECT_NE(pointer.error->reason.find("R1 leaks addr"), std::string::npos)
      << pointer.error->reason;
  // Ids outside the table stay unknown.
  const auto unknown = verify_call(212, true);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error->reason.find("unknown#212"), std::string::npos);
  // A registry's own helper wins over the table.
  HelperRegistry mine;
  ASSERT_TRUE(mine.add({.id = 23,
                        .name = "mine",
                        .function = [](HelperCall&, std::uint64_t, std::uint64_t, std::uint64_t,
                                       std::uint64_t, std::uint64_t) -> std::uint64_t { return 0; },
                        .prototype = HelperPrototype{}}));
  const std::vector<Insn> program = {call(23), mov(0, 0), exit_insn()};
  EXPECT_TRUE(
      verifier::verify(program,
                       {.context_size = std::nullopt, .helpers = &mine, .linux_prototypes = true})
          .ok());
}

TEST(LinuxPrototypesVerifier, KindsTheVerifierCannotCheckAreRejectedByName) {
  // bpf_spin_lock(lock): ARG_PTR_TO_SPIN_LOCK is not checked yet.
  const auto lock = verify_call(93, true, {mov(1, 0)});
  ASSERT_FALSE(lock.ok());
  EXPECT_NE(lock.error->reason.find("ARG_PTR_TO_SPIN_LOCK"), std::string::npos)
      << lock.error->reason;
  // bpf_skc_to_tcp6_sock returns a BTF pointer: its return kind is named.
  const auto btf = verify_call(136, true, {mov(1, 0)});
  ASSERT_FALSE(btf.ok());
  EXPECT_NE(btf.error->reason.find("RET_PTR_TO_BTF_ID_OR_NULL"), std::string::npos)
      << btf.error->reason;
  // bpf_sk_fullsock's socket kinds are checked (docs/verifier.md "Socket pointers"): zero is
  // no socket.
  const auto fullsock = verify_call(95, true, {mov(1, 0)});
  ASSERT_FALSE(fullsock.ok());
  EXPECT_NE(fullsock.error->reason.find("R1 type=scalar expected=sock_common"), std::string::npos)
      << fullsock.error->reason;
  // Every helper of the table: a call with all five registers zero is never accepted when
  // an argument is a pointer of a kind the verifier cannot check (no kind is let through).
  for (const LinuxHelperInfo& info : linux_helper_table()) {
    const auto result = verify_call(static_cast<std::int32_t>(info.id), true,
                                    {mov(1, 0), mov(2, 0), mov(3, 0), mov(4, 0), mov(5, 0)});
    // Zero is a valid value only for scalars, for nullable memory of size zero and for the
    // nullable context (get_netns_cookie).
    bool zero_ok = info.prototype.returns == ReturnKind::integer ||
                   info.prototype.returns == ReturnKind::void_;
    for (ArgKind kind : info.prototype.args)
      zero_ok = zero_ok && (kind == ArgKind::none || kind == ArgKind::anything ||
                            kind == ArgKind::unsafe_ptr || kind == ArgKind::mem_or_null ||
                            kind == ArgKind::writable_mem_or_null ||
                            kind == ArgKind::const_size_or_zero || kind == ArgKind::ctx_or_null);
    EXPECT_EQ(result.ok(), zero_ok)
        << info.name << ": " << (result.ok() ? "accepted" : result.error->reason);
  }
}

TEST(LinuxPrototypesVerifier, IntPointerArguments) {
  // bpf_check_mtu(ctx, ifindex, &mtu, len_diff, flags): arg3 is 4 writable, aligned bytes.
  const Insn ctx_copy = {.opcode = 0xbf, .dst = 6, .src = 1};
  const Insn fp = {.opcode = 0xbf, .dst = 3, .src = 10};
  auto program = [&](std::int32_t offset) {
    return std::vector<Insn>{
        ctx_copy,   mov(2, 0), fp,        {.opcode = 0x07, .dst = 3, .imm = offset},
        mov(4, 0),  mov(5, 0), call(163), mov(0, 0),
        exit_insn()};
  };
  static const HelperRegistry empty;
  const verifier::VerifyOptions options{
      .context_size = 64, .helpers = &empty, .linux_prototypes = true};
  const auto good = verifier::verify(program(-4), options);
  EXPECT_TRUE(good.ok()) << good.error->to_string();
  EXPECT_FALSE(verifier::verify(program(-6), options).ok());  // misaligned
  EXPECT_FALSE(verifier::verify(program(-2), options).ok());  // past the frame
}

}  // namespace
}  // namespace bpfvm
