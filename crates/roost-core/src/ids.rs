//! Time-sortable IDs, assigned in `apply`.
//!
//! An ID is the request's timestamp in milliseconds shifted left by 16 bits, bumped past the last
//! ID issued so that IDs are unique and strictly increasing in log order even when clocks step
//! backwards or 65,536 things happen in one millisecond.

use roost_types::{Id, Millis};

use crate::kv::{get_value, put_value, Table, Tables};
use crate::Result;

const LAST_ID: &[u8] = b"last_id";

pub(crate) fn next_id(t: &mut impl Tables, at: Millis) -> Result<Id> {
    let last: Id = get_value(t, Table::Meta, LAST_ID)?.unwrap_or(0);
    let from_clock = (at.max(0) as u64) << 16;
    let id = from_clock.max(last + 1);
    put_value(t, Table::Meta, LAST_ID, &id)?;
    Ok(id)
}

/// Meta keys of the instance-wide counters shown in the instance metadata.
pub const USER_COUNT: &[u8] = b"user_count";
pub const STATUS_COUNT: &[u8] = b"status_count";

/// Adds `delta` to a counter in the meta table.
pub(crate) fn bump(t: &mut impl Tables, key: &[u8], delta: i64) -> Result<()> {
    let n: u64 = get_value(t, Table::Meta, key)?.unwrap_or(0);
    put_value(t, Table::Meta, key, &n.saturating_add_signed(delta))
}

/// Reads a counter from the meta table.
pub fn counter(t: &(impl crate::ReadTables + ?Sized), key: &[u8]) -> Result<u64> {
    Ok(get_value(t, Table::Meta, key)?.unwrap_or(0))
}

/// The millisecond timestamp an ID was made from.
pub fn id_millis(id: Id) -> Millis {
    (id >> 16) as Millis
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemTables;

    #[test]
    fn ids_increase_even_when_the_clock_goes_back() {
        let mut t = MemTables::new();
        let a = next_id(&mut t, 1_000).unwrap();
        let b = next_id(&mut t, 1_000).unwrap();
        let c = next_id(&mut t, 999).unwrap();
        let d = next_id(&mut t, 2_000).unwrap();
        assert!(a < b && b < c && c < d);
        assert_eq!(id_millis(a), 1_000);
        assert_eq!(id_millis(d), 2_000);
    }
}
