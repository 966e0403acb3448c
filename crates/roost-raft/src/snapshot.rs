//! Snapshot files: the whole state as a stream on disk, so that building, sending and
//! installing a snapshot never holds more than a buffer of it in memory, however large the
//! state is.
//!
//! Format: `ROOSTSNAP1`, a length-prefixed postcard [`Header`], then every state entry as
//! `u32 key length, u32 value length, key, value`, then a trailer: `u32::MAX` and the BLAKE3
//! hash of every byte before it. A file is checked whole before anything is installed.

use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use openraft::{BasicNode, LogId, StoredMembership};
use roost_store::{Durability, ReadView, Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::chain::ChainHead;

const MAGIC: &[u8; 10] = b"ROOSTSNAP1";
/// Marks the trailer where an entry's key length would be.
const END: u32 = u32::MAX;
/// Entry bytes installed per transaction (bounds the memory of one write).
const INSTALL_CHUNK_BYTES: usize = 64 * 1024 * 1024;
/// The meta key set while a snapshot is being installed: a state found with it is partial.
pub(crate) const INSTALLING: &str = "sm_installing";

/// What a snapshot says about itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Header {
    pub applied: Option<LogId<u64>>,
    pub membership: StoredMembership<u64, BasicNode>,
    pub chain: ChainHead,
}

fn io(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// A writer that hashes what passes through it.
struct Hashing<W> {
    inner: W,
    hash: blake3::Hasher,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Writes a snapshot of `view` with `header` to `path` (through a temporary file, fsync'd);
/// returns its size.
pub(crate) fn write(path: &Path, view: &ReadView, header: &Header) -> std::io::Result<u64> {
    let tmp = path.with_extension("partial");
    let file = private_file(&tmp)?;
    let mut w = Hashing { inner: BufWriter::with_capacity(1 << 20, file), hash: blake3::Hasher::new() };
    w.write_all(MAGIC)?;
    let head = postcard::to_stdvec(header).map_err(io)?;
    w.write_all(&(head.len() as u32).to_le_bytes())?;
    w.write_all(&head)?;
    let mut failed: Option<std::io::Error> = None;
    view.state_entries(&mut |k, v| {
        let result = (|| {
            w.write_all(&(k.len() as u32).to_le_bytes())?;
            w.write_all(&(v.len() as u32).to_le_bytes())?;
            w.write_all(k)?;
            w.write_all(v)
        })();
        if let Err(e) = result {
            failed.get_or_insert(e);
            return Err(StoreError::Engine("writing the snapshot file failed".into()));
        }
        Ok(())
    })
    .map_err(|e| failed.take().unwrap_or_else(|| io(e)))?;
    w.write_all(&END.to_le_bytes())?;
    let digest = w.hash.finalize();
    let mut file = w.inner.into_inner().map_err(|e| e.into_error())?;
    file.write_all(digest.as_bytes())?;
    file.sync_all()?;
    let size = file.metadata()?.len();
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(size)
}

fn read_u32(r: &mut impl Read) -> std::io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn read_header(r: &mut impl Read) -> std::io::Result<Header> {
    let mut magic = [0u8; 10];
    r.read_exact(&mut magic)?;
    if &magic != MAGIC {
        return Err(io("not a Roost snapshot"));
    }
    let len = read_u32(r)? as usize;
    if len > 64 * 1024 * 1024 {
        return Err(io("snapshot header too large"));
    }
    let mut head = vec![0u8; len];
    r.read_exact(&mut head)?;
    postcard::from_bytes(&head).map_err(io)
}

/// The header of a snapshot file.
pub(crate) fn header(path: &Path) -> std::io::Result<Header> {
    read_header(&mut BufReader::new(std::fs::File::open(path)?))
}

/// Checks a snapshot file whole: its trailer's hash matches everything before it.
fn verify(path: &Path) -> std::io::Result<()> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    if len < 32 + 4 + MAGIC.len() as u64 {
        return Err(io("snapshot file truncated"));
    }
    let mut hash = blake3::Hasher::new();
    let mut left = len - 32;
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let want = left.min(buf.len() as u64) as usize;
        let n = f.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io("snapshot file truncated"));
        }
        hash.update(&buf[..n]);
        left -= n as u64;
    }
    let mut expected = [0u8; 32];
    f.read_exact(&mut expected)?;
    if hash.finalize().as_bytes() != &expected {
        return Err(io("snapshot file corrupt: its checksum does not match"));
    }
    Ok(())
}

/// Replaces the whole state with a snapshot file's, in transactions of bounded size. The
/// state is marked partial ([`INSTALLING`]) until the last one commits; applied, membership and
/// chain head change with the last.
pub(crate) fn install(
    path: &Path,
    store: &Store,
    finish: impl Fn(&mut roost_store::Txn<'_>, &Header) -> Result<(), StoreError>,
) -> std::io::Result<Header> {
    verify(path)?;
    let mut r = BufReader::with_capacity(1 << 20, std::fs::File::open(path)?);
    let header = read_header(&mut r)?;
    let mut first = true;
    loop {
        let mut batch: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        let mut bytes = 0usize;
        let mut done = false;
        while bytes < INSTALL_CHUNK_BYTES {
            let klen = read_u32(&mut r)?;
            if klen == END {
                done = true;
                break;
            }
            let vlen = read_u32(&mut r)? as usize;
            let mut k = vec![0u8; klen as usize];
            let mut v = vec![0u8; vlen];
            r.read_exact(&mut k)?;
            r.read_exact(&mut v)?;
            bytes += k.len() + v.len();
            batch.push((k, v));
        }
        let clear = std::mem::replace(&mut first, false);
        let durability = if done { Durability::Durable } else { Durability::Deferred };
        store
            .write(durability, |txn| {
                if clear {
                    txn.meta_put(INSTALLING, b"1")?;
                    txn.clear_state()?;
                }
                for (k, v) in &batch {
                    txn.put_raw_state(k, v)?;
                }
                if done {
                    finish(txn, &header)?;
                    txn.meta_delete(INSTALLING)?;
                }
                Ok::<_, StoreError>(())
            })
            .map_err(io)?;
        if done {
            return Ok(header);
        }
    }
}

/// Where snapshots live in a data directory, made if needed: readable by its owner only (a
/// snapshot is the whole state).
pub(crate) fn dir(data_dir: &Path) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let d = data_dir.join("snapshots");
    std::fs::create_dir_all(&d)?;
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700))?;
    Ok(d)
}

/// Creates (or truncates) a file only its owner may read or write.
pub(crate) fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).mode(0o600).open(path)
}
