//! Post text: splitting it into plain text, links, mentions and hashtags, and counting its
//! length the way Mastodon does. Pure functions; both `apply` (to resolve mentions and record
//! tags) and the HTTP layer (to render HTML) use the same tokenizer, so they always agree.

use linkify::{LinkFinder, LinkKind};
use unicode_segmentation::UnicodeSegmentation;

/// How many characters a URL counts for, whatever its length (Mastodon's rule).
pub const URL_WEIGHT: usize = 23;

/// Longest username (Mastodon's limit).
pub const MAX_USERNAME: usize = 30;

/// One piece of a post's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token<'a> {
    Text(&'a str),
    Url(&'a str),
    /// `@user` or `@user@domain`; `raw` includes the `@`.
    Mention {
        raw: &'a str,
        username: &'a str,
        domain: Option<&'a str>,
    },
    /// `#tag`; `name` excludes the `#`.
    Hashtag {
        raw: &'a str,
        name: &'a str,
    },
}

/// Splits text into tokens. Concatenating the raw text of the tokens gives back the input.
pub fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut finder = LinkFinder::new();
    finder.kinds(&[LinkKind::Url]);
    finder.url_must_have_scheme(true);
    for span in finder.spans(text) {
        let s = span.as_str();
        match span.kind() {
            Some(LinkKind::Url) if is_web_url(s) => out.push(Token::Url(s)),
            _ => words(s, &mut out),
        }
    }
    out
}

fn is_web_url(s: &str) -> bool {
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Finds mentions and hashtags in a stretch of text without URLs.
fn words<'a>(s: &'a str, out: &mut Vec<Token<'a>>) {
    let mut text_start = 0;
    let mut prev: Option<char> = None;
    let mut iter = s.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        let boundary = prev.is_none_or(|p| !is_word(p) && p != '@' && p != '#' && p != '/' && p != '&');
        prev = Some(c);
        if !boundary || (c != '@' && c != '#') {
            continue;
        }
        let found = if c == '@' { mention_at(s, i) } else { hashtag_at(s, i) };
        if let Some((end, token)) = found {
            if text_start < i {
                out.push(Token::Text(&s[text_start..i]));
            }
            out.push(token);
            text_start = end;
            // Skip the characters the token consumed.
            while iter.peek().is_some_and(|&(j, _)| j < end) {
                if let Some((_, ch)) = iter.next() {
                    prev = Some(ch);
                }
            }
        }
    }
    if text_start < s.len() {
        out.push(Token::Text(&s[text_start..]));
    }
}

fn mention_at(s: &str, at: usize) -> Option<(usize, Token<'_>)> {
    let rest = &s[at + 1..];
    let user_len = rest.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
    if user_len == 0 || user_len > MAX_USERNAME {
        return None;
    }
    let username = &rest[..user_len];
    let mut end = at + 1 + user_len;
    let mut domain = None;
    let after = &s[end..];
    if let Some(d) = after.strip_prefix('@') {
        let len = d.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'-').count();
        // A domain ends in a letter or digit ("@bob@example.com." keeps its full stop).
        let trimmed = d[..len].trim_end_matches(['.', '-']);
        if trimmed.contains('.') {
            domain = Some(trimmed);
            end += 1 + trimmed.len();
        }
    }
    Some((end, Token::Mention { raw: &s[at..end], username, domain }))
}

fn hashtag_at(s: &str, at: usize) -> Option<(usize, Token<'_>)> {
    let rest = &s[at + 1..];
    let len: usize = rest.chars().take_while(|c| is_word(*c)).map(char::len_utf8).sum();
    let name = &rest[..len];
    if name.is_empty() || name.chars().all(|c| c.is_ascii_digit()) || name.chars().count() > 100 {
        return None;
    }
    let end = at + 1 + len;
    Some((end, Token::Hashtag { raw: &s[at..end], name }))
}

/// The length of a post as Mastodon counts it: grapheme clusters, with every URL counting
/// [`URL_WEIGHT`] and remote mentions counting only their `@user` part.
pub fn countable_length(text: &str) -> usize {
    tokenize(text)
        .iter()
        .map(|t| match t {
            Token::Url(_) => URL_WEIGHT,
            Token::Mention { username, .. } => 1 + username.graphemes(true).count(),
            Token::Text(s) => s.graphemes(true).count(),
            Token::Hashtag { raw, .. } => raw.graphemes(true).count(),
        })
        .sum()
}

/// The longest URL a post may hold, in bytes: a URL counts as [`URL_WEIGHT`] characters
/// whatever its length, so without this bound a short-looking post could be megabytes.
pub const MAX_URL_BYTES: usize = 2048;

/// The longest URL in a text, in bytes (0 if it has none).
pub fn longest_url(text: &str) -> usize {
    tokenize(text).iter().filter_map(|t| if let Token::Url(u) = t { Some(u.len()) } else { None }).max().unwrap_or(0)
}

/// A limit on one stored string: at most `chars` characters (Unicode scalar values) and at most
/// `bytes` bytes of UTF-8. Every string a member or an app may store has one, next to the rule
/// it protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub chars: usize,
    pub bytes: usize,
}

impl Limit {
    /// A limit of `chars` characters and four bytes for each (the most one character takes).
    pub const fn chars(chars: usize) -> Limit {
        Limit { chars, bytes: chars * 4 }
    }

    /// Whether `s` is within the limit; counts bytes first, so a huge string is refused
    /// without being walked.
    pub fn admits(&self, s: &str) -> bool {
        s.len() <= self.bytes && s.chars().count() <= self.chars
    }
}

/// Text of several lines as a member typed it: newlines (`\r\n` and `\r` made `\n`) and
/// tabs are kept, every other control character is dropped. Used for every multi-line field
/// (posts, bios, report comments), whichever way it arrives.
pub fn clean_multiline(s: &str) -> String {
    s.replace("\r\n", "\n")
        .chars()
        .map(|c| if c == '\r' { '\n' } else { c })
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

/// A one-line field (display names, titles, profile field names, content warnings): line
/// breaks and tabs become spaces, every other control character is dropped, and the ends are
/// trimmed.
pub fn clean_line(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            '\n' | '\r' | '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect::<String>()
        .trim()
        .to_string()
}

/// Whether a username is acceptable: 1–30 ASCII letters, digits or underscores.
pub fn valid_username(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_USERNAME && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Hashtags in order of appearance, lowercased, without repeats.
pub fn hashtags(text: &str) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for t in tokenize(text) {
        if let Token::Hashtag { name, .. } = t {
            let lower = name.to_lowercase();
            if !tags.contains(&lower) {
                tags.push(lower);
            }
        }
    }
    tags
}

/// Local usernames mentioned (`@user`, or `@user@domain` for this instance's own domain is
/// treated by the caller), in order, lowercased, without repeats.
pub fn mentioned_usernames(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for t in tokenize(text) {
        if let Token::Mention { username, domain: None, .. } = t {
            let lower = username.to_ascii_lowercase();
            if !names.contains(&lower) {
                names.push(lower);
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &[Token<'_>]) {
        assert_eq!(tokenize(input), expected, "tokenizing {input:?}");
        let joined: String = tokenize(input)
            .iter()
            .map(|t| match t {
                Token::Text(s) | Token::Url(s) => *s,
                Token::Mention { raw, .. } | Token::Hashtag { raw, .. } => *raw,
            })
            .collect();
        assert_eq!(joined, input, "tokens must cover the input exactly");
    }

    #[test]
    fn plain_text() {
        check("hello world", &[Token::Text("hello world")]);
        check("", &[]);
    }

    #[test]
    fn mentions() {
        check(
            "hi @alice and @Bob_2!",
            &[
                Token::Text("hi "),
                Token::Mention { raw: "@alice", username: "alice", domain: None },
                Token::Text(" and "),
                Token::Mention { raw: "@Bob_2", username: "Bob_2", domain: None },
                Token::Text("!"),
            ],
        );
        check(
            "@carol@example.com.",
            &[
                Token::Mention { raw: "@carol@example.com", username: "carol", domain: Some("example.com") },
                Token::Text("."),
            ],
        );
        // An e-mail address is not a mention.
        check("mail me at dave@example.com", &[Token::Text("mail me at dave@example.com")]);
    }

    #[test]
    fn hashtags_and_urls() {
        check(
            "#Rust is fun, see https://example.com/a?b=1 #2024 #x1",
            &[
                Token::Hashtag { raw: "#Rust", name: "Rust" },
                Token::Text(" is fun, see "),
                Token::Url("https://example.com/a?b=1"),
                Token::Text(" #2024 "),
                Token::Hashtag { raw: "#x1", name: "x1" },
            ],
        );
        check("a&#39;b", &[Token::Text("a&#39;b")]);
        check("#café", &[Token::Hashtag { raw: "#café", name: "café" }]);
        assert_eq!(hashtags("#Rust #rust #Go"), vec!["rust", "go"]);
        assert_eq!(mentioned_usernames("@Al @al @bo@x.org @cy"), vec!["al", "cy"]);
    }

    #[test]
    fn counting() {
        assert_eq!(countable_length("hello"), 5);
        assert_eq!(countable_length("see https://example.com/a/very/long/path/that/goes/on/and/on"), 4 + 23);
        assert_eq!(countable_length("@carol@example.com"), 6);
        // One family emoji is one grapheme.
        assert_eq!(countable_length("👨‍👩‍👧"), 1);
        assert_eq!(countable_length("héllo"), 5);
    }

    #[test]
    fn limits_count_bytes_and_characters() {
        let name = Limit::chars(3);
        assert!(name.admits("abc") && name.admits("日本語") && !name.admits("abcd"));
        // Combining marks: one grapheme, many characters and bytes.
        let zalgo = format!("a{}", "\u{0301}".repeat(50));
        assert_eq!(countable_length(&zalgo), 1);
        assert!(!Limit { chars: 500, bytes: 64 }.admits(&zalgo));
        let long_url = format!("see https://example.com/{}", "a".repeat(5000));
        assert_eq!(countable_length(&long_url), 4 + URL_WEIGHT);
        assert_eq!(longest_url(&long_url), 5000 + "https://example.com/".len());
        assert_eq!(longest_url("no links"), 0);
    }

    #[test]
    fn cleaning_keeps_what_a_member_typed() {
        assert_eq!(clean_multiline("a\r\nb\rc\u{0}d\te\u{7}"), "a\nb\ncd\te");
        assert_eq!(clean_line("  Ali\u{0}ce\nSmith\t "), "Alice Smith");
    }

    #[test]
    fn usernames() {
        assert!(valid_username("alice_01"));
        assert!(!valid_username(""));
        assert!(!valid_username("al ice"));
        assert!(!valid_username("ålice"));
        assert!(!valid_username(&"a".repeat(31)));
    }
}
