//! Reports: members flag an account (and some of its posts) for the moderators.

use roost_core::text::{self, Limit};
use roost_types::{Actor, Command, Id, ReportCategory, MAX_REPORT_COMMENT_CHARS, MAX_REPORT_STATUSES};

use crate::accounts::limited;
use crate::write::{created_id, member, propose};
use crate::{Error, Result, Service};

/// A report's comment: lines as typed, within 1,000 characters (Mastodon's).
const COMMENT: Limit = Limit::chars(MAX_REPORT_COMMENT_CHARS);

/// A report as its reporter files it.
#[derive(Debug, Clone, Default)]
pub struct NewReport {
    pub target: Id,
    pub statuses: Vec<Id>,
    pub comment: Option<String>,
    /// `None`: other.
    pub category: Option<ReportCategory>,
    /// The instance's rules it breaks: Roost publishes none, so any is refused.
    pub rule_ids: Vec<String>,
}

/// Files a report; its ID and the log index.
pub async fn report(svc: &Service, by: &Actor, r: NewReport) -> Result<(Id, u64)> {
    let reporter = member(by)?;
    let comment = text::clean_multiline(r.comment.as_deref().unwrap_or_default());
    limited("Comment", &comment, COMMENT)?;
    if !r.rule_ids.is_empty() {
        return Err(Error::invalid("Validation failed: Rule ids does not reference valid rules"));
    }
    if r.statuses.len() > MAX_REPORT_STATUSES {
        return Err(Error::invalid(format!("A report names at most {MAX_REPORT_STATUSES} posts")));
    }
    let category = r.category.unwrap_or(ReportCategory::Other);
    let command = Command::CreateReport { reporter, target: r.target, statuses: r.statuses, comment, category };
    let applied = propose(svc, by, command).await?;
    Ok((created_id(&applied)?, applied.index))
}
