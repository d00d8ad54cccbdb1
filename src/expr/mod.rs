//! `${{ }}` expressions and `if:` conditions, GitHub-Actions style: contexts (`env`, `inputs`,
//! `secrets`, `github`, `steps`), literals, `== != < <= > >= && || !`, and functions
//! (`contains`, `startsWith`, `endsWith`, `format`, `join`, `toJSON`, `fromJSON`, and in `if:`
//! `success()`, `failure()`, `always()`, `cancelled()`).

mod check;
pub mod eval;
mod parse;
pub mod shell_bind;

pub use check::{check, Problem, Scope};
pub use parse::{parse, Expr, ParseError};

/// Where `${{ ... }}` sit in a string: (offset of the inner text, inner text), in chars.
/// An opener without its closer is returned as an error at the opener's offset.
pub fn embedded(text: &str) -> Result<Vec<(usize, String)>, usize> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 2 < chars.len() {
        if chars[i] == '$' && chars[i + 1] == '{' && chars[i + 2] == '{' {
            let start = i + 3;
            let mut j = start;
            let mut in_str = false;
            loop {
                if j + 1 >= chars.len() {
                    return Err(i);
                }
                match chars[j] {
                    '\'' => in_str = !in_str,
                    '}' if !in_str && chars[j + 1] == '}' => break,
                    _ => {}
                }
                j += 1;
            }
            out.push((start, chars[start..j].iter().collect()));
            i = j + 2;
        } else {
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_embedded_expressions() {
        let e = embedded("a ${{ env.X }} b ${{ '}}' }}").unwrap();
        assert_eq!(
            e,
            vec![(5, " env.X ".to_string()), (20, " '}}' ".to_string())]
        );
        assert_eq!(embedded("x ${{ env.X"), Err(2));
        assert!(embedded("no expressions").unwrap().is_empty());
    }
}
