// Answer extraction and normalization for Contemplating mode's vote (ARCHITECTURE.md
// section 6, step 4). Pure functions on text: `extract_answer` finds the answer in a model's
// full output, `normalize_answer` turns it into the key that votes are counted under.
// Matching is on bytes (ASCII markers and digits), so any UTF-8 text around passes through.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace muse {

enum class AnswerFormat {
  kAuto,         // kBoxed, then kHashes (numeric only), then kAnswerColon, then kLastNumber
  kBoxed,        // the last balanced `\boxed{...}` or `\fbox{...}` (MATH, Minerva)
  kHashes,       // `#### 42` (GSM8K): the rest of the line after the last `####`
  kAnswerColon,  // `Answer: B` / `the answer is 7`: the rest of the line after the last one
  kLastNumber,   // the last number: -3, 1,234.50, .5, 3/4
  kExact,        // the whole text after thinking, trimmed
};

// "auto", "boxed", "hashes" (or "####"), "answer", "last-number", "exact".
StatusOr<AnswerFormat> parse_answer_format(std::string_view name);
std::string_view answer_format_name(AnswerFormat format);  // the first name above

// The part of `text` where answers are searched: after the first `</think>` when the text
// opens with a `<think>` block (leading whitespace allowed) or has a `</think>` with no
// `<think>` before it (chat templates that put `<think>` in the prompt). Otherwise, and when
// the block is never closed (a truncated trace), the whole text.
std::string_view after_think(std::string_view text);

// The answer in `text` (searched in `after_think(text)`), as written, or nullopt when there
// is none. Rules per format:
//   kBoxed: braces are counted plainly (as Minerva's `last_boxed_only_string`); spaces may
//     sit between the macro and `{`. The last box that closes and holds more than spaces
//     wins, so an unclosed last box (a truncated output) falls back to an earlier one.
//   kHashes: the rest of the line after the line's last `####`, trimmed; the last line
//     where that is non-empty wins.
//   kAnswerColon: `answer` followed by `:` (spaces and `*` between allowed) or by ` is`,
//     case-insensitively; the last one wins. From the rest of the line it drops leading `:`,
//     surrounding `*` (markdown bold) and one trailing `.`. If nothing is left, the next
//     non-empty line is the answer (`**Final Answer:**\n42`).
//   kLastNumber: an optional `-` (a sign only where it cannot be a binary minus: not after
//     a letter, digit, `.`, `)`, `]` or `}`), digits with optional `,ddd` groups when the
//     first group has 1-3 digits, an optional `.digits`; or `digits/digits`. No exponents.
//   kAuto: a `####` answer counts only if it normalizes to a number, so markdown headings
//     (`#### Step 2`) are skipped.
// Linear in the text size for every format.
std::optional<std::string> extract_answer(std::string_view text, AnswerFormat format);

// The key votes are counted under; answers with equal keys are the same answer:
//   1. Trim whitespace; repeatedly strip a trailing `.`, leading and trailing `$` and `\$`
//      (each end on its own, so "$5" -> "5"), and `\(...\)` / `\[...\]` pairs.
//   2. Unwrap `\text{x}`, `\textbf{x}`, `\mathrm{x}`, `\mbox{x}` to `x` (balanced braces;
//      an unclosed one is left as is); repeat step 1; collapse whitespace runs to one space.
//   3. A number ([+-] digits with valid `,ddd` groups or none, optional `.digits`, or an
//      integer fraction a/b) is made canonical: no `,` or `+`, no leading zeros, no trailing
//      fractional zeros and no bare `.` ("1,234.50" -> "1234.5", "2.0" -> "2", ".5" -> "0.5",
//      "-0.0" -> "0", "04/08" -> "4/8").
//   4. Anything else is lowercased (ASCII only; UTF-8 bytes pass through unchanged). The
//      lowering happens first, so `\TEXT{A}` unwraps too and every key is a fixed point.
// No mathematical equivalence: "3/4", "0.75" and "\frac{3}{4}" stay three different keys.
std::string normalize_answer(std::string_view answer);

}  // namespace muse
