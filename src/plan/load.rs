//! YAML source → JSON value plus a parallel tree of source spans.
//!
//! saphyr-parser is used for its event stream, which carries a span per event (serde_yaml is
//! deprecated and keeps none). The tree is built iteratively, never recursively, so hostile
//! input (deep nesting, alias bombs, duplicate keys, binary data) ends in a diagnostic, not a
//! stack overflow or an exhausted memory.

use super::document::{Document, PackedSpan, SpanNode, MAX_BYTES};
use crate::diagnostics::{Code, Diagnostic, Span};
use saphyr_parser::{Event, Parser, ScalarStyle};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;

/// Plans nest a handful of levels; 64 leaves room for generated plans and stops nesting bombs.
pub const MAX_DEPTH: usize = 64;
/// Nodes after alias expansion; bounds what an alias bomb can make us allocate.
pub const MAX_NODES: usize = 2_000_000;

enum Frame {
    Map {
        map: Map<String, Value>,
        entries: Vec<(PackedSpan, SpanNode)>,
        key: Option<(String, Span)>,
        span: Span,
        anchor: usize,
        nodes: usize,
    },
    Seq {
        items: Vec<Value>,
        spans: Vec<SpanNode>,
        span: Span,
        anchor: usize,
        nodes: usize,
    },
}

struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Value, SpanNode, usize)>,
    total_nodes: usize,
    root: Option<(Value, SpanNode)>,
}

fn span(s: saphyr_parser::Span) -> Span {
    Span {
        start: s.start.index(),
        end: s.end.index(),
        line: s.start.line(),
        col: s.start.col() + 1,
    }
}

/// Loads a plan from its text. `path` is only used in messages.
pub fn load(path: &str, source: &str) -> Result<Document, Diagnostic> {
    if source.len() > MAX_BYTES {
        return Err(Diagnostic::error(
            Code::NotText,
            format!(
                "the file is {} bytes; plans are at most {} bytes",
                source.len(),
                MAX_BYTES
            ),
        )
        .help("split the rollout into several plans, or check that this is the file you meant"));
    }
    if let Some(pos) = source.find('\0') {
        let offset = source[..pos].chars().count();
        return Err(Diagnostic::error(
            Code::NotText,
            "the file contains NUL bytes: it looks binary, not like a YAML plan",
        )
        .at(Some(Span::at(source, offset, 1)))
        .help("pass the YAML plan file, not a compiled or compressed file"));
    }
    let mut b = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        total_nodes: 0,
        root: None,
    };
    let mut documents = 0;
    let mut parser = Parser::new_from_str(source);
    while let Some(next) = parser.next_event() {
        let (event, sp) = next.map_err(|e| {
            let m = e.marker();
            Diagnostic::error(Code::YamlSyntax, format!("invalid YAML: {}", e.info()))
                .at(Some(Span {
                    start: m.index(),
                    end: m.index() + 1,
                    line: m.line(),
                    col: m.col() + 1,
                }))
                .help("check the indentation and quoting around this place")
        })?;
        let sp = span(sp);
        match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(Diagnostic::error(
                        Code::YamlUnsupported,
                        "a second YAML document: a plan file holds exactly one plan",
                    )
                    .at(Some(sp))
                    .help("remove the `---` separator, or put each plan in its own file"));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                if let Some(t) = tag
                    .as_ref()
                    .filter(|t| !(t.is_yaml_core_schema() && t.suffix == "str"))
                {
                    return Err(Diagnostic::error(
                        Code::YamlUnsupported,
                        format!(
                            "YAML tag `{}{}` is not supported in plans",
                            t.handle, t.suffix
                        ),
                    )
                    .at(Some(sp))
                    .help("remove the tag; quote the value if it must stay a string"));
                }
                let typed = tag.is_none() && style == ScalarStyle::Plain;
                b.scalar(text, typed, sp, anchor)?;
            }
            Event::MappingStart(anchor, _) => b.open(
                Frame::Map {
                    map: Map::new(),
                    entries: Vec::new(),
                    key: None,
                    span: sp,
                    anchor,
                    nodes: 1,
                },
                sp,
            )?,
            Event::SequenceStart(anchor, _) => b.open(
                Frame::Seq {
                    items: Vec::new(),
                    spans: Vec::new(),
                    span: sp,
                    anchor,
                    nodes: 1,
                },
                sp,
            )?,
            Event::MappingEnd | Event::SequenceEnd => b.close()?,
            Event::Alias(id) => b.alias(id, sp)?,
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
    }
    let (value, spans) = b
        .root
        .unwrap_or((Value::Null, SpanNode::Scalar(Span::at(source, 0, 0).into())));
    Ok(Document {
        path: path.to_string(),
        source: source.to_string(),
        value,
        spans,
    })
}

impl Builder {
    fn open(&mut self, frame: Frame, sp: Span) -> Result<(), Diagnostic> {
        if let Some(Frame::Map { key: None, .. }) = self.stack.last() {
            return Err(complex_key(sp));
        }
        if self.stack.len() >= MAX_DEPTH {
            return Err(Diagnostic::error(
                Code::TooDeep,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            )
            .at(Some(sp))
            .help("plans nest a few levels deep; flatten this structure"));
        }
        self.count(1, sp)?;
        self.stack.push(frame);
        Ok(())
    }

    fn count(&mut self, n: usize, sp: Span) -> Result<(), Diagnostic> {
        self.total_nodes += n;
        if self.total_nodes > MAX_NODES {
            return Err(Diagnostic::error(
                Code::AliasBomb,
                format!("the plan expands to more than {MAX_NODES} values"),
            )
            .at(Some(sp))
            .help("aliases (`*name`) are copied wherever they appear; reference a smaller anchor or write the plan out"));
        }
        Ok(())
    }

    /// A scalar is a key when its map waits for one, else a value: typed by the YAML 1.2 core
    /// schema when `typed` (plain, untagged), a string otherwise.
    fn scalar(
        &mut self,
        text: std::borrow::Cow<'_, str>,
        typed: bool,
        sp: Span,
        anchor: usize,
    ) -> Result<(), Diagnostic> {
        if let Some(Frame::Map {
            key: key @ None,
            map,
            entries,
            ..
        }) = self.stack.last_mut()
        {
            if map.contains_key(text.as_ref()) {
                let first = map
                    .keys()
                    .position(|k| *k == text)
                    .map(|i| Span::from(entries[i].0))
                    .unwrap_or_default();
                return Err(Diagnostic::error(
                    Code::DuplicateKey,
                    format!(
                        "key `{text}` appears twice in this mapping (first on line {})",
                        first.line
                    ),
                )
                .at(Some(sp))
                .help("remove one of them; YAML keeps only one value per key"));
            }
            *key = Some((text.into_owned(), sp));
            return Ok(());
        }
        let value = if typed {
            resolve_plain(text)
        } else {
            Value::String(text.into_owned())
        };
        self.count(1, sp)?;
        self.finish(value, SpanNode::Scalar(sp.into()), 1, anchor)
    }

    fn alias(&mut self, id: usize, sp: Span) -> Result<(), Diagnostic> {
        if let Some(Frame::Map { key: None, .. }) = self.stack.last() {
            return Err(complex_key(sp));
        }
        let Some((value, spans, nodes)) = self.anchors.get(&id) else {
            return Err(Diagnostic::error(
                Code::YamlUnsupported,
                "this alias refers to the mapping or list that contains it",
            )
            .at(Some(sp))
            .help("an alias can only repeat a value that is already complete"));
        };
        let (value, nodes) = (value.clone(), *nodes);
        // Positions inside the copy point at the anchored original, which is where a user fixes it.
        let spans = spans.clone();
        self.count(nodes, sp)?;
        self.finish(value, spans, nodes, 0)
    }

    fn close(&mut self) -> Result<(), Diagnostic> {
        let frame = self.stack.pop().expect("parser balances starts and ends");
        let (value, node, nodes, anchor) = match frame {
            Frame::Map {
                map,
                entries,
                span,
                anchor,
                nodes,
                ..
            } => (
                Value::Object(map),
                SpanNode::Map {
                    span: Self::extend(span, &entries.last().map(|e| e.1.span())).into(),
                    entries,
                },
                nodes,
                anchor,
            ),
            Frame::Seq {
                items,
                spans,
                span,
                anchor,
                nodes,
            } => (
                Value::Array(items),
                SpanNode::Seq {
                    span: Self::extend(span, &spans.last().map(|s| s.span())).into(),
                    items: spans,
                },
                nodes,
                anchor,
            ),
        };
        self.finish(value, node, nodes, anchor)
    }

    /// A collection's span runs from its start to the end of its last child.
    fn extend(start: Span, last: &Option<Span>) -> Span {
        match last {
            Some(l) if l.end > start.start => Span {
                end: l.end,
                ..start
            },
            _ => start,
        }
    }

    fn finish(
        &mut self,
        value: Value,
        node: SpanNode,
        nodes: usize,
        anchor: usize,
    ) -> Result<(), Diagnostic> {
        if anchor != 0 {
            self.anchors
                .insert(anchor, (value.clone(), node.clone(), nodes));
        }
        match self.stack.last_mut() {
            None => self.root = Some((value, node)),
            Some(Frame::Seq {
                items,
                spans,
                nodes: n,
                ..
            }) => {
                items.push(value);
                spans.push(node);
                *n += nodes;
            }
            Some(Frame::Map {
                map,
                entries,
                key,
                nodes: n,
                ..
            }) => {
                let (k, ks) = key.take().expect("a value follows its key");
                map.insert(k, value);
                entries.push((ks.into(), node));
                *n += nodes;
            }
        }
        Ok(())
    }
}

fn complex_key(sp: Span) -> Diagnostic {
    Diagnostic::error(
        Code::YamlUnsupported,
        "a mapping key must be plain text, not a list, mapping or alias",
    )
    .at(Some(sp))
    .help("write the key as a word, e.g. `weight:`")
}

/// YAML 1.2 core schema for plain scalars: `yes`/`no`/`on` stay strings (no Norway problem).
fn resolve_plain(cow: std::borrow::Cow<'_, str>) -> Value {
    let text = cow.as_ref();
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    if !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(i) = text.parse::<i64>() {
            return Value::Number(i.into());
        }
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return Value::Number(i.into());
        }
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if let Ok(i) = i64::from_str_radix(oct, 8) {
            return Value::Number(i.into());
        }
    }
    let looks_float = body.bytes().any(|b| b.is_ascii_digit())
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        && body.as_bytes()[0] != b'e'
        && body.as_bytes()[0] != b'E';
    if looks_float {
        if let Some(n) = text.parse::<f64>().ok().and_then(Number::from_f64) {
            return Value::Number(n);
        }
    }
    Value::String(cow.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(src: &str) -> Document {
        load("t.yaml", src).expect("loads")
    }

    fn err(src: &str) -> Diagnostic {
        load("t.yaml", src).expect_err("fails")
    }

    #[test]
    fn values_and_spans() {
        let d = ok("name: x\nphases:\n  - weight: 5\n    observe: 10m\n");
        assert_eq!(d.value["phases"][0]["weight"], 5);
        let s = d.span_of(&["phases", "0", "observe"]);
        assert_eq!((s.line, s.col), (4, 14));
        let k = d.key_span_of(&["phases", "0", "observe"]);
        assert_eq!((k.line, k.col, k.end - k.start), (4, 5, 7));
    }

    #[test]
    fn core_schema_scalars() {
        let d = ok("a: yes\nb: true\nc: 1.5\nd: '5'\ne: ~\nf: 0x10\ng: 1e3\nh: .5\n");
        assert_eq!(d.value["a"], "yes");
        assert_eq!(d.value["b"], true);
        assert_eq!(d.value["c"], 1.5);
        assert_eq!(d.value["d"], "5");
        assert_eq!(d.value["e"], Value::Null);
        assert_eq!(d.value["f"], 16);
        assert_eq!(d.value["g"], 1000.0);
        assert_eq!(d.value["h"], 0.5);
    }

    #[test]
    fn duplicate_keys_name_both_lines() {
        let e = err("name: a\nx: 1\nname: b\n");
        assert_eq!(e.code, Code::DuplicateKey);
        assert_eq!(e.span.unwrap().line, 3);
        assert!(e.message.contains("line 1"));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let src = "[".repeat(10_000);
        let e = err(&src);
        assert!(matches!(e.code, Code::TooDeep | Code::YamlSyntax), "{e:?}");
        let src = "a:\n".to_string()
            + &(1..100)
                .map(|i| format!("{}b{i}:\n", "  ".repeat(i)))
                .collect::<String>();
        assert_eq!(err(&src).code, Code::TooDeep);
    }

    #[test]
    fn alias_bomb_is_refused() {
        let mut src = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for c in 'b'..='k' {
            src += &format!("{c}: &{c} [{}]\n", vec![format!("*{prev}"); 10].join(", "));
            prev = c;
        }
        assert_eq!(err(&src).code, Code::AliasBomb);
    }

    #[test]
    fn aliases_copy_values() {
        let d = ok("base: &b {weight: 5}\nother: *b\n");
        assert_eq!(d.value["other"]["weight"], 5);
    }

    #[test]
    fn binary_and_multi_document_input() {
        assert_eq!(err("a: 1\0\n").code, Code::NotText);
        assert_eq!(err("a: 1\n---\nb: 2\n").code, Code::YamlUnsupported);
        assert_eq!(err("? [a]\n: 1\n").code, Code::YamlUnsupported);
        assert_eq!(err("a: !!binary abc\n").code, Code::YamlUnsupported);
        assert_eq!(err("a: [1\n").code, Code::YamlSyntax);
    }
}
