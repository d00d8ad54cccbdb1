//! The expression grammar, a small precedence-climbing parser over chars.

/// A parsed expression; offsets are in chars from the start of the expression text.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    /// `root.a['b'].c`: a context read, with the offset and length of the whole path.
    Context {
        path: Vec<String>,
        at: usize,
        len: usize,
    },
    Call {
        name: String,
        args: Vec<Expr>,
        at: usize,
    },
    Not(Box<Expr>),
    Binary {
        op: &'static str,
        left: Box<Expr>,
        right: Box<Expr>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct ParseError {
    pub at: usize,
    pub message: String,
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

pub fn parse(text: &str) -> Result<Expr, ParseError> {
    let mut p = Parser {
        chars: text.chars().collect(),
        pos: 0,
        depth: 0,
    };
    p.skip_ws();
    if p.pos == p.chars.len() {
        return Err(p.error("an empty expression"));
    }
    let e = p.or()?;
    p.skip_ws();
    if p.pos < p.chars.len() {
        return Err(p.error(&format!("unexpected `{}`", p.chars[p.pos])));
    }
    Ok(e)
}

/// Deeply nested parentheses would overflow the stack; no real condition comes close.
const MAX_NESTING: usize = 32;

impl Parser {
    fn error(&self, message: &str) -> ParseError {
        ParseError {
            at: self.pos,
            message: message.to_string(),
        }
    }

    fn skip_ws(&mut self) {
        while self.pos < self.chars.len() && self.chars[self.pos].is_whitespace() {
            self.pos += 1;
        }
    }

    fn eat(&mut self, s: &str) -> bool {
        self.skip_ws();
        let n = s.chars().count();
        if self.chars[self.pos..].iter().take(n).copied().eq(s.chars()) {
            self.pos += n;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.and()?;
        while self.eat("||") {
            let right = self.and()?;
            left = Expr::Binary {
                op: "||",
                left: Box::new(left),
                right: Box::new(right),
            };
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.comparison()?;
        while self.eat("&&") {
            let right = self.comparison()?;
            left = Expr::Binary {
                op: "&&",
                left: Box::new(left),
                right: Box::new(right),
            };
        }
        Ok(left)
    }

    fn comparison(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.unary()?;
        loop {
            let op = ["==", "!=", "<=", ">=", "<", ">"]
                .into_iter()
                .find(|op| self.eat(op));
            let Some(op) = op else { return Ok(left) };
            let right = self.unary()?;
            left = Expr::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
            };
        }
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        self.skip_ws();
        if self.chars.get(self.pos) == Some(&'!') && self.chars.get(self.pos + 1) != Some(&'=') {
            self.pos += 1;
            let inner = self.nested(Self::unary)?;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.postfix()
    }

    /// Parses with one more level of nesting, refusing past [`MAX_NESTING`].
    fn nested(&mut self, f: fn(&mut Self) -> Result<Expr, ParseError>) -> Result<Expr, ParseError> {
        if self.depth >= MAX_NESTING {
            return Err(self.error("expression nested too deeply"));
        }
        self.depth += 1;
        let e = f(self);
        self.depth -= 1;
        e
    }

    fn postfix(&mut self) -> Result<Expr, ParseError> {
        self.skip_ws();
        let start = self.pos;
        let Some(&c) = self.chars.get(self.pos) else {
            return Err(self.error("the expression ends too early"));
        };
        if c == '(' {
            self.pos += 1;
            let e = self.nested(Self::or)?;
            if !self.eat(")") {
                return Err(self.error("missing `)`"));
            }
            return Ok(e);
        }
        if c == '\'' {
            return self.string();
        }
        if c.is_ascii_digit()
            || (c == '-'
                && self
                    .chars
                    .get(self.pos + 1)
                    .is_some_and(char::is_ascii_digit))
        {
            return self.number();
        }
        if !(c.is_alphabetic() || c == '_') {
            return Err(self.error(&format!("unexpected `{c}`")));
        }
        let name = self.ident();
        match name.as_str() {
            "true" => return Ok(Expr::Bool(true)),
            "false" => return Ok(Expr::Bool(false)),
            "null" => return Ok(Expr::Null),
            _ => {}
        }
        if self.eat("(") {
            let mut args = Vec::new();
            if !self.eat(")") {
                loop {
                    args.push(self.nested(Self::or)?);
                    if self.eat(")") {
                        break;
                    }
                    if !self.eat(",") {
                        return Err(self.error("expected `,` or `)` in the argument list"));
                    }
                }
            }
            return Ok(Expr::Call {
                name,
                args,
                at: start,
            });
        }
        let mut path = vec![name];
        loop {
            if self.chars.get(self.pos) == Some(&'.') {
                self.pos += 1;
                match self.chars.get(self.pos) {
                    Some('*') => {
                        self.pos += 1;
                        path.push("*".into());
                    }
                    Some(c) if c.is_alphabetic() || *c == '_' => path.push(self.ident()),
                    _ => return Err(self.error("expected a name after `.`")),
                }
            } else if self.chars.get(self.pos) == Some(&'[') {
                self.pos += 1;
                self.skip_ws();
                match self.string()? {
                    Expr::String(s) => path.push(s),
                    _ => unreachable!("string() returns strings"),
                }
                if !self.eat("]") {
                    return Err(self.error("missing `]`"));
                }
            } else {
                break;
            }
        }
        Ok(Expr::Context {
            path,
            at: start,
            len: self.pos - start,
        })
    }

    fn ident(&mut self) -> String {
        let start = self.pos;
        while self.pos < self.chars.len()
            && (self.chars[self.pos].is_alphanumeric() || matches!(self.chars[self.pos], '_' | '-'))
        {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn string(&mut self) -> Result<Expr, ParseError> {
        if self.chars.get(self.pos) != Some(&'\'') {
            return Err(self.error("expected a 'quoted' string"));
        }
        let start = self.pos;
        self.pos += 1;
        let mut s = String::new();
        loop {
            match self.chars.get(self.pos) {
                None => {
                    self.pos = start;
                    return Err(self.error("this string has no closing `'`"));
                }
                Some('\'') if self.chars.get(self.pos + 1) == Some(&'\'') => {
                    s.push('\'');
                    self.pos += 2;
                }
                Some('\'') => {
                    self.pos += 1;
                    return Ok(Expr::String(s));
                }
                Some(c) => {
                    s.push(*c);
                    self.pos += 1;
                }
            }
        }
    }

    fn number(&mut self) -> Result<Expr, ParseError> {
        let start = self.pos;
        self.pos += 1;
        while self.pos < self.chars.len()
            && (self.chars[self.pos].is_ascii_alphanumeric() || self.chars[self.pos] == '.')
        {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        text.parse().map(Expr::Number).map_err(|_| ParseError {
            at: start,
            message: format!("`{text}` is not a number"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_conditions() {
        let e = parse("success() && inputs.region == 'eu'").unwrap();
        let Expr::Binary {
            op: "&&",
            left,
            right,
        } = e
        else {
            panic!()
        };
        assert!(matches!(*left, Expr::Call { ref name, .. } if name == "success"));
        let Expr::Binary { op: "==", left, .. } = *right else {
            panic!()
        };
        assert_eq!(
            *left,
            Expr::Context {
                path: vec!["inputs".into(), "region".into()],
                at: 13,
                len: 13
            }
        );
    }

    #[test]
    fn index_and_escapes() {
        assert_eq!(
            parse("steps.a['out-put']").unwrap(),
            Expr::Context {
                path: vec!["steps".into(), "a".into(), "out-put".into()],
                at: 0,
                len: 18
            }
        );
        assert_eq!(parse("'it''s'").unwrap(), Expr::String("it's".into()));
        assert_eq!(
            parse("!(1 < 2)").unwrap(),
            Expr::Not(Box::new(Expr::Binary {
                op: "<",
                left: Box::new(Expr::Number(1.0)),
                right: Box::new(Expr::Number(2.0)),
            }))
        );
    }

    #[test]
    fn errors_have_offsets() {
        assert_eq!(parse("env.X ==").unwrap_err().at, 8);
        assert_eq!(
            parse("'open").unwrap_err().message,
            "this string has no closing `'`"
        );
        assert_eq!(
            parse("a.").unwrap_err().message,
            "expected a name after `.`"
        );
        assert!(parse("").is_err());
        assert!(parse(&"(".repeat(1000)).is_err());
        assert!(parse(&"!".repeat(1000)).is_err());
        assert!(parse("f(a b)").is_err());
    }
}
