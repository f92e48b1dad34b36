//! Naming the bad key in an option value: for `option (telegate.v1.sensor) =
//! { type: "x" measurment: "y" }` protox only says "invalid value of type
//! 'telegate.v1.Sensor' for option '(telegate.v1.sensor)'". The option's
//! text is read back from the file and every key checked against the
//! option's message type (ours, or buf.validate's).

use std::collections::BTreeSet;

use prost_reflect::{DescriptorPool, Kind, MessageDescriptor};

use crate::embedded;

/// The message type named in protox's "invalid value of type 'X'".
fn option_type(problem: &str) -> Option<&str> {
    let rest = problem.strip_prefix("invalid value of type '")?;
    rest.split('\'').next()
}

fn descriptor(name: &str) -> Option<MessageDescriptor> {
    if let Some(m) = prost_protovalidate::types::DESCRIPTOR_POOL.get_message_by_name(name) {
        return Some(m);
    }
    // Our options: compile options.proto alone (only ever on an error path).
    let mut resolver = protox::file::ChainFileResolver::new();
    resolver.add(embedded::EmbeddedResolver {
        sets: &[embedded::OPTIONS],
    });
    resolver.add(protox::file::GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.open_files(embedded::OPTIONS.iter().map(|(n, _)| *n)).ok()?;
    let pool: DescriptorPool = compiler.descriptor_pool();
    pool.get_message_by_name(name)
}

/// Field names of `m` and of every message type reachable from it.
fn known_keys(m: &MessageDescriptor, out: &mut BTreeSet<String>, seen: &mut BTreeSet<String>) {
    if !seen.insert(m.full_name().to_owned()) {
        return;
    }
    for f in m.fields() {
        out.insert(f.name().to_owned());
        if let Kind::Message(inner) = f.kind() {
            known_keys(&inner, out, seen);
        }
    }
}

/// The `{ … }` value starting at the first `{` after `from`, braces balanced.
fn braced(text: &str, from: usize) -> Option<(usize, &str)> {
    let start = from + text.get(from..)?.find('{')?;
    let mut depth = 0usize;
    let mut quoted = false;
    for (i, c) in text[start..].char_indices() {
        match c {
            '"' => quoted = !quoted,
            '{' if !quoted => depth += 1,
            '}' if !quoted => {
                depth -= 1;
                if depth == 0 {
                    return Some((start, &text[start..=start + i]));
                }
            }
            _ => {}
        }
    }
    None
}

/// `key `k` at line:col is not a field of X (its fields: …)` for the first
/// key of the option value at `line`/`col` (1-based) that the option's type
/// does not have.
pub(crate) fn unknown_key(source: &str, line: usize, col: usize, problem: &str) -> Option<String> {
    let type_name = option_type(problem)?;
    let m = descriptor(type_name)?;
    let mut keys = BTreeSet::new();
    known_keys(&m, &mut keys, &mut BTreeSet::new());
    let offset: usize = source
        .lines()
        .take(line.saturating_sub(1))
        .map(|l| l.len() + 1)
        .sum::<usize>()
        + col.saturating_sub(1);
    let (start, value) = braced(source, offset)?;
    let mut quoted = false;
    let mut word_start = None;
    for (i, c) in value.char_indices() {
        if c == '"' {
            quoted = !quoted;
            word_start = None;
            continue;
        }
        if quoted {
            continue;
        }
        if c.is_ascii_alphanumeric() || c == '_' {
            word_start.get_or_insert(i);
            continue;
        }
        if let Some(ws) = word_start.take() {
            let word = &value[ws..i];
            let next = value[i..].trim_start().chars().next();
            let is_key = matches!(next, Some(':' | '{')) && !word.starts_with(|ch: char| ch.is_ascii_digit());
            if is_key && !keys.contains(word) {
                let at = start + ws;
                let line = source[..at].matches('\n').count() + 1;
                let col = at - source[..at].rfind('\n').map_or(0, |p| p + 1) + 1;
                let own: Vec<String> = m.fields().map(|f| f.name().to_owned()).collect();
                return Some(format!(
                    "line {line}:{col}: `{word}` is not a key of {type_name} (its keys: {})",
                    own.join(", ")
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_the_misspelt_key() {
        let src = "message A {\n  option (telegate.v1.sensor) = {\n    type: \"a\"\n    measurment: \"b\"\n  };\n}\n";
        let hint = super::unknown_key(
            src,
            2,
            3,
            "invalid value of type 'telegate.v1.Sensor' for option '(telegate.v1.sensor)'",
        )
        .unwrap();
        assert_eq!(
            hint,
            "line 4:5: `measurment` is not a key of telegate.v1.Sensor (its keys: type, measurement, description)"
        );
        let rules = "  double x = 2 [(buf.validate.field).double = {gte: 0, lte3: 4}];\n";
        let hint = super::unknown_key(
            rules,
            1,
            17,
            "invalid value of type 'buf.validate.DoubleRules' for option '(buf.validate.field).double'",
        )
        .unwrap();
        assert!(
            hint.starts_with("line 1:56: `lte3` is not a key of buf.validate.DoubleRules"),
            "{hint}"
        );
    }
}
