// The libpcap bridge for filter expressions: pcap_compile() on a dead handle.
#include <bpfvm/classic.hpp>

#include <fmt/format.h>
#include <pcap/pcap.h>

#include <memory>
#include <mutex>
#include <string>

namespace bpfvm::classic {

Result<std::vector<Insn>> compile(std::string_view expression, const CompileOptions& options) {
  // libpcap's optimizer keeps some state in globals in older releases; one compile at a time.
  static std::mutex compile_mutex;
  std::lock_guard lock(compile_mutex);
  std::unique_ptr<pcap_t, decltype(&pcap_close)> handle(
      pcap_open_dead(options.linktype, static_cast<int>(options.snaplen)), &pcap_close);
  if (!handle) return make_error(Error::Kind::usage, "pcap_open_dead failed");
  bpf_program code{};
  std::string text(expression);
  if (pcap_compile(handle.get(), &code, text.c_str(), options.optimize ? 1 : 0, options.netmask) !=
      0)
    return make_error(Error::Kind::parse, pcap_geterr(handle.get()));
  std::vector<Insn> insns;
  insns.reserve(code.bf_len);
  for (u_int i = 0; i < code.bf_len; ++i) {
    const bpf_insn& in = code.bf_insns[i];
    insns.push_back(Insn{in.code, in.jt, in.jf, in.k});
  }
  pcap_freecode(&code);
  return insns;
}

std::string linktype_name(int linktype) {
  const char* name = pcap_datalink_val_to_name(linktype);
  return name ? std::string(name) : fmt::format("DLT {}", linktype);
}

}  // namespace bpfvm::classic
