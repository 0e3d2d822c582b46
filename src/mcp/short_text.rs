//! A string kept inline when short: the ids and method names of JSON-RPC
//! messages.
//!
//! Every message the relay passes is classified, and every request is
//! remembered until its answer comes back, so its id and method are copied
//! several times on their way (scanner, in-flight set, its send log). Ids
//! are numbers or short strings (a UUID is 36 bytes) and methods are names
//! like `tools/call`: held inline, none of those copies touches the
//! allocator, which was the largest cost of a small message in the framing
//! benchmark (and more so with musl's allocator, in the static build).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// The longest text held inline: a UUID and then some, in a 40-byte value.
const INLINE: usize = 38;

/// An immutable string, inline up to [`INLINE`] bytes, on the heap beyond.
#[derive(Clone)]
pub struct ShortText(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}

impl ShortText {
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Heap(text) => text.as_bytes(),
        }
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Heap(text) => text,
            // Built only from a whole `&str`: always valid UTF-8.
            Repr::Inline { .. } => std::str::from_utf8(self.as_bytes()).unwrap_or_default(),
        }
    }
}

impl From<&str> for ShortText {
    fn from(text: &str) -> ShortText {
        match u8::try_from(text.len()) {
            Ok(len) if text.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..text.len()].copy_from_slice(text.as_bytes());
                ShortText(Repr::Inline { len, bytes })
            }
            _ => ShortText(Repr::Heap(text.into())),
        }
    }
}

impl From<String> for ShortText {
    fn from(text: String) -> ShortText {
        if text.len() <= INLINE {
            ShortText::from(text.as_str())
        } else {
            ShortText(Repr::Heap(text.into_boxed_str()))
        }
    }
}

impl Deref for ShortText {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

// Compared and hashed as bytes: the same as comparing the texts, without
// re-checking their UTF-8 on every lookup.
impl PartialEq for ShortText {
    fn eq(&self, other: &ShortText) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for ShortText {}

impl PartialEq<str> for ShortText {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for ShortText {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Hash for ShortText {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl fmt::Debug for ShortText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ShortText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn texts_up_to_the_inline_length_stay_inline_and_longer_ones_go_to_the_heap() {
        let at_limit = "u".repeat(INLINE);
        let over = "u".repeat(INLINE + 1);
        assert!(matches!(
            ShortText::from(at_limit.as_str()).0,
            Repr::Inline { .. }
        ));
        assert!(matches!(
            ShortText::from(at_limit.clone()).0,
            Repr::Inline { .. }
        ));
        assert!(matches!(ShortText::from(over.as_str()).0, Repr::Heap(_)));
        assert_eq!(ShortText::from(over.clone()).as_str(), over);
        assert_eq!(ShortText::from(at_limit.as_str()).as_str(), at_limit);
    }

    #[test]
    fn multibyte_text_is_kept_whole() {
        let text = "é".repeat(19);
        assert_eq!(text.len(), INLINE);
        assert_eq!(ShortText::from(text.as_str()), text.as_str());
        assert_eq!(ShortText::from(""), "");
    }

    #[test]
    fn texts_compare_and_hash_by_their_content() {
        let mut set = HashSet::new();
        set.insert(ShortText::from("tools/call"));
        set.insert(ShortText::from("x".repeat(50)));
        assert!(set.contains(&ShortText::from("tools/call".to_owned())));
        assert!(set.contains(&ShortText::from("x".repeat(50).as_str())));
        assert!(!set.contains(&ShortText::from("tools/list")));
        assert_eq!(ShortText::from("tools/call"), "tools/call");
        assert_eq!(format!("{:?}", ShortText::from("a\"b")), r#""a\"b""#);
        assert_eq!(ShortText::from("ping").to_string(), "ping");
    }
}
