#include "verifier/case_maps.hpp"

#include <bpfvm/assembler.hpp>
#include <bpfvm/data_file.hpp>

#include <fmt/format.h>

#include <sstream>

namespace bpfvm::verifier::testing {
namespace {

Error bad(std::string message) {
  Error e;
  e.kind = Error::Kind::usage;
  e.message = std::move(message);
  return e;
}

std::vector<std::string> words(std::string_view line) {
  std::istringstream in{std::string(line)};
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t,");
  const auto e = s.find_last_not_of(" \t,");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// The operands of a pseudo instruction, split at commas.
std::vector<std::string> operands(std::string_view rest) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : rest) {
    if (c == '#') break;
    if (c == ',') {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!trim(cur).empty()) out.push_back(trim(cur));
  return out;
}

struct Pseudo {
  std::uint64_t magic = 0;
  std::uint8_t src = 0;
  std::int32_t imm = 0;
  std::int32_t imm2 = 0;
  std::string label = {};  // ldfunc
};

}  // namespace

Result<bool> parse_map_directive(std::string_view line, CaseMaps& maps) {
  const auto w = words(line);
  if (w.empty()) return false;
  if (w[0] == "@helpers") {
    if (w.size() == 2 && w[1] == "prototypes") {
      maps.linux_prototypes = true;
      return true;
    }
    if (w.size() != 2 || w[1] != "linux") return bad("@helpers takes `linux` or `prototypes`");
    maps.linux_helpers = true;
    return true;
  }
  if (w[0] == "@contents") {
    if (w.size() < 3) return bad("@contents INDEX HEX...");
    const std::size_t i = std::stoul(w[1]);
    if (i >= maps.specs.size()) return bad(fmt::format("@contents of map {} not declared", i));
    const auto at = line.find(w[1], line.find("@contents") + 9) + w[1].size();
    auto bytes = parse_hex_bytes(line.substr(at));
    if (!bytes) return bytes.error();
    maps.contents[i] = *bytes;
    return true;
  }
  if (w[0] != "@map") return false;
  if (w.size() < 2) return bad("@map TYPE ...");
  MapSpec spec;
  bool found = false;
  for (std::uint32_t t = 0; t <= static_cast<std::uint32_t>(MapType::bloom_filter); ++t)
    if (map_type_name(static_cast<MapType>(t)) == w[1]) {
      spec.type = static_cast<MapType>(t);
      found = true;
    }
  if (!found) return bad(fmt::format("unknown map type {}", w[1]));
  spec.name = fmt::format("m{}", maps.specs.size());
  for (std::size_t k = 2; k < w.size(); ++k) {
    const std::string& a = w[k];
    const auto eq = a.find('=');
    const std::string key = a.substr(0, eq);
    const std::string val = eq == std::string::npos ? "" : a.substr(eq + 1);
    if (key == "key")
      spec.key_size = static_cast<std::uint32_t>(std::stoul(val));
    else if (key == "value")
      spec.value_size = static_cast<std::uint32_t>(std::stoul(val));
    else if (key == "entries")
      spec.max_entries = static_cast<std::uint32_t>(std::stoul(val));
    else if (key == "name")
      spec.name = val;
    else if (key == "rdonly")
      spec.flags |= map_flag::rdonly_prog;
    else if (key == "wronly")
      spec.flags |= map_flag::wronly_prog;
    else if (key == "inner") {
      const std::size_t i = std::stoul(val);
      if (i >= maps.specs.size()) return bad(fmt::format("inner map {} not declared yet", i));
      spec.inner = std::make_shared<const MapSpec>(maps.specs[i]);
    } else {
      return bad(fmt::format("unknown @map option {}", a));
    }
  }
  maps.specs.push_back(std::move(spec));
  maps.contents.emplace_back();
  maps.linux_helpers = true;
  return true;
}

Result<std::vector<Insn>> assemble_case(std::string_view source) {
  std::istringstream in{std::string(source)};
  std::string plain, with_calls;
  std::vector<Pseudo> pseudos;
  for (std::string line; std::getline(in, line);) {
    const auto first = line.find_first_not_of(" \t");
    const std::string_view body =
        first == std::string::npos ? "" : std::string_view(line).substr(first);
    const auto space = body.find(' ');
    const std::string_view mnemonic = body.substr(0, space);
    if (mnemonic != "ldmap" && mnemonic != "ldmapval" && mnemonic != "ldfunc" &&
        mnemonic != "ldpseudo") {
      plain += line + "\n";
      with_calls += line + "\n";
      continue;
    }
    const auto ops = operands(body.substr(space + 1));
    Pseudo p{0x5eed'0000'0000'0000ULL + pseudos.size(), 0};
    const std::size_t want = mnemonic == "ldmap" || mnemonic == "ldfunc" ? 2
                             : mnemonic == "ldmapval"                    ? 3
                                                                         : 4;
    if (ops.size() != want) return bad(fmt::format("{}: {} operands expected", line, want));
    if (mnemonic == "ldmap") {
      p.src = lddw_src::map_fd;
      p.imm = std::stoi(ops[1]);
    } else if (mnemonic == "ldmapval") {
      p.src = lddw_src::map_value;
      p.imm = std::stoi(ops[1]);
      p.imm2 = std::stoi(ops[2]);
    } else if (mnemonic == "ldpseudo") {
      p.src = static_cast<std::uint8_t>(std::stoi(ops[1]));
      p.imm = std::stoi(ops[2]);
      p.imm2 = std::stoi(ops[3]);
    } else {
      p.src = lddw_src::func;
      p.label = ops[1];
    }
    plain += fmt::format("lddw {}, {:#x}\n", ops[0], p.magic);
    // The same two slots, with a local call to the label in the first, to learn its offset.
    with_calls += p.label.empty() ? fmt::format("lddw {}, {:#x}\n", ops[0], p.magic)
                                  : fmt::format("call local {}\nmov %r0, %r0\n", p.label);
    pseudos.push_back(std::move(p));
  }
  auto insns = assemble(plain);
  if (!insns || pseudos.empty()) return insns;
  auto calls = assemble(with_calls);
  if (!calls) return calls.error();
  for (const Pseudo& p : pseudos) {
    bool done = false;
    for (std::size_t i = 0; i + 1 < insns->size() && !done; ++i) {
      Insn& a = (*insns)[i];
      Insn& b = (*insns)[i + 1];
      const std::uint64_t v = static_cast<std::uint32_t>(a.imm) |
                              (static_cast<std::uint64_t>(static_cast<std::uint32_t>(b.imm)) << 32);
      if (a.opcode != 0x18 || v != p.magic) continue;
      a.src = p.src;
      a.imm = p.label.empty() ? p.imm : (*calls)[i].imm;
      b.imm = p.imm2;
      done = true;
    }
    if (!done) return bad("pseudo instruction not found after assembly");
  }
  return insns;
}

std::vector<std::pair<std::vector<Insn>, std::string>> case_mutants(
    const std::vector<Insn>& original) {
  std::vector<std::pair<std::vector<Insn>, std::string>> out;
  auto add = [&](std::vector<Insn> m, std::size_t i, std::string_view what, int delta) {
    out.emplace_back(std::move(m), fmt::format("insn {} {} {:+}", i, what, delta));
  };
  for (std::size_t i = 0; i < original.size(); ++i) {
    const Insn in = original[i];
    const std::uint8_t cls = in.opcode & 0x07;
    if (cls == 0x01 || cls == 0x02 || cls == 0x03)  // ldx, st, stx (atomics included)
      for (int delta : {-8, -4, -1, 1, 2, 4, 8, 12, 16}) {
        auto m = original;
        m[i].offset = static_cast<std::int16_t>(in.offset + delta);
        add(std::move(m), i, "offset", delta);
      }
    // Conditional jumps with an immediate (not ja 0x00, call 0x80, exit 0x90, nor BPF_X).
    const std::uint8_t op = in.opcode & 0xf0;
    const bool jmp_imm = (cls == 0x05 || cls == 0x06) && (in.opcode & 0x08) == 0 && op != 0x00 &&
                         op != 0x80 && op != 0x90;
    if (in.opcode == 0xb7 || jmp_imm)
      for (int delta : {-8, -1, 1, 4, 8, 1000}) {
        auto m = original;
        m[i].imm = in.imm + delta;
        add(std::move(m), i, "imm", delta);
      }
    if (in.opcode == 0x18 && in.src == lddw_src::map_value && i + 1 < original.size())
      for (int delta : {-1, 1, 4, 8}) {
        auto m = original;
        m[i + 1].imm = original[i + 1].imm + delta;
        add(std::move(m), i, "value offset", delta);
      }
    if (in.opcode == 0x18) ++i;
  }
  return out;
}

Result<std::vector<std::shared_ptr<Map>>> create_maps(const CaseMaps& maps) {
  std::vector<std::shared_ptr<Map>> out;
  for (std::size_t i = 0; i < maps.specs.size(); ++i) {
    auto m = Map::create(maps.specs[i]);
    if (!m) return m.error();
    if (!maps.contents[i].empty()) {
      std::vector<std::uint8_t> value(maps.specs[i].value_size, 0);
      std::copy_n(maps.contents[i].begin(), std::min(value.size(), maps.contents[i].size()),
                  value.begin());
      const std::uint32_t key = 0;
      if (int e = (*m)->host_update(&key, value.data(), 0); e != 0)
        return bad(fmt::format("writing map {}'s contents: {}", i, e));
    }
    out.push_back(std::move(*m));
  }
  return out;
}

}  // namespace bpfvm::verifier::testing
