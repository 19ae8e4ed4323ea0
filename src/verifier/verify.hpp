// Program-level verification: the public API lives in <bpfvm/verifier.hpp>; this internal
// header is what the verifier's own files include.
#pragma once

#include <bpfvm/verifier.hpp>
