//! Rendering post text and bios to HTML. The server renders from the stored plain text with
//! the same tokenizer the state machine uses; client-supplied HTML is never trusted or passed on.

use roost_core::text::{tokenize, Token};

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
}

/// Plain text with line breaks: blank lines separate paragraphs, single newlines become `<br>`.
fn text_with_breaks(s: &str, out: &mut String) {
    let mut newlines = 0;
    for c in s.chars() {
        if c == '\n' {
            newlines += 1;
            continue;
        }
        if c == '\r' {
            continue;
        }
        flush_newlines(newlines, out);
        newlines = 0;
        let mut buf = [0u8; 4];
        escape(c.encode_utf8(&mut buf), out);
    }
    flush_newlines(newlines, out);
}

fn flush_newlines(n: usize, out: &mut String) {
    match n {
        0 => {}
        1 => out.push_str("<br>"),
        _ => out.push_str("</p><p>"),
    }
}

/// Renders post text. `mention` resolves a local username to the profile URL of a mentioned
/// account (only accounts the post actually mentions); others stay plain text.
pub fn render(text: &str, base: &str, mention: &dyn Fn(&str) -> Option<String>) -> String {
    if text.is_empty() {
        return String::new();
    }
    let mut out = String::with_capacity(text.len() + 16);
    out.push_str("<p>");
    for token in tokenize(text.trim_matches('\n')) {
        match token {
            Token::Text(s) => text_with_breaks(s, &mut out),
            Token::Url(u) => {
                out.push_str("<a href=\"");
                escape(u, &mut out);
                out.push_str("\" target=\"_blank\" rel=\"nofollow noopener noreferrer ugc\">");
                escape(u, &mut out);
                out.push_str("</a>");
            }
            Token::Mention { raw, username, domain } => match domain.is_none().then(|| mention(username)).flatten() {
                Some(url) => {
                    out.push_str("<span class=\"h-card\"><a href=\"");
                    escape(&url, &mut out);
                    out.push_str("\" class=\"u-url mention\">@<span>");
                    escape(username, &mut out);
                    out.push_str("</span></a></span>");
                }
                None => escape(raw, &mut out),
            },
            Token::Hashtag { name, .. } => {
                out.push_str("<a href=\"");
                escape(base, &mut out);
                out.push_str("/tags/");
                escape(&name.to_lowercase(), &mut out);
                out.push_str("\" class=\"mention hashtag\" rel=\"tag\">#<span>");
                escape(name, &mut out);
                out.push_str("</span></a>");
            }
        }
    }
    out.push_str("</p>");
    out
}

/// Renders one line of text (a profile field's value) without a paragraph around it: links
/// become links, everything else is escaped.
pub fn render_inline(text: &str, base: &str) -> String {
    let html = render(&text.replace('\n', " "), base, &|_| None);
    html.strip_prefix("<p>").and_then(|h| h.strip_suffix("</p>")).map(str::to_string).unwrap_or(html)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        let known = |u: &str| (u.eq_ignore_ascii_case("alice")).then(|| "https://r.example/@alice".to_string());
        assert_eq!(render(input, "https://r.example", &known), expected);
    }

    #[test]
    fn escapes_everything_the_client_sent() {
        check(
            "<script>alert('x')</script> & \"q\"",
            "<p>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;</p>",
        );
    }

    #[test]
    fn links_mentions_tags_and_paragraphs() {
        check(
            "hi @alice @bob\nsee https://x.org/?a=1&b=2\n\n#Rust",
            "<p>hi <span class=\"h-card\"><a href=\"https://r.example/@alice\" class=\"u-url mention\">@<span>alice</span></a></span> @bob<br>see <a href=\"https://x.org/?a=1&amp;b=2\" target=\"_blank\" rel=\"nofollow noopener noreferrer ugc\">https://x.org/?a=1&amp;b=2</a></p><p><a href=\"https://r.example/tags/rust\" class=\"mention hashtag\" rel=\"tag\">#<span>Rust</span></a></p>",
        );
        check("", "");
    }

    #[test]
    fn field_values_render_inline() {
        assert_eq!(
            render_inline("see https://x.org <b>", "https://r.example"),
            "see <a href=\"https://x.org\" target=\"_blank\" rel=\"nofollow noopener noreferrer ugc\">https://x.org</a> &lt;b&gt;"
        );
    }
}
