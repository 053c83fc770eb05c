// Python `str` semantics over UTF-8: code-point decoding, whitespace, case mapping through the
// C.UTF-8 locale (ASCII only when that locale is missing), strip/split/replace, slicing and
// the `repr` forms of strings and floats that Jinja prints for lists and dicts.
#include "chat/py_string.h"

#include <algorithm>
#include <charconv>
#include <clocale>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cwctype>

#include <locale.h>

namespace muse::chat::py {
namespace {

// Undecodable bytes map to U+DC80..U+DCFF, as Python's surrogateescape does.
constexpr char32_t kEscapeBase = 0xDC00;

locale_t utf8_locale() {
  static locale_t loc = [] {
    locale_t l = newlocale(LC_CTYPE_MASK, "C.UTF-8", locale_t(0));
    if (l == locale_t(0)) l = newlocale(LC_CTYPE_MASK, "en_US.UTF-8", locale_t(0));
    return l;
  }();
  return loc;
}

// Decodes one code point at s[i]; advances i.
char32_t next_cp(std::string_view s, size_t* i) {
  const unsigned char c = s[*i];
  if (c < 0x80) {
    ++*i;
    return c;
  }
  const int len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (len == 0 || *i + len > s.size()) {
    ++*i;
    return kEscapeBase + c;
  }
  char32_t cp = len == 2 ? c & 0x1F : len == 3 ? c & 0x0F : c & 0x07;
  for (int k = 1; k < len; ++k) {
    const unsigned char cc = s[*i + k];
    if ((cc & 0xC0) != 0x80) {
      ++*i;
      return kEscapeBase + c;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  const char32_t min_cp = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
  if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++*i;
    return kEscapeBase + c;
  }
  *i += len;
  return cp;
}

template <class F>
std::string map_chars(std::string_view s, F f) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) append_utf8(&out, f(next_cp(s, &i)));
  return out;
}

bool is_cased(char32_t c) { return to_lower(c) != c || to_upper(c) != c; }

bool in_chars(char32_t c, const std::u32string& chars) {
  return chars.find(c) != std::u32string::npos;
}

}  // namespace

void append_utf8(std::string* out, char32_t c) {
  if (c >= kEscapeBase + 0x80 && c <= kEscapeBase + 0xFF) {
    *out += char(c - kEscapeBase);
  } else if (c < 0x80) {
    *out += char(c);
  } else if (c < 0x800) {
    *out += char(0xC0 | (c >> 6));
    *out += char(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    *out += char(0xE0 | (c >> 12));
    *out += char(0x80 | ((c >> 6) & 0x3F));
    *out += char(0x80 | (c & 0x3F));
  } else {
    *out += char(0xF0 | (c >> 18));
    *out += char(0x80 | ((c >> 12) & 0x3F));
    *out += char(0x80 | ((c >> 6) & 0x3F));
    *out += char(0x80 | (c & 0x3F));
  }
}

std::u32string decode(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) out += next_cp(s, &i);
  return out;
}

std::string encode(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) append_utf8(&out, c);
  return out;
}

bool is_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (c >= 0x80) return false;
  return true;
}

int64_t length(std::string_view s) {
  if (is_ascii(s)) return int64_t(s.size());
  int64_t n = 0;
  size_t i = 0;
  while (i < s.size()) {
    next_cp(s, &i);
    ++n;
  }
  return n;
}

bool is_space(char32_t c) {
  if (c < 0x80) return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_alpha(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  if (c >= kEscapeBase && c <= kEscapeBase + 0xFF) return false;
  locale_t loc = utf8_locale();
  return loc != locale_t(0) && iswalpha_l(wint_t(c), loc);
}

bool is_digit(char32_t c) { return c >= '0' && c <= '9'; }

char32_t to_lower(char32_t c) {
  if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + 32 : c;
  if (c >= kEscapeBase && c <= kEscapeBase + 0xFF) return c;
  locale_t loc = utf8_locale();
  return loc == locale_t(0) ? c : char32_t(towlower_l(wint_t(c), loc));
}

char32_t to_upper(char32_t c) {
  if (c < 0x80) return c >= 'a' && c <= 'z' ? c - 32 : c;
  if (c >= kEscapeBase && c <= kEscapeBase + 0xFF) return c;
  locale_t loc = utf8_locale();
  return loc == locale_t(0) ? c : char32_t(towupper_l(wint_t(c), loc));
}

std::string lower(std::string_view s) { return map_chars(s, to_lower); }
std::string upper(std::string_view s) { return map_chars(s, to_upper); }

std::string swapcase(std::string_view s) {
  return map_chars(s, [](char32_t c) {
    const char32_t l = to_lower(c);
    return l != c ? l : to_upper(c);
  });
}

std::string capitalize(std::string_view s) {
  bool first = true;
  return map_chars(s, [&](char32_t c) {
    const char32_t r = first ? to_upper(c) : to_lower(c);
    first = false;
    return r;
  });
}

std::string title_method(std::string_view s) {
  bool prev_cased = false;
  return map_chars(s, [&](char32_t c) {
    if (!is_cased(c)) {
      prev_cased = false;
      return c;
    }
    const char32_t r = prev_cased ? to_lower(c) : to_upper(c);
    prev_cased = true;
    return r;
  });
}

std::string title_filter(std::string_view s) {
  // Jinja splits on runs of `[-\s({\[<]` and upper-cases the first character of every piece
  // (separator runs included, where it changes nothing).
  bool word_start = true;
  return map_chars(s, [&](char32_t c) {
    const bool sep = is_space(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
    char32_t r;
    if (sep) {
      r = c;
      word_start = true;
    } else {
      r = word_start ? to_upper(c) : to_lower(c);
      word_start = false;
    }
    return r;
  });
}

std::string strip(std::string_view s, std::optional<std::string_view> chars, bool left,
                  bool right) {
  const std::u32string u = decode(s);
  const std::u32string set = chars ? decode(*chars) : std::u32string();
  auto strip_it = [&](char32_t c) { return chars ? in_chars(c, set) : is_space(c); };
  size_t b = 0, e = u.size();
  if (left)
    while (b < e && strip_it(u[b])) ++b;
  if (right)
    while (e > b && strip_it(u[e - 1])) --e;
  return encode(std::u32string_view(u).substr(b, e - b));
}

std::vector<std::string> split(std::string_view s, std::optional<std::string_view> sep,
                               int64_t maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    size_t pos = 0;
    while (maxsplit < 0 || int64_t(out.size()) < maxsplit) {
      const size_t hit = s.find(*sep, pos);
      if (hit == std::string_view::npos) break;
      out.emplace_back(s.substr(pos, hit - pos));
      pos = hit + sep->size();
    }
    out.emplace_back(s.substr(pos));
    return out;
  }
  const std::u32string u = decode(s);
  size_t i = 0;
  while (true) {
    while (i < u.size() && is_space(u[i])) ++i;
    if (i == u.size()) break;
    if (maxsplit >= 0 && int64_t(out.size()) == maxsplit) {
      size_t e = u.size();
      while (e > i && is_space(u[e - 1])) --e;
      out.push_back(encode(std::u32string_view(u).substr(i, e - i)));
      break;
    }
    size_t j = i;
    while (j < u.size() && !is_space(u[j])) ++j;
    out.push_back(encode(std::u32string_view(u).substr(i, j - i)));
    i = j;
  }
  return out;
}

std::vector<std::string> rsplit(std::string_view s, std::optional<std::string_view> sep,
                                int64_t maxsplit) {
  if (maxsplit < 0) return split(s, sep, maxsplit);
  std::vector<std::string> out;
  if (sep) {
    size_t end = s.size();
    while (int64_t(out.size()) < maxsplit) {
      if (end < sep->size()) break;
      const size_t hit = s.rfind(*sep, end - sep->size());
      if (hit == std::string_view::npos) break;
      out.emplace_back(s.substr(hit + sep->size(), end - hit - sep->size()));
      end = hit;
    }
    out.emplace_back(s.substr(0, end));
  } else {
    const std::u32string u = decode(s);
    size_t e = u.size();
    while (true) {
      while (e > 0 && is_space(u[e - 1])) --e;
      if (e == 0) break;
      if (int64_t(out.size()) == maxsplit) {
        size_t b = 0;
        while (b < e && is_space(u[b])) ++b;
        out.push_back(encode(std::u32string_view(u).substr(b, e - b)));
        break;
      }
      size_t b = e;
      while (b > 0 && !is_space(u[b - 1])) --b;
      out.push_back(encode(std::u32string_view(u).substr(b, e - b)));
      e = b;
    }
  }
  return {out.rbegin(), out.rend()};
}

std::vector<std::string> splitlines(std::string_view s, bool keepends) {
  const std::u32string u = decode(s);
  std::vector<std::string> out;
  size_t start = 0, i = 0;
  while (i < u.size()) {
    const char32_t c = u[i];
    const bool brk = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D ||
                     c == 0x1E || c == 0x85 || c == 0x2028 || c == 0x2029;
    if (!brk) {
      ++i;
      continue;
    }
    size_t end = i + 1;
    if (c == '\r' && end < u.size() && u[end] == '\n') ++end;
    out.push_back(encode(std::u32string_view(u).substr(start, (keepends ? end : i) - start)));
    start = i = end;
  }
  if (start < u.size()) out.push_back(encode(std::u32string_view(u).substr(start)));
  return out;
}

std::string replace(std::string_view s, std::string_view old, std::string_view with,
                    int64_t count) {
  std::string out;
  if (old.empty()) {
    // Python inserts `with` before every code point and at the end.
    const std::u32string u = decode(s);
    int64_t n = 0;
    for (char32_t c : u) {
      if (count < 0 || n < count) {
        out += with;
        ++n;
      }
      append_utf8(&out, c);
    }
    if (count < 0 || n < count) out += with;
    return out;
  }
  size_t pos = 0;
  int64_t n = 0;
  while (count < 0 || n < count) {
    const size_t hit = s.find(old, pos);
    if (hit == std::string_view::npos) break;
    out.append(s.substr(pos, hit - pos));
    out.append(with);
    pos = hit + old.size();
    ++n;
  }
  out.append(s.substr(pos));
  return out;
}

int64_t find(std::string_view s, std::string_view sub, bool reverse) {
  const size_t hit = reverse ? s.rfind(sub) : s.find(sub);
  if (hit == std::string_view::npos) return -1;
  return length(s.substr(0, hit));
}

int64_t count(std::string_view s, std::string_view sub) {
  if (sub.empty()) return length(s) + 1;
  int64_t n = 0;
  size_t pos = 0;
  while ((pos = s.find(sub, pos)) != std::string_view::npos) {
    ++n;
    pos += sub.size();
  }
  return n;
}

std::vector<int64_t> slice_indices(int64_t n, std::optional<int64_t> start,
                                   std::optional<int64_t> stop, int64_t step) {
  // CPython's PySlice_AdjustIndices.
  int64_t lo, hi;
  if (step > 0) {
    lo = start.value_or(0);
    hi = stop.value_or(n);
    if (lo < 0) lo = std::max<int64_t>(lo + n, 0);
    if (hi < 0) hi = std::max<int64_t>(hi + n, 0);
    lo = std::min(lo, n);
    hi = std::min(hi, n);
  } else {
    lo = start.value_or(n - 1);
    hi = stop.has_value() ? *stop : -1 - n;
    if (lo < 0) lo = std::max<int64_t>(lo + n, -1);
    if (hi < 0) hi = std::max<int64_t>(hi + n, -1);
    lo = std::min(lo, n - 1);
    hi = std::min(hi, n - 1);
  }
  std::vector<int64_t> out;
  if (step > 0) {
    for (int64_t i = lo; i < hi; i += step) out.push_back(i);
  } else {
    for (int64_t i = lo; i > hi; i += step) out.push_back(i);
  }
  return out;
}

std::string slice(std::string_view s, std::optional<int64_t> start, std::optional<int64_t> stop,
                  int64_t step) {
  if (is_ascii(s)) {
    std::string out;
    for (int64_t i : slice_indices(int64_t(s.size()), start, stop, step)) out += s[size_t(i)];
    return out;
  }
  const std::u32string u = decode(s);
  std::u32string out;
  for (int64_t i : slice_indices(int64_t(u.size()), start, stop, step)) out += u[size_t(i)];
  return encode(out);
}

std::string repr(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  size_t i = 0;
  while (i < s.size()) {
    const char32_t c = next_cp(s, &i);
    char buf[16];
    if (c == char32_t(quote) || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F || (c >= 0x80 && c < 0xA0)) {
      std::snprintf(buf, sizeof(buf), "\\x%02x", unsigned(c));
      out += buf;
    } else if (c >= kEscapeBase && c <= kEscapeBase + 0xFF) {
      std::snprintf(buf, sizeof(buf), "\\udc%02x", unsigned(c - kEscapeBase));
      out += buf;
    } else {
      append_utf8(&out, c);
    }
  }
  out += quote;
  return out;
}

std::string float_repr(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x < 0 ? "-inf" : "inf";
  if (x == 0) return std::signbit(x) ? "-0.0" : "0.0";
  // Shortest round-trip digits, then CPython's layout rule (float_repr_style "short"):
  // scientific when the decimal exponent is < -4 or >= 16.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), x, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  std::string sign;
  if (sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  const size_t e_pos = sci.find('e');
  std::string digits = sci.substr(0, e_pos);
  const int exp10 = std::atoi(sci.c_str() + e_pos + 1);
  digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
  const int decpt = exp10 + 1;  // digits d1d2... = 0.d1d2... x 10^decpt
  std::string out = sign;
  if (decpt <= -4 || decpt > 16) {
    out += digits[0];
    if (digits.size() > 1) out += "." + digits.substr(1);
    std::snprintf(buf, sizeof(buf), "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
    out += buf;
  } else if (decpt <= 0) {
    out += "0." + std::string(size_t(-decpt), '0') + digits;
  } else if (size_t(decpt) >= digits.size()) {
    out += digits + std::string(size_t(decpt) - digits.size(), '0') + ".0";
  } else {
    out += digits.substr(0, size_t(decpt)) + "." + digits.substr(size_t(decpt));
  }
  return out;
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace muse::chat::py
