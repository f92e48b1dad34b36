//! `string.pattern` rules of the form `^[class]+$` or `^[class]*$` as a
//! 256-entry byte table.
//!
//! Identifier patterns such as `^[A-Za-z0-9._-]+$` are what sensor schemas
//! put on device ids and lane names, and running them through the `regex`
//! crate is a third of the transcoder's validation time. Only classes made
//! of ASCII letters, digits, ranges within one of those groups, `.`, `_`,
//! and `-` first or last are recognised; for them "every byte is in the
//! set" is exactly what the regex means (multi-byte UTF-8 characters are
//! outside any ASCII class, and Rust's `$` matches only at the very end).
//! Any other pattern — negation, escapes, set operations (`--`, `&&`),
//! flags, Unicode — keeps the regex. The tests check both against each other.

/// A pattern of one anchored, repeated character class.
#[derive(Debug, Clone)]
pub(crate) struct ClassPattern {
    allowed: [bool; 256],
    allow_empty: bool,
}

impl ClassPattern {
    /// The table for `pattern`, or `None` when it is not of the simple form.
    pub(crate) fn parse(pattern: &str) -> Option<Self> {
        let body = pattern.strip_prefix("^[")?;
        let (class, rest) = body.split_once(']')?;
        let allow_empty = match rest {
            "+$" => false,
            "*$" => true,
            _ => return None,
        };
        let class = class.as_bytes();
        if class.is_empty() || class[0] == b'^' {
            return None;
        }
        let mut allowed = [false; 256];
        let group = |b: u8| match b {
            b'a'..=b'z' => Some(0),
            b'A'..=b'Z' => Some(1),
            b'0'..=b'9' => Some(2),
            _ => None,
        };
        let mut i = 0;
        while i < class.len() {
            let c = class[i];
            if let (Some(g), Some(b'-'), Some(&end)) = (group(c), class.get(i + 1), class.get(i + 2))
                && group(end) == Some(g)
                && c <= end
            {
                for b in c..=end {
                    allowed[usize::from(b)] = true;
                }
                i += 3;
                continue;
            }
            let literal =
                group(c).is_some() || c == b'.' || c == b'_' || (c == b'-' && (i == 0 || i + 1 == class.len()));
            if !literal {
                return None;
            }
            allowed[usize::from(c)] = true;
            i += 1;
        }
        Some(Self { allowed, allow_empty })
    }

    pub(crate) fn is_match(&self, s: &[u8]) -> bool {
        (self.allow_empty || !s.is_empty()) && s.iter().all(|&b| self.allowed[usize::from(b)])
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use regex::Regex;

    use super::*;

    #[test]
    fn only_simple_patterns_are_recognised() {
        for p in ["^[A-Za-z0-9._-]+$", "^[a-z]*$", "^[-a-f0-9]+$", "^[0-9]+$", "^[_.]+$"] {
            assert!(ClassPattern::parse(p).is_some(), "{p}");
        }
        for p in [
            "^[a-z]+",
            "[a-z]+$",
            "^[^a-z]+$",
            "^[a-z--b]+$",
            "^[a-z&&b]+$",
            "(?i)^[a-z]+$",
            "^[a-Z]+$",
            "^[z-a]+$",
            "^[\\w]+$",
            "^[a-z]{1,8}$",
            "^[é]+$",
            "^[a-z]+$|^x$",
            "^[]a]+$",
            "^[a-z]+\\z",
        ] {
            assert!(ClassPattern::parse(p).is_none(), "{p}");
        }
    }

    fn same_as_regex(pattern: &str, haystacks: &[String]) -> Result<(), TestCaseError> {
        let Some(table) = ClassPattern::parse(pattern) else {
            return Ok(());
        };
        let re = Regex::new(pattern).map_err(|e| TestCaseError::fail(e.to_string()))?;
        for h in haystacks {
            prop_assert_eq!(table.is_match(h.as_bytes()), re.is_match(h), "{} on {:?}", pattern, h);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn tables_match_what_the_regex_matches(
            class in "(-)?([a-z]-[a-z]|[A-Z]-[A-Z]|[0-9]-[0-9]|[a-zA-Z0-9._]){1,5}(-)?",
            repeat in prop::sample::select(vec!["+", "*"]),
            near in prop::collection::vec("[a-zA-Z0-9._\\- \\n\\t,é\\\\]{0,8}", 8),
            any_text in prop::collection::vec(any::<String>(), 4),
        ) {
            let pattern = format!("^[{class}]{repeat}$");
            let haystacks: Vec<String> = near.into_iter().chain(any_text).collect();
            same_as_regex(&pattern, &haystacks)?;
            same_as_regex("^[A-Za-z0-9._-]+$", &haystacks)?;
        }
    }
}
