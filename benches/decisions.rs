//! `cargo bench --bench decisions [-- SEEDS]`: how well rollgate's default analysis decides,
//! beside two reference policies and the limit no method can beat.
//!
//! A generator makes per-minute data for a canary and its baseline (stable): requests, errors
//! and a latency histogram (Prometheus' default buckets), for scenarios healthy and not. Each
//! policy watches every minute and may roll back; over SEEDS seeds (300 by default) per
//! scenario the table shows the share of runs rolled back and the median minute of deciding.
//!
//! - rollgate: `workflows/statistical-canary.yaml`'s checks, with the code `rollgate run` and
//!   `dry-run` use: the sequential test on errors (`analysis::sequential`, tolerance 0%) and
//!   the latency test on whole histograms (`analysis::latency`: p90 and every quantile above
//!   it may be 10% slower than the baseline's, judged against the baseline's histogram of the
//!   hour before), each at its default `false-rollbacks: 1%`.
//! - Argo-style: fixed thresholds on the last 5 minutes' error rate and p99, checked every
//!   minute; each calibrated on 10 × SEEDS separate healthy runs to 0.5% false rollbacks
//!   (about 1% for the pair).
//! - Kayenta-style: every 10 minutes, Mann-Whitney U (`analysis::mann_whitney`) on the last
//!   10 per-minute error rates and p99s of each group; a metric is High when p < 0.01 and the
//!   canary's median is over 10% above the baseline's; any High rolls back.
//! - The limit: a Wald SPRT that knows what each rollback scenario does (the canary's error
//!   ratio minute by minute, its latency buckets' shares) on the same conditioned counts,
//!   its bound calibrated per scenario on 10 × SEEDS separate healthy runs of the same bucket
//!   layout to 1% false rollbacks.
//!
//! Each cell has the share's 95% interval (Wilson). "Other buckets" uses a layout of someone
//! else's (bounds 1.5× apart, no 0.25 s); "only the tail slower" stretches latency above the
//! canary's p95 only. Latency is log-normal here, which is what the latency test assumes
//! between bucket bounds: its false-rollback rate on other shapes is not measured here.
//!
//! `-- --fixture SCENARIO SEED FILE` writes one generated run as a rollgate fixture for
//! `workflows/statistical-canary.yaml` (cumulative counters, one step a minute).

use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Binomial, Distribution, Gamma, Poisson};
use rollgate::analysis::histogram;
use rollgate::analysis::latency::LatencyTest;
use rollgate::analysis::mann_whitney::{self, Class};
use rollgate::analysis::sequential::{Counts, RateRatioTest};
use statrs::distribution::{ContinuousCDF, Normal};

const MINUTES: usize = 60;
const REQUESTS_PER_MINUTE: f64 = 1000.0;
/// Prometheus' default histogram buckets.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// A layout of someone else's: 0.25 is not among its bounds.
const OTHER_BUCKETS: [f64; 10] = [0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6, 1.0, 2.0];
/// Latency is log-normal: median 100 ms, σ 0.5 (p99 about 320 ms).
const LATENCY_MEDIAN: f64 = 0.1;
const LATENCY_SIGMA: f64 = 0.5;
/// rollgate's default `false-rollbacks`, per check.
const FALSE_ROLLBACKS: f64 = 0.01;
/// rollgate's latency check: every quantile from p90 up may be 10% slower than the baseline's.
const LATENCY_FROM: f64 = 0.9;
const LATENCY_TOLERANCE: f64 = 0.1;

/// What a scenario does, minute by minute.
struct Scenario {
    name: &'static str,
    /// Whether a good policy promotes (true) or rolls back.
    promote: bool,
    /// The canary's share of traffic.
    weight: fn(usize) -> f64,
    /// Traffic, as a multiple of 1,000 requests a minute.
    traffic: fn(usize) -> f64,
    /// The baseline's error rate.
    baseline_errors: f64,
    /// Both versions' error rates multiplied (an incident).
    both_errors: fn(usize) -> f64,
    /// The canary's error rate multiplied.
    canary_errors: fn(usize) -> f64,
    /// The canary's latency multiplied.
    canary_latency: fn(usize) -> f64,
    /// Errors in bursts: each minute's rate times a Gamma(k, 1/k) factor, per version.
    bursts: Option<f64>,
    /// Only the canary's tail slower: above its p95, latency stretched up to this factor at
    /// p99 and beyond (p95 unchanged).
    tail: Option<f64>,
    /// The histogram's bucket bounds (the +Inf bucket is added).
    layout: &'static [f64],
}

fn one(_: usize) -> f64 {
    1.0
}
fn ten_percent(_: usize) -> f64 {
    0.1
}

fn scenarios() -> Vec<Scenario> {
    let base = Scenario {
        name: "",
        promote: true,
        weight: ten_percent,
        traffic: one,
        baseline_errors: 0.005,
        both_errors: one,
        canary_errors: one,
        canary_latency: one,
        bursts: None,
        tail: None,
        layout: &BUCKETS,
    };
    vec![
        Scenario {
            name: "healthy",
            ..base
        },
        Scenario {
            name: "low-traffic start",
            traffic: |t| if t < 10 { 0.05 } else { 1.0 },
            ..base
        },
        Scenario {
            name: "incident on both versions",
            both_errors: |t| if (20..35).contains(&t) { 10.0 } else { 1.0 },
            ..base
        },
        Scenario {
            name: "one-minute blip",
            canary_errors: |t| if t == 15 { 10.0 } else { 1.0 },
            ..base
        },
        Scenario {
            name: "within tolerance (+3% latency)",
            canary_latency: |_| 1.03,
            ..base
        },
        Scenario {
            name: "within tolerance (+8% latency)",
            canary_latency: |_| 1.08,
            ..base
        },
        Scenario {
            name: "healthy, other buckets",
            layout: &OTHER_BUCKETS,
            ..base
        },
        Scenario {
            name: "bursty errors",
            bursts: Some(2.0),
            ..base
        },
        Scenario {
            name: "traffic swings (0.3x-1.7x)",
            traffic: |t| 1.0 + 0.7 * (t as f64 / 60.0 * std::f64::consts::TAU).sin(),
            ..base
        },
        Scenario {
            name: "baseline 0.1% errors",
            baseline_errors: 0.001,
            ..base
        },
        Scenario {
            name: "baseline 3% errors",
            baseline_errors: 0.03,
            ..base
        },
        Scenario {
            name: "weights 5-10-25-50%",
            weight: rising,
            ..base
        },
        Scenario {
            name: "canary errors 2x",
            promote: false,
            canary_errors: |_| 2.0,
            ..base
        },
        Scenario {
            name: "canary errors 2x, bursty",
            promote: false,
            canary_errors: |_| 2.0,
            bursts: Some(2.0),
            ..base
        },
        Scenario {
            name: "canary errors 1.5x",
            promote: false,
            canary_errors: |_| 1.5,
            ..base
        },
        Scenario {
            name: "canary p99 +20%",
            promote: false,
            canary_latency: |_| 1.2,
            ..base
        },
        Scenario {
            name: "canary p99 +20%, other buckets",
            promote: false,
            canary_latency: |_| 1.2,
            layout: &OTHER_BUCKETS,
            ..base
        },
        Scenario {
            name: "only the tail slower (p99 +30%)",
            promote: false,
            tail: Some(1.3),
            ..base
        },
        Scenario {
            name: "slow drift (errors 1x to 3x)",
            promote: false,
            canary_errors: |t| 1.0 + 2.0 * t as f64 / 60.0,
            ..base
        },
    ]
}

fn rising(t: usize) -> f64 {
    [0.05, 0.1, 0.25, 0.5][(t / 15).min(3)]
}

/// One group's minute.
#[derive(Clone, Debug)]
struct Group {
    requests: f64,
    errors: f64,
    /// Cumulative counts per bucket bound (the last is +Inf).
    buckets: Vec<(f64, f64)>,
}

impl Group {
    fn error_rate(&self) -> Option<f64> {
        (self.requests > 0.0).then(|| self.errors / self.requests)
    }
    fn p99(&self) -> Option<f64> {
        histogram::quantile(0.99, &self.buckets)
    }
}

struct Minute {
    canary: Group,
    baseline: Group,
}

/// One generated rollout: the baseline's histogram before it (an hour of stable serving all
/// traffic: what its counters hold when the rollout starts), then each minute.
struct Run {
    before: Group,
    minutes: Vec<Minute>,
}

impl std::ops::Deref for Run {
    type Target = [Minute];
    fn deref(&self) -> &[Minute] {
        &self.minutes
    }
}

fn poisson(rng: &mut StdRng, mean: f64) -> f64 {
    if mean <= 0.0 {
        return 0.0;
    }
    Poisson::new(mean).expect("a positive mean").sample(rng)
}

/// The share of requests at most `le` seconds: log-normal, scaled by `scale`; with `tail`,
/// quantiles above p95 stretched, up to `tail`× at p99 and beyond.
fn share_below(le: f64, scale: f64, tail: Option<f64>) -> f64 {
    let normal = Normal::standard();
    if le <= 0.0 {
        return 0.0;
    }
    let Some(_) = tail else {
        return normal.cdf((le / (LATENCY_MEDIAN * scale)).ln() / LATENCY_SIGMA);
    };
    let at = |u: f64| {
        let q = LATENCY_MEDIAN * scale * (LATENCY_SIGMA * normal.inverse_cdf(u)).exp();
        let stretch = tail.map_or(1.0, |f| {
            1.0 + (f - 1.0) * ((u - 0.95) / 0.04).clamp(0.0, 1.0)
        });
        q * stretch
    };
    // The latency at quantile u rises with u: bisect for the largest u at most `le`.
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if mid <= 0.0 || at(mid) <= le {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Each bucket's share of requests (not cumulative; the last is +Inf).
fn bucket_shares(layout: &[f64], scale: f64, tail: Option<f64>) -> Vec<f64> {
    let mut below = 0.0;
    let mut out: Vec<f64> = layout
        .iter()
        .map(|le| {
            let p = share_below(*le, scale, tail);
            let share = p - below;
            below = p;
            share
        })
        .collect();
    out.push(1.0 - below);
    out
}

fn group(
    rng: &mut StdRng,
    requests: f64,
    error_rate: f64,
    shares: &[f64],
    layout: &[f64],
    bursts: Option<f64>,
) -> Group {
    let burst = bursts.map_or(1.0, |k| {
        Gamma::new(k, 1.0 / k).expect("a shape").sample(rng)
    });
    let errors = poisson(rng, requests * (error_rate * burst).min(1.0)).min(requests);
    // Each request in exactly one bucket: a multinomial, drawn as successive binomials.
    let mut buckets = Vec::new();
    let (mut below, mut cumulative) = (0.0, 0.0);
    for (le, share) in layout.iter().zip(shares) {
        let left = requests - cumulative;
        let chance = (share / (1.0 - below)).clamp(0.0, 1.0);
        if left > 0.0 && chance > 0.0 {
            cumulative += Binomial::new(left as u64, chance)
                .expect("a chance")
                .sample(rng) as f64;
        }
        below += share;
        buckets.push((*le, cumulative));
    }
    buckets.push((f64::INFINITY, requests));
    Group {
        requests,
        errors,
        buckets,
    }
}

fn generate(s: &Scenario, seed: u64) -> Run {
    let mut rng = StdRng::seed_from_u64(seed);
    let baseline_shares = bucket_shares(s.layout, 1.0, None);
    let mut canary_shares: Vec<(f64, Vec<f64>)> = Vec::new();
    let minutes = (0..MINUTES)
        .map(|t| {
            let total = poisson(&mut rng, REQUESTS_PER_MINUTE * (s.traffic)(t));
            let canary_requests = poisson(&mut rng, total * (s.weight)(t)).min(total);
            let rate = s.baseline_errors * (s.both_errors)(t);
            let scale = (s.canary_latency)(t);
            if !canary_shares.iter().any(|c| c.0 == scale) {
                canary_shares.push((scale, bucket_shares(s.layout, scale, s.tail)));
            }
            let shares = &canary_shares
                .iter()
                .find(|c| c.0 == scale)
                .expect("computed")
                .1;
            Minute {
                canary: group(
                    &mut rng,
                    canary_requests,
                    rate * (s.canary_errors)(t),
                    shares,
                    s.layout,
                    s.bursts,
                ),
                baseline: group(
                    &mut rng,
                    total - canary_requests,
                    rate,
                    &baseline_shares,
                    s.layout,
                    s.bursts,
                ),
            }
        })
        .collect();
    let before = group(
        &mut rng,
        REQUESTS_PER_MINUTE * 60.0,
        s.baseline_errors,
        &baseline_shares,
        s.layout,
        None,
    );
    Run { before, minutes }
}

/// A policy: the minute it rolls back, if it does.
trait Policy {
    fn decide(&self, run: &Run) -> Option<usize>;
}

struct Rollgate;

impl Policy for Rollgate {
    fn decide(&self, run: &Run) -> Option<usize> {
        let mut errors = RateRatioTest::new(1.0, FALSE_ROLLBACKS);
        let mut latency = LatencyTest::new(LATENCY_FROM, LATENCY_TOLERANCE, FALSE_ROLLBACKS);
        // As `rollgate run` does: stable's counters when the rollout starts are its history.
        latency.choose(&run.before.buckets, &run[0].canary.buckets);
        run.iter().position(|m| {
            let e = errors.update(Counts {
                canary_events: m.canary.errors,
                canary_total: m.canary.requests,
                baseline_events: m.baseline.errors,
                baseline_total: m.baseline.requests,
            });
            let l = latency.update(&m.canary.buckets, &m.baseline.buckets);
            e.regressed() || l.is_some_and(|l| l.regressed())
        })
    }
}

/// Fixed thresholds on the last five minutes, as an Argo `AnalysisTemplate` would state them.
struct Argo {
    max_error_rate: f64,
    max_p99: f64,
}

fn window(run: &[Minute], t: usize) -> (Group, Group) {
    let from = t.saturating_sub(4);
    let sum = |pick: fn(&Minute) -> &Group| {
        let mut g = Group {
            requests: 0.0,
            errors: 0.0,
            buckets: pick(&run[t])
                .buckets
                .iter()
                .map(|(le, _)| (*le, 0.0))
                .collect(),
        };
        for m in &run[from..=t] {
            let x = pick(m);
            g.requests += x.requests;
            g.errors += x.errors;
            for (b, (_, c)) in g.buckets.iter_mut().zip(&x.buckets) {
                b.1 += c;
            }
        }
        g
    };
    (sum(|m| &m.canary), sum(|m| &m.baseline))
}

impl Policy for Argo {
    fn decide(&self, run: &Run) -> Option<usize> {
        (0..run.len()).find(|&t| {
            let (c, _) = window(run, t);
            c.error_rate().is_some_and(|r| r > self.max_error_rate)
                || c.p99().is_some_and(|p| p > self.max_p99)
        })
    }
}

struct Kayenta;

impl Policy for Kayenta {
    fn decide(&self, run: &Run) -> Option<usize> {
        (9..run.len()).step_by(10).find(|&t| {
            let last = &run[t - 9..=t];
            let series = |f: &dyn Fn(&Group) -> Option<f64>, canary: bool| -> Vec<f64> {
                last.iter()
                    .filter_map(|m| f(if canary { &m.canary } else { &m.baseline }))
                    .collect()
            };
            let high = |f: &dyn Fn(&Group) -> Option<f64>| {
                mann_whitney::classify(&series(f, true), &series(f, false), 0.1, 0.01).0
                    == Class::High
            };
            high(&|g: &Group| g.error_rate()) || high(&|g: &Group| g.p99())
        })
    }
}

/// Wald's SPRT knowing what the scenario does, on counts conditioned as rollgate conditions
/// them: each minute's canary errors given both versions' errors, and each latency bucket's
/// canary requests given both versions' requests in that bucket. No method that compares with
/// the baseline can do better.
struct Limit {
    /// The canary's errors multiplied, by minute.
    errors: fn(usize) -> f64,
    /// Each latency bucket's share, canary's and baseline's, by minute (`None`: the same).
    shares: Vec<Option<(Vec<f64>, Vec<f64>)>>,
    log_bound: f64,
}

impl Limit {
    fn new(s: &Scenario) -> Limit {
        let shares = (0..MINUTES)
            .map(|t| {
                let scale = (s.canary_latency)(t);
                (scale != 1.0 || s.tail.is_some()).then(|| {
                    (
                        bucket_shares(s.layout, scale, s.tail),
                        bucket_shares(s.layout, 1.0, None),
                    )
                })
            })
            .collect();
        Limit {
            errors: s.canary_errors,
            shares,
            log_bound: f64::INFINITY,
        }
    }

    /// The log likelihood ratio after each minute.
    fn log_lr(&self, run: &[Minute]) -> Vec<f64> {
        // x of k in the canary's, with chance pi1 against pi0.
        let term = |x: f64, y: f64, p0: f64, p1: f64| {
            x * (p1 / p0).ln() + y * ((1.0 - p1) / (1.0 - p0)).ln()
        };
        let mut sum = 0.0;
        run.iter()
            .enumerate()
            .map(|(t, m)| {
                let (n, b) = (m.canary.requests, m.baseline.requests);
                if n > 0.0 && b > 0.0 {
                    let p0 = n / (n + b);
                    let rho = (self.errors)(t);
                    if rho != 1.0 {
                        let p1 = rho * n / (rho * n + b);
                        sum += term(m.canary.errors, m.baseline.errors, p0, p1);
                    }
                    if let Some((canary, baseline)) = &self.shares[t] {
                        let counts = |g: &Group| {
                            let mut below = 0.0;
                            g.buckets
                                .iter()
                                .map(|(_, c)| {
                                    let inside = c - below;
                                    below = *c;
                                    inside
                                })
                                .collect::<Vec<f64>>()
                        };
                        let (xs, ys) = (counts(&m.canary), counts(&m.baseline));
                        for i in 0..xs.len() {
                            let (pc, pb) = (canary[i], baseline[i]);
                            if pc > 0.0 && pb > 0.0 {
                                let p1 = n * pc / (n * pc + b * pb);
                                sum += term(xs[i], ys[i], p0, p1);
                            }
                        }
                    }
                }
                sum
            })
            .collect()
    }

    /// Its bound, so that it rolls back `target` of `healthy` runs.
    fn calibrated(mut self, healthy: &[Run], target: f64) -> Limit {
        let worst = healthy
            .iter()
            .map(|r| self.log_lr(r).into_iter().fold(f64::MIN, f64::max))
            .collect();
        self.log_bound = calibrate(worst, target);
        self
    }
}

impl Policy for Limit {
    fn decide(&self, run: &Run) -> Option<usize> {
        self.log_lr(run).iter().position(|l| *l >= self.log_bound)
    }
}

/// The Wilson score interval of `k` in `n`, at 95%.
fn wilson(k: f64, n: f64) -> (f64, f64) {
    let z = 1.96f64;
    let p = k / n;
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z / (1.0 + z * z / n) * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Share of runs rolled back, and the median minute of deciding (1-based).
fn score(p: &dyn Policy, runs: &[Run]) -> (f64, Option<f64>) {
    let mut minutes: Vec<usize> = runs.iter().filter_map(|r| p.decide(r)).collect();
    minutes.sort_unstable();
    let share = minutes.len() as f64 / runs.len() as f64;
    let median = (!minutes.is_empty()).then(|| (minutes[minutes.len() / 2] + 1) as f64);
    (share, median)
}

/// The smallest threshold at which at most `target` of `values` (each run's largest) exceed it.
fn calibrate(mut values: Vec<f64>, target: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let keep = ((1.0 - target) * values.len() as f64).ceil() as usize;
    values[keep.clamp(1, values.len()) - 1]
}

fn fixture(s: &Scenario, seed: u64) -> String {
    let run = generate(s, seed);
    let mut out = format!(
        "# Generated by `cargo bench --bench decisions -- --fixture \"{}\" {seed} FILE`: one\n# hour at 10% of 1,000 requests a minute, counters read every minute; stable's\n# latency histogram holds the hour before the rollout.\nstart: 2026-03-01T12:00:00Z\nexpect: {{ outcome: {} }}\nqueries:\n",
        s.name,
        if s.promote { "promoted" } else { "rolled-back" }
    );
    // Counters: each minute adds that minute's count to where the counter started.
    let steps = |start: f64, f: &dyn Fn(&Minute) -> f64| {
        let mut total = start;
        let mut steps = vec![format!("[0s, {total}]")];
        for (t, m) in run.iter().enumerate() {
            total += f(m);
            steps.push(format!("[{}m, {total}]", t + 1));
        }
        steps.join(", ")
    };
    type Count = fn(&Minute) -> f64;
    let counters: [(&str, Count); 4] = [
        ("sum(http_requests_errors_total{version=\"canary\"})", |m| {
            m.canary.errors
        }),
        ("sum(http_requests_total{version=\"canary\"})", |m| {
            m.canary.requests
        }),
        ("sum(http_requests_errors_total{version=\"stable\"})", |m| {
            m.baseline.errors
        }),
        ("sum(http_requests_total{version=\"stable\"})", |m| {
            m.baseline.requests
        }),
    ];
    for (query, f) in counters {
        out += &format!("  '{query}':\n    steps: [{}]\n", steps(0.0, &f));
    }
    type Histogram = fn(&Minute) -> &Group;
    let histograms: [(&str, Histogram, Option<&Group>); 2] = [
        ("canary", |m| &m.canary, None),
        ("stable", |m| &m.baseline, Some(&run.before)),
    ];
    for (version, group, before) in histograms {
        out += &format!("  'sum by (le) (http_request_duration_seconds_bucket{{version=\"{version}\"}})':\n    series:\n");
        for (i, (le, _)) in run[0].canary.buckets.iter().enumerate() {
            let le = if le.is_infinite() {
                "+Inf".to_string()
            } else {
                le.to_string()
            };
            let start = before.map_or(0.0, |b| b.buckets[i].1);
            out += &format!(
                "      - labels: {{ le: \"{le}\" }}\n        steps: [{}]\n",
                steps(start, &|m: &Minute| group(m).buckets[i].1)
            );
        }
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if let [flag, name, seed, file] = args.as_slice() {
        assert_eq!(flag, "--fixture", "usage: -- --fixture SCENARIO SEED FILE");
        let all = scenarios();
        let s = all
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no scenario `{name}`"));
        std::fs::write(file, fixture(s, seed.parse().expect("a seed"))).expect("writable");
        return;
    }
    let seeds: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(300);
    let all = scenarios();
    // Calibration on ten times as many healthy runs, with their own seeds, never the ones scored.
    let healthy: Vec<Run> = (0..seeds * 10)
        .map(|s| generate(&all[0], 1_000_000 + s))
        .collect();
    let worst = |f: &dyn Fn(&[Minute], usize) -> Option<f64>| -> Vec<f64> {
        healthy
            .iter()
            .map(|r| (0..r.len()).filter_map(|t| f(r, t)).fold(0.0, f64::max))
            .collect()
    };
    let argo = Argo {
        max_error_rate: calibrate(worst(&|r, t| window(r, t).0.error_rate()), 0.005),
        max_p99: calibrate(worst(&|r, t| window(r, t).0.p99()), 0.005),
    };
    let rollgate_false = score(&Rollgate, &healthy).0;
    println!(
        "calibration on {} healthy runs: rollgate rolled back {:.2}% of them",
        healthy.len(),
        rollgate_false * 100.0
    );
    println!(
        "{seeds} seeds per scenario; 60 minutes at 10% of ~1,000 requests/min; Argo calibrated: error rate > {:.2}% or p99 > {:.0} ms over 5 min\n",
        argo.max_error_rate * 100.0,
        argo.max_p99 * 1000.0,
    );
    println!("| scenario | should | rollgate | Argo-style | Kayenta-style | limit (SPRT) |");
    println!("| --- | --- | --- | --- | --- | --- |");
    let cell = |(share, median): (f64, Option<f64>)| {
        let (lo, hi) = wilson(share * seeds as f64, seeds as f64);
        let shown = format!(
            "{:.1}% [{:.0}–{:.0}]",
            share * 100.0,
            lo * 100.0,
            hi * 100.0
        );
        match median {
            Some(m) => format!("{shown} ({m:.0} min)"),
            None => shown,
        }
    };
    // Healthy runs of another bucket layout, for the limit of a scenario that uses it.
    let mut healthy_by_layout: Vec<(&[f64], Vec<Run>)> = vec![(&BUCKETS[..], healthy)];
    for s in &all {
        let runs: Vec<Run> = (0..seeds).map(|seed| generate(s, seed)).collect();
        let limit = if s.promote {
            String::new()
        } else {
            if !healthy_by_layout.iter().any(|h| h.0 == s.layout) {
                let like = Scenario {
                    layout: s.layout,
                    ..scenarios().remove(0)
                };
                let runs = (0..seeds * 10)
                    .map(|i| generate(&like, 1_000_000 + i))
                    .collect();
                healthy_by_layout.push((s.layout, runs));
            }
            let healthy = &healthy_by_layout
                .iter()
                .find(|h| h.0 == s.layout)
                .expect("made")
                .1;
            cell(score(
                &Limit::new(s).calibrated(healthy, FALSE_ROLLBACKS),
                &runs,
            ))
        };
        println!(
            "| {} | {} | {} | {} | {} | {limit} |",
            s.name,
            if s.promote { "promote" } else { "roll back" },
            cell(score(&Rollgate, &runs)),
            cell(score(&argo, &runs)),
            cell(score(&Kayenta, &runs)),
        );
    }
    println!("\nCells: share of runs rolled back, its 95% interval (Wilson), and the median minute of the rollback. The limit is calibrated per scenario to roll back 1% of healthy runs of the same bucket layout.");
}
