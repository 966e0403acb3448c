//! A content-addressed store of files: each blob lives at `<dir>/<2 hex>/<64 hex>`, named by
//! the BLAKE3 hash of its bytes, written whole and fsync'd before `put` returns (a temporary
//! file renamed into place, so a crash leaves either the whole blob or none).

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The BLAKE3 hash that names a blob.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobHash(pub [u8; 32]);

impl BlobHash {
    pub fn of(bytes: &[u8]) -> BlobHash {
        BlobHash(*blake3::hash(bytes).as_bytes())
    }

    pub fn to_hex(self) -> String {
        blake3::Hash::from_bytes(self.0).to_hex().to_string()
    }

    /// Parses 64 lowercase hex digits (as [`BlobHash::to_hex`] writes them).
    pub fn from_hex(s: &str) -> Option<BlobHash> {
        if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return None;
        }
        blake3::Hash::from_hex(s).ok().map(|h| BlobHash(*h.as_bytes()))
    }
}

impl fmt::Display for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobHash({})", &self.to_hex()[..12])
    }
}

/// The blobs of one node.
#[derive(Debug, Clone)]
pub struct Blobs {
    root: PathBuf,
}

const TMP: &str = "tmp";

impl Blobs {
    /// The store in `dir`; directories are made when the first blob is written.
    pub fn new(dir: impl Into<PathBuf>) -> Blobs {
        Blobs { root: dir.into() }
    }

    /// Drops temporary files a crash left behind (call at start, before any upload).
    pub fn clean(&self) -> io::Result<()> {
        match fs::read_dir(self.root.join(TMP)) {
            Ok(entries) => {
                for entry in entries {
                    let _ = fs::remove_file(entry?.path());
                }
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn path(&self, hash: BlobHash) -> PathBuf {
        let hex = hash.to_hex();
        self.root.join(&hex[..2]).join(hex)
    }

    /// Stores `bytes` durably and returns their hash; storing what is already there is free.
    pub fn put(&self, bytes: &[u8]) -> io::Result<BlobHash> {
        let hash = BlobHash::of(bytes);
        self.write(hash, bytes)?;
        Ok(hash)
    }

    /// Stores bytes that claim to be `hash` (from a peer), if they are.
    pub fn put_verified(&self, hash: BlobHash, bytes: &[u8]) -> io::Result<bool> {
        if BlobHash::of(bytes) != hash {
            return Ok(false);
        }
        self.write(hash, bytes)?;
        Ok(true)
    }

    fn write(&self, hash: BlobHash, bytes: &[u8]) -> io::Result<()> {
        let path = self.path(hash);
        if path.exists() {
            // Written again: young once more, so a collection of unused blobs spares it until the
            // command that names it is applied.
            return fs::OpenOptions::new().write(true).open(&path)?.set_modified(SystemTime::now());
        }
        let Some(shard) = path.parent() else {
            return Err(io::Error::other("blob path without a parent"));
        };
        if !shard.exists() {
            fs::create_dir_all(shard)?;
            sync_dir(&self.root)?;
        }
        fs::create_dir_all(self.root.join(TMP))?;
        let mut tmp = tempfile::NamedTempFile::new_in(self.root.join(TMP))?;
        tmp.write_all(bytes)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&path).map_err(|e| e.error)?;
        sync_dir(shard)
    }

    /// The blob's bytes, if this node has them whole. A file that no longer matches its hash
    /// (a damaged disk) is removed and reported missing, so that it is fetched again.
    pub fn get(&self, hash: BlobHash) -> io::Result<Option<Vec<u8>>> {
        let path = self.path(hash);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        if BlobHash::of(&bytes) != hash {
            tracing::warn!(path = %path.display(), "a blob does not match its hash; removed");
            fs::remove_file(&path)?;
            return Ok(None);
        }
        Ok(Some(bytes))
    }

    pub fn contains(&self, hash: BlobHash) -> bool {
        self.path(hash).exists()
    }

    /// Removes a blob; `false` if it was not there.
    pub fn remove(&self, hash: BlobHash) -> io::Result<bool> {
        match fs::remove_file(self.path(hash)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Removes a blob if it was written (or stored again) at least `age` ago: a collection's
    /// last look, since a blob listed as old may have been stored again since.
    pub fn remove_if_older_than(&self, hash: BlobHash, age: Duration) -> io::Result<bool> {
        let path = self.path(hash);
        let written = match fs::metadata(&path).and_then(|m| m.modified()) {
            Ok(w) => w,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        if SystemTime::now().duration_since(written).unwrap_or_default() < age {
            return Ok(false);
        }
        self.remove(hash)
    }

    /// Every blob stored here, in hash order.
    pub fn list(&self) -> io::Result<Vec<BlobHash>> {
        self.list_older_than(Duration::ZERO)
    }

    /// The blobs written at least `age` ago, in hash order (those a collection of unused blobs
    /// may look at: a younger one may belong to an upload not yet in the log).
    pub fn list_older_than(&self, age: Duration) -> io::Result<Vec<BlobHash>> {
        let mut out = Vec::new();
        let now = SystemTime::now();
        let shards = match fs::read_dir(&self.root) {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        for shard in shards {
            let shard = shard?;
            if shard.file_name() == TMP || !shard.file_type()?.is_dir() {
                continue;
            }
            for entry in fs::read_dir(shard.path())? {
                let entry = entry?;
                let Some(hash) = entry.file_name().to_str().and_then(BlobHash::from_hex) else { continue };
                let written = entry.metadata()?.modified()?;
                if now.duration_since(written).unwrap_or_default() >= age {
                    out.push(hash);
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_named_by_their_hash_and_checked_when_read() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = Blobs::new(dir.path().join("blobs"));
        assert_eq!(blobs.list().unwrap(), vec![], "nothing yet, not even a directory");
        blobs.clean().unwrap();
        let h = blobs.put(b"picture").unwrap();
        assert_eq!(h, BlobHash::of(b"picture"));
        assert_eq!(blobs.put(b"picture").unwrap(), h, "storing twice is storing once");
        assert_eq!(blobs.get(h).unwrap().as_deref(), Some(&b"picture"[..]));
        assert_eq!(blobs.list().unwrap(), vec![h]);
        assert_eq!(blobs.list_older_than(Duration::from_secs(3600)).unwrap(), vec![], "just written");
        assert_eq!(BlobHash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(BlobHash::from_hex(&h.to_hex().to_uppercase()), None);
        assert_eq!(BlobHash::from_hex("../../etc/passwd"), None);

        let other = BlobHash::of(b"other");
        assert!(!blobs.put_verified(other, b"not other").unwrap());
        assert!(!blobs.contains(other));
        assert!(blobs.put_verified(other, b"other").unwrap());

        // A damaged file is not served.
        fs::write(blobs.path(h), b"pictur3").unwrap();
        assert_eq!(blobs.get(h).unwrap(), None);
        assert!(!blobs.contains(h));

        assert!(blobs.remove(other).unwrap());
        assert!(!blobs.remove(other).unwrap());
        assert_eq!(blobs.list().unwrap(), vec![]);
    }
}
