// Malformed objects: each gives one error naming the section and offset or relocation at
// fault, never a crash. The objects are good ones from tests/bpf with one field broken.
#include <bpfvm/object.hpp>

#include <elf.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

namespace bpfvm {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes read_object(const std::string& name) {
  std::ifstream in(std::string(BPFVM_BPF_OBJECTS_DIR) + "/" + name + ".o", std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A minimal ELF64 walker for patching test inputs.
struct Patcher {
  Bytes& bytes;
  Elf64_Ehdr header() const {
    Elf64_Ehdr h;
    std::memcpy(&h, bytes.data(), sizeof h);
    return h;
  }
  Elf64_Shdr section(std::size_t index) const {
    Elf64_Shdr s;
    std::memcpy(&s, bytes.data() + header().e_shoff + index * sizeof(Elf64_Shdr), sizeof s);
    return s;
  }
  std::string name(std::size_t index) const {
    Elf64_Shdr names = section(header().e_shstrndx);
    return reinterpret_cast<const char*>(bytes.data() + names.sh_offset + section(index).sh_name);
  }
  std::size_t find(const std::string& wanted) const {
    for (std::size_t i = 1; i < header().e_shnum; ++i)
      if (name(i) == wanted) return i;
    throw std::runtime_error("no section " + wanted);
  }
  std::uint8_t* data(const std::string& section_name) {
    return bytes.data() + section(find(section_name)).sh_offset;
  }
  Elf64_Sym* symbol(const std::string& wanted) {
    Elf64_Shdr symtab = section(find(".symtab"));
    const char* names =
        reinterpret_cast<const char*>(bytes.data() + section(symtab.sh_link).sh_offset);
    auto* symbols = reinterpret_cast<Elf64_Sym*>(bytes.data() + symtab.sh_offset);
    for (std::size_t i = 0; i < symtab.sh_size / sizeof(Elf64_Sym); ++i)
      if (wanted == names + symbols[i].st_name) return &symbols[i];
    throw std::runtime_error("no symbol " + wanted);
  }
  Elf64_Rel* rel(const std::string& section_name, std::size_t index) {
    return reinterpret_cast<Elf64_Rel*>(data(section_name)) + index;
  }
};

std::string parse_error(const Bytes& bytes) {
  auto spec = ObjectSpec::parse(bytes);
  if (spec) return "parsed";
  EXPECT_EQ(spec.error().kind, Error::Kind::parse);
  return spec.error().to_string();
}

TEST(MalformedObjectTest, GoodObjectsParse) {
  for (const char* name : {"subprograms", "btf_maps", "legacy_maps", "globals", "callbacks"})
    EXPECT_EQ(parse_error(read_object(name)), "parsed") << name;
}

TEST(MalformedObjectTest, NotElf) {
  EXPECT_EQ(parse_error(Bytes{}), "not an ELF file");
  EXPECT_EQ(parse_error(Bytes{'h', 'e', 'l', 'l', 'o'}), "not an ELF file");
}

TEST(MalformedObjectTest, WrongMachineClassAndEndianness) {
  Bytes bytes = read_object("subprograms");
  Bytes machine = bytes;
  machine[offsetof(Elf64_Ehdr, e_machine)] = EM_X86_64;
  EXPECT_EQ(parse_error(machine), "ELF machine is 62, not EM_BPF (247)");
  Bytes big = bytes;
  big[EI_DATA] = ELFDATA2MSB;
  EXPECT_NE(parse_error(big).find("big-endian"), std::string::npos);
  Bytes narrow = bytes;
  narrow[EI_CLASS] = ELFCLASS32;
  EXPECT_NE(parse_error(narrow).find("64-bit"), std::string::npos);
}

TEST(MalformedObjectTest, EveryTruncationIsAnError) {
  Bytes bytes = read_object("btf_maps");
  for (std::size_t size = 0; size < bytes.size(); size += 7) {
    Bytes cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(size));
    EXPECT_NE(parse_error(cut), "parsed") << size;
  }
}

TEST(MalformedObjectTest, RelocationOnAnInstructionThatIsNeitherLddwNorCall) {
  Bytes bytes = read_object("btf_maps");
  Patcher elf{bytes};
  elf.rel(".relxdp", 0)->r_offset += 8;  // the slot after an lddw's first: its second slot
  std::string error = parse_error(bytes);
  EXPECT_NE(error.find("section 'xdp'"), std::string::npos) << error;
  EXPECT_NE(error.find("relocation 0 of '.relxdp'"), std::string::npos) << error;
  EXPECT_NE(error.find("neither lddw nor call"), std::string::npos) << error;
}

TEST(MalformedObjectTest, RelocationOutsideTheSection) {
  Bytes bytes = read_object("btf_maps");
  Patcher elf{bytes};
  elf.rel(".relxdp", 1)->r_offset = 0x100000;
  std::string error = parse_error(bytes);
  EXPECT_NE(error.find("relocation 1 of '.relxdp' at offset 0x100000"), std::string::npos) << error;
}

TEST(MalformedObjectTest, RelocationAgainstAMissingSymbol) {
  Bytes bytes = read_object("btf_maps");
  Patcher elf{bytes};
  Elf64_Rel* rel = elf.rel(".relxdp", 0);
  rel->r_info = ELF64_R_INFO(100000, ELF64_R_TYPE(rel->r_info));
  std::string error = parse_error(bytes);
  EXPECT_NE(error.find("symbol 100000 does not exist"), std::string::npos) << error;
}

TEST(MalformedObjectTest, RelocationAgainstAnUndefinedSymbol) {
  Bytes bytes = read_object("subprograms");
  Patcher elf{bytes};
  // Symbol 0 is the null symbol: undefined, like an extern function.
  Elf64_Rel* rel = elf.rel(".relbpfvm/raw", 0);
  rel->r_info = ELF64_R_INFO(0, ELF64_R_TYPE(rel->r_info));
  // The object parses; the program that reaches the call carries the error, and cannot load.
  auto spec = ObjectSpec::parse(bytes);
  ASSERT_TRUE(spec.ok()) << spec.error().to_string();
  std::size_t unlinked = 0;
  for (const ObjectProgram& program : spec->programs) {
    if (program.link_error.empty()) continue;
    ++unlinked;
    EXPECT_NE(program.link_error.find("section 'bpfvm/raw', offset 0x"), std::string::npos)
        << program.link_error;
    EXPECT_NE(program.link_error.find("not in the object"), std::string::npos)
        << program.link_error;
  }
  EXPECT_GT(unlinked, 0u);
  EXPECT_LT(unlinked, spec->programs.size());
}

// Found by loader_fuzz: a function whose size ends between the two slots of a relocated
// lddw made the linker write past the program.
TEST(MalformedObjectTest, FunctionEndingInsideAnLddw) {
  Bytes bytes = read_object("btf_maps");
  Patcher elf{bytes};
  auto spec = ObjectSpec::parse(bytes);
  ASSERT_TRUE(spec.ok());
  const ObjectProgram* use_maps = spec->program("use_maps");
  ASSERT_NE(use_maps, nullptr);
  std::size_t lddw = use_maps->relocations.front().insn;
  elf.symbol("use_maps")->st_size = (lddw + 1) * sizeof(Insn);
  std::string error = parse_error(bytes);
  EXPECT_NE(error.find("lddw cut in half by the end of function 'use_maps'"), std::string::npos)
      << error;
}

TEST(MalformedObjectTest, UnknownLegacyMapType) {
  Bytes bytes = read_object("legacy_maps");
  Patcher elf{bytes};
  elf.data("maps")[0] = 99;
  std::string error = parse_error(bytes);
  EXPECT_NE(error.find("section 'maps': map '"), std::string::npos) << error;
  EXPECT_NE(error.find("unknown map type 99"), std::string::npos) << error;
}

TEST(MalformedObjectTest, LegacyMapsWithoutContents) {
  Bytes bytes = read_object("legacy_maps");
  Patcher elf{bytes};
  std::size_t index = elf.find("maps");
  auto* shdr = reinterpret_cast<Elf64_Shdr*>(bytes.data() + elf.header().e_shoff +
                                             index * sizeof(Elf64_Shdr));
  shdr->sh_type = SHT_NULL;  // libelf gives no data for it
  std::string error = parse_error(bytes);
  EXPECT_NE(error.find("section 'maps': map definitions must be in a PROGBITS section"),
            std::string::npos)
      << error;
}

TEST(MalformedObjectTest, BrokenBtf) {
  Bytes bytes = read_object("btf_maps");
  Patcher elf{bytes};
  elf.data(".BTF")[0] ^= 0xff;  // the magic
  std::string error = parse_error(bytes);
  EXPECT_NE(error.find("section '.BTF': malformed BTF"), std::string::npos) << error;
}

TEST(MalformedObjectTest, CodeSectionNotAMultipleOfEight) {
  Bytes bytes = read_object("subprograms");
  Patcher elf{bytes};
  std::size_t index = elf.find("xdp");
  auto* shdr = reinterpret_cast<Elf64_Shdr*>(bytes.data() + elf.header().e_shoff +
                                             index * sizeof(Elf64_Shdr));
  shdr->sh_size -= 3;
  std::string error = parse_error(bytes);
  EXPECT_NE(error.find("section 'xdp': size"), std::string::npos) << error;
}

// Random damage: whatever the bytes, parsing returns (the fuzzer goes further).
TEST(MalformedObjectTest, RandomByteFlipsNeverCrash) {
  std::mt19937 random(20261126);
  for (const char* name : {"btf_maps", "globals", "callbacks", "legacy_maps"}) {
    Bytes original = read_object(name);
    for (int round = 0; round < 300; ++round) {
      Bytes bytes = original;
      for (int flips = 0; flips < 4; ++flips)
        bytes[random() % bytes.size()] ^= static_cast<std::uint8_t>(1u << (random() % 8));
      auto spec = ObjectSpec::parse(bytes);
      if (!spec) {
        EXPECT_FALSE(spec.error().message.empty());
      }
    }
  }
}

}  // namespace
}  // namespace bpfvm
