//! The log's bytes: decoding a batch of requests never panics, and what decodes encodes back to
//! bytes that decode to the same requests.
#![no_main]

use libfuzzer_sys::fuzz_target;
use roost_types::Request;

fuzz_target!(|data: &[u8]| {
    if let Ok(batch) = postcard::from_bytes::<Vec<Request>>(data) {
        let again = postcard::to_allocvec(&batch).expect("encodes");
        let back: Vec<Request> = postcard::from_bytes(&again).expect("decodes what it encoded");
        assert_eq!(back, batch);
        for r in &batch {
            let _ = r.command.since();
            let _ = r.command.is_idempotent();
        }
    }
});
