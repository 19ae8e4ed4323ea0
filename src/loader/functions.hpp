// The functions of an object's code sections: entry programs and bpf-to-bpf subprograms,
// split by their symbols as libbpf's bpf_object__add_programs() splits them.
#pragma once

#include <bpfvm/insn.hpp>
#include <bpfvm/result.hpp>

#include "loader/elf_file.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace bpfvm::loader {

struct Function {
  std::size_t section = 0;
  std::string name;
  std::size_t begin = 0;  // slot index in the section
  std::size_t end = 0;    // one past the last slot
  bool entry = false;     // a program; otherwise a subprogram, reached by calls only
};

struct CodeSection {
  std::size_t index = 0;
  std::vector<Insn> insns;
  std::vector<Function> functions;  // sorted by begin, not overlapping
};

struct Code {
  std::vector<CodeSection> sections;

  const CodeSection* section(std::size_t index) const;
  // The function holding slot `insn` of `section`, or nullptr.
  const Function* function_at(std::size_t section, std::size_t insn) const;
};

// Every executable section with its functions. In `.text` functions are subprograms, unless
// no other section holds a program: then its global functions are the programs (as an object
// of one .text function is for libbpf).
Result<Code> collect_code(const ElfFile& file);

}  // namespace bpfvm::loader
