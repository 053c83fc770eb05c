// Shared helpers for the Jinja engine tests: render a small inline template with optional
// JSON variables, in the chat-template environment (strftime_now frozen at 2026-01-15).
// Expected strings in these tests were checked against Python jinja2 3.1 with Hugging
// Face's settings (trim_blocks, lstrip_blocks, loop controls, sandbox).
#pragma once

#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"

namespace muse::chat::testing {

inline RenderOptions frozen_options() {
  RenderOptions o;
  std::tm tm{};
  tm.tm_year = 2026 - 1900;
  tm.tm_mon = 0;
  tm.tm_mday = 15;
  tm.tm_wday = 4;
  tm.tm_yday = 14;
  o.now = tm;
  return o;
}

inline StatusOr<std::string> render(
    const std::string& source,
    const nlohmann::ordered_json& vars = nlohmann::ordered_json::object(),
    RenderOptions options = frozen_options()) {
  StatusOr<ChatTemplate> t = ChatTemplate::parse(source);
  if (!t.ok()) return t.status();
  return t->render(vars, options);
}

// The rendered text, or "ERROR: <message>" so a failing EXPECT_EQ shows what went wrong.
inline std::string text(const std::string& source,
                        const nlohmann::ordered_json& vars = nlohmann::ordered_json::object()) {
  StatusOr<std::string> r = render(source, vars);
  return r.ok() ? *r : "ERROR: " + r.status().message();
}

// The error message, or "" when the template rendered.
inline std::string error(const std::string& source,
                         const nlohmann::ordered_json& vars = nlohmann::ordered_json::object(),
                         RenderOptions options = frozen_options()) {
  StatusOr<std::string> r = render(source, vars, options);
  return r.ok() ? "" : r.status().message();
}

}  // namespace muse::chat::testing
