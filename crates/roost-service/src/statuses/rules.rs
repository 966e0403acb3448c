//! The rules of a post's parts, shared by creating, editing and scheduling: its text and
//! content warning, its poll, its language, its idempotency key.

use roost_core::text;
use roost_types::{MAX_POLL_OPTIONS, MAX_POLL_OPTION_CHARS, MAX_POLL_SECONDS, MIN_POLL_SECONDS};
use unicode_segmentation::UnicodeSegmentation;

use crate::{Error, Result, Service};

/// A poll option's bytes (its length in characters is `MAX_POLL_OPTION_CHARS`, counted as
/// graphemes: a grapheme may be many bytes).
pub const POLL_OPTION_BYTES: usize = 200;
/// A language code's length (`en`, `pt-BR`, `zh-Hant-TW`).
const MAX_LANGUAGE: usize = 16;
/// A client's `Idempotency-Key`.
pub const MAX_IDEMPOTENCY_KEY: usize = 256;

/// A post's text and content warning, cleaned and within the instance's limits: its length
/// as Mastodon counts it (graphemes, a link as 23), its size in bytes (which that count does
/// not bound: a link may be long, a grapheme many characters), and every link's size.
/// A post's text and content warning, cleaned and bounded; the text may be empty only when the
/// post carries pictures (`with_media`).
pub fn post_text(
    svc: &Service,
    status: Option<&str>,
    spoiler: Option<&str>,
    with_media: bool,
) -> Result<(String, String)> {
    let text = text::clean_multiline(status.unwrap_or_default());
    let spoiler_text = text::clean_line(spoiler.unwrap_or_default());
    if text.trim().is_empty() && !with_media {
        return Err(Error::invalid("Validation failed: Text can't be blank"));
    }
    let max_bytes = svc.config().max_post_bytes;
    if text.len() + spoiler_text.len() > max_bytes {
        return Err(Error::invalid(format!(
            "Validation failed: Text is too large (at most {max_bytes} bytes with its content warning)"
        )));
    }
    if text::longest_url(&text) > text::MAX_URL_BYTES {
        return Err(Error::invalid(format!("Validation failed: A link is longer than {} bytes", text::MAX_URL_BYTES)));
    }
    let max = svc.config().max_post_chars;
    if text::countable_length(&text) + spoiler_text.graphemes(true).count() > max {
        return Err(Error::invalid(format!("Validation failed: Text character limit of {max} exceeded")));
    }
    Ok((text, spoiler_text))
}

/// A poll as a client asks for it.
#[derive(Debug, Clone, Default)]
pub struct PollRequest {
    pub options: Vec<String>,
    /// Seconds it runs; required.
    pub expires_in: Option<i64>,
    pub multiple: bool,
    pub hide_totals: bool,
}

/// A poll's options (cleaned), and how many seconds it runs, within Mastodon's limits.
pub fn checked_poll(p: PollRequest) -> Result<roost_types::PollSpec> {
    if p.options.len() < 2 || p.options.len() > MAX_POLL_OPTIONS {
        return Err(Error::invalid(format!("A poll needs 2 to {MAX_POLL_OPTIONS} options")));
    }
    let options: Vec<String> = p.options.iter().map(|o| text::clean_line(o)).collect();
    let too_long = |o: &String| o.len() > POLL_OPTION_BYTES || o.graphemes(true).count() > MAX_POLL_OPTION_CHARS;
    if options.iter().any(|o| o.is_empty() || too_long(o)) {
        return Err(Error::invalid(format!("Poll options must be 1 to {MAX_POLL_OPTION_CHARS} characters")));
    }
    if (1..options.len()).any(|i| options[..i].contains(&options[i])) {
        return Err(Error::invalid("Poll options must differ"));
    }
    let expires_in = p.expires_in.ok_or_else(|| Error::invalid("poll[expires_in] is required"))?;
    if !(MIN_POLL_SECONDS..=MAX_POLL_SECONDS).contains(&expires_in) {
        return Err(Error::invalid(format!("A poll runs {MIN_POLL_SECONDS} seconds to {MAX_POLL_SECONDS} seconds")));
    }
    Ok(roost_types::PollSpec { options, expires_in, multiple: p.multiple, hide_totals: p.hide_totals })
}

/// A language code (`en`, `pt-BR`), or none.
pub fn checked_language(language: Option<String>) -> Result<Option<String>> {
    let language = language.filter(|l| !l.is_empty());
    if language
        .as_ref()
        .is_some_and(|l| l.len() > MAX_LANGUAGE || !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    {
        return Err(Error::invalid("Validation failed: Language is not a language code"));
    }
    Ok(language)
}

/// A client's idempotency key: 1 to [`MAX_IDEMPOTENCY_KEY`] characters.
pub fn checked_idempotency_key(key: Option<String>) -> Result<Option<String>> {
    match key {
        Some(k) if k.is_empty() || k.len() > MAX_IDEMPOTENCY_KEY => {
            Err(Error::Malformed(format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters")))
        }
        key => Ok(key),
    }
}
