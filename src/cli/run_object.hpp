// `bpfvm run OBJ`: run one program of a clang-built object on a packet.
#pragma once

#include <cstdint>
#include <string>

namespace bpfvm::cli {

struct RunObjectArgs {
  std::string object_path;
  std::string program;  // function or section name; empty: the first program
  std::string packet_file;
  std::string packet_hex;
  std::string engine = "auto";
  std::uint64_t repeat = 1;
  bool json = false;
  bool show_maps = false;
  bool verify = true;        // false: --no-verify
  std::string network_file;  // --network: the host network (docs/network.md); empty: loopback
};

int run_object(const RunObjectArgs& args);

}  // namespace bpfvm::cli
