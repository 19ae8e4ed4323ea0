// The running kernel's build configuration (/proc/config.gz, else /boot/config-$(uname -r)),
// read once: `.kconfig` externs (loader/kconfig.cpp) and bpf_jiffies64's CONFIG_HZ use it.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace bpfvm::helpers {

// CONFIG_* name -> value as the config file spells it ("y", "m", "250", "\"text\""); empty
// when neither file can be read.
const std::map<std::string, std::string>& host_kernel_config();

// CONFIG_HZ of the running kernel, or 250 (the x86-64 defconfig's) when the config does not
// say.
std::uint32_t host_config_hz();

}  // namespace bpfvm::helpers
