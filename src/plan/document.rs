//! A loaded plan: its text, its JSON value, and where in the text each part of the value was
//! written, so that every later stage can point at the source.

use crate::diagnostics::Span;
use serde_json::Value;

/// The largest plan file loaded: larger than any hand-written or generated plan we know of (a
/// 10,000-step plan is ~1 MB).
pub const MAX_BYTES: usize = 16 * 1024 * 1024;

/// A [`Span`] in 16 bytes instead of 32: files are at most [`MAX_BYTES`], so every position
/// fits in a `u32`, and a large plan has hundreds of thousands of spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PackedSpan {
    start: u32,
    end: u32,
    line: u32,
    col: u32,
}

impl From<Span> for PackedSpan {
    fn from(s: Span) -> Self {
        let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        PackedSpan {
            start: n(s.start),
            end: n(s.end),
            line: n(s.line),
            col: n(s.col),
        }
    }
}

impl From<PackedSpan> for Span {
    fn from(p: PackedSpan) -> Self {
        Span {
            start: p.start as usize,
            end: p.end as usize,
            line: p.line as usize,
            col: p.col as usize,
        }
    }
}

/// Where each part of the loaded value came from. A map's entries are in the same order as
/// the JSON map's keys (insertion order), so keys are not stored twice.
#[derive(Clone, Debug, PartialEq)]
pub enum SpanNode {
    Scalar(PackedSpan),
    Map {
        span: PackedSpan,
        /// Per entry: the key's span and the value's spans.
        entries: Vec<(PackedSpan, SpanNode)>,
    },
    Seq {
        span: PackedSpan,
        items: Vec<SpanNode>,
    },
}

impl SpanNode {
    pub fn span(&self) -> Span {
        match self {
            SpanNode::Scalar(s) | SpanNode::Map { span: s, .. } | SpanNode::Seq { span: s, .. } => {
                (*s).into()
            }
        }
    }

    fn child<'v>(
        &self,
        value: &'v Value,
        segment: &str,
    ) -> Option<(&SpanNode, &'v Value, Option<Span>)> {
        match (self, value) {
            (SpanNode::Map { entries, .. }, Value::Object(map)) => {
                // Only diagnostics look things up, so a scan of the keys is cheap enough.
                let i = map.keys().position(|k| k == segment)?;
                entries
                    .get(i)
                    .map(|(ks, n)| (n, &map[segment], Some((*ks).into())))
            }
            (SpanNode::Seq { items, .. }, Value::Array(values)) => {
                let i = segment.parse::<usize>().ok()?;
                Some((items.get(i)?, values.get(i)?, None))
            }
            _ => None,
        }
    }

    /// The node at `path` within `value` (the value these spans describe), and the span of the
    /// key that introduced it when it is a map entry.
    pub fn lookup<S: AsRef<str>>(
        &self,
        value: &Value,
        path: &[S],
    ) -> Option<(&SpanNode, Option<Span>)> {
        let (mut node, mut value) = (self, value);
        let mut key = None;
        for seg in path {
            let (n, v, k) = node.child(value, seg.as_ref())?;
            (node, value, key) = (n, v, k);
        }
        Some((node, key))
    }
}

/// A loaded plan source: its text, its value and where each part of the value came from.
#[derive(Clone, Debug)]
pub struct Document {
    pub path: String,
    pub source: String,
    pub value: Value,
    pub spans: SpanNode,
}

impl Document {
    /// The span of the value at `path`, or of its nearest ancestor that exists.
    pub fn span_of<S: AsRef<str>>(&self, path: &[S]) -> Span {
        (0..=path.len())
            .rev()
            .find_map(|n| {
                self.spans
                    .lookup(&self.value, &path[..n])
                    .map(|(node, _)| node.span())
            })
            .unwrap_or_default()
    }

    /// The span of the key naming the value at `path` (the value itself for list items).
    pub fn key_span_of<S: AsRef<str>>(&self, path: &[S]) -> Span {
        match self.spans.lookup(&self.value, path) {
            Some((_, Some(k))) => k,
            Some((node, None)) => node.span(),
            None => self.span_of(path),
        }
    }
}

/// Splits a JSON pointer (`/phases/0/weight`) into unescaped segments.
pub fn pointer_segments(pointer: &str) -> Vec<String> {
    if pointer.is_empty() {
        return Vec::new();
    }
    pointer
        .trim_start_matches('/')
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_unescape() {
        assert_eq!(pointer_segments("/a~1b/0/c~0d"), vec!["a/b", "0", "c~d"]);
        assert!(pointer_segments("").is_empty());
    }
}
