//! OAuth scopes: which scope each endpoint needs, and which token scopes grant it.
//!
//! The rules follow Mastodon's API documentation. A route with a token-taking extractor but no
//! rule here is refused with 403: a forgotten rule fails closed.

use axum::http::Method;

/// The scopes that each satisfy an endpoint's need (any one is enough).
pub type Need = &'static [&'static str];

/// Any valid token, whatever its scopes.
pub const ANY: Need = &[];

/// What the endpoint at `method` + route pattern `path` needs.
pub fn required(method: &Method, path: &str) -> Option<Need> {
    let get = method == Method::GET;
    Some(match path {
        "/api/v1/apps/verify_credentials" => ANY,
        "/api/roost/v1/node" => ANY,
        "/api/roost/v1/admin/log" => &["admin:read"],
        "/api/roost/v1/extensions"
        | "/api/roost/v1/extensions/{id}"
        | "/api/roost/v1/extensions/{id}/versions/{version}"
            if get =>
        {
            &["admin:read"]
        }
        "/api/roost/v1/extensions"
        | "/api/roost/v1/extensions/{id}/versions"
        | "/api/roost/v1/extensions/{id}/deploy"
        | "/api/roost/v1/extensions/{id}/disable"
        | "/api/roost/v1/extensions/{id}/dry_run" => &["admin:write"],
        "/api/roost/v1/feeds"
        | "/api/roost/v1/feeds/{id}"
        | "/api/roost/v1/feeds/{id}/preview"
        | "/api/roost/v1/feeds/{id}/timeline"
            if get =>
        {
            &["read:lists"]
        }
        "/api/roost/v1/feeds"
        | "/api/roost/v1/feeds/{id}/versions"
        | "/api/roost/v1/feeds/{id}/deploy"
        | "/api/roost/v1/feeds/{id}/disable"
        | "/api/roost/v1/feeds/{id}/{action}" => &["write:lists"],
        "/api/roost/v1/moderation/held" => &["admin:read", "admin:read:reports"],
        "/api/roost/v1/moderation/held/{id}/{action}" => &["admin:write", "admin:write:reports"],
        "/api/v1/accounts/verify_credentials" => &["profile", "read:accounts"],
        "/api/v1/accounts/update_credentials" | "/api/v1/profile/{image}" => &["write:accounts"],
        "/api/v1/accounts/lookup"
        | "/api/v1/accounts/{id}"
        | "/api/v1/accounts/{id}/followers"
        | "/api/v1/accounts/{id}/following" => &["read:accounts"],
        "/api/v1/accounts/relationships" => &["read:follows", "follow"],
        "/api/v1/accounts/{id}/statuses" => &["read:statuses"],
        "/api/v1/accounts/{id}/follow" | "/api/v1/accounts/{id}/unfollow" => &["write:follows", "follow"],
        "/api/v1/accounts/{id}/block" | "/api/v1/accounts/{id}/unblock" => &["write:blocks", "follow"],
        "/api/v1/accounts/{id}/mute" | "/api/v1/accounts/{id}/unmute" => &["write:mutes", "follow"],
        "/api/v1/follow_requests" => &["read:follows", "follow"],
        "/api/v1/follow_requests/{id}/authorize" | "/api/v1/follow_requests/{id}/reject" => {
            &["write:follows", "follow"]
        }
        "/api/v1/blocks" => &["read:blocks", "follow"],
        "/api/v1/mutes" => &["read:mutes", "follow"],
        "/api/v1/statuses" => &["write:statuses"],
        "/api/v1/statuses/{id}" if get => &["read:statuses"],
        "/api/v1/statuses/{id}" => &["write:statuses"],
        "/api/v1/statuses/{id}/context" | "/api/v1/statuses/{id}/history" | "/api/v1/statuses/{id}/source" => {
            &["read:statuses"]
        }
        "/api/v1/statuses/{id}/favourite" | "/api/v1/statuses/{id}/unfavourite" => &["write:favourites"],
        "/api/v1/statuses/{id}/reblog" | "/api/v1/statuses/{id}/unreblog" => &["write:statuses"],
        "/api/v1/statuses/{id}/bookmark" | "/api/v1/statuses/{id}/unbookmark" => &["write:bookmarks"],
        "/api/v1/statuses/{id}/pin" | "/api/v1/statuses/{id}/unpin" => &["write:accounts"],
        "/api/v1/statuses/{id}/favourited_by" | "/api/v1/statuses/{id}/reblogged_by" => &["read:accounts"],
        "/api/v1/scheduled_statuses" | "/api/v1/scheduled_statuses/{id}" if get => &["read:statuses"],
        "/api/v1/scheduled_statuses/{id}" => &["write:statuses"],
        "/api/v1/polls/{id}" => &["read:statuses"],
        "/api/v1/media" | "/api/v2/media" | "/api/v1/media/{id}" => &["write:media"],
        "/api/v1/polls/{id}/votes" => &["write:statuses"],
        "/api/v1/favourites" => &["read:favourites"],
        "/api/v1/bookmarks" => &["read:bookmarks"],
        "/api/v1/timelines/home" | "/api/v1/timelines/public" | "/api/v1/timelines/tag/{hashtag}" => &["read:statuses"],
        "/api/v1/notifications" | "/api/v1/notifications/{id}" => &["read:notifications"],
        "/api/v1/notifications/clear" | "/api/v1/notifications/{id}/dismiss" => &["write:notifications"],
        "/api/v1/lists" | "/api/v1/lists/{id}" | "/api/v1/lists/{id}/accounts" if get => &["read:lists"],
        "/api/v1/lists" | "/api/v1/lists/{id}" | "/api/v1/lists/{id}/accounts" => &["write:lists"],
        "/api/v1/accounts/{id}/lists" | "/api/v1/timelines/list/{id}" => &["read:lists"],
        "/api/v1/reports" => &["write:reports"],
        "/api/v1/filters"
        | "/api/v2/filters"
        | "/api/v2/filters/{id}"
        | "/api/v2/filters/{id}/keywords"
        | "/api/v2/filters/{id}/statuses"
        | "/api/v2/filters/keywords/{id}"
        | "/api/v2/filters/statuses/{id}"
            if get =>
        {
            &["read:filters"]
        }
        "/api/v2/filters"
        | "/api/v2/filters/{id}"
        | "/api/v2/filters/{id}/keywords"
        | "/api/v2/filters/{id}/statuses"
        | "/api/v2/filters/keywords/{id}"
        | "/api/v2/filters/statuses/{id}" => &["write:filters"],
        "/api/v1/conversations" => &["read:statuses"],
        "/api/v1/conversations/{id}" | "/api/v1/conversations/{id}/read" => &["write:conversations"],
        "/api/v2/search" => &["read:search"],
        "/api/v1/tags/{name}" => &["read"],
        "/api/v1/tags/{name}/follow" | "/api/v1/tags/{name}/unfollow" => &["write:follows", "follow"],
        "/api/v1/followed_tags" => &["read:follows", "follow"],
        "/api/v1/accounts/search" => &["read:accounts"],
        "/api/v1/trends"
        | "/api/v1/trends/tags"
        | "/api/v1/trends/statuses"
        | "/api/v1/trends/links"
        | "/api/v1/suggestions"
        | "/api/v2/suggestions" => &["read"],
        "/api/v1/announcements" => &["read"],
        "/api/v1/preferences" => &["read:accounts"],
        "/api/v1/markers" if get => &["read:statuses"],
        "/api/v1/markers" => &["write:statuses"],
        "/.well-known/webfinger" => ANY,
        // Each stream then checks its own scope (see `streaming::Stream::need`).
        "/api/v1/streaming"
        | "/api/v1/streaming/user"
        | "/api/v1/streaming/user/notification"
        | "/api/v1/streaming/public"
        | "/api/v1/streaming/public/local"
        | "/api/v1/streaming/public/remote"
        | "/api/v1/streaming/hashtag"
        | "/api/v1/streaming/hashtag/local"
        | "/api/v1/streaming/list"
        | "/api/v1/streaming/direct" => &["read:statuses", "read:notifications"],
        _ => return None,
    })
}

/// Whether a token with `granted` scopes satisfies `need`: a scope is granted by itself or by
/// its parent (`read` grants `read:statuses`).
pub fn satisfies(granted: &[String], need: Need) -> bool {
    need.is_empty()
        || need.iter().any(|wanted| {
            granted
                .iter()
                .any(|g| g == wanted || wanted.strip_prefix(g.as_str()).is_some_and(|rest| rest.starts_with(':')))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parents_grant_their_children_and_follow_grants_relationships() {
        let need = |m: Method, p: &str| required(&m, p).unwrap();
        assert!(satisfies(&s(&["read"]), need(Method::GET, "/api/v1/timelines/home")));
        assert!(satisfies(&s(&["read:statuses"]), need(Method::GET, "/api/v1/timelines/home")));
        assert!(!satisfies(&s(&["read:accounts"]), need(Method::GET, "/api/v1/timelines/home")));
        assert!(!satisfies(&s(&["write"]), need(Method::GET, "/api/v1/statuses/{id}")));
        assert!(satisfies(&s(&["write"]), need(Method::DELETE, "/api/v1/statuses/{id}")));
        assert!(satisfies(&s(&["follow"]), need(Method::POST, "/api/v1/accounts/{id}/follow")));
        assert!(!satisfies(&s(&["read"]), need(Method::POST, "/api/v1/accounts/{id}/follow")));
        assert!(satisfies(&s(&["profile"]), need(Method::GET, "/api/v1/accounts/verify_credentials")));
        assert!(!satisfies(&s(&["profile"]), need(Method::GET, "/api/v1/accounts/{id}")));
        assert!(!satisfies(&s(&["readx"]), need(Method::GET, "/api/v1/bookmarks")));
        assert!(satisfies(&s(&["push"]), ANY));
        assert_eq!(required(&Method::GET, "/api/v1/unknown"), None);
    }
}
