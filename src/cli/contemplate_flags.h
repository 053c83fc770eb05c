// The Contemplating options (reason/contemplate.h) as command-line flags, shared by
// `muse contemplate` and `muse eval`.
#pragma once

#include "reason/contemplate.h"

namespace muse::cli {

// A whole decimal integer in [lo, hi] into *out; false (and *out untouched) otherwise.
bool parse_long(const char* s, long lo, long hi, long* out);

// Help lines for the flags below, one per flag, indented like the commands' own.
const char* contemplate_flags_help();

// Tries to consume argv[*i] (and its value) as a Contemplating flag: --budget,
// --answer-tokens, --window, --warmup, --keep, --consensus, --max-total, --parallel,
// --ladder, --format, --think-end. Returns 1 if consumed, 0 if not one of them, -1 on a
// bad value (message printed, prefixed with `cmd`).
int parse_contemplate_flag(const char* cmd, int argc, char** argv, int* i, ContemplateOptions* o);

}  // namespace muse::cli
