//! The operator's local channel to a running server: a Unix socket in the data directory,
//! readable and writable by the data directory's owner only (the socket is mode 0600 inside a
//! 0700 directory). One JSON request per connection, one JSON response.
//!
//! An adapter like the HTTP ones: commands go through the running server's service layer, so they are proposed to the log
//! like any other write; nothing writes the database behind the server's back.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use roost_service::accounts::{self, NewAccount};
use roost_service::{Actor, ActorExt, Service};
use roost_types::Role;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

pub const SOCKET: &str = "admin.sock";
/// Largest request line accepted on the socket.
const MAX_REQUEST: u64 = 64 * 1024;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminRequest {
    CreateUser {
        username: String,
        password: String,
        role: Option<String>,
        display_name: Option<String>,
        email: Option<String>,
    },
    CreateInvite {
        role: Option<String>,
        max_uses: Option<u32>,
        expires_in_secs: Option<u64>,
    },
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminResponse {
    UserCreated { id: String, username: String, role: String },
    InviteCreated { id: String, url: String },
    Error { message: String },
}

/// The running admin channel; [`AdminServer::stop`] removes the socket.
pub struct AdminServer {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl AdminServer {
    pub fn stop(self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Binds the socket (replacing a stale one left by a crash) and serves it.
pub async fn serve(data_dir: &Path, service: Service) -> anyhow::Result<AdminServer> {
    let path = data_dir.join(SOCKET);
    if path.exists() {
        // The database lock already proved no other server uses this data dir.
        std::fs::remove_file(&path).with_context(|| format!("removing the stale {}", path.display()))?;
    }
    let listener = UnixListener::bind(&path).with_context(|| format!("binding {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    let task = tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let service = service.clone();
                    tokio::spawn(async move {
                        if let Err(e) = handle(stream, service).await {
                            tracing::warn!("admin connection: {e:#}");
                        }
                    });
                }
                Err(e) => {
                    tracing::error!("admin socket: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok(AdminServer { path, task })
}

async fn handle(stream: UnixStream, service: Service) -> anyhow::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    tokio::io::BufReader::new(tokio::io::AsyncReadExt::take(read, MAX_REQUEST)).read_line(&mut line).await?;
    let response = match serde_json::from_str::<AdminRequest>(&line) {
        Ok(req) => execute(req, &service).await,
        Err(e) => AdminResponse::Error { message: format!("bad request: {e}") },
    };
    let mut out = serde_json::to_vec(&response)?;
    out.push(b'\n');
    write.write_all(&out).await?;
    Ok(())
}

async fn execute(req: AdminRequest, service: &Service) -> AdminResponse {
    match req {
        AdminRequest::CreateUser { username, password, role, display_name, email } => {
            let role = match role.as_deref().map(Role::parse) {
                Some(None) => {
                    return AdminResponse::Error { message: "role must be owner, admin, moderator or member".into() }
                }
                Some(r) => r,
                None => None,
            };
            let new = NewAccount { username: username.clone(), password, role, display_name, email };
            match accounts::create_account(service, &Actor::operator(), new).await {
                Ok((id, role, _)) => {
                    AdminResponse::UserCreated { id: id.to_string(), username, role: role.as_str().into() }
                }
                Err(e) => AdminResponse::Error { message: e.to_string() },
            }
        }
        AdminRequest::CreateInvite { role, max_uses, expires_in_secs } => {
            let role = match role.as_deref().map(Role::parse) {
                None => Role::Member,
                Some(Some(r)) if r != Role::Owner => r,
                Some(_) => return AdminResponse::Error { message: "role must be admin, moderator or member".into() },
            };
            let expires_in = expires_in_secs.map(std::time::Duration::from_secs);
            match accounts::create_invite(service, &Actor::operator(), role, max_uses, expires_in).await {
                Ok((id, url)) => AdminResponse::InviteCreated { id: id.to_string(), url },
                Err(e) => AdminResponse::Error { message: e.to_string() },
            }
        }
    }
}

/// Sends one request to the server running on `data_dir`.
pub fn request(data_dir: &Path, req: &AdminRequest) -> anyhow::Result<AdminResponse> {
    let path = data_dir.join(SOCKET);
    let stream = match std::os::unix::net::UnixStream::connect(&path) {
        Ok(s) => s,
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) => {
            anyhow::bail!(
                "no Roost server is running on the data directory {} (nothing listens on {}).\nStart it with `roost serve --data-dir {}` and try again.",
                data_dir.display(),
                path.display(),
                data_dir.display()
            )
        }
        Err(e) => return Err(e).with_context(|| format!("connecting to {}", path.display())),
    };
    let mut writer = stream.try_clone()?;
    let mut line = serde_json::to_vec(req)?;
    line.push(b'\n');
    writer.write_all(&line)?;
    let mut response = String::new();
    BufReader::new(stream).read_line(&mut response)?;
    serde_json::from_str(&response).context("reading the server's answer")
}
