//! A check's values over a run as a chart GitHub draws in comments and job summaries: Mermaid's
//! `xychart-beta`, using only what Mermaid 10.6 already parses (GitHub does not say which
//! Mermaid it serves; the tests parse with 10.9 and render with 11). Canary, baseline and the
//! check's fixed bounds are lines; the x axis is minutes since the run began, and the title
//! says when the canary's weight changed. Series colours are set in the chart and named in its
//! caption, as `xychart-beta` in Mermaid 10 draws no legend.

use crate::plan::check::Unit;
use serde::Serialize;
use std::fmt::Write;

/// The most points a chart shows: evaluations are averaged into this many spans at most.
const MAX_POINTS: usize = 40;

/// Canary red, baseline blue, bounds grey, orange, purple: GitHub's own palette.
const RED: &str = "#cf222e";
const BLUE: &str = "#0969da";
const BOUND_COLOURS: [(&str, &str); 3] = [
    ("grey", "#6e7781"),
    ("orange", "#bc4c00"),
    ("purple", "#8250df"),
];

/// One evaluation: when (seconds since the run began) and what each group showed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub t: f64,
    pub canary: Option<f64>,
    pub baseline: Option<f64>,
}

/// A chart with its caption.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Chart {
    /// The Mermaid source, for a ```mermaid block.
    pub mermaid: String,
    /// What each line is, and what the chart leaves out.
    pub caption: String,
}

/// `check`'s chart from its evaluations, its fixed `bounds` (label, value in the query's unit)
/// and the moments the weight changed (`(t, "25%")`, in order); `None` without a canary value
/// to draw.
pub fn chart(
    check: &str,
    unit: Unit,
    points: &[Point],
    bounds: &[(String, f64)],
    shifts: &[(f64, String)],
) -> Option<Chart> {
    let (scale, axis) = match unit {
        Unit::Ratio => (100.0, "%"),
        Unit::Seconds => (1000.0, "ms"),
        Unit::Milliseconds => (1.0, "ms"),
        Unit::Number => (1.0, ""),
    };
    let spans = spans(points);
    if spans.is_empty() {
        return None;
    }
    let has_baseline = spans.iter().any(|s| s.baseline.is_some());
    let labels: Vec<String> = spans
        .iter()
        .map(|s| format!("\"{}m\"", (s.from / 60.0).round() as u64))
        .collect();
    // The phases, in the title: axis labels long enough to carry them would overlap.
    let phases: Vec<String> = shifts
        .iter()
        .map(|(t, w)| format!("{w} at {}m", (t / 60.0).round() as u64))
        .collect();
    let title = match phases.is_empty() {
        true => quoted(check),
        false => format!("{} · canary {}", quoted(check), phases.join(", ")),
    };
    let canary: Vec<f64> = spans.iter().map(|s| s.canary * scale).collect();
    // Where the baseline had no data in a span, its previous value is drawn.
    let mut last = None;
    let baseline: Vec<f64> = spans
        .iter()
        .map(|s| {
            last = s.baseline.or(last);
            last.unwrap_or(f64::NAN) * scale
        })
        .collect();
    let first_baseline = baseline.iter().copied().find(|v| v.is_finite());
    let baseline: Vec<f64> = baseline
        .into_iter()
        .map(|v| {
            if v.is_finite() {
                v
            } else {
                first_baseline.unwrap_or(0.0)
            }
        })
        .collect();
    let drawn_bounds: Vec<(String, f64)> =
        bounds.iter().map(|(l, v)| (l.clone(), v * scale)).collect();
    let all = canary
        .iter()
        .chain(if has_baseline {
            baseline.iter()
        } else {
            [].iter()
        })
        .copied()
        .chain(drawn_bounds.iter().map(|b| b.1));
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
        (l.min(v), h.max(v))
    });
    let lo = if lo >= 0.0 { 0.0 } else { lo * 1.1 };
    let hi = if hi > lo { hi * 1.1 } else { lo + 1.0 };

    // Drawn in this order, so the canary is on top: bounds, the baseline, the canary.
    let mut lines: Vec<(&str, String, Vec<f64>)> = drawn_bounds
        .iter()
        .zip(BOUND_COLOURS)
        .map(|((label, v), (name, hex))| (hex, format!("{name}: {label}"), vec![*v; spans.len()]))
        .collect();
    if has_baseline {
        lines.push((BLUE, "blue: baseline (stable)".into(), baseline));
    }
    lines.push((RED, "red: canary".into(), canary));
    let palette: Vec<&str> = lines.iter().map(|l| l.0).collect();

    let mut m = String::new();
    let _ = writeln!(
        m,
        "%%{{init: {{\"themeVariables\": {{\"xyChart\": {{\"plotColorPalette\": \"{}\"}}}}}}}}%%",
        palette.join(", ")
    );
    let _ = writeln!(m, "xychart-beta");
    let _ = writeln!(m, "    title \"{title}\"");
    let _ = writeln!(
        m,
        "    x-axis \"minutes since the start\" [{}]",
        labels.join(", ")
    );
    let _ = writeln!(m, "    y-axis \"{axis}\" {} --> {}", number(lo), number(hi));
    for (_, _, values) in &lines {
        let _ = writeln!(m, "    line [{}]", list(values));
    }
    let caption: Vec<String> = lines.iter().rev().map(|l| l.1.clone()).collect();
    let mut caption = caption.join(" · ");
    let per = points.len().div_ceil(MAX_POINTS);
    if per > 1 {
        let _ = write!(caption, " · each point averages {per} evaluations");
    }
    if spans.iter().map(|s| s.skipped).sum::<usize>() > 0 {
        caption += " · spans without canary data are left out";
    }
    Some(Chart {
        mermaid: m,
        caption,
    })
}

/// Evaluations averaged into at most [`MAX_POINTS`] spans of equal count.
struct Span {
    from: f64,
    canary: f64,
    baseline: Option<f64>,
    /// Spans before this one left out for want of canary data.
    skipped: usize,
}

fn spans(points: &[Point]) -> Vec<Span> {
    let per = points.len().div_ceil(MAX_POINTS).max(1);
    let mut out = Vec::new();
    let mut skipped = 0;
    for chunk in points.chunks(per) {
        let mean = |f: fn(&Point) -> Option<f64>| {
            let vals: Vec<f64> = chunk.iter().filter_map(f).collect();
            (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64)
        };
        match mean(|p| p.canary) {
            Some(canary) => {
                out.push(Span {
                    from: chunk[0].t,
                    canary,
                    baseline: mean(|p| p.baseline),
                    skipped,
                });
                skipped = 0;
            }
            None => skipped += 1,
        }
    }
    if skipped > 0 {
        if let Some(last) = out.last_mut() {
            last.skipped += skipped;
        }
    }
    out
}

/// A number as Mermaid reads it, with no more digits than a chart can show.
fn number(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

fn list(values: &[f64]) -> String {
    values
        .iter()
        .map(|v| number(*v))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Text inside a Mermaid string: no quotes to end it early.
fn quoted(s: &str) -> String {
    s.replace('"', "'")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(t: f64, canary: Option<f64>, baseline: Option<f64>) -> Point {
        Point {
            t,
            canary,
            baseline,
        }
    }

    #[test]
    fn canary_baseline_and_bounds_are_lines_over_minutes_with_weight_changes_marked() {
        let points = [
            p(60.0, Some(0.004), Some(0.005)),
            p(120.0, None, Some(0.005)),
            p(180.0, Some(0.03), None),
        ];
        let bounds = [("max 1%".to_string(), 0.01)];
        let shifts = [(0.0, "5%".to_string()), (150.0, "25%".to_string())];
        let c = chart("errors", Unit::Ratio, &points, &bounds, &shifts).unwrap();
        assert_eq!(
            c.mermaid,
            "%%{init: {\"themeVariables\": {\"xyChart\": {\"plotColorPalette\": \"#6e7781, #0969da, #cf222e\"}}}}%%\n\
             xychart-beta\n    title \"errors · canary 5% at 0m, 25% at 3m\"\n    x-axis \"minutes since the start\" [\"1m\", \"3m\"]\n    y-axis \"%\" 0 --> 3.3\n    line [1, 1]\n    line [0.5, 0.5]\n    line [0.4, 3]\n"
        );
        assert_eq!(
            c.caption,
            "red: canary · blue: baseline (stable) · grey: max 1% · spans without canary data are left out"
        );
        assert_eq!(
            chart("errors", Unit::Ratio, &[p(1.0, None, None)], &[], &[]),
            None
        );
    }

    #[test]
    fn long_runs_are_averaged_into_at_most_forty_points() {
        let points: Vec<Point> = (0..200)
            .map(|i| p(i as f64 * 60.0, Some(0.2), None))
            .collect();
        let c = chart("latency", Unit::Seconds, &points, &[], &[]).unwrap();
        let line = c
            .mermaid
            .lines()
            .rfind(|l| l.trim_start().starts_with("line"))
            .unwrap();
        assert_eq!(line.matches(',').count() + 1, 40);
        assert!(line.contains("200"), "{line}");
        assert!(
            c.caption.ends_with("each point averages 5 evaluations"),
            "{}",
            c.caption
        );
    }
}
