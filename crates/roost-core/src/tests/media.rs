//! Pictures in the state: unused uploads expire by the log's clock, posts and scheduled posts
//! hold theirs, and a blob is in use exactly while a picture names it.

use roost_types::{Command, Focus, Id, MediaBlob, NewMedia, Outcome, Rejection};

use super::{new_status, World};
use crate::media::{blob_in_use, media, next_expiry, RELEASED_LIFETIME_MS};
use crate::query;

const HOUR: i64 = 3_600_000;

fn blob(seed: u8) -> MediaBlob {
    MediaBlob { hash: [seed; 32], bytes: 1_000, content_type: "image/jpeg".into(), width: 64, height: 48 }
}

/// An upload by `owner`, with its own blobs, unused until `expires_at`.
fn upload(w: &mut World, owner: Id, seed: u8, expires_at: i64) -> Id {
    let id = 1_000 + Id::from(seed);
    let new = NewMedia {
        id,
        owner,
        secret: [seed; 16],
        original: blob(seed),
        preview: blob(seed.wrapping_add(100)),
        blurhash: "LEHV6nWB2yk8pyo0adR*.7kCMdnj".into(),
        animated: false,
        description: String::new(),
        focus: Focus::default(),
        expires_at,
    };
    assert_eq!(w.run(Command::AddMedia(new)), Outcome::created(id));
    id
}

#[test]
fn unused_uploads_expire_and_posted_or_scheduled_ones_stay() {
    let mut w = World::current();
    let a = w.user("a");
    let day = w.now + 24 * HOUR;
    let unused = upload(&mut w, a, 1, day);
    let posted = upload(&mut w, a, 2, day);
    let scheduled = upload(&mut w, a, 3, day);
    assert_eq!(next_expiry(&w.t).unwrap(), Some(day));
    w.id(Command::CreatePost { status: new_status(a, "with a picture"), poll: None, media: vec![posted] });
    let later = w.id(Command::SchedulePost {
        status: new_status(a, "the day after"),
        scheduled_at: day + 24 * HOUR,
        media: vec![scheduled],
    });
    assert_eq!(media(&w.t, scheduled).unwrap().unwrap().status, Some(later), "held by the scheduled post");
    // Held pictures are nobody else's to take, not even for another post of the author's.
    assert_eq!(
        w.run(Command::CreatePost { status: new_status(a, "again"), poll: None, media: vec![scheduled] }),
        Outcome::Rejected(Rejection::NotFound)
    );

    w.now = day - 10;
    w.run(Command::Tick);
    assert!(media(&w.t, unused).unwrap().is_some(), "not before its time");
    w.now = day;
    w.run(Command::Tick);
    assert!(media(&w.t, unused).unwrap().is_none(), "an upload no post took is gone after a day");
    assert!(!blob_in_use(&w.t, &[1; 32]).unwrap() && !blob_in_use(&w.t, &[101; 32]).unwrap());
    assert!(media(&w.t, posted).unwrap().is_some() && media(&w.t, scheduled).unwrap().is_some());
    assert!(blob_in_use(&w.t, &[2; 32]).unwrap() && blob_in_use(&w.t, &[3; 32]).unwrap());

    // At its time the scheduled post comes out with its picture.
    w.now = day + 24 * HOUR;
    w.run(Command::Tick);
    let page = query::Page { limit: 5, ..Default::default() };
    let published = query::account_statuses(&w.t, a, a, query::AccountFilter::default(), &page)
        .unwrap()
        .into_iter()
        .map(|(s, _)| s)
        .find(|s| s.text == "the day after")
        .expect("published");
    assert_eq!(published.media, vec![scheduled]);
    assert_eq!(media(&w.t, scheduled).unwrap().unwrap().status, Some(published.id));
    assert_eq!(next_expiry(&w.t).unwrap(), None, "nothing left to expire");
}

#[test]
fn a_cancelled_scheduled_post_gives_its_pictures_back_to_expire_unless_used() {
    let mut w = World::current();
    let a = w.user("a");
    let (soon, later) = (w.now + HOUR, w.now + 48 * HOUR);
    let m = upload(&mut w, a, 7, soon);
    let s = w.id(Command::SchedulePost { status: new_status(a, "later"), scheduled_at: later, media: vec![m] });
    assert_eq!(next_expiry(&w.t).unwrap(), None, "held pictures do not expire");
    w.run(Command::CancelScheduledStatus { account: a, scheduled: s });
    let released = media(&w.t, m).unwrap().unwrap();
    assert_eq!(released.status, None);
    assert_eq!(released.expires_at, w.now + RELEASED_LIFETIME_MS);
    assert_eq!(next_expiry(&w.t).unwrap(), Some(released.expires_at));
    // Free again: a new post may take it, and then it no longer expires.
    w.id(Command::CreatePost { status: new_status(a, "now"), poll: None, media: vec![m] });
    assert_eq!(next_expiry(&w.t).unwrap(), None);
}
