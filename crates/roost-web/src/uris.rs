//! Where Roost sends a browser: OAuth redirect URIs an app registers, the redirects built
//! from them, and the same-site paths forms go back to. Each is checked where it enters, so
//! that no redirect can carry a header value that does not parse or leave the site unasked.

use axum::http::HeaderValue;

/// The out-of-band redirect URI: the code is shown to the member instead of redirected.
pub const OOB: &str = "urn:ietf:wg:oauth:2.0:oob";
/// The longest redirect URI an app may register.
pub const MAX_REDIRECT_URI: usize = 1024;

/// Schemes that run or read something in the browser instead of reaching an app.
const REFUSED_SCHEMES: [&str; 6] = ["javascript", "data", "file", "vbscript", "blob", "about"];

/// Whether `uri` may be registered as an OAuth redirect URI: the out-of-band URI, or an
/// absolute URI without a fragment (RFC 6749 §3.1.2) whose every byte is visible ASCII — so
/// that, with the code and state added, it is always a valid `Location` header. Custom schemes
/// (`org.example.app://callback`) are what native apps use, and are fine.
pub fn check_redirect_uri(uri: &str) -> Result<(), &'static str> {
    if uri == OOB {
        return Ok(());
    }
    if uri.is_empty() || uri.len() > MAX_REDIRECT_URI {
        return Err("Redirect URI must be 1 to 1024 characters");
    }
    if !uri.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("Redirect URI must not contain spaces, control or non-ASCII characters (percent-encode them)");
    }
    let parsed = url::Url::parse(uri).map_err(|_| "Redirect URI must be an absolute URI")?;
    if REFUSED_SCHEMES.contains(&parsed.scheme()) {
        return Err("Redirect URI must lead to an app, not run in the browser");
    }
    if parsed.fragment().is_some() {
        return Err("Redirect URI must not contain a fragment");
    }
    Ok(())
}

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
    fn redirect_uris_that_apps_use_are_taken() {
        for ok in [
            OOB,
            "https://app.example/callback",
            "http://localhost:4000/oauth?x=1",
            "org.joinmastodon.app://oauth",
            "com.example.app:/callback",
            "elk://callback",
        ] {
            assert_eq!(check_redirect_uri(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn redirect_uris_that_cannot_be_a_location_are_refused() {
        for bad in [
            "",
            "not a uri",
            "https://app.example/cb\r\nSet-Cookie: x=1",
            "https://app.example/\tcb",
            "https://app.example/caf\u{e9}",
            "javascript:alert(1)",
            "data:text/html,hi",
            "https://app.example/cb#frag",
            "/relative",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad:?}");
        }
        assert!(check_redirect_uri(&format!("https://a.example/{}", "x".repeat(MAX_REDIRECT_URI))).is_err());
    }

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
