use std::fmt::Write as _;
use std::time::Instant;
const SERVICES: usize = 200; const STEPS_PER_SERVICE: usize = 50; const WAVE: usize = 20;
fn plan() -> String {
    let mut s = String::from("name: bench 10k steps\nproviders:\n  prom: { kind: prometheus, url: http://127.0.0.1:9090 }\n");
    for r in 0..10 {
        let _ = writeln!(s, "  edge-{r}: {{ kind: haproxy, socket: /run/haproxy/{r}.sock, backend: app, stable: stable, canary: canary }}");
    }
    s.push_str("checks:\n");
    for c in ["errors", "latency", "saturation"] {
        let _ = writeln!(s, "  {c}: {{ source: prom, canary: 'metric_{c}{{version=\"canary\"}}', baseline: 'metric_{c}{{version=\"stable\"}}', max: 1%, max-increase: 10% }}");
    }
    s.push_str("steps:\n");
    for svc in 0..SERVICES {
        for k in 0..STEPS_PER_SERVICE {
            let id = format!("s{svc}-{k}");
            let needs = match (k, svc) {
                (0, s) if s >= WAVE => format!(", needs: s{}-{}", s - WAVE, STEPS_PER_SERVICE - 1),
                (0, _) => String::new(),
                (k, s) => format!(", needs: s{s}-{}", k - 1),
            };
            if k % 2 == 0 {
                let weight = (k / 2 + 1) * 4;
                let _ = writeln!(s, "  - {{ id: {id}, uses: shift, with: {{ router: edge-{}, weight: {weight} }}{needs} }}", svc % 10);
            } else {
                let _ = writeln!(s, "  - {{ id: {id}, uses: observe, with: {{ duration: 1m, checks: [errors, latency, saturation] }}{needs} }}");
            }
        }
    }
    s
}
fn main() {
    let text = plan();
    for _ in 0..1 {
    let t = Instant::now();
    let doc = rollgate::plan::load::load("b", &text).unwrap(); let t1 = t.elapsed();
    let d = rollgate::plan::schema::validate(&doc); assert!(d.is_empty()); let t2 = t.elapsed();
    let plan = rollgate::plan::typed::plan(&doc).unwrap(); let t3 = t.elapsed();
    let actions: Vec<_> = plan.steps.iter().enumerate().map(|(i, s)| rollgate::plan::typed::action(&doc, i, s).unwrap()).collect(); let t4 = t.elapsed();
    let ctx = rollgate::semantic::Ctx { doc: &doc, plan: &plan, actions: &actions };
    let (d, _o) = rollgate::semantic::check(&ctx); assert!(d.is_empty()); let t5 = t.elapsed();
    let t6 = std::time::Instant::now(); let g = rollgate::compile::compile(&rollgate::validate::validate("b", &text).unwrap()); let _ = g; let _ = t6;
    println!("load {:?} schema {:?} typed {:?} actions {:?} semantic {:?}", t1, t2-t1, t3-t2, t4-t3, t5-t4);
    }
}
#[allow(dead_code)]
fn raw(text: &str) {
    let t = Instant::now();
    let mut p = saphyr_parser::Parser::new_from_str(text);
    let mut n = 0;
    while let Some(e) = p.next_event() { e.unwrap(); n += 1; }
    println!("raw saphyr: {n} events in {:?}", t.elapsed());
}
#[allow(dead_code)]
fn block(text: &str) -> String {
    // The same plan with each step written in block style.
    let mut out = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("  - { id: ") {
            let body = rest.trim_end_matches(" }");
            let (id, rest) = body.split_once(", uses: ").unwrap();
            let (uses, rest) = rest.split_once(", with: { ").unwrap();
            let (with, needs) = match rest.split_once(" }, needs: ") { Some((w, n)) => (w, Some(n)), None => (rest.trim_end_matches(" }"), None) };
            out += &format!("  - id: {id}\n    uses: {uses}\n    with:\n");
            for kv in with.split(", ") { if kv.starts_with("latency") || kv.starts_with("saturation]") { continue; } out += &format!("      {kv}\n"); }
            if let Some(n) = needs { out += &format!("    needs: {n}\n"); }
        } else { out += line; out.push('\n'); }
    }
    out.replace("      checks: [errors\n", "      checks: [errors, latency, saturation]\n")
}
#[allow(dead_code)]
fn with_speed(text: &str) {
    let doc = rollgate::plan::load::load("b", text).unwrap();
    let t = Instant::now();
    let mut ok = 0;
    for s in doc.value["steps"].as_array().unwrap() {
        let w = &s["with"];
        if s["uses"] == "shift" { if serde::Deserialize::deserialize(w).map(|_: rollgate::plan::step::ShiftWith| ()).is_ok() { ok += 1; } }
        else if serde::Deserialize::deserialize(w).map(|_: rollgate::plan::step::ObserveWith| ()).is_ok() { ok += 1; }
    }
    println!("with fast path: {ok} ok in {:?}", t.elapsed());
}
