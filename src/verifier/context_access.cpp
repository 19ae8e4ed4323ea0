#include "verifier/context_access.hpp"

#include "progtypes/context_rules.hpp"

#include <fmt/format.h>

namespace bpfvm::verifier {

std::optional<std::string> check_program_type(const VerifyOptions& options) {
  if (options.type == ProgramType::raw || progtypes::verifier_context_size(options.type))
    return std::nullopt;
  return fmt::format("program type {} is not supported by the verifier",
                     program_type_name(options.type));
}

std::variant<RegValue, std::string> typed_context_access(const VerifyOptions& options,
                                                         const RegValue& base, int reg,
                                                         std::int16_t insn_off, int size,
                                                         bool write) {
  // check_ptr_off_reg: the context is only accessed through r1 as it came, offsets in the
  // instruction (the kernel rewrites each access to its own context layout).
  if (!base.value.is_const())
    return fmt::format("variable ctx access var_off={} disallowed", to_string(base.value));
  if (base.value.const_value() != 0)
    return fmt::format("dereference of modified ctx ptr R{} off={} disallowed", reg,
                       static_cast<std::int64_t>(base.value.const_value()));
  auto rule =
      progtypes::context_rule(options.type, insn_off, size, write, options.expected_attach_type);
  if (auto* why = std::get_if<std::string>(&rule))
    return fmt::format("invalid bpf_context access off={} size={} ({}: {})", insn_off, size,
                       program_type_name(options.type), *why);
  switch (std::get<progtypes::ContextValue>(rule)) {
    case progtypes::ContextValue::scalar: break;
    case progtypes::ContextValue::packet: return RegValue::packet_pointer(RegKind::packet);
    case progtypes::ContextValue::packet_end: return RegValue::packet_pointer(RegKind::packet_end);
    case progtypes::ContextValue::packet_meta:
      return RegValue::packet_pointer(RegKind::packet_meta);
  }
  return RegValue::scalar(ScalarValue::loaded(size, false));
}

std::optional<std::string> check_return_code(const VerifyOptions& options, const RegValue& r0) {
  const auto range = progtypes::return_range(options.type, options.expected_attach_type);
  if (!range) return std::nullopt;
  if (!r0.is_scalar())
    return fmt::format("At program exit the register R0 is not a known value ({})", to_string(r0));
  if (r0.value.smin < range->min || r0.value.smax > range->max)
    return fmt::format(
        "At program exit the register R0 has smin={} smax={} should have been in "
        "[{}, {}]",
        r0.value.smin, r0.value.smax, range->min, range->max);
  return std::nullopt;
}

}  // namespace bpfvm::verifier
