#include "support/message_reason.hpp"

#include <cctype>

namespace bpfvm::test {

std::string reason_of(const std::string& message) {
  std::string reason;
  for (std::size_t i = 0; i < message.size(); ++i) {
    char c = message[i];
    bool opens = c == '\'' && (i == 0 || !std::isalnum(static_cast<unsigned char>(message[i - 1])));
    if (opens) {
      std::size_t end = message.find('\'', i + 1);
      if (end == std::string::npos) end = message.size() - 1;
      reason += "'…'";
      i = end;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      while (i + 1 < message.size() && std::isalnum(static_cast<unsigned char>(message[i + 1])))
        ++i;
      reason += 'N';
    } else {
      reason += c;
    }
  }
  return reason;
}

}  // namespace bpfvm::test
