//! Read markers: where a member stopped reading a timeline, shared by all their apps.

use roost_types::{Actor, Command, Id, MarkerTimeline};

use crate::write::{member, propose};
use crate::{Applied, Result, Service};

/// Records that the actor has read `timeline` up to `last_read_id`.
pub async fn set_marker(svc: &Service, by: &Actor, timeline: MarkerTimeline, last_read_id: Id) -> Result<Applied> {
    let account = member(by)?;
    propose(svc, by, Command::SetMarker { account, timeline, last_read_id }).await
}
