//! Who may do what: bearer tokens, each with a name and a role, read from a file or the
//! environment. A presented token is compared with every known one in constant time, so
//! neither a match nor its position leaks through timing. The name is who decided: an
//! approval over the API is by the token's holder, not by whatever the request says.

use subtle::ConstantTimeEq;

/// What a token lets its holder do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Look: runs, events, history, stats.
    Read,
    /// Also start runs, approve, reject, continue and roll back.
    Operate,
}

impl Role {
    pub fn word(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Operate => "operate",
        }
    }
}

/// A token's holder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub name: String,
    pub role: Role,
}

/// The known tokens.
#[derive(Clone, Debug, Default)]
pub struct Tokens(Vec<(Holder, Vec<u8>)>);

/// The cookie a browser signed in on the status page carries its token in.
pub const COOKIE: &str = "rollgate_token";

/// The shortest token accepted: shorter ones are guessable.
const SHORTEST: usize = 16;

impl Tokens {
    /// Lines of `ROLE NAME TOKEN` (`read` or `operate`); blank lines and `#` comments are
    /// skipped. `from` names where they came from, for errors, which never show a token.
    pub fn parse(text: &str, from: &str) -> Result<Tokens, String> {
        let mut tokens = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = format!("{from}:{}", i + 1);
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [role, name, token] = fields[..] else {
                return Err(format!(
                    "{at}: expected `ROLE NAME TOKEN` (e.g. `operate alice <token>`), found {} fields",
                    fields.len()
                ));
            };
            let role = match role {
                "read" => Role::Read,
                "operate" => Role::Operate,
                other => {
                    return Err(format!(
                        "{at}: role `{other}` is neither `read` nor `operate`"
                    ))
                }
            };
            if token.len() < SHORTEST {
                return Err(format!(
                    "{at}: the token of {name} is shorter than {SHORTEST} characters; use e.g. `openssl rand -hex 32`"
                ));
            }
            if tokens
                .iter()
                .any(|(h, _): &(Holder, Vec<u8>)| h.name == name)
            {
                return Err(format!("{at}: {name} has a token already"));
            }
            tokens.push((
                Holder {
                    name: name.to_string(),
                    role,
                },
                token.as_bytes().to_vec(),
            ));
        }
        if tokens.is_empty() {
            return Err(format!("{from}: no tokens; add lines of `ROLE NAME TOKEN`"));
        }
        Ok(Tokens(tokens))
    }

    /// Whose `presented` token it is. Every known token is compared, whatever matched.
    pub fn holder(&self, presented: &[u8]) -> Option<&Holder> {
        let mut found = None;
        for (holder, token) in &self.0 {
            if bool::from(token.as_slice().ct_eq(presented)) {
                found = Some(holder);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# who may do what\noperate alice 0123456789abcdef0123\n\nread   grafana fedcba9876543210fedc\n";

    #[test]
    fn tokens_name_their_holder_and_role() {
        let t = Tokens::parse(FILE, "tokens").unwrap();
        assert_eq!(
            t.holder(b"0123456789abcdef0123"),
            Some(&Holder {
                name: "alice".into(),
                role: Role::Operate
            })
        );
        assert_eq!(t.holder(b"fedcba9876543210fedc").unwrap().role, Role::Read);
        assert_eq!(t.holder(b"0123456789abcdef012"), None);
        assert_eq!(t.holder(b""), None);
        assert!(Role::Operate > Role::Read);
    }

    #[test]
    fn bad_lines_are_named_without_showing_a_token() {
        let err = |text: &str| Tokens::parse(text, "tokens").unwrap_err();
        assert_eq!(
            err("admin bob 0123456789abcdef0123"),
            "tokens:1: role `admin` is neither `read` nor `operate`"
        );
        assert_eq!(
            err("\noperate bob"),
            "tokens:2: expected `ROLE NAME TOKEN` (e.g. `operate alice <token>`), found 2 fields"
        );
        let short = err("read bob hunter2");
        assert!(short.starts_with("tokens:1: the token of bob is shorter than 16"));
        assert!(!short.contains("hunter2"));
        assert_eq!(
            err("read a 0123456789abcdef0123\nread a 0123456789abcdef9999"),
            "tokens:2: a has a token already"
        );
        assert_eq!(
            err("# nothing\n"),
            "tokens: no tokens; add lines of `ROLE NAME TOKEN`"
        );
    }
}
