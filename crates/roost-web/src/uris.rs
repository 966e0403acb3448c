//! Where Roost sends a browser: the redirects built from an app's OAuth redirect URI (checked
//! when it registered, see `roost_service::oauth`), and the same-site paths forms go back to.
//! Each is checked where it enters, so that no redirect can carry a header value that does not
//! parse or leave the site unasked.

use axum::http::HeaderValue;

/// A redirect target: `uri` with `params` added to its query (each value percent-encoded), as
/// a header value; `None` if it cannot be one (the URI was checked at registration, so only a
/// record from before that check can fail here).
pub fn redirect_target(uri: &str, params: &[(&str, Option<&str>)]) -> Option<HeaderValue> {
    let mut target = uri.to_string();
    let mut sep = if uri.contains('?') { '&' } else { '?' };
    for (name, value) in params {
        if let Some(value) = value {
            target.push(sep);
            target.push_str(name);
            target.push('=');
            target.extend(percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC));
            sep = '&';
        }
    }
    HeaderValue::from_str(&target).ok()
}

/// The same-site path a form asks to go back to, or `/`. Only a path that starts with one
/// slash and parses cleanly is taken: browsers drop tabs and newlines inside URLs and read a
/// backslash as a slash, so `/\tevil.example/` would leave the site. Characters outside ASCII
/// are percent-encoded, so that `/tags/café` comes back as itself.
pub fn back_path(back: Option<&str>) -> String {
    let Some(b) = back else { return "/".into() };
    let clean = b.starts_with('/')
        && !b.starts_with("//")
        && !b.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        && b.len() <= 2048;
    if !clean {
        return "/".into();
    }
    let encoded: String = percent_encoding::utf8_percent_encode(b, NOT_IN_PATHS).to_string();
    match encoded.parse::<axum::http::uri::PathAndQuery>() {
        Ok(p) if p.as_str().starts_with('/') && !p.as_str().starts_with("//") => p.as_str().to_string(),
        _ => "/".into(),
    }
}

/// What `back_path` percent-encodes: bytes outside visible ASCII (the rest was checked).
const NOT_IN_PATHS: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b' ');

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_carry_encoded_parameters() {
        let v = redirect_target("https://a.example/cb?s=1", &[("code", Some("a b&c")), ("state", None)]).unwrap();
        assert_eq!(v, "https://a.example/cb?s=1&code=a%20b%26c");
        assert!(redirect_target("https://a.example/\n", &[]).is_none());
    }

    #[test]
    fn back_paths_stay_on_the_site() {
        let check = |input: &str, expected: &str| assert_eq!(back_path(Some(input)), expected, "{input:?}");
        check("/@alice/123", "/@alice/123");
        check("/tags/café", "/tags/caf%C3%A9");
        check("/search?q=a b", "/");
        for bad in [
            "//evil.example/",
            "/\tevil.example/",
            "/\t/evil.example/",
            "/\\evil.example",
            "https://evil.example/",
            "",
            "evil",
        ] {
            check(bad, "/");
        }
        assert_eq!(back_path(None), "/");
    }
}
