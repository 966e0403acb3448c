//! Durable batched commits: how many log entries per second each engine makes durable when
//! entries arrive in batches of 1, 16, 128 and 1024 (one fsync'd commit per batch).

use std::path::PathBuf;
use std::time::Instant;

use roost_store::{Durability, Store};

const BATCHES: [usize; 4] = [1, 16, 128, 1024];

pub fn run(commits: usize, value_bytes: usize, dir: Option<PathBuf>) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = dir.unwrap_or_else(|| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir)?;
    println!("machine: {}", crate::stats::machine());
    println!("{commits} durable commits per batch size, {value_bytes}-byte entries\n");
    println!("| engine | batch | commits/s | entries/s | ms/commit |");
    println!("|---|---:|---:|---:|---:|");
    let value = vec![0x5au8; value_bytes];
    for batch in BATCHES {
        let path = dir.join(format!("redb-{batch}.redb"));
        let _ = std::fs::remove_file(&path);
        let store = Store::open(&path)?;
        let mut index = 0u64;
        let start = Instant::now();
        for _ in 0..commits {
            store.write(Durability::Durable, |txn| {
                for _ in 0..batch {
                    index += 1;
                    txn.log_put(index, &value)?;
                }
                Ok::<_, roost_store::StoreError>(())
            })?;
        }
        report("redb", batch, commits, start.elapsed().as_secs_f64());
        drop(store);
        let _ = std::fs::remove_file(&path);
    }
    #[cfg(feature = "compare-fjall")]
    fjall_runs(commits, &value, &dir)?;
    Ok(())
}

fn report(engine: &str, batch: usize, commits: usize, secs: f64) {
    println!(
        "| {engine} | {batch} | {:.0} | {:.0} | {:.2} |",
        commits as f64 / secs,
        (commits * batch) as f64 / secs,
        secs * 1000.0 / commits as f64
    );
}

#[cfg(feature = "compare-fjall")]
fn fjall_runs(commits: usize, value: &[u8], dir: &std::path::Path) -> anyhow::Result<()> {
    use fjall::{Database, KeyspaceCreateOptions, PersistMode};
    for batch in BATCHES {
        let path = dir.join(format!("fjall-{batch}"));
        let _ = std::fs::remove_dir_all(&path);
        let db = Database::builder(&path).open()?;
        let log = db.keyspace("log", KeyspaceCreateOptions::default)?;
        let mut index = 0u64;
        let start = Instant::now();
        for _ in 0..commits {
            let mut b = db.batch().durability(Some(PersistMode::SyncAll));
            for _ in 0..batch {
                index += 1;
                b.insert(&log, index.to_be_bytes(), value);
            }
            b.commit()?;
        }
        report("fjall", batch, commits, start.elapsed().as_secs_f64());
        drop(log);
        drop(db);
        let _ = std::fs::remove_dir_all(&path);
    }
    Ok(())
}
