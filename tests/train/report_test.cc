// The loss chart is checked as a document (well-formed by a small tag-balance checker, and by
// xmllint when the machine has it), by counting its elements and by reading back the pixel
// coordinates it drew; the progress line is pinned character for character.
#include "train/report.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>

#include "gguf/test_util.h"

namespace muse {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Checks that tags nest and close, attribute quotes pair up, no '<' or '>' sits inside
// text or attributes and every '&' starts an entity. Returns "" or the first problem.
std::string xml_problem(const std::string& s) {
  std::vector<std::string> open;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '>') return "stray '>' at " + std::to_string(i);
    if (s[i] == '&') {
      const size_t semi = s.find(';', i);
      const std::string ent = s.substr(i, semi == std::string::npos ? 8 : semi - i + 1);
      if (ent != "&amp;" && ent != "&lt;" && ent != "&gt;" && ent != "&quot;" && ent != "&apos;")
        return "bad entity " + ent;
    }
    if (s[i] != '<') {
      ++i;
      continue;
    }
    size_t j = i + 1;
    char quote = 0;
    for (; j < s.size() && (quote || s[j] != '>'); ++j) {
      if (quote && s[j] == '<') return "'<' inside an attribute at " + std::to_string(j);
      if (s[j] == '"' || s[j] == '\'') quote = quote == 0 ? s[j] : quote == s[j] ? 0 : quote;
    }
    if (j >= s.size()) return "unterminated tag at " + std::to_string(i);
    const std::string tag = s.substr(i + 1, j - i - 1);
    const bool closing = tag[0] == '/';
    const bool self_closing = tag.back() == '/';
    const std::string name =
        tag.substr(closing ? 1 : 0, tag.find_first_of(" /\n", 1) - (closing ? 1 : 0));
    if (closing) {
      if (open.empty() || open.back() != name) return "unbalanced </" + name + ">";
      open.pop_back();
    } else if (!self_closing) {
      open.push_back(name);
    }
    i = j + 1;
  }
  return open.empty() ? "" : "unclosed <" + open.back() + ">";
}

size_t count(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) ++n;
  return n;
}

double attr(const std::string& s, size_t from, const std::string& name) {
  const size_t p = s.find(" " + name + "=\"", from);
  return p == std::string::npos ? kNaN : std::atof(s.c_str() + p + name.size() + 3);
}

struct Frame {
  double x, y, w, h;
};
Frame plot_frame(const std::string& svg) {
  const size_t p = svg.find("<rect class=\"plot\"");
  EXPECT_NE(p, std::string::npos);
  return {attr(svg, p, "x"), attr(svg, p, "y"), attr(svg, p, "width"), attr(svg, p, "height")};
}

// The (x, y) pixel pairs of every polyline, in document order.
std::vector<std::vector<std::pair<double, double>>> polylines(const std::string& svg) {
  std::vector<std::vector<std::pair<double, double>>> out;
  for (size_t p = svg.find("<polyline"); p != std::string::npos; p = svg.find("<polyline", p + 1)) {
    const size_t b = svg.find("points=\"", p) + 8;
    const std::string pts = svg.substr(b, svg.find('"', b) - b);
    out.emplace_back();
    const char* c = pts.c_str();
    char* end = nullptr;
    while (*c) {
      const double x = std::strtod(c, &end);
      const double y = std::strtod(end + 1, &end);
      out.back().emplace_back(x, y);
      c = end;
      while (*c == ' ') ++c;
    }
  }
  return out;
}

void expect_well_formed(const std::string& svg) {
  EXPECT_EQ(xml_problem(svg), "") << svg;
  EXPECT_EQ(svg.find("nan"), std::string::npos) << svg;
  EXPECT_EQ(svg.find("inf"), std::string::npos) << svg;
  // A real parser too when one is installed (no dependency is added for it).
  if (std::system("command -v xmllint > /dev/null 2>&1") != 0) return;
  testing::TempDir dir;
  const std::string path = dir.file("chart.svg");
  std::ofstream(path) << svg;
  EXPECT_EQ(std::system(("xmllint --noout " + path).c_str()), 0) << svg;
}

void expect_inside(const std::string& svg) {
  const Frame f = plot_frame(svg);
  for (const auto& line : polylines(svg)) {
    for (const auto& [x, y] : line) {
      EXPECT_GE(x, f.x - 0.05);
      EXPECT_LE(x, f.x + f.w + 0.05);
      EXPECT_GE(y, f.y - 0.05);
      EXPECT_LE(y, f.y + f.h + 0.05);
    }
  }
}

TEST(LossChart, OnePolylinePerNonEmptySeriesAndEscapedText) {
  std::vector<LossSeries> s(3);
  s[0].label = "train <loss> & \"co\"";
  for (int i = 0; i <= 50; ++i) s[0].points.emplace_back(i * 10, 8.0 * std::exp(-i / 12.0) + 2);
  s[1].label = "val";
  s[1].points = {{0, 9.5}, {250, 3.1}, {500, 2.6}};
  s[2].label = "empty";
  SvgChartOptions o{.title = "run <1> & 'sft'", .x_label = "step", .y_label = "loss"};
  o.markers = {{300, "SFT <starts>"}};
  const std::string svg = loss_chart_svg(s, o);
  expect_well_formed(svg);
  EXPECT_EQ(count(svg, "<polyline"), 2u);
  EXPECT_EQ(polylines(svg)[0].size(), 51u);
  EXPECT_NE(svg.find("train &lt;loss&gt; &amp; &quot;co&quot;"), std::string::npos);
  EXPECT_NE(svg.find("run &lt;1&gt; &amp; &apos;sft&apos;"), std::string::npos);
  EXPECT_NE(svg.find("SFT &lt;starts&gt;"), std::string::npos);
  EXPECT_NE(svg.find("stroke-dasharray"), std::string::npos);
  EXPECT_EQ(svg.find(">empty<"), std::string::npos) << "empty series has no legend entry";
  // Two colours, both in the legend.
  const auto colour = [&](size_t n) {
    size_t p = 0;
    for (size_t k = 0; k <= n; ++k) p = svg.find("<polyline", p + 1);
    return svg.substr(svg.find("stroke=\"", p) + 8, 7);
  };
  EXPECT_NE(colour(0), colour(1));
  EXPECT_EQ(count(svg, "stroke=\"" + colour(1)), 2u);
  expect_inside(svg);
}

TEST(LossChart, PointsMapInsideThePlotAreaInOrder) {
  LossSeries s{"loss", {{-3.5, -1.0}, {0, 0.25}, {1e4, 7.0}, {2e4, 3.0}}};
  const std::string svg = loss_chart_svg({&s, 1}, {.width = 500, .height = 300});
  expect_well_formed(svg);
  const auto line = polylines(svg).at(0);
  ASSERT_EQ(line.size(), 4u);
  expect_inside(svg);
  for (size_t i = 1; i < line.size(); ++i) EXPECT_GT(line[i].first, line[i - 1].first);
  EXPECT_GT(line[0].second, line[1].second);  // lower loss is further down the page
  EXPECT_LT(line[2].second, line[3].second);
  EXPECT_NE(svg.find(">20000<"), std::string::npos) << "x tick at the nice bound";
}

TEST(LossChart, LogYSpacesDecadesEvenlyAndSkipsNonPositive) {
  LossSeries s{"", {{0, 1}, {1, 10}, {2, 100}, {3, 1000}, {4, 0}, {5, -2}}};
  SvgChartOptions o{.log_y = true};
  const std::string svg = loss_chart_svg({&s, 1}, o);
  expect_well_formed(svg);
  const auto line = polylines(svg).at(0);
  ASSERT_EQ(line.size(), 4u);
  const double d = line[0].second - line[1].second;
  EXPECT_GT(d, 10);
  EXPECT_NEAR(line[1].second - line[2].second, d, 0.15);
  EXPECT_NEAR(line[2].second - line[3].second, d, 0.15);
  for (const char* label : {">1<", ">10<", ">100<", ">1000<"}) {
    EXPECT_NE(svg.find(label), std::string::npos) << label;
  }
  EXPECT_EQ(svg.find("<rect x="), std::string::npos) << "unlabelled single series: no legend";

  // Within one decade the ticks are linear values placed on the log scale.
  LossSeries narrow{"", {{0, 2.1}, {1, 3.4}}};
  const std::string n = loss_chart_svg({&narrow, 1}, o);
  expect_well_formed(n);
  EXPECT_NE(n.find(">2.4<"), std::string::npos) << n;
  EXPECT_NE(n.find(">3.0<"), std::string::npos) << n;
  expect_inside(n);
}

TEST(LossChart, NonFiniteCoordinatesAreSkipped) {
  LossSeries s{"a", {{0, 3}, {1, kNaN}, {kInf, 2}, {3, -kInf}, {4, 1}, {kNaN, 5}}};
  const std::string svg = loss_chart_svg({&s, 1}, {});
  expect_well_formed(svg);
  ASSERT_EQ(polylines(svg).size(), 1u);
  EXPECT_EQ(polylines(svg)[0].size(), 2u);
  expect_inside(svg);
}

TEST(LossChart, EmptyAndSinglePoint) {
  const std::string none = loss_chart_svg({}, {.title = "nothing yet"});
  expect_well_formed(none);
  EXPECT_EQ(count(none, "<polyline"), 0u);
  EXPECT_NE(none.find("no data"), std::string::npos);

  LossSeries only_nan{"x", {{kNaN, kNaN}}};
  const std::string n = loss_chart_svg({&only_nan, 1}, {.log_y = true});
  expect_well_formed(n);
  EXPECT_EQ(count(n, "<polyline"), 0u);

  LossSeries one{"first", {{100, 10.8}}};
  const std::string svg = loss_chart_svg({&one, 1}, {});
  expect_well_formed(svg);
  EXPECT_EQ(count(svg, "<polyline"), 1u);
  EXPECT_EQ(count(svg, "<circle"), 1u);
  expect_inside(svg);
}

TEST(LossChart, HugeRangesStayFinite) {
  LossSeries wide{"w", {{0, 1e-8}, {1, 1e12}, {2, 3}}};
  std::string svg = loss_chart_svg({&wide, 1}, {.log_y = true});
  expect_well_formed(svg);
  expect_inside(svg);
  EXPECT_NE(svg.find(">1e-8<"), std::string::npos) << svg;

  LossSeries extreme{"e", {{-1e308, -1e308}, {1e308, 1e308}}};
  svg = loss_chart_svg({&extreme, 1}, {.width = 10, .height = 10});  // clamped to 240 x 160
  expect_well_formed(svg);
  expect_inside(svg);
  EXPECT_NE(svg.find("width=\"240\""), std::string::npos);
}

TEST(LossChart, LongRunsAreThinnedPerPixelColumn) {
  LossSeries s{"loss", {}};
  for (int i = 0; i < 200000; ++i)
    s.points.emplace_back(i, 3 + std::sin(i * 0.01) + (i % 7) * 0.01);
  const std::string svg = loss_chart_svg({&s, 1}, {.width = 720});
  expect_well_formed(svg);
  const auto line = polylines(svg).at(0);
  EXPECT_LE(line.size(), 4u * 720);
  EXPECT_GT(line.size(), 600u);
  EXPECT_LT(svg.size(), 150000u);
  expect_inside(svg);
}

TEST(ProgressLine, MatchesTheDocumentedExample) {
  // ETA = elapsed · (4000 − 120) / 120 = 3080 s = 51:20.
  const ProgressInfo p{.step = 120,
                       .total = 4000,
                       .loss = 2.3141,
                       .lr = 3e-4,
                       .tokens_per_s = 1234.4,
                       .elapsed_s = 3080.0 * 120 / 3880};
  EXPECT_EQ(progress_line(p, 10),
            "step 120/4000 [..........] 3.0% loss 2.314 lr 3.0e-4 1234 tok/s ETA 51:20");
  EXPECT_EQ(progress_line(p, 0), "step 120/4000 3.0% loss 2.314 lr 3.0e-4 1234 tok/s ETA 51:20");
}

TEST(ProgressLine, ZeroStepsUnknownRateAndUnknownTotal) {
  const ProgressInfo start{.step = 0, .total = 4000, .loss = kNaN, .lr = 0};
  EXPECT_EQ(progress_line(start, 4), "step 0/4000 [....] 0.0% loss nan lr 0 - tok/s ETA -");
  ProgressInfo p{.step = 1000,
                 .total = 4000,
                 .loss = 2.0,
                 .lr = 1e-3,
                 .tokens_per_s = kNaN,
                 .elapsed_s = 30,
                 .phase = "sft"};
  EXPECT_EQ(progress_line(p, 8),
            "[sft] step 1000/4000 [##......] 25.0% loss 2.000 lr 1.0e-3 "
            "- tok/s ETA 1:30");
  p.total = 0;
  EXPECT_EQ(progress_line(p), "[sft] step 1000 loss 2.000 lr 1.0e-3 - tok/s");
  p.total = 4000;
  p.elapsed_s = 0;
  EXPECT_EQ(progress_line(p, 0), "[sft] step 1000/4000 25.0% loss 2.000 lr 1.0e-3 - tok/s ETA -");
}

TEST(ProgressLine, DoneShowsElapsed) {
  const ProgressInfo p{.step = 4000,
                       .total = 4000,
                       .loss = 1.5,
                       .lr = 3e-5,
                       .tokens_per_s = 98765,
                       .elapsed_s = 3723};
  EXPECT_EQ(progress_line(p, 5),
            "step 4000/4000 [#####] 100.0% loss 1.500 lr 3.0e-5 98765 tok/s done in 1:02:03");
  ProgressInfo over = p;
  over.step = 4100;
  EXPECT_NE(progress_line(over, 5).find("[#####] 100.0%"), std::string::npos);
}

TEST(ProgressLine, DurationAndSciFormatting) {
  EXPECT_EQ(format_duration(0), "0:00");
  EXPECT_EQ(format_duration(5), "0:05");
  EXPECT_EQ(format_duration(59.6), "1:00");
  EXPECT_EQ(format_duration(3599.4), "59:59");
  EXPECT_EQ(format_duration(3600), "1:00:00");
  EXPECT_EQ(format_duration(3723), "1:02:03");
  EXPECT_EQ(format_duration(100 * 3600.0), "100:00:00");
  EXPECT_EQ(format_duration(kNaN), "-");
  EXPECT_EQ(format_duration(-1), "-");
  EXPECT_EQ(format_duration(kInf), "-");
  EXPECT_EQ(format_sci(3e-4, 1), "3.0e-4");
  EXPECT_EQ(format_sci(1, 1), "1.0e0");
  EXPECT_EQ(format_sci(1.5e10, 2), "1.50e10");
  EXPECT_EQ(format_sci(-2.5e-12, 1), "-2.5e-12");
  EXPECT_EQ(format_sci(0, 1), "0");
  EXPECT_EQ(xml_escape("a<b>&\"'\x01\tc"), "a&lt;b&gt;&amp;&quot;&apos;\tc");
}

}  // namespace
}  // namespace muse
