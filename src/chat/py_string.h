// Python `str` semantics over UTF-8 `std::string`: what Jinja templates observe through
// `len`, slicing, `strip`, `split`, `title`, `repr` and float printing. Indices and lengths
// count code points, as Python does. Bytes that are not valid UTF-8 count as one code point
// each and survive a decode/encode round trip unchanged (Python's "surrogateescape").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace muse::chat::py {

std::u32string decode(std::string_view s);
std::string encode(std::u32string_view s);
void append_utf8(std::string* out, char32_t c);
bool is_ascii(std::string_view s);
int64_t length(std::string_view s);  // code points

bool is_space(char32_t c);  // Python's str.isspace (also what `\s` matches)
bool is_alpha(char32_t c);  // letters: ASCII, and non-ASCII letters by the C.UTF-8 locale
bool is_digit(char32_t c);
char32_t to_lower(char32_t c);
char32_t to_upper(char32_t c);

std::string lower(std::string_view s);
std::string upper(std::string_view s);
std::string swapcase(std::string_view s);
std::string capitalize(std::string_view s);    // str.capitalize: first upper, rest lower
std::string title_method(std::string_view s);  // str.title: after any non-letter
std::string title_filter(std::string_view s);  // Jinja's |title: after spaces - ( { [ <

// strip/lstrip/rstrip: `chars` nullopt strips whitespace, otherwise any of its code points.
std::string strip(std::string_view s, std::optional<std::string_view> chars, bool left, bool right);
// str.split / str.rsplit: `sep` nullopt splits on whitespace runs; maxsplit < 0 is unlimited.
std::vector<std::string> split(std::string_view s, std::optional<std::string_view> sep,
                               int64_t maxsplit);
std::vector<std::string> rsplit(std::string_view s, std::optional<std::string_view> sep,
                                int64_t maxsplit);
std::vector<std::string> splitlines(std::string_view s, bool keepends);
std::string replace(std::string_view s, std::string_view old, std::string_view with, int64_t count);
// str.find / str.rfind: code point index of the first (last) occurrence, or -1.
int64_t find(std::string_view s, std::string_view sub, bool reverse);
int64_t count(std::string_view s, std::string_view sub);

// Python slice semantics on code points (step != 0; the caller checks).
std::string slice(std::string_view s, std::optional<int64_t> start, std::optional<int64_t> stop,
                  int64_t step);
// Normalises slice bounds for a sequence of `n` items into indices to visit, in order.
std::vector<int64_t> slice_indices(int64_t n, std::optional<int64_t> start,
                                   std::optional<int64_t> stop, int64_t step);

std::string repr(std::string_view s);         // 'it''s' -> "it's", escapes like Python
std::string float_repr(double x);             // 0.1, 1.0, 1e-05, 1.5e+20, inf, nan
std::string html_escape(std::string_view s);  // markupsafe.escape: & < > " '

}  // namespace muse::chat::py
