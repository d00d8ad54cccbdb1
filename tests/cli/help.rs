//! `rollgate --help` as people read it: every command says what it does in its own words, shows
//! examples of itself, and the exit codes cover every way a run can end.

use crate::support::rollgate;
use rollgate::event::Outcome;

/// The commands `rollgate --help` lists, with their one-line descriptions.
fn commands() -> Vec<(String, String)> {
    let help = rollgate(&["--help"]).success().stdout;
    let listed = help
        .split("Commands:\n")
        .nth(1)
        .expect("a command list")
        .split("\n\n")
        .next()
        .unwrap();
    listed
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_once(' '))
        .map(|(name, about)| (name.to_string(), about.trim().to_string()))
        .filter(|(name, _)| name != "help")
        .collect()
}

#[test]
fn every_command_has_its_own_description_and_examples() {
    let commands = commands();
    assert!(commands.len() >= 14, "{commands:?}");
    let mut seen = std::collections::BTreeSet::new();
    for (name, about) in &commands {
        assert!(!about.is_empty(), "`rollgate {name}` has no description");
        assert!(seen.insert(about), "`rollgate {name}` repeats {about:?}");
        let help = rollgate(&[name, "--help"]).success().stdout;
        assert!(
            help.starts_with(about.as_str()),
            "`rollgate {name} --help` begins otherwise:\n{help}"
        );
        let examples = help.split("Examples:\n").nth(1).unwrap_or_default();
        assert!(
            examples
                .lines()
                .take_while(|l| l.starts_with("  "))
                .any(|l| l.contains(&format!("rollgate {name}"))),
            "`rollgate {name} --help` shows no example of itself:\n{help}"
        );
    }
}

#[test]
fn the_exit_codes_cover_every_ending_of_a_run() {
    let help = rollgate(&["--help"]).success().stdout;
    let codes = help
        .lines()
        .skip_while(|l| !l.starts_with("Exit codes:"))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(codes.contains("run, dry-run"), "{codes}");
    let endings = [
        Outcome::Promoted,
        Outcome::RolledBack,
        Outcome::Aborted,
        Outcome::Failed,
        Outcome::RouterFailed,
    ];
    for o in endings {
        let code = o.exit_code();
        assert!(
            codes.contains(&format!(" {code} ")),
            "no exit {code} ({o:?}) in: {codes}"
        );
    }
    for name in ["run", "dry-run", "resume"] {
        let help = rollgate(&[name, "--help"]).success().stdout;
        let codes = help.split("Exit codes:").nth(1).unwrap_or_default();
        for o in endings.iter().filter(|o| **o != Outcome::Failed) {
            let code = o.exit_code();
            assert!(
                codes.contains(&format!(" {code} ")),
                "`{name}` omits exit {code}"
            );
        }
    }
}
