// Loss chart and progress line. The chart maps data to pixels through one `Axis` per
// direction (domain, ticks, linear or log10), so drawing code never sees data units.
// Tick steps follow the 1-2-5 "nice number" rule (Heckbert, "Nice Numbers for Graph Labels",
// Graphics Gems 1990): the domain is widened to whole steps so the frame sits on ticks.
#include "train/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace muse {
namespace {

// Distinct at a glance on white and for the common colour-vision deficiencies' worst pairs
// (blue/orange first); cycled when there are more series.
constexpr const char* kPalette[] = {"#2563eb", "#ea580c", "#16a34a", "#9333ea",
                                    "#dc2626", "#0891b2", "#a16207", "#db2777"};
constexpr double kCharWidth = 6.6;  // rough advance of a 11px sans-serif glyph, for layout

std::string fmt(const char* f, double a) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), f, a);
  return buf;
}

// printf's exponent is "e-04"/"e+06"; labels read better as "e-4"/"e6".
std::string tidy_exponent(std::string s) {
  const size_t e = s.find('e');
  if (e == std::string::npos) return s;
  std::string exp = s.substr(e + 1);
  const bool neg = !exp.empty() && exp[0] == '-';
  if (!exp.empty() && (exp[0] == '-' || exp[0] == '+')) exp.erase(0, 1);
  exp.erase(0, std::min(exp.find_first_not_of('0'), exp.size() - 1));
  return s.substr(0, e) + "e" + (neg ? "-" : "") + exp;
}

double nice_step(double raw) {
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

// `step` sets the decimals, so 0.25-spaced ticks read 0.25, 0.50 and not 0.3, 0.5.
std::string tick_label(double v, double step) {
  if (v == 0) return "0";
  const double a = std::fabs(v);
  if (a >= 1e6 || a < 1e-3) return tidy_exponent(fmt("%.4g", v));
  const int decimals = std::clamp(int(-std::floor(std::log10(step) + 1e-9)), 0, 6);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

struct Tick {
  double pos;  // in axis units (log10 of the value on a log axis)
  std::string label;
};

struct Axis {
  double lo = 0, hi = 1;  // domain in axis units
  bool log = false;
  std::vector<Tick> ticks;

  // Halved before subtracting so a domain spanning -DBL_MAX..DBL_MAX does not overflow.
  double frac_of_unit(double u) const { return (u * 0.5 - lo * 0.5) / (hi * 0.5 - lo * 0.5); }
  double frac(double v) const { return frac_of_unit(log ? std::log10(v) : v); }
};

void linear_ticks(double lo, double hi, int target, Axis* a) {
  const double step = nice_step((hi - lo) / std::max(target, 1));
  a->lo = std::floor(lo / step) * step;
  a->hi = std::ceil(hi / step) * step;
  const double i0 = std::round(a->lo / step), i1 = std::round(a->hi / step);
  for (double i = i0; i <= i1; ++i) {
    const double v = i * step + 0.0;  // + 0.0 turns -0 into 0
    a->ticks.push_back({v, tick_label(v, step)});
  }
}

// Widens an empty or single-value range so it still has an extent to draw.
void widen(double* lo, double* hi) {
  if (*hi > *lo) return;
  const double pad = *lo == 0 ? 1 : std::fabs(*lo) * 0.5;
  *lo -= pad;
  *hi += pad;
}

Axis linear_axis(double lo, double hi, int target) {
  Axis a;
  widen(&lo, &hi);
  if (!std::isfinite(hi - lo)) {  // a range near DBL_MAX: just the two ends
    a.lo = lo;
    a.hi = hi;
    a.ticks = {{lo, tick_label(lo, std::fabs(lo))}, {hi, tick_label(hi, std::fabs(hi))}};
    return a;
  }
  linear_ticks(lo, hi, target, &a);
  return a;
}

// Over a decade or more: ticks at powers of ten (with 2x and 5x between when there are only
// one or two decades), the domain widened to whole decades. Narrower: linear nice ticks
// placed on the log scale, as a loss between 2.1 and 3.4 needs.
Axis log_axis(double lo, double hi, int target) {
  Axis a;
  a.log = true;
  if (!(hi > lo)) {
    lo /= 2;
    hi *= 2;
  }
  const double l0 = std::log10(lo), l1 = std::log10(hi);
  if (l1 - l0 >= 1) {
    a.lo = std::floor(l0);
    a.hi = std::ceil(l1);
    const int decades = int(a.hi - a.lo);
    const int stride = std::max(1, (decades + target - 1) / std::max(target, 1));
    for (int d = 0; d <= decades; d += stride) {
      const double e = a.lo + d;
      a.ticks.push_back({e, tick_label(std::pow(10.0, e), std::pow(10.0, e))});
      if (decades > 2 || d == decades) continue;
      for (double m : {2.0, 5.0}) {
        const double v = m * std::pow(10.0, e);
        a.ticks.push_back({std::log10(v), tick_label(v, std::pow(10.0, e))});
      }
    }
    return a;
  }
  const double pad = 0.05 * (l1 - l0);
  a.lo = l0 - pad;
  a.hi = l1 + pad;
  Axis lin;
  linear_ticks(lo, hi, target, &lin);
  // Equal value steps bunch up towards the top of a log axis; drop those that would crowd
  // the one below (kept bottom-up: low losses are the interesting end).
  const double min_gap = (a.hi - a.lo) / (3.0 * std::max(target, 1));
  for (const Tick& t : lin.ticks) {
    if (t.pos <= 0) continue;
    const double u = std::log10(t.pos);
    if (u < a.lo || u > a.hi || (!a.ticks.empty() && u - a.ticks.back().pos < min_gap)) continue;
    a.ticks.push_back({u, t.label});
  }
  return a;
}

struct Px {
  double x, y;
};

// Keeps, of each run of points in one pixel column, the first, lowest, highest and last,
// in their original order: the drawn line is the same, the file is bounded by the width.
std::vector<Px> thin(const std::vector<Px>& pts) {
  std::vector<Px> out;
  for (size_t i = 0; i < pts.size();) {
    size_t j = i;
    size_t lo = i, hi = i;
    while (j < pts.size() && std::floor(pts[j].x) == std::floor(pts[i].x)) {
      if (pts[j].y < pts[lo].y) lo = j;
      if (pts[j].y > pts[hi].y) hi = j;
      ++j;
    }
    size_t keep[] = {i, lo, hi, j - 1};
    std::sort(std::begin(keep), std::end(keep));
    for (size_t k = 0; k < 4; ++k) {
      if (k == 0 || keep[k] != keep[k - 1]) out.push_back(pts[keep[k]]);
    }
    i = j;
  }
  return out;
}

std::string text_el(double x, double y, std::string_view anchor, std::string_view extra,
                    std::string_view text) {
  char buf[160];
  std::snprintf(buf, sizeof(buf), "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%.*s\"%.*s>", x, y,
                int(anchor.size()), anchor.data(), int(extra.size()), extra.data());
  return buf + xml_escape(text) + "</text>\n";
}

std::string line_el(double x1, double y1, double x2, double y2, std::string_view attrs) {
  char buf[160];
  std::snprintf(buf, sizeof(buf), "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" %.*s/>\n",
                x1, y1, x2, y2, int(attrs.size()), attrs.data());
  return buf;
}

// <rect LEAD x=.. y=.. width=.. height=.. TAIL/>: `lead` ends with a space when not empty.
std::string rect_el(std::string_view lead, double x, double y, double w, double h,
                    std::string_view tail) {
  char buf[96];
  std::snprintf(buf, sizeof(buf), "x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" ", x, y, w,
                h);
  return "<rect " + std::string(lead) + buf + std::string(tail) + "/>\n";
}

}  // namespace

std::string xml_escape(std::string_view s) {
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
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // XML 1.0 has no way to write other C0 controls, even escaped.
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n' || c == '\r') {
          out += c;
        }
    }
  }
  return out;
}

std::string format_sci(double v, int decimals) {
  if (v == 0) return "0";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*e", std::clamp(decimals, 0, 17), v);
  return tidy_exponent(buf);
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e9) return "-";
  const int64_t s = int64_t(std::llround(seconds));
  char buf[48];
  if (s >= 3600) {
    std::snprintf(buf, sizeof(buf), "%lld:%02lld:%02lld", (long long)(s / 3600),
                  (long long)(s / 60 % 60), (long long)(s % 60));
  } else {
    std::snprintf(buf, sizeof(buf), "%lld:%02lld", (long long)(s / 60), (long long)(s % 60));
  }
  return buf;
}

std::string loss_chart_svg(std::span<const LossSeries> series, const SvgChartOptions& o) {
  const int w = std::max(o.width, 240), h = std::max(o.height, 160);
  const double ml = 56 + (o.y_label.empty() ? 0 : 18), mr = 16;
  const double mt = 14 + (o.title.empty() ? 0 : 24), mb = 28 + (o.x_label.empty() ? 0 : 18);
  const double x0 = ml, y0 = mt, pw = w - ml - mr, ph = h - mt - mb;

  const auto usable = [&](double x, double y) {
    return std::isfinite(x) && std::isfinite(y) && (!o.log_y || y > 0);
  };
  constexpr double kInf = std::numeric_limits<double>::infinity();
  double xmin = kInf, xmax = -kInf, ymin = kInf, ymax = -kInf;
  for (const LossSeries& s : series) {
    for (const auto& [x, y] : s.points) {
      if (!usable(x, y)) continue;
      xmin = std::min(xmin, x), xmax = std::max(xmax, x);
      ymin = std::min(ymin, y), ymax = std::max(ymax, y);
    }
  }
  const bool have_data = ymin <= ymax;
  for (const auto& [x, label] : o.markers) {
    if (std::isfinite(x)) xmin = std::min(xmin, x), xmax = std::max(xmax, x);
  }
  if (!(xmin <= xmax)) xmin = 0, xmax = 1;
  if (!have_data) ymin = o.log_y ? 1 : 0, ymax = o.log_y ? 10 : 1;
  const Axis ax = linear_axis(xmin, xmax, std::max(2, int(pw / 90)));
  const Axis ay = o.log_y ? log_axis(ymin, ymax, std::max(2, int(ph / 45)))
                          : linear_axis(ymin, ymax, std::max(2, int(ph / 45)));
  const auto px = [&](double x) { return x0 + ax.frac(x) * pw; };
  const auto py = [&](double y) { return y0 + ph - ay.frac(y) * ph; };

  std::string svg = fmt("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\"", w);
  svg += fmt(" height=\"%.0f\"", h) + fmt(" viewBox=\"0 0 %.0f", w) + fmt(" %.0f\"", h);
  svg += " font-family=\"sans-serif\" font-size=\"11\">\n";
  svg += fmt("<rect width=\"%.0f\"", w) + fmt(" height=\"%.0f\" fill=\"white\"/>\n", h);
  if (!o.title.empty()) {
    svg += text_el(w / 2.0, 22, "middle", " font-size=\"14\" font-weight=\"bold\"", o.title);
  }
  for (const Tick& t : ay.ticks) {
    const double y = y0 + ph - ay.frac_of_unit(t.pos) * ph;
    svg += line_el(x0, y, x0 + pw, y, "stroke=\"#e5e7eb\"");
    svg += text_el(x0 - 5, y + 4, "end", "", t.label);
  }
  for (const Tick& t : ax.ticks) {
    const double x = x0 + ax.frac_of_unit(t.pos) * pw;
    svg += line_el(x, y0 + ph, x, y0 + ph + 4, "stroke=\"#374151\"");
    svg += text_el(x, y0 + ph + 16, "middle", "", t.label);
  }
  svg += rect_el("class=\"plot\" ", x0, y0, pw, ph, "fill=\"none\" stroke=\"#374151\"");
  if (!o.x_label.empty()) svg += text_el(x0 + pw / 2, h - 6.0, "middle", "", o.x_label);
  if (!o.y_label.empty()) {
    const double cy = y0 + ph / 2;
    svg += text_el(14, cy, "middle", fmt(" transform=\"rotate(-90 14 %.1f)\"", cy), o.y_label);
  }
  if (!have_data)
    svg += text_el(x0 + pw / 2, y0 + ph / 2, "middle", " fill=\"#6b7280\"", "no data");

  for (size_t i = 0; i < o.markers.size(); ++i) {
    const auto& [mx, label] = o.markers[i];
    if (!std::isfinite(mx)) continue;
    const double x = px(mx);
    svg += line_el(x, y0, x, y0 + ph, "stroke=\"#6b7280\" stroke-dasharray=\"4 3\"");
    const bool right_half = x > x0 + pw * 0.7;  // keep the label inside the frame
    svg += text_el(right_half ? x - 3 : x + 3, y0 + 12 + 13.0 * double(i % 3),
                   right_half ? "end" : "start", " fill=\"#374151\"", label);
  }

  std::vector<std::pair<std::string, const char*>> legend;
  for (const LossSeries& s : series) {
    std::vector<Px> pts;
    for (const auto& [x, y] : s.points) {
      if (usable(x, y)) pts.push_back({px(x), py(y)});
    }
    if (pts.empty()) continue;
    const char* colour = kPalette[legend.size() % std::size(kPalette)];
    legend.emplace_back(s.label, colour);
    svg += "<polyline fill=\"none\" stroke=\"";
    svg += colour;
    svg += "\" stroke-width=\"1.5\" stroke-linejoin=\"round\" points=\"";
    char buf[64];
    for (const Px& p : thin(pts)) {
      std::snprintf(buf, sizeof(buf), "%.1f,%.1f ", p.x, p.y);
      svg += buf;
    }
    svg.back() = '"';
    svg += "/>\n";
    if (pts.size() == 1) {
      std::snprintf(buf, sizeof(buf), "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"", pts[0].x,
                    pts[0].y);
      svg += buf + std::string(colour) + "\"/>\n";
    }
  }

  if (legend.size() > 1 || (legend.size() == 1 && !legend[0].first.empty())) {
    size_t longest = 0;
    for (const auto& [label, colour] : legend) longest = std::max(longest, label.size());
    const double lw = 34 + kCharWidth * double(std::min<size_t>(longest, 40));
    const double lh = 8 + 15.0 * double(legend.size());
    const double lx = x0 + pw - lw - 8, ly = y0 + 8;
    svg += rect_el("", lx, ly, lw, lh, "fill=\"white\" fill-opacity=\"0.85\" stroke=\"#d1d5db\"");
    for (size_t i = 0; i < legend.size(); ++i) {
      const double cy = ly + 12 + 15.0 * double(i);
      svg += line_el(lx + 6, cy, lx + 24, cy,
                     "stroke=\"" + std::string(legend[i].second) + "\" stroke-width=\"2\"");
      svg += text_el(lx + 28, cy + 4, "start", "", legend[i].first);
    }
  }
  svg += "</svg>\n";
  return svg;
}

std::string progress_line(const ProgressInfo& p, int bar_width) {
  // Appended piece by piece: GCC 12 warns (-Wrestrict, a false positive) on "x" + string.
  std::string out;
  if (!p.phase.empty()) out.append("[").append(p.phase).append("] ");
  out.append("step ").append(std::to_string(p.step));
  const bool known_total = p.total > 0;
  if (known_total) {
    out.append("/").append(std::to_string(p.total));
    const double frac = std::clamp(double(p.step) / double(p.total), 0.0, 1.0);
    if (bar_width > 0) {
      const int filled = std::min(bar_width, int(frac * bar_width));
      out.append(" [").append(size_t(filled), '#').append(size_t(bar_width - filled), '.');
      out.append("]");
    }
    out += fmt(" %.1f%%", frac * 100);
  }
  out += fmt(" loss %.3f", p.loss);
  out += " lr " + format_sci(p.lr, 1);
  const bool known_rate = std::isfinite(p.tokens_per_s) && p.tokens_per_s > 0;
  out += known_rate ? fmt(" %.0f tok/s", p.tokens_per_s) : std::string(" - tok/s");
  if (!known_total) return out;
  if (p.step >= p.total) return out + " done in " + format_duration(p.elapsed_s);
  const bool can_extrapolate = p.step > 0 && std::isfinite(p.elapsed_s) && p.elapsed_s > 0;
  const double eta = can_extrapolate ? p.elapsed_s * double(p.total - p.step) / double(p.step)
                                     : std::numeric_limits<double>::quiet_NaN();
  return out + " ETA " + format_duration(eta);
}

}  // namespace muse
