//! Mastodon-style parameters (`a[b][]=c&…`) from a query string or a form body: never a panic,
//! and whatever parses is a JSON object of bounded depth.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut map = serde_json::Map::new();
    if roost_web::params::parse_pairs(data, &mut map).is_ok() {
        fn depth(v: &serde_json::Value) -> usize {
            match v {
                serde_json::Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
                serde_json::Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
                _ => 0,
            }
        }
        assert!(depth(&serde_json::Value::Object(map)) <= 6, "nesting beyond the limit");
    }
});
