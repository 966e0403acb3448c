//! Hashtags a member follows: their public posts come home.

use roost_types::{Actor, Command};

use crate::write::{member, propose};
use crate::{Applied, Error, Result, Service};

/// Longest hashtag name, in characters.
const MAX_TAG_CHARS: usize = 100;

/// A hashtag name as clients and URLs give it: without `#`, letters, digits and `_`, at most
/// [`MAX_TAG_CHARS`]; stored lowercase. Anything else names no hashtag (404).
pub fn tag_name(raw: &str) -> Result<String> {
    let name = raw.trim_start_matches('#');
    if name.is_empty() || name.chars().count() > MAX_TAG_CHARS || !name.chars().all(|c| c.is_alphanumeric() || c == '_')
    {
        return Err(Error::NotFound);
    }
    Ok(name.to_lowercase())
}

/// Follows (or, with `follow` false, unfollows) a hashtag; its name as stored, and the write.
pub async fn follow_tag(svc: &Service, by: &Actor, raw: &str, follow: bool) -> Result<(String, Applied)> {
    let account = member(by)?;
    let tag = tag_name(raw)?;
    let command = if follow {
        Command::FollowTag { account, tag: tag.clone() }
    } else {
        Command::UnfollowTag { account, tag: tag.clone() }
    };
    Ok((tag, propose(svc, by, command).await?))
}
