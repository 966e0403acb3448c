//! The `roost` command: parse flags, build the configuration, call the library.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

// Roost's hot paths allocate many small strings (entities, HTML); mimalloc serves them
// markedly faster than the system allocator (measured in BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use roost::admin::{self, AdminRequest, AdminResponse};
use roost::config::{Config, Overrides, DEFAULT_DATA_DIR};

#[derive(Parser)]
#[command(name = "roost", version, about = "Roost: a private X for one organisation")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server.
    Serve {
        /// A TOML configuration file (see README.md for its keys).
        #[arg(long, env = "ROOST_CONFIG")]
        config: Option<PathBuf>,
        /// Where to keep data [default: ./roost-data].
        #[arg(long, env = "ROOST_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// HTTP listen address [default: 127.0.0.1:8080].
        #[arg(long, env = "ROOST_LISTEN")]
        listen: Option<String>,
        /// The URL members use to reach this instance [default: http://LISTEN].
        #[arg(long, env = "ROOST_PUBLIC_URL")]
        public_url: Option<String>,
        /// Run as a cluster member: the address peers reach this node on (HOST:PORT).
        #[arg(long, env = "ROOST_CLUSTER_LISTEN")]
        cluster_listen: Option<String>,
        /// On first start, join the cluster of the member at this cluster address (needs the
        /// cluster's secret in ROOST_CLUSTER_SECRET).
        #[arg(long, env = "ROOST_JOIN")]
        join: Option<String>,
    },
    /// Operate a running server through its data directory's admin socket.
    Admin {
        #[command(subcommand)]
        command: AdminCmd,
    },
    /// Look at and change a cluster through any member's cluster address.
    Cluster {
        #[command(subcommand)]
        command: ClusterCmd,
    },
    /// Disaster recovery: make a new one-node cluster from a copy of any member's data
    /// directory (the copy is read, not changed). Start it with `roost serve`; others can join.
    Restore {
        /// The copied data directory.
        #[arg(long)]
        from: PathBuf,
        /// The new node's data directory (must not hold a node).
        #[arg(long)]
        data_dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum ClusterCmd {
    /// Every member: role, term, log and applied indexes, chain head, lag, reachability.
    Status {
        /// A member's cluster address (HOST:PORT).
        #[arg(long)]
        server: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// A member's data directory: the cluster secret (else ROOST_CLUSTER_SECRET) and the
        /// certificates the peers' TLS needs.
        #[arg(long, env = "ROOST_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// The cluster's peers talk plain HTTP (`cluster_plaintext`).
        #[arg(long)]
        plaintext: bool,
    },
    /// Take a node out of the cluster (to replace a dead one, add its successor with --join).
    Remove {
        node_id: u64,
        /// A member's cluster address (HOST:PORT).
        #[arg(long)]
        server: String,
        /// A member's data directory: the cluster secret (else ROOST_CLUSTER_SECRET) and the
        /// certificates the peers' TLS needs.
        #[arg(long, env = "ROOST_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// The cluster's peers talk plain HTTP (`cluster_plaintext`).
        #[arg(long)]
        plaintext: bool,
    },
}

#[derive(Subcommand)]
enum AdminCmd {
    /// Create an account; prints its id.
    CreateUser {
        username: String,
        /// Read the password from standard input (the only way to pass it).
        #[arg(long)]
        password_stdin: bool,
        /// owner, admin, moderator or member [default: owner for the first account, else member].
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        /// The running server's data directory.
        #[arg(long, env = "ROOST_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
    },
    /// Create an invite link; prints it. Whoever opens it can sign up.
    Invite {
        /// admin, moderator or member.
        #[arg(long, default_value = "member")]
        role: String,
        /// How many accounts it may create [default: no limit].
        #[arg(long)]
        max_uses: Option<u32>,
        /// How long it works, such as 30m, 12h or 7d [default: until withdrawn].
        #[arg(long, value_parser = parse_duration)]
        expires: Option<u64>,
        /// The running server's data directory.
        #[arg(long, env = "ROOST_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
    },
}

/// The cluster secret: from the data directory if it holds one, else from the environment.
fn cluster_secret(data_dir: &std::path::Path) -> Option<String> {
    std::fs::read_to_string(data_dir.join(roost_cluster::SECRET_FILE))
        .ok()
        .or_else(|| std::env::var(roost_cluster::SECRET_ENV).ok())
        .map(|s| s.trim().to_string())
}

fn cluster(command: ClusterCmd) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("roost: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (ClusterCmd::Status { data_dir, plaintext, .. } | ClusterCmd::Remove { data_dir, plaintext, .. }) = &command;
    let plaintext = *plaintext;
    let Some(secret) = cluster_secret(data_dir) else {
        eprintln!(
            "roost: no cluster secret: run where --data-dir holds {} or set {}",
            roost_cluster::SECRET_FILE,
            roost_cluster::SECRET_ENV
        );
        return ExitCode::from(2);
    };
    // The peers talk TLS with the cluster's certificates: a member's data directory holds them.
    let tls = match roost_cluster::ClusterTls::load(data_dir) {
        Ok(Some(tls)) => Some(tls),
        // Never the secret over plain HTTP unless the cluster is known to talk it.
        Ok(None) if plaintext => None,
        Ok(None) => {
            eprintln!(
                "roost: no cluster certificates in {}: run this where --data-dir is a member's data directory \
                 (or pass --plaintext for a cluster with cluster_plaintext)",
                data_dir.display()
            );
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("roost: reading the cluster certificates in {}: {e}", data_dir.display());
            return ExitCode::FAILURE;
        }
    };
    let peering = match roost_cluster::Peering::new(&secret, tls.as_ref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("roost: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match command {
            ClusterCmd::Status { server, json, .. } => cluster_status(&peering, &server, json).await,
            ClusterCmd::Remove { node_id, server, .. } => {
                let status = roost_cluster::remove(&peering, &server, node_id).await?;
                println!(
                    "node {node_id} removed; members now: {:?}",
                    status.members.iter().map(|m| m.0).collect::<Vec<_>>()
                );
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("roost: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Asks the given member for the membership, then every member for its own view.
async fn cluster_status(peering: &roost_cluster::Peering, server: &str, json: bool) -> anyhow::Result<()> {
    let first = roost_cluster::status(peering, server).await?;
    let mut rows = Vec::new();
    for (id, addr, voter) in &first.members {
        let s = if *id == first.id { Ok(first.clone()) } else { roost_cluster::status(peering, addr).await };
        rows.push((*id, addr.clone(), *voter, s.ok()));
    }
    // Lag: how far a member's applied log is behind the newest commit anyone reports.
    let committed = rows.iter().filter_map(|r| r.3.as_ref().map(|s| s.committed_index)).max().unwrap_or(0);
    if json {
        let members: Vec<serde_json::Value> = rows
            .iter()
            .map(|(id, addr, voter, s)| {
                serde_json::json!({
                    "id": id.to_string(),
                    "address": addr,
                    "voter": voter,
                    "reachable": s.is_some(),
                    "role": s.as_ref().map(|s| s.role.clone()),
                    "term": s.as_ref().map(|s| s.term),
                    "leader": s.as_ref().and_then(|s| s.leader).map(|l| l.to_string()),
                    "last_log_index": s.as_ref().map(|s| s.last_log_index),
                    "applied_index": s.as_ref().map(|s| s.applied_index),
                    "chain_head": s.as_ref().map(|s| s.chain_head.clone()),
                    "lag": s.as_ref().map(|s| committed.saturating_sub(s.applied_index)),
                    "version": s.as_ref().map(|s| s.version.clone()),
                    "protocol": s.as_ref().map(|s| s.protocol),
                    "active_protocol": s.as_ref().map(|s| s.active_protocol),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "members": members }))?);
        return Ok(());
    }
    println!(
        "{:<20} {:<22} {:<9} {:>5} {:>9} {:>9} {:<16} {:>6} {:<10} {:>5} REACHABLE",
        "NODE", "ADDRESS", "ROLE", "TERM", "LAST LOG", "APPLIED", "CHAIN HEAD", "LAG", "VERSION", "PROTO"
    );
    for (id, addr, _, s) in &rows {
        match s {
            Some(s) => println!(
                "{:<20} {:<22} {:<9} {:>5} {:>9} {:>9} {:<16} {:>6} {:<10} {:>5} yes",
                id,
                addr,
                s.role,
                s.term,
                s.last_log_index,
                s.applied_index,
                s.chain_head.get(..16).unwrap_or(""),
                committed.saturating_sub(s.applied_index),
                if s.version.is_empty() { "?" } else { &s.version },
                s.protocol,
            ),
            None => println!(
                "{:<20} {:<22} {:<9} {:>5} {:>9} {:>9} {:<16} {:>6} {:<10} {:>5} no",
                id, addr, "?", "", "", "", "", "", "", ""
            ),
        }
    }
    // What the cluster runs: the protocol it turned on, and whether a member holds it back.
    let active = rows.iter().filter_map(|r| r.3.as_ref().map(|s| s.active_protocol)).max().unwrap_or(1);
    let lowest = rows.iter().filter_map(|r| r.3.as_ref().map(|s| s.protocol)).min().unwrap_or(active);
    println!(
        "protocol {active} active; every member speaks {lowest} or newer (this release: {})",
        roost_types::PROTOCOL
    );
    if lowest < roost_types::PROTOCOL {
        println!("features of newer protocols wait until every member runs a release that speaks them");
    }
    Ok(())
}

/// A duration such as `90s`, `30m`, `12h` or `7d`, in seconds.
fn parse_duration(s: &str) -> Result<u64, String> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = n.parse().map_err(|_| format!("`{s}` is not a duration such as 30m, 12h or 7d"))?;
    let per = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("`{s}` is not a duration such as 30m, 12h or 7d")),
    };
    match n.checked_mul(per) {
        Some(secs) if secs > 0 => Ok(secs),
        _ => Err(format!("`{s}` is not a duration of at least a second")),
    }
}

fn main() -> ExitCode {
    // Everything Roost writes (databases, snapshots, secrets, sockets, restored copies) is its
    // owner's alone.
    roost::config::private_files();
    let cli = Cli::parse();
    match cli.command {
        Cmd::Serve { config, data_dir, listen, public_url, cluster_listen, join } => {
            serve(config, Overrides { data_dir, listen, public_url, cluster_listen, join })
        }
        Cmd::Cluster { command } => cluster(command),
        Cmd::Restore { from, data_dir } => match roost_raft::restore(&from, &data_dir) {
            Ok(r) => {
                let (copied, bad) = match restore_blobs(&from, &data_dir) {
                    Ok(counts) => counts,
                    Err(e) => {
                        eprintln!("roost: restoring the picture files from {}: {e}", from.display());
                        return ExitCode::FAILURE;
                    }
                };
                println!(
                    "restored into {}: applied index {}, chain head {}, {copied} picture files; start it with `roost serve --data-dir {}`",
                    data_dir.display(),
                    r.applied_index,
                    r.chain.hex(),
                    data_dir.display()
                );
                if bad > 0 {
                    eprintln!("roost: {bad} picture files in the copy did not match their names and were left out");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("roost: restoring from {}: {e}", from.display());
                ExitCode::FAILURE
            }
        },
        Cmd::Admin { command } => match command {
            AdminCmd::CreateUser { username, password_stdin, role, display_name, email, data_dir } => {
                create_user(username, password_stdin, role, display_name, email, data_dir)
            }
            AdminCmd::Invite { role, max_uses, expires, data_dir } => {
                let req = AdminRequest::CreateInvite { role: Some(role), max_uses, expires_in_secs: expires };
                answer(admin::request(&data_dir, &req), |r| match r {
                    AdminResponse::InviteCreated { url, .. } => {
                        println!("{url}");
                        true
                    }
                    _ => false,
                })
            }
        },
    }
}

fn serve(config: Option<PathBuf>, overrides: Overrides) -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,openraft=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let config = match Config::load(config.as_deref(), overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("roost: bad configuration: {e:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("roost: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
        roost::run(config, listener, roost::shutdown_signal()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("roost: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn create_user(
    username: String,
    password_stdin: bool,
    role: Option<String>,
    display_name: Option<String>,
    email: Option<String>,
    data_dir: PathBuf,
) -> ExitCode {
    if !password_stdin {
        eprintln!("roost: pass the password on standard input with --password-stdin (passwords on the command line leak into process lists)");
        return ExitCode::from(2);
    }
    let mut password = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut password) {
        eprintln!("roost: reading the password from standard input: {e}");
        return ExitCode::FAILURE;
    }
    let password = password.trim_end_matches(['\n', '\r']).to_string();
    let req = AdminRequest::CreateUser { username, password, role, display_name, email };
    answer(admin::request(&data_dir, &req), |r| match r {
        AdminResponse::UserCreated { id, username, role } => {
            eprintln!("created @{username} ({role})");
            println!("{id}");
            true
        }
        _ => false,
    })
}

/// The exit of an admin command: `print` shows the expected answer (and says it was one);
/// errors and anything else go to standard error.
fn answer(response: anyhow::Result<AdminResponse>, print: impl FnOnce(&AdminResponse) -> bool) -> ExitCode {
    match response {
        Ok(r) if print(&r) => ExitCode::SUCCESS,
        Ok(AdminResponse::Error { message }) => {
            eprintln!("roost: {message}");
            ExitCode::FAILURE
        }
        Ok(other) => {
            eprintln!("roost: unexpected answer {other:?}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("roost: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Copies the picture files of a data directory's copy (`blobs/`), each checked against its
/// name; returns how many were copied and how many were left out as damaged.
fn restore_blobs(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<(usize, usize)> {
    use roost_service::media::Blobs;
    let (source, target) = (Blobs::new(from.join("blobs")), Blobs::new(to.join("blobs")));
    let (mut copied, mut bad) = (0, 0);
    for hash in source.list()? {
        match source.get(hash) {
            Ok(Some(bytes)) if target.put_verified(hash, &bytes)? => copied += 1,
            Ok(_) | Err(_) => bad += 1,
        }
    }
    Ok((copied, bad))
}
