//! The one configuration of a Roost server: defaults, then the TOML file, then environment
//! variables and flags (the last word wins).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// The default data directory, relative to where `roost` runs.
pub const DEFAULT_DATA_DIR: &str = "roost-data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The configuration file (`--config roost.toml`). Every field is optional; unknown keys are
/// refused so that a typo never goes unnoticed.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Where Roost keeps its database and admin socket. Default `./roost-data`.
    pub data_dir: Option<PathBuf>,
    /// The address the HTTP server listens on. Default `127.0.0.1:8080`.
    pub listen: Option<String>,
    /// The URL members use to reach this instance, e.g. `https://social.example.org`; used in
    /// links and entity URLs. Default `http://` plus the listen address.
    pub public_url: Option<String>,
    /// The instance's name. Default `Roost`.
    pub title: Option<String>,
    /// The longest post, in characters as Mastodon counts them. Default 500.
    pub max_post_chars: Option<usize>,
    /// The largest post (text and content warning), in bytes: a link counts as 23 characters
    /// whatever its length, and a character (a grapheme, such as an emoji of several code
    /// points) may be many bytes, so characters alone do not bound a post's size. Default 16
    /// bytes per character of `max_post_chars` (8,000 for 500).
    pub max_post_bytes: Option<usize>,
    /// The largest request body accepted, in bytes. Default 1 MiB.
    pub max_body_bytes: Option<usize>,
    /// How far ahead a post must be scheduled, at least, in seconds. Default 300 (Mastodon's).
    pub scheduled_status_min_secs: Option<i64>,
    /// Requests per account (or app token) per rate-limit period; 0 switches it off. Default 1500.
    pub rate_limit_authenticated: Option<u32>,
    /// Requests per IP address without a valid token, per period; 0 switches it off. Default 300.
    pub rate_limit_unauthenticated: Option<u32>,
    /// The rate-limit period in seconds. Default 300.
    pub rate_limit_period_secs: Option<u64>,
    /// OAuth apps one client network may register per hour; 0 switches it off. Default 30.
    pub app_registrations_per_hour: Option<u32>,
    /// Addresses of reverse proxies in front of Roost, whose `X-Forwarded-For` names the real
    /// client (for per-address rate limits). Default none: the header is ignored.
    pub trusted_proxies: Option<Vec<String>>,
    /// The address this node's peers reach it on (`HOST:PORT`); set it to run as a member of a
    /// cluster. Default none: a single node.
    pub cluster_listen: Option<String>,
    /// The cluster address of any member, to join that cluster on first start.
    pub join: Option<String>,
    /// Talk to peers over plain HTTP instead of TLS (every node of the cluster must agree): only
    /// on a network nobody else can read, or for a cluster formed before peers talked TLS.
    /// Default false.
    pub cluster_plaintext: Option<bool>,
    /// A PEM certificate (with its chain) for serving members over HTTPS without a reverse
    /// proxy; reloaded when the file changes. Needs `tls_key_file`. Default none: plain HTTP.
    pub tls_cert_file: Option<PathBuf>,
    /// The PEM private key of `tls_cert_file`.
    pub tls_key_file: Option<PathBuf>,
    /// Raft heartbeat interval in milliseconds. Default 100.
    pub heartbeat_ms: Option<u64>,
    /// Raft election timeout in milliseconds (a random wait between it and twice it). Default 300.
    pub election_timeout_ms: Option<u64>,
    /// Log entries between snapshots (the log before one is purged). Default 20000.
    pub snapshot_every: Option<u64>,
    /// Seconds a client has to send a request's head (line and headers); also how long a
    /// keep-alive connection may sit idle. Default 10.
    pub request_header_timeout_secs: Option<u64>,
    /// Seconds a client has to send a request's whole body. Default 30.
    pub request_body_timeout_secs: Option<u64>,
    /// Seconds a response may wait on a client that does not read it. Default 30.
    pub response_write_timeout_secs: Option<u64>,
    /// Connections open at once (live streams included). Default 8192.
    pub max_connections: Option<usize>,
    /// Connections open at once from one client address (reverse proxies named in
    /// `trusted_proxies` are not capped). Default 256.
    pub max_connections_per_ip: Option<usize>,
    /// The newest protocol this node reports speaking: set it lower than this release's to hold
    /// the cluster at an older protocol (its new features wait). Default: this release's.
    pub max_protocol: Option<u32>,
    /// Largest picture upload, in bytes. Default 16 MiB.
    pub media_max_bytes: Option<usize>,
    /// Bytes of pictures each member may keep (0: no limit). Default 1 GiB.
    pub media_quota_bytes: Option<u64>,
    /// Uploads a member may make per hour, per node (0: no limit). Default 120.
    pub media_uploads_per_hour: Option<u32>,
    /// Hours an upload that no post uses is kept. Default 24.
    pub media_unattached_hours: Option<i64>,
    /// How long an upload through `POST /api/v2/media` waits for processing before it answers
    /// 202 (the client then polls `GET /api/v1/media/:id`), in milliseconds. Default 5000.
    pub media_processing_wait_ms: Option<u64>,
}

/// Values from flags or the environment (`ROOST_DATA_DIR`, `ROOST_LISTEN`, …); they override
/// the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub data_dir: Option<PathBuf>,
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub cluster_listen: Option<String>,
    pub join: Option<String>,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub public_url: Option<String>,
    pub title: String,
    pub max_post_chars: usize,
    pub max_post_bytes: usize,
    pub scheduled_min_secs: i64,
    pub max_body_bytes: usize,
    pub rate_limit: roost_web::limits::RateLimit,
    pub app_registrations_per_hour: u32,
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Where peers reach this node; `None`: a single node.
    pub cluster_listen: Option<SocketAddr>,
    /// A member's cluster address to join on first start.
    pub join: Option<String>,
    /// Plain HTTP between nodes (see `FileConfig::cluster_plaintext`).
    pub cluster_plaintext: bool,
    /// The member-facing listener's certificate and key files, for HTTPS.
    pub tls_files: Option<(PathBuf, PathBuf)>,
    pub tuning: roost_raft::Tuning,
    /// Timeouts and connection caps of the member-facing listener.
    pub http: roost_http::Limits,
    pub media: roost_service::media::MediaConfig,
}

impl Config {
    /// Resolves the configuration from an optional file and overrides.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> anyhow::Result<Config> {
        let file_config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                toml::from_str::<FileConfig>(&text).with_context(|| format!("in {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        Config::resolve(file_config, overrides)
    }

    pub fn resolve(f: FileConfig, o: Overrides) -> anyhow::Result<Config> {
        let listen = o.listen.or(f.listen).unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen: SocketAddr =
            listen.parse().with_context(|| format!("listen address {listen:?} is not HOST:PORT"))?;
        let public_url = o.public_url.or(f.public_url);
        if let Some(u) = &public_url {
            anyhow::ensure!(
                u.starts_with("http://") || u.starts_with("https://"),
                "public_url {u:?} must start with http:// or https://"
            );
        }
        let max_post_chars = f.max_post_chars.unwrap_or(500);
        anyhow::ensure!((1..=100_000).contains(&max_post_chars), "max_post_chars must be between 1 and 100000");
        let max_post_bytes = f.max_post_bytes.unwrap_or(max_post_chars * 16);
        anyhow::ensure!(
            (max_post_chars..=1024 * 1024).contains(&max_post_bytes),
            "max_post_bytes must be between max_post_chars and 1048576"
        );
        let scheduled_min_secs = f.scheduled_status_min_secs.unwrap_or(300);
        anyhow::ensure!(
            (1..=86_400).contains(&scheduled_min_secs),
            "scheduled_status_min_secs must be between 1 and 86400"
        );
        let max_body_bytes = f.max_body_bytes.unwrap_or(1024 * 1024);
        anyhow::ensure!(
            (1024..=64 * 1024 * 1024).contains(&max_body_bytes),
            "max_body_bytes must be between 1 KiB and 64 MiB"
        );
        let defaults = roost_web::limits::RateLimit::default();
        let period = f.rate_limit_period_secs.unwrap_or(defaults.period.as_secs());
        anyhow::ensure!((1..=86_400).contains(&period), "rate_limit_period_secs must be between 1 and 86400");
        let rate_limit = roost_web::limits::RateLimit {
            authenticated: f.rate_limit_authenticated.unwrap_or(defaults.authenticated),
            unauthenticated: f.rate_limit_unauthenticated.unwrap_or(defaults.unauthenticated),
            period: std::time::Duration::from_secs(period),
        };
        let trusted_proxies = f
            .trusted_proxies
            .unwrap_or_default()
            .iter()
            .map(|p| p.parse().with_context(|| format!("trusted_proxies: {p:?} is not an IP address")))
            .collect::<anyhow::Result<Vec<std::net::IpAddr>>>()?;
        let cluster_listen = match o.cluster_listen.or(f.cluster_listen) {
            Some(a) => {
                let addr: SocketAddr = a.parse().with_context(|| format!("cluster address {a:?} is not HOST:PORT"))?;
                anyhow::ensure!(
                    !addr.ip().is_unspecified(),
                    "cluster address {a:?} must be one peers can reach (not 0.0.0.0 or ::)"
                );
                Some(addr)
            }
            None => None,
        };
        let join = o.join.or(f.join);
        anyhow::ensure!(
            join.is_none() || cluster_listen.is_some(),
            "joining a cluster needs a cluster address (--cluster-listen)"
        );
        let d = roost_raft::Tuning::default();
        let tuning = roost_raft::Tuning {
            heartbeat_ms: f.heartbeat_ms.unwrap_or(d.heartbeat_ms),
            election_timeout_ms: f.election_timeout_ms.unwrap_or(d.election_timeout_ms),
            snapshot_every: f.snapshot_every.unwrap_or(d.snapshot_every),
            log_kept: f.snapshot_every.map_or(d.log_kept, |n| d.log_kept.min(n / 4).max(1)),
            protocol: f.max_protocol.unwrap_or(d.protocol),
        };
        anyhow::ensure!(
            (1..=roost_types::PROTOCOL).contains(&tuning.protocol),
            "max_protocol must be between 1 and {} (this release's)",
            roost_types::PROTOCOL
        );
        anyhow::ensure!((10..=10_000).contains(&tuning.heartbeat_ms), "heartbeat_ms must be between 10 and 10000");
        anyhow::ensure!(
            tuning.election_timeout_ms >= 2 * tuning.heartbeat_ms && tuning.election_timeout_ms <= 60_000,
            "election_timeout_ms must be at least twice heartbeat_ms, and at most 60000"
        );
        anyhow::ensure!(tuning.snapshot_every >= 10, "snapshot_every must be at least 10");
        let d = roost_http::Limits::default();
        let secs = |v: Option<u64>, default: std::time::Duration, key: &str| -> anyhow::Result<std::time::Duration> {
            let s = v.unwrap_or(default.as_secs());
            anyhow::ensure!((1..=3600).contains(&s), "{key} must be between 1 and 3600 seconds");
            Ok(std::time::Duration::from_secs(s))
        };
        let http = roost_http::Limits {
            header_timeout: secs(f.request_header_timeout_secs, d.header_timeout, "request_header_timeout_secs")?,
            body_timeout: secs(f.request_body_timeout_secs, d.body_timeout, "request_body_timeout_secs")?,
            write_timeout: secs(f.response_write_timeout_secs, d.write_timeout, "response_write_timeout_secs")?,
            max_connections: f.max_connections.unwrap_or(d.max_connections),
            max_connections_per_ip: f.max_connections_per_ip.unwrap_or(d.max_connections_per_ip),
            exempt: trusted_proxies.clone(),
            ..d
        };
        anyhow::ensure!(
            (16..=1_000_000).contains(&http.max_connections),
            "max_connections must be between 16 and 1000000"
        );
        anyhow::ensure!(
            (1..=http.max_connections).contains(&http.max_connections_per_ip),
            "max_connections_per_ip must be between 1 and max_connections"
        );
        let tls_files = match (f.tls_cert_file, f.tls_key_file) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => anyhow::bail!("tls_cert_file and tls_key_file go together"),
        };
        // Off with the unauthenticated rate limit (a load test's setting), unless set.
        let app_registrations_per_hour = f.app_registrations_per_hour.unwrap_or(if rate_limit.unauthenticated == 0 {
            0
        } else {
            roost_service::oauth::AppRegistrations::DEFAULT_PER_HOUR
        });
        let data_dir = o.data_dir.or(f.data_dir).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let mut media = roost_service::media::MediaConfig::in_dir(data_dir.join("blobs"));
        if let Some(n) = f.media_max_bytes {
            anyhow::ensure!(
                (1024..=256 * 1024 * 1024).contains(&n),
                "media_max_bytes must be between 1 KiB and 256 MiB"
            );
            media.limits.max_bytes = n;
        }
        media.quota_bytes = f.media_quota_bytes.unwrap_or(media.quota_bytes);
        media.uploads_per_hour =
            f.media_uploads_per_hour.unwrap_or(if rate_limit.authenticated == 0 { 0 } else { media.uploads_per_hour });
        if let Some(h) = f.media_unattached_hours {
            anyhow::ensure!((1..=24 * 365).contains(&h), "media_unattached_hours must be between 1 and 8760");
            media.unattached_secs = h * 3600;
        }
        if let Some(ms) = f.media_processing_wait_ms {
            anyhow::ensure!(ms <= 60_000, "media_processing_wait_ms must be at most 60000");
            media.processing_wait = std::time::Duration::from_millis(ms);
        }
        Ok(Config {
            media,
            app_registrations_per_hour,
            http,
            tls_files,
            cluster_plaintext: f.cluster_plaintext.unwrap_or(false),
            rate_limit,
            trusted_proxies,
            cluster_listen,
            join,
            tuning,
            data_dir,
            listen,
            public_url,
            title: f.title.unwrap_or_else(|| "Roost".to_string()),
            max_post_chars,
            max_post_bytes,
            scheduled_min_secs,
            max_body_bytes,
        })
    }
}

/// Makes every file this process creates from now on readable by its owner only (0600, and
/// 0700 for directories), whatever the umask it was started with.
pub fn private_files() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// Creates the data directory if needed, and makes it and everything in it readable by its
/// owner only: it holds every direct message and password hash. What others could read (a
/// directory made by hand, a copy restored with a loose umask) is tightened, and said so.
pub fn prepare_data_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    private_files();
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating the data directory {}", dir.display()))?;
    }
    anyhow::ensure!(dir.is_dir(), "{} is not a directory", dir.display());
    tighten(dir, 0)
}

/// How deep [`tighten`] goes (the data directory has one level of subdirectories).
const TIGHTEN_DEPTH: usize = 4;

/// Takes group and other permissions away from `path` and, for a directory, what it holds.
fn tighten(path: &Path, depth: usize) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // Not following symbolic links: a link's target is not ours to change.
    let meta = std::fs::symlink_metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if meta.file_type().is_symlink() {
        return Ok(());
    }
    let mode = meta.permissions().mode() & 0o777;
    let wanted = if meta.is_dir() { 0o700 } else { mode & 0o700 };
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{mode:o}"),
            "others could read Roost's data: restricting it to its owner"
        );
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(wanted))
            .with_context(|| format!("restricting {} to its owner", path.display()))?;
    }
    if meta.is_dir() && depth < TIGHTEN_DEPTH {
        for entry in std::fs::read_dir(path).with_context(|| format!("listing {}", path.display()))? {
            tighten(&entry?.path(), depth + 1)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<FileConfig>("listen = \"127.0.0.1:1\"\nlisten_addr = 3").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let f: FileConfig =
            toml::from_str("listen = \"127.0.0.1:9000\"\ndata_dir = \"/from/file\"\ntitle = \"Acme\"").unwrap();
        let c = Config::resolve(f, Overrides { data_dir: Some("/from/flag".into()), ..Overrides::default() }).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/from/flag"));
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.title, "Acme");
        let d = Config::resolve(FileConfig::default(), Overrides::default()).unwrap();
        assert_eq!(d.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(d.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(d.max_post_chars, 500);
    }

    #[test]
    fn bad_values_are_explained() {
        let f: FileConfig = toml::from_str("listen = \"nowhere\"").unwrap();
        assert!(Config::resolve(f, Overrides::default()).unwrap_err().to_string().contains("HOST:PORT"));
    }
}
