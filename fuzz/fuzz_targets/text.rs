//! Post text: tokenizing, counting and rendering never panic; the tokens cover the text
//! exactly; the HTML never carries a tag the text did not make (every `<` of the text is
//! escaped).
#![no_main]

use libfuzzer_sys::fuzz_target;
use roost_core::text::{self, Token};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let tokens = text::tokenize(s);
    let joined: String = tokens
        .iter()
        .map(|t| match t {
            Token::Text(x) | Token::Url(x) => *x,
            Token::Mention { raw, .. } | Token::Hashtag { raw, .. } => *raw,
        })
        .collect();
    assert_eq!(joined, s, "the tokens must cover the text exactly");
    let _ = text::countable_length(s);
    let _ = text::hashtags(s);
    let _ = text::mentioned_usernames(s);
    let _ = text::longest_url(s);
    let cleaned = text::clean_multiline(s);
    assert!(!cleaned.chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
    let line = text::clean_line(s);
    assert!(!line.chars().any(char::is_control));
    let html = roost_web::html::render(s, "https://r.example", &|_| None);
    let opened = html.matches('<').count();
    let made = html.matches("<p>").count()
        + html.matches("</p>").count()
        + html.matches("<br>").count()
        + html.matches("<a ").count()
        + html.matches("</a>").count()
        + html.matches("<span>").count()
        + html.matches("<span ").count()
        + html.matches("</span>").count();
    assert_eq!(opened, made, "a tag the renderer did not make: {html}");
});
