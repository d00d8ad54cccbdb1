//! Why a run rolled back, in the words a deploy engineer reads first; the statistic and its
//! evidence follow it in the reports, for whoever wants them.

use crate::analysis::threshold::show;
use crate::event::Reason;
use crate::plan::check::Unit;

/// The headline of a rollback. For the sequential test: how much worse the canary was than
/// stable, over how long, and how rarely a healthy canary shows evidence that strong — an
/// e-value `e` means at most 1 in `e` healthy canaries ever reach it (Ville's inequality).
/// Otherwise the reason as the runner gave it, which already names value and bound.
/// `over`: seconds from the check's first evaluation to the one that fired.
pub fn rollback_in_words(reason: &Reason, unit: Unit, over: f64) -> String {
    let (Some(e), Some(check)) = (reason.evidence.as_deref(), reason.check.as_deref()) else {
        return reason.message.clone();
    };
    let (Some(ratio), Some(canary), Some(baseline)) = (e.ratio, e.canary_rate, e.baseline_rate)
    else {
        return reason.message.clone();
    };
    if let Some(slower) = e.slower {
        return format!(
            "`{check}` slower than stable's by more than {}: {} of its requests took over {} against {} of stable's over {} ({} / {}) over {}; a false alarm this strong comes from fewer than 1 in {} healthy canaries",
            crate::plan::Quantity::Percent(slower.tolerance),
            show(canary, Unit::Ratio),
            show(slower.canary_than, unit),
            show(baseline, Unit::Ratio),
            show(slower.baseline_than, unit),
            show(slower.canary_than, unit),
            1.0 + slower.tolerance,
            minutes(over),
            thousands(e.e_value.floor())
        );
    }
    let tolerance = if e.null_ratio <= 1.0 {
        "no worse than stable".to_string()
    } else {
        format!("at most {}× stable's", trim(e.null_ratio))
    };
    format!(
        "`{check}` at {}× stable's ({} against {}) over {}; a false alarm this strong comes from fewer than 1 in {} healthy canaries ({tolerance})",
        trim(ratio),
        show(canary, unit),
        show(baseline, unit),
        minutes(over),
        thousands(e.e_value.floor())
    )
}

/// `2.51` → `2.5`, `1.1` → `1.1`, `3.0` → `3`.
fn trim(v: f64) -> String {
    let s = format!("{v:.1}");
    s.trim_end_matches(".0").to_string()
}

fn minutes(secs: f64) -> String {
    if secs < 90.0 {
        return format!("{} seconds", secs.round() as u64);
    }
    format!("{} minutes", (secs / 60.0).round() as u64)
}

/// `1234567` → `1,234,567`.
fn thousands(v: f64) -> String {
    let digits = format!("{}", v.max(1.0) as u64);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Evidence;

    #[test]
    fn the_sequential_test_in_words_and_anything_else_as_it_was_said() {
        let mut reason = Reason::says("errors 1.22% vs baseline 0.486% over the run so far (2.51×, tolerance 1×): e-value 125 ≥ 100 at canary-10.observe");
        reason.check = Some("errors".into());
        assert_eq!(
            rollback_in_words(&reason, Unit::Ratio, 1140.0),
            reason.message
        );
        reason.evidence = Some(Box::new(Evidence {
            e_value: 125.4,
            bound: 100.0,
            ratio: Some(2.51),
            canary_rate: Some(0.0122),
            baseline_rate: Some(0.00486),
            null_ratio: 1.0,
            dispersion: 1.0,
            slower: None,
        }));
        assert_eq!(
            rollback_in_words(&reason, Unit::Ratio, 1140.0),
            "`errors` at 2.5× stable's (1.22% against 0.486%) over 19 minutes; a false alarm this strong comes from fewer than 1 in 125 healthy canaries (no worse than stable)"
        );
        reason.evidence.as_mut().unwrap().null_ratio = 1.1;
        reason.evidence.as_mut().unwrap().e_value = 2_345_678.0;
        assert!(rollback_in_words(&reason, Unit::Ratio, 30.0).ends_with("over 30 seconds; a false alarm this strong comes from fewer than 1 in 2,345,678 healthy canaries (at most 1.1× stable's)"));
        // Latency from histograms: shares slower than the two latencies compared.
        let e = reason.evidence.as_mut().unwrap();
        e.slower = Some(crate::event::Slower {
            canary_than: 0.25,
            baseline_than: 0.25 / 1.1,
            tolerance: 0.1,
        });
        (e.canary_rate, e.baseline_rate, e.e_value) = (Some(0.0905), Some(0.0509), 147.2);
        reason.check = Some("latency".into());
        assert_eq!(
            rollback_in_words(&reason, Unit::Seconds, 600.0),
            "`latency` slower than stable's by more than 10%: 9.05% of its requests took over 250ms against 5.09% of stable's over 227ms (250ms / 1.1) over 10 minutes; a false alarm this strong comes from fewer than 1 in 147 healthy canaries"
        );
    }
}
