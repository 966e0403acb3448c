//! Roost's benchmarks. `storage` measures fsync'd batched commits of the storage engine (and,
//! with `--features compare-fjall`, of fjall, the alternative we weighed). `http` starts a real
//! `roost serve`, builds a dataset through its API (accounts, a power-law follow graph, posts),
//! then drives it with concurrent clients and reports throughput, p50/p99 latency and the
//! server's memory. See BENCHMARKS.md for the figures and the commands.

mod automod;
mod cluster;
mod dataset;
mod ext;
mod http;
mod media;
mod pictures;
mod stats;
mod storage;
mod streaming;
mod web;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "roost-bench", about = "Roost benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// fsync'd batched commits: entries per second by batch size.
    Storage {
        /// Commits per batch size.
        #[arg(long, default_value_t = 200)]
        commits: usize,
        /// Bytes per entry (a typical post command is ~300).
        #[arg(long, default_value_t = 300)]
        value_bytes: usize,
        /// Where to put the database files [default: a temp dir].
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Start a server, load a dataset through the API, and measure it.
    Http(http::Options),
    /// Measure again on a dataset that `http --data-dir` left behind.
    Replay(http::ReplayOptions),
    /// Deliver posts to many streaming connections and measure the delay.
    Streaming(streaming::Options),
    /// The web app's home page under load (time to first byte) and its weight.
    Web(web::Options),
    /// Three nodes on the dataset: catch-up, committed writes, reads per node, failover.
    Cluster(cluster::Options),
    /// Processing uploads (decode, turn, re-encode, preview, blurhash) on one core.
    Media(media::Options),
    /// Posting with three automod rules enforced, against posting with none.
    Automod(automod::Options),
    /// Extensions on one thread: an automod rule, a feed ranking, a dry run.
    Ext(ext::Options),
    /// A server with image posts: serving previews, timelines read during uploads, page weight.
    Pictures(pictures::Options),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::Storage { commits, value_bytes, dir } => storage::run(commits, value_bytes, dir),
        Cmd::Http(opts) => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(http::run(opts))
        }
        Cmd::Replay(opts) => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(http::replay(opts))
        }
        Cmd::Streaming(opts) => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(streaming::run(opts))
        }
        Cmd::Web(opts) => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(web::run(opts))
        }
        Cmd::Cluster(opts) => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(cluster::run(opts))
        }
        Cmd::Media(opts) => media::run(opts),
        Cmd::Ext(opts) => ext::run(opts),
        Cmd::Automod(opts) => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(automod::run(opts))
        }
        Cmd::Pictures(opts) => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(pictures::run(opts))
        }
    }
}
