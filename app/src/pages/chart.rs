//! The report's chart as an SVG string, drawn on the server: stacked bars
//! of succeeded (solid), failed (hatched) and still open (dotted)
//! deliveries per hour or day. Patterns and a legend make it readable
//! without colour; every bar has a title with its numbers, and the page
//! shows the same numbers as a table.

use std::fmt::Write;

use engine::reports::{Bucket, ChartBar};

const WIDTH: f64 = 960.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 40.0;

/// How a bar's start reads on the axis and in its title.
pub fn bar_label(bar: &ChartBar, bucket: Bucket) -> String {
    match bucket {
        Bucket::Hour => bar.start.format("%b %-d %H:00").to_string(),
        Bucket::Day => bar.start.format("%b %-d").to_string(),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Where counts land on the canvas.
struct Plot {
    max: i64,
    slot: f64,
    bar_w: f64,
}

impl Plot {
    fn new(bars: &[ChartBar]) -> Self {
        let max = bars.iter().map(ChartBar::total).max().unwrap_or(0).max(1);
        let slot = (WIDTH - LEFT - RIGHT) / bars.len().max(1) as f64;
        Plot {
            max,
            slot,
            bar_w: (slot * 0.8).max(1.0),
        }
    }

    /// The height on the canvas of a count.
    fn y(&self, n: i64) -> f64 {
        let plot_h = HEIGHT - TOP - BOTTOM;
        TOP + plot_h - (n as f64 / self.max as f64) * plot_h
    }

    /// The left edge of the `i`th bar.
    fn x(&self, i: usize) -> f64 {
        LEFT + i as f64 * self.slot + (self.slot - self.bar_w) / 2.0
    }
}

/// The chart; `title` names what it shows (all webhooks or one).
pub fn svg(bars: &[ChartBar], bucket: Bucket, title: &str) -> String {
    let plot = Plot::new(bars);
    let total: i64 = bars.iter().map(ChartBar::total).sum();
    let mut out = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title chart-desc" class="chart" data-testid="chart">
<title id="chart-title">{title}</title>
<desc id="chart-desc">{total} deliveries in {count} bars of one {unit} each. The table below the chart lists the same numbers.</desc>
<defs>
<pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fde2df"/><line x1="0" y1="0" x2="0" y2="6" stroke="#b42318" stroke-width="3"/></pattern>
<pattern id="dots" width="5" height="5" patternUnits="userSpaceOnUse"><rect width="5" height="5" fill="#f2f4f7"/><circle cx="2.5" cy="2.5" r="1.2" fill="#5b6475"/></pattern>
</defs>
"##,
        title = escape(title),
        count = bars.len(),
        unit = match bucket {
            Bucket::Hour => "hour",
            Bucket::Day => "day",
        },
    );
    y_axis(&mut out, &plot);
    // Label about eight bars along the x axis, whatever the count.
    let every = bars.len().div_ceil(8).max(1);
    for (i, bar) in bars.iter().enumerate() {
        let label = bar_label(bar, bucket);
        stacked_bar(&mut out, &plot, plot.x(i), bar, &label);
        if i % every == 0 {
            let _ = writeln!(
                out,
                r##"<text x="{cx:.1}" y="{ty}" text-anchor="middle" font-size="11" fill="#1d2330">{}</text>"##,
                escape(&label),
                cx = plot.x(i) + plot.bar_w / 2.0,
                ty = HEIGHT - BOTTOM + 16.0,
            );
        }
    }
    legend(&mut out);
    out.push_str("</svg>");
    out
}

/// The y axis: zero, half and the maximum, with light grid lines.
fn y_axis(out: &mut String, plot: &Plot) {
    let max = plot.max;
    for n in [0, max / 2, max] {
        if n == max / 2 && (n == 0 || n == max) {
            continue;
        }
        let at = plot.y(n);
        let _ = writeln!(
            out,
            r##"<line x1="{LEFT}" x2="{x2}" y1="{at:.1}" y2="{at:.1}" stroke="#d9dee7"/><text x="{tx}" y="{ty:.1}" text-anchor="end" font-size="11" fill="#1d2330">{n}</text>"##,
            x2 = WIDTH - RIGHT,
            tx = LEFT - 6.0,
            ty = at + 4.0,
        );
    }
}

/// One bar: succeeded, failed and open stacked, titled with its numbers.
fn stacked_bar(out: &mut String, plot: &Plot, x: f64, bar: &ChartBar, label: &str) {
    let _ = write!(
        out,
        r#"<g data-testid="chart-bar"><title>{}: {} succeeded, {} failed, {} still open</title>"#,
        escape(label),
        bar.succeeded,
        bar.failed,
        bar.open
    );
    let mut base = 0;
    for (n, fill) in [
        (bar.succeeded, "#146c2e"),
        (bar.failed, "url(#hatch)"),
        (bar.open, "url(#dots)"),
    ] {
        if n == 0 {
            continue;
        }
        let top = plot.y(base + n);
        let height = plot.y(base) - top;
        let bar_w = plot.bar_w;
        let _ = write!(
            out,
            r##"<rect x="{x:.1}" y="{top:.1}" width="{bar_w:.1}" height="{height:.1}" fill="{fill}" stroke="#1d2330" stroke-width="0.5"/>"##
        );
        base += n;
    }
    out.push_str("</g>\n");
}

/// The legend, top left: a swatch with its pattern and a word.
fn legend(out: &mut String) {
    for (i, (fill, word)) in [
        ("#146c2e", "Succeeded"),
        ("url(#hatch)", "Failed"),
        ("url(#dots)", "Still retrying or pending"),
    ]
    .into_iter()
    .enumerate()
    {
        let x = LEFT + i as f64 * 130.0;
        let _ = writeln!(
            out,
            r##"<rect x="{x}" y="6" width="14" height="14" fill="{fill}" stroke="#1d2330" stroke-width="0.5"/><text x="{tx}" y="17" font-size="12" fill="#1d2330">{word}</text>"##,
            tx = x + 19.0
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(day: u32, succeeded: i64, failed: i64) -> ChartBar {
        ChartBar {
            start: format!("2026-11-{day:02}T00:00:00Z").parse().unwrap(),
            succeeded,
            failed,
            open: 0,
        }
    }

    #[test]
    fn every_bar_says_its_numbers_and_failures_are_hatched() {
        let chart = svg(
            &[bar(20, 3, 1), bar(21, 0, 0), bar(22, 2, 0)],
            Bucket::Day,
            "All <webhooks>",
        );
        assert!(chart.contains("<title id=\"chart-title\">All &lt;webhooks&gt;</title>"));
        assert!(chart.contains("<title>Nov 20: 3 succeeded, 1 failed, 0 still open</title>"));
        assert!(chart.contains("<title>Nov 21: 0 succeeded, 0 failed, 0 still open</title>"));
        assert_eq!(chart.matches("data-testid=\"chart-bar\"").count(), 3);
        assert_eq!(
            chart.matches("fill=\"url(#hatch)\"").count(),
            2,
            "one bar and the legend"
        );
        assert!(chart.contains("6 deliveries in 3 bars of one day each"));
    }
}
