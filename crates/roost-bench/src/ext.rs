//! Extensions on one thread (`roost_ext::Engine::call`, as the service will run them): a simple
//! automod rule per post, a feed ranking 500 candidates, and a dry run of the rule over 1,000
//! posts, each call in a fresh context on a warm runtime.

use std::time::Instant;

use rand::{Rng, SeedableRng};
use roost_ext::{Engine, Host, Limits, Program};
use serde_json::json;

use crate::stats::Latencies;

#[derive(clap::Args)]
pub struct Options {
    /// Calls measured per case.
    #[arg(long, default_value_t = 2_000)]
    pub runs: usize,
}

/// What the examples' card-number and secret rule does, in a few lines.
const RULE: &str = r#"
function judge(post) {
  const card = /\b(?:\d[ -]?){13,16}\b/;
  const secret = /\b(?:AKIA[0-9A-Z]{16}|ghp_[A-Za-z0-9]{36}|sk_live_[A-Za-z0-9]{24,})\b/;
  if (card.test(post.text)) return { verdict: "hold", reason: "looks like a card number" };
  if (secret.test(post.text)) return { verdict: "hold", reason: "looks like a secret key" };
  return { verdict: "allow" };
}
"#;

/// A feed: newest first, boosted by replies and likes, people one follows first.
const FEED: &str = r#"
function rank(input) {
  const now = roost.now;
  const score = (p) => (p.following ? 2 : 1) * (1 + Math.log1p(p.likes + 2 * p.replies)) / (1 + (now - p.created_at) / 3600000);
  return input.candidates.map((p) => ({ id: p.id, s: score(p) })).sort((a, b) => b.s - a.s).slice(0, 40).map((x) => x.id);
}
"#;

fn text(rng: &mut impl Rng, k: usize) -> String {
    let words = ["deploy", "incident", "lunch", "the", "build", "is", "green", "again", "review", "please", "#ops"];
    let mut t: Vec<&str> = (0..rng.gen_range(5..40)).map(|_| words[rng.gen_range(0..words.len())]).collect();
    if k.is_multiple_of(50) {
        t.push("4111 1111 1111 1111");
    }
    t.join(" ")
}

pub fn run(opts: Options) -> anyhow::Result<()> {
    let engine = Engine::default();
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let host = Host { now_ms: 1_700_000_000_000, seed: 1 };
    println!("## roost-bench ext\n");
    println!("- machine: {}", crate::stats::machine());
    println!("- one thread; each call in a fresh context on a warm runtime; {} runs per case\n", opts.runs);
    println!("| case | p50 (ms) | p99 (ms) | max (ms) |");
    println!("|---|---:|---:|---:|");

    // What a call costs before the extension does anything: a fresh context, the prelude, the
    // source, the input in and the result out.
    let empty = Program::new("function judge(post) { return null; }", Limits::default());
    let mut times = Latencies::default();
    for _ in 0..opts.runs {
        let t = Instant::now();
        engine.call(&empty, "judge", &json!({"text": "hello"}), host)?;
        times.record(t.elapsed());
    }
    print_row("a function that does nothing (the cost of a call)", &mut times);

    let rule = Program::new(RULE, Limits::default());
    let posts: Vec<serde_json::Value> =
        (0..1_000).map(|k| json!({"id": k.to_string(), "text": text(&mut rng, k), "visibility": "public"})).collect();
    let mut times = Latencies::default();
    for k in 0..opts.runs {
        let t = Instant::now();
        let (verdict, _) = engine.call(&rule, "judge", &posts[k % posts.len()], host)?;
        times.record(t.elapsed());
        std::hint::black_box(verdict);
    }
    print_row("automod rule (two regular expressions), one post", &mut times);

    let feed = Program::new(FEED, Limits::default());
    let candidates: Vec<serde_json::Value> = (0..500)
        .map(|k| {
            json!({"id": k.to_string(), "created_at": host.now_ms - rng.gen_range(0..86_400_000i64),
                   "likes": rng.gen_range(0..50), "replies": rng.gen_range(0..10), "following": rng.gen_bool(0.3),
                   "text": text(&mut rng, k)})
        })
        .collect();
    let input = json!({ "candidates": candidates });
    let mut times = Latencies::default();
    for _ in 0..(opts.runs / 10).max(20) {
        let t = Instant::now();
        let (ranked, _) = engine.call(&feed, "rank", &input, host)?;
        times.record(t.elapsed());
        anyhow::ensure!(ranked.as_array().map_or(0, Vec::len) == 40, "the feed ranked {ranked}");
    }
    print_row("feed ranking 500 candidates", &mut times);

    let mut times = Latencies::default();
    for _ in 0..5 {
        let t = Instant::now();
        let mut held = 0;
        for p in &posts {
            let (v, _) = engine.call(&rule, "judge", p, host)?;
            held += usize::from(v["verdict"] == "hold");
        }
        times.record(t.elapsed());
        anyhow::ensure!(held == 20, "the dry run held {held}");
    }
    print_row("dry run of the rule over 1,000 posts (whole run)", &mut times);
    Ok(())
}

fn print_row(name: &str, times: &mut Latencies) {
    println!(
        "| {name} | {:.3} | {:.3} | {:.3} |",
        times.percentile_ms(50.0),
        times.percentile_ms(99.0),
        times.percentile_ms(100.0)
    );
}
