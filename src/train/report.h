// The training report's pieces: a self-contained SVG loss chart (no scripts, no external
// fonts or styles, so it can be opened directly or inlined into HTML or Markdown) and the
// one-line progress display. Both are pure functions of their inputs so tests can pin them.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace muse {

struct LossSeries {
  std::string label{};
  std::vector<std::pair<double, double>> points{};  // (step or tokens, loss)
};

// The `{}` initializers keep GCC's -Wmissing-field-initializers quiet for designated
// initializers that name only some fields.
struct SvgChartOptions {
  std::string title{}, x_label{}, y_label{};
  bool log_y = false;  // non-positive y values are then skipped like NaN
  int width = 720;     // pixels; clamped to at least 240 x 160
  int height = 400;
  std::vector<std::pair<double, std::string>> markers{};  // dashed vertical line at x, labelled
};

// A line chart: framed plot area (an `<rect class="plot">`), nice tick labels on both axes,
// one `<polyline>` per series with at least one finite point (a lone point also gets a
// dot), a legend when there is more than one series or the only one is labelled, markers,
// title and axis labels. Points with a non-finite coordinate are skipped and the line joins
// its neighbours. Runs of points landing in one pixel column are thinned to their first,
// lowest, highest and last, so a million-step run still gives a small file. All text is
// XML-escaped.
std::string loss_chart_svg(std::span<const LossSeries> series, const SvgChartOptions& o);

struct ProgressInfo {
  int64_t step = 0, total = 0;  // total <= 0: unknown, no bar, percentage or ETA
  double loss = 0, lr = 0;
  double tokens_per_s = 0;  // <= 0 or non-finite: unknown, shown as "-"
  double elapsed_s = 0;     // wall time of the steps done so far; the ETA extrapolates it
  std::string phase{};      // shown first as "[phase]" when not empty
};

// "[sft] step 120/4000 [#.........] 3.0% loss 2.314 lr 3.0e-4 1234 tok/s ETA 51:20".
// ETA is m:ss below an hour and h:mm:ss above, "-" before the first step; a finished run
// shows "done in <elapsed>" instead. `bar_width` <= 0 drops the bar.
std::string progress_line(const ProgressInfo& p, int bar_width = 20);

// Helpers the report uses, exposed for reuse and tests.
std::string format_duration(double seconds);     // "0:05", "51:20", "1:02:03"; "-" if invalid
std::string format_sci(double v, int decimals);  // 3e-4, 1 -> "3.0e-4"; exponent unpadded
std::string xml_escape(std::string_view s);      // &<>"' escaped, other C0 controls dropped

}  // namespace muse
