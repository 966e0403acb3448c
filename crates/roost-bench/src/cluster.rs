//! Three nodes on loopback on the benchmark dataset: how long two new members take to catch up
//! (snapshot + log), committed create-status through all nodes, home-timeline reads served by
//! one node and by three, and the failover time over repeated kill -9 of the leader.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::{Rng, SeedableRng};

use crate::http::{check, drive, start_server_with, Server};
use crate::stats::{self, Latencies};

#[derive(clap::Args)]
pub struct Options {
    /// A data directory left by `roost-bench http --data-dir D`: copied as the first node's.
    #[arg(long)]
    dataset: PathBuf,
    /// Where the three nodes' data directories go (emptied first).
    #[arg(long, default_value = "/tmp/roost-bench-cluster")]
    work_dir: PathBuf,
    /// Seconds each measured phase runs.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Concurrent clients.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Leader kills to time.
    #[arg(long, default_value_t = 20)]
    kills: usize,
    /// The `roost` binary [default: next to this one].
    #[arg(long)]
    roost: Option<PathBuf>,
    /// Raft heartbeat for the nodes [default: Roost's].
    #[arg(long)]
    heartbeat_ms: Option<u64>,
    /// Raft election timeout for the nodes [default: Roost's].
    #[arg(long)]
    election_timeout_ms: Option<u64>,
    /// Also measure reads with each node held to this many CPUs (a cgroup v1 CPU quota, so
    /// needs root), to show reads scaling with nodes that have CPUs of their own.
    #[arg(long)]
    cpu_per_node: Option<f64>,
}

/// Holds a process to `cpus` CPUs with a cgroup v1 quota; dropping it lifts the limit.
struct CpuCap {
    dir: PathBuf,
    pid: u32,
}

impl CpuCap {
    fn new(name: &str, pid: u32, cpus: f64) -> anyhow::Result<CpuCap> {
        let dir = PathBuf::from("/sys/fs/cgroup/cpu").join(name);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("creating {} (needs root and cgroup v1)", dir.display()))?;
        std::fs::write(dir.join("cpu.cfs_period_us"), "100000")?;
        std::fs::write(dir.join("cpu.cfs_quota_us"), format!("{}", (cpus * 100_000.0) as u64))?;
        std::fs::write(dir.join("cgroup.procs"), pid.to_string())?;
        Ok(CpuCap { dir, pid })
    }
}

impl Drop for CpuCap {
    fn drop(&mut self) {
        let _ = std::fs::write("/sys/fs/cgroup/cpu/cgroup.procs", self.pid.to_string());
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// A node: its directory, addresses, and process.
struct Node {
    dir: PathBuf,
    listen: String,
    cluster: String,
    server: Option<Server>,
    /// Configuration lines beyond the benchmark's own.
    config: String,
}

fn free_addr() -> anyhow::Result<String> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.to_string())
}

impl Node {
    fn start(&mut self, bin: &PathBuf, secret: Option<&str>, join: Option<&str>) -> anyhow::Result<()> {
        let mut args = vec!["--listen", self.listen.as_str(), "--cluster-listen", self.cluster.as_str()];
        if let Some(j) = join {
            args.extend(["--join", j]);
        }
        let env: Vec<(&str, &str)> = secret.map(|s| vec![("ROOST_CLUSTER_SECRET", s)]).unwrap_or_default();
        self.server = Some(start_server_with(bin, &self.dir, &args, &env, &self.config)?);
        Ok(())
    }

    fn base(&self) -> String {
        format!("http://{}", self.listen)
    }
}

/// Runs `roost cluster status --json` through `via`; the members' rows.
fn status(bin: &Path, via: &Node, secret: &str) -> Option<Vec<serde_json::Value>> {
    // A member's data directory holds the certificates the peers' TLS needs.
    let out = std::process::Command::new(bin)
        .args(["cluster", "status", "--json", "--server", &via.cluster, "--data-dir"])
        .arg(&via.dir)
        .env("ROOST_CLUSTER_SECRET", secret)
        .output()
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v["members"].as_array().cloned()
}

/// The index of the node that leads, once the live nodes agree there is one.
fn leader(bin: &Path, nodes: &[Node], secret: &str) -> anyhow::Result<usize> {
    let started = Instant::now();
    loop {
        for n in nodes.iter().filter(|n| n.server.is_some()) {
            if let Some(rows) = status(bin, n, secret) {
                if let Some(l) = rows.iter().find(|r| r["role"] == "leader") {
                    let addr = l["address"].as_str().unwrap_or_default();
                    if let Some(i) = nodes.iter().position(|n| n.cluster == addr) {
                        return Ok(i);
                    }
                }
            }
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(120), "no leader");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until every node has applied as far as the others.
fn caught_up(bin: &Path, nodes: &[Node], secret: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        if let Some(rows) = status(bin, &nodes[0], secret) {
            let applied: Vec<u64> = rows.iter().filter_map(|r| r["applied_index"].as_u64()).collect();
            if applied.len() == nodes.len() && applied.iter().min() == applied.iter().max() {
                return Ok(());
            }
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(600), "the nodes did not catch up");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for f in ["log.redb", "state.redb"] {
        std::fs::copy(from.join(f), to.join(f)).with_context(|| format!("copying {}", from.join(f).display()))?;
    }
    Ok(())
}

/// A write during a failover.
#[derive(Clone, Copy)]
struct Write {
    /// The node it went to.
    node: usize,
    sent: Instant,
    answered: Instant,
    ok: bool,
    /// It carried an Idempotency-Key.
    keyed: bool,
}

/// Posts (or reads home timelines, for random members) for `seconds` through the given nodes
/// in turn; returns the latencies, the failures and the seconds taken.
async fn load(
    http: &reqwest::Client,
    bases: Arc<Vec<String>>,
    tokens: Arc<Vec<String>>,
    concurrency: usize,
    seconds: u64,
    post: bool,
) -> (Latencies, usize, f64) {
    let deadline = Some(Instant::now() + Duration::from_secs(seconds));
    let t = Instant::now();
    let h = http.clone();
    let (lat, failed) = drive(concurrency, usize::MAX, deadline, move |k| {
        let (h, bases, tokens) = (h.clone(), bases.clone(), tokens.clone());
        async move {
            let user = rand::rngs::StdRng::seed_from_u64(k as u64).gen_range(0..tokens.len());
            let base = &bases[k % bases.len()];
            let req = if post {
                h.post(format!("{base}/api/v1/statuses")).form(&[("status", format!("cluster bench post {k}"))])
            } else {
                h.get(format!("{base}/api/v1/timelines/home?limit=20"))
            };
            check(req.bearer_auth(&tokens[user]).send().await?).await?.bytes().await?;
            Ok(())
        }
    })
    .await;
    (lat, failed, t.elapsed().as_secs_f64())
}

pub async fn run(o: Options) -> anyhow::Result<()> {
    let bin = crate::http::roost_binary(o.roost.as_deref())?;
    let tokens: Arc<Vec<String>> = Arc::new(
        std::fs::read_to_string(o.dataset.join("bench-tokens.txt"))
            .context("reading bench-tokens.txt: build the dataset first with `roost-bench http --data-dir`")?
            .lines()
            .map(str::to_string)
            .collect(),
    );
    if o.work_dir.exists() {
        std::fs::remove_dir_all(&o.work_dir)?;
    }
    let mut config = String::new();
    if let Some(h) = o.heartbeat_ms {
        config.push_str(&format!("heartbeat_ms = {h}\n"));
    }
    if let Some(e) = o.election_timeout_ms {
        config.push_str(&format!("election_timeout_ms = {e}\n"));
    }
    let mut nodes = Vec::new();
    for i in 1..=3 {
        nodes.push(Node {
            dir: o.work_dir.join(format!("n{i}")),
            listen: free_addr()?,
            cluster: free_addr()?,
            server: None,
            config: config.clone(),
        });
    }
    // The first node is the dataset's single node, now the cluster's first member.
    let t = Instant::now();
    copy_dir(&o.dataset, &nodes[0].dir)?;
    let copy_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    nodes[0].start(&bin, None, None)?;
    let first_secs = t.elapsed().as_secs_f64();
    let secret = std::fs::read_to_string(nodes[0].dir.join("cluster.secret"))?;
    let first = nodes[0].cluster.clone();
    let t = Instant::now();
    for n in &mut nodes[1..] {
        n.start(&bin, Some(&secret), Some(&first))?;
    }
    let join_secs = t.elapsed().as_secs_f64();
    caught_up(&bin, &nodes, &secret)?;
    eprintln!("cluster formed: copy {copy_secs:.1}s, first node {first_secs:.1}s, two joins {join_secs:.1}s");

    let http = reqwest::Client::builder().pool_max_idle_per_host(o.concurrency * 2).build()?;
    let all: Arc<Vec<String>> = Arc::new(nodes.iter().map(Node::base).collect());
    let one: Arc<Vec<String>> = Arc::new(vec![nodes[0].base()]);

    println!("## roost-bench cluster\n");
    println!("- machine: {}", stats::machine());
    println!(
        "- dataset {} ({} accounts) as the first node; two nodes joined from empty directories in {join_secs:.1} s (snapshot + log)",
        o.dataset.display(),
        tokens.len()
    );
    println!("- 3 nodes on loopback, fsync on, {} concurrent clients, {} s per phase\n", o.concurrency, o.seconds);
    println!("| operation | nodes serving | requests | failed | throughput (/s) | p50 (ms) | p99 (ms) |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let row = |operation: &str, nodes: usize, (mut lat, failed, secs): (Latencies, usize, f64)| {
        println!(
            "| {operation} | {nodes} | {} | {failed} | {:.0} | {:.2} | {:.2} |",
            lat.len(),
            lat.len() as f64 / secs,
            lat.percentile_ms(50.0),
            lat.percentile_ms(99.0)
        );
    };
    let measured = load(&http, all.clone(), tokens.clone(), o.concurrency, o.seconds, true).await;
    row("create-status (committed by a majority)", 3, measured);
    for (n, bases) in [(1, one.clone()), (3, all.clone())] {
        row("home timeline (limit 20)", n, load(&http, bases, tokens.clone(), o.concurrency, o.seconds, false).await);
    }

    // Reads again with every node held to the same CPU share: one node serving, then three.
    if let Some(cpus) = o.cpu_per_node {
        let caps = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                CpuCap::new(&format!("roost-bench-n{i}"), n.server.as_ref().map_or(0, |s| s.child.id()), cpus)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let operation = format!("home timeline (limit 20), each node held to {cpus} CPU");
        for (n, bases) in [(1, one.clone()), (3, all.clone())] {
            row(&operation, n, load(&http, bases, tokens.clone(), o.concurrency, o.seconds, false).await);
        }
        drop(caps);
    }

    // Elections during the load phases (a healthy cluster under load holds no needless ones).
    let mut elections = 0u64;
    for n in &nodes {
        let text = http.get(format!("{}/metrics", n.base())).send().await?.text().await?;
        elections = elections.max(
            text.lines()
                .find_map(|l| l.strip_prefix("roost_raft_elections_total "))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0),
        );
    }
    println!("\n- terms entered by the nodes since they started (elections), after the load phases: {elections}");

    // Failover: under a light steady write load through every node, kill -9 the leader and time
    // the first acknowledged write sent after the kill; count the writes that failed; restart it
    // and let it catch up. Two writers send an Idempotency-Key with each post, two do not. The
    // writes to the surviving nodes are counted apart by when they were sent: after the kill,
    // none could have been handed to the old leader (they wait for the new one instead of
    // failing: the target is none failed); before it, a write may have been in the old leader's
    // hands when it died (its fate unknown: the node sends it again, and the log makes it once).
    let mut failovers = Latencies::default();
    let mut waited = Latencies::default();
    // (failed, sent) per kind
    let (mut after, mut in_flight, mut keyed, mut to_victim) = ((0, 0), (0, 0), (0, 0), (0, 0));
    for round in 0..o.kills {
        let stop = Arc::new(AtomicBool::new(false));
        let writes: Arc<Mutex<Vec<Write>>> = Arc::default();
        let mut writers = Vec::new();
        for w in 0..4 {
            let (h, bases, tokens, stop, writes) =
                (http.clone(), all.clone(), tokens.clone(), stop.clone(), writes.clone());
            let with_key = w >= 2;
            writers.push(tokio::spawn(async move {
                let mut i = w;
                while !stop.load(Ordering::Relaxed) {
                    let node = i % bases.len();
                    let sent = Instant::now();
                    let text = format!("failover {round} {w} {i}");
                    let mut req = h
                        .post(format!("{}/api/v1/statuses", bases[node]))
                        .form(&[("status", text.as_str())])
                        .bearer_auth(&tokens[i % tokens.len()])
                        .timeout(Duration::from_secs(15));
                    if with_key {
                        req = req.header("idempotency-key", &text);
                    }
                    i += 1;
                    let ok = matches!(req.send().await, Ok(r) if r.status().is_success());
                    if let Ok(mut a) = writes.lock() {
                        a.push(Write { node, sent, answered: Instant::now(), ok, keyed: with_key });
                    }
                    if !ok {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let victim = leader(&bin, &nodes, &secret)?;
        let killed = Instant::now();
        nodes[victim].server = None; // dropping the server kills it (SIGKILL)
        let took = loop {
            let first = writes
                .lock()
                .map_err(|_| anyhow::anyhow!("lock"))?
                .iter()
                .filter(|w| w.sent > killed && w.ok)
                .map(|w| w.answered)
                .min();
            if let Some(at) = first {
                break at - killed;
            }
            anyhow::ensure!(killed.elapsed() < Duration::from_secs(60), "no write succeeded after the kill");
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        // Let the writes sent during the election finish before counting.
        tokio::time::sleep(Duration::from_secs(2)).await;
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            let _ = w.await;
        }
        let writes = writes.lock().map_err(|_| anyhow::anyhow!("lock"))?.clone();
        // The writes around the failover: in flight at the kill, or sent before writes were
        // taken again.
        let around = |w: &&Write| w.answered > killed && w.sent < killed + took;
        let count = |(failed, sent): &mut (usize, usize), w: &Write| {
            *sent += 1;
            *failed += usize::from(!w.ok);
        };
        let mut this = ((0, 0), (0, 0), (0, 0), (0, 0));
        for w in writes.iter().filter(around) {
            if w.node == victim {
                count(&mut this.3, w);
            } else if w.keyed {
                count(&mut this.2, w);
            } else if w.sent > killed {
                count(&mut this.0, w);
                waited.record(w.answered - w.sent);
            } else {
                count(&mut this.1, w);
            }
        }
        for (total, part) in
            [(&mut after, this.0), (&mut in_flight, this.1), (&mut keyed, this.2), (&mut to_victim, this.3)]
        {
            total.0 += part.0;
            total.1 += part.1;
        }
        eprintln!(
            "kill {}: first write after {} ms; failed: {}/{} sent after the kill, {}/{} in flight at it, {}/{} with a key, {}/{} to the killed node",
            round + 1,
            took.as_millis(),
            this.0 .0,
            this.0 .1,
            this.1 .0,
            this.1 .1,
            this.2 .0,
            this.2 .1,
            this.3 .0,
            this.3 .1
        );
        failovers.record(took);
        nodes[victim].start(&bin, None, None)?;
        caught_up(&bin, &nodes, &secret)?;
    }
    if o.kills == 0 {
        return Ok(());
    }
    println!(
        "\nFailover over {} kill -9 of the leader (first acknowledged write sent after the kill): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        failovers.len(),
        failovers.percentile_ms(50.0),
        failovers.percentile_ms(99.0),
        failovers.percentile_ms(100.0)
    );
    println!(
        "\nWrites to the surviving nodes around the failovers (failed / sent):\n\
         - sent after the kill, so never handed to the old leader: {} / {}; they waited p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms\n\
         - sent before it and in flight at it, without a key (their fate unknown, sent again, made once): {} / {}\n\
         - with an Idempotency-Key: {} / {}\n\
         \nWrites to the node that was killed: {} / {} failed (its process was gone)",
        after.0,
        after.1,
        waited.percentile_ms(50.0),
        waited.percentile_ms(99.0),
        waited.percentile_ms(100.0),
        in_flight.0,
        in_flight.1,
        keyed.0,
        keyed.1,
        to_victim.0,
        to_victim.1
    );
    Ok(())
}
