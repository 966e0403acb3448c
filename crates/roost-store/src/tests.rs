use super::*;

fn temp() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("roost.redb")).unwrap();
    (dir, store)
}

#[test]
fn redb_tables_conform() {
    let (_dir, store) = temp();
    store
        .write(Durability::Durable, |txn| roost_core::kv::conformance(&mut txn.state).map_err(StoreError::Engine))
        .unwrap();
}

#[test]
fn read_view_sees_committed_state_and_meta() {
    let (_dir, store) = temp();
    store
        .write(Durability::Deferred, |txn| {
            txn.state.put(Table::Status, b"k", b"v")?;
            txn.meta_put("applied", b"7")
        })
        .unwrap();
    let view = store.read().unwrap();
    assert_eq!(view.get(Table::Status, b"k").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(view.meta_get("applied").unwrap().as_deref(), Some(&b"7"[..]));
}

#[test]
fn a_failed_transaction_writes_nothing() {
    let (_dir, store) = temp();
    let r = store.write(Durability::Durable, |txn| {
        txn.state.put(Table::Status, b"k", b"v")?;
        Err::<(), _>(StoreError::Engine("boom".into()))
    });
    assert!(r.is_err());
    assert!(store.read().unwrap().get(Table::Status, b"k").unwrap().is_none());
}

#[test]
fn durable_writes_survive_reopening_and_log_ranges_work() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roost.redb");
    {
        let store = Store::open(&path).unwrap();
        store
            .write(Durability::Durable, |txn| {
                for i in 1..=5 {
                    txn.log_put(i, format!("e{i}").as_bytes())?;
                }
                txn.log_remove(4..)
            })
            .unwrap();
    }
    let store = Store::open(&path).unwrap();
    let view = store.read().unwrap();
    let entries = view.log_range(2..).unwrap();
    assert_eq!(entries.iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(view.log_last().unwrap().map(|(i, _)| i), Some(3));
}

fn cached() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("roost.redb")).unwrap().with_row_cache();
    (dir, store)
}

fn put(store: &Store, key: &[u8], value: Option<&[u8]>) {
    store
        .write(Durability::Deferred, |txn| {
            match value {
                Some(v) => txn.state.put(Table::Status, key, v)?,
                None => {
                    txn.state.delete(Table::Status, key)?;
                }
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
}

#[test]
fn row_cache_follows_every_commit() {
    let (_dir, store) = cached();
    let read = |k: &[u8]| store.read().unwrap().get(Table::Status, k).unwrap();
    assert_eq!(read(b"k"), None);
    put(&store, b"k", Some(b"1"));
    assert_eq!(read(b"k").as_deref(), Some(&b"1"[..]), "a cached absence is evicted by the put");
    assert_eq!(read(b"k").as_deref(), Some(&b"1"[..]));
    put(&store, b"k", Some(b"2"));
    assert_eq!(read(b"k").as_deref(), Some(&b"2"[..]));
    put(&store, b"k", None);
    assert_eq!(read(b"k"), None);
    store
        .write(Durability::Durable, |txn| {
            txn.clear_state()?;
            txn.put_raw_state(&full_key(Table::Status, b"k"), b"3")
        })
        .unwrap();
    assert_eq!(read(b"k").as_deref(), Some(&b"3"[..]), "a snapshot install replaces every cached row");
}

#[test]
fn an_old_snapshot_never_leaves_its_rows_in_the_cache() {
    let (_dir, store) = cached();
    put(&store, b"k", Some(b"old"));
    let old = store.read().unwrap();
    put(&store, b"k", Some(b"new"));
    // The old snapshot reads its own value...
    assert_eq!(old.get(Table::Status, b"k").unwrap().as_deref(), Some(&b"old"[..]));
    // ...without handing it to readers that come after the commit.
    assert_eq!(store.read().unwrap().get(Table::Status, b"k").unwrap().as_deref(), Some(&b"new"[..]));
}

#[test]
fn concurrent_readers_always_see_the_latest_committed_value_once_written() {
    let (_dir, store) = cached();
    put(&store, b"k", Some(&0u64.to_be_bytes()));
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = store.read().unwrap().get(Table::Status, b"k").unwrap();
                }
            });
        }
        for i in 1..=300u64 {
            put(&store, b"k", Some(&i.to_be_bytes()));
            let seen = store.read().unwrap().get(Table::Status, b"k").unwrap();
            assert_eq!(seen.as_deref(), Some(&i.to_be_bytes()[..]), "after commit {i}");
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
    });
}
