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
