//! Where a browser is sent: a redirect URI that registration accepts always makes a valid
//! `Location`; a form's back path is always a path on this site.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roost_service::oauth;
use roost_web::uris;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if oauth::check_redirect_uri(s).is_ok() && s != oauth::OOB {
        let target = uris::redirect_target(s, &[("code", Some("x y&z")), ("state", Some(s))]);
        assert!(target.is_some(), "an accepted redirect URI made no Location: {s:?}");
    }
    let back = uris::back_path(Some(s));
    assert!(back.starts_with('/') && !back.starts_with("//"), "{back:?}");
    assert!(!back.contains('\\') && back.bytes().all(|b| b.is_ascii_graphic()), "{back:?}");
    assert!(back.parse::<http::uri::PathAndQuery>().is_ok(), "{back:?}");
});
