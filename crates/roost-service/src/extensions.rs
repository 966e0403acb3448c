//! Extensions (issue 14): writing versions, dry-running them, deploying and rolling back, and
//! running the deployed automod rules on every post.
//!
//! # Writing
//! Administrators (and the operator) save versions: the manifest and source are bounded
//! ([`MAX_SOURCE_BYTES`], limits within [`MAX_BUDGET`], [`MAX_DEADLINE_MS`],
//! [`MAX_MEMORY_BYTES`]) and the source must load and define the kind's function (`judge` for
//! automod) before `SaveExtension` is proposed; the version is then immutable, in the log.
//!
//! # Judging posts
//! Every post being created or edited passes each deployed automod rule, on this node, off the
//! async runtime ([`TURNS`] calls at once), once (execute once: what a rule decided is not
//! re-run by replicas). A rule answers `{verdict, reason}`; in enforce mode a `"reject"`
//! refuses the post with the reason (422), in observe mode the verdict is only counted. A rule
//! that throws or runs out of budget follows its manifest's `on_error`: the post goes through
//! (open, the default) or is refused (closed). `"hold"` and `"label"` in enforce mode travel
//! with the post's command ([`Command::Judged`]): a held post is visible only to its author and
//! moderators until reviewed, a label is shown with the post. A version that fails [`HEALTH_FAILURES`] of its last [`HEALTH_WINDOW`] calls on
//! this node, on posts of at least [`HEALTH_AUTHORS`] members, is disabled by the node
//! (`DisableExtension` without an actor, in the log).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use roost_core::extensions as stored;
use roost_core::model::{Extension, ExtensionVersion};
use roost_ext::{Engine, Host, Limits, Program};
use roost_types::{Actor, Command, ExtensionKind, ExtensionManifest, ExtensionMode, FailPolicy, Id};
use tokio::sync::Semaphore;

use crate::hooks::PostDraft;
use crate::write::propose;
use crate::{now_ms, Applied, Error, Result, Service};

/// Bytes of source a version may have.
pub const MAX_SOURCE_BYTES: usize = 64 * 1024;
/// Characters of a name and of a description.
pub const MAX_NAME_CHARS: usize = 64;
pub const MAX_DESCRIPTION_CHARS: usize = 1_000;
/// The most a manifest may ask for, per call.
pub const MAX_BUDGET: u64 = 100_000;
pub const MAX_DEADLINE_MS: u64 = 1_000;
pub const MAX_MEMORY_BYTES: u64 = 64 * 1024 * 1024;
/// The least memory a manifest may give a call: a runtime starved below this spends its calls
/// failing to build its built-ins.
pub const MIN_MEMORY_BYTES: u64 = 2 * 1024 * 1024;
/// What a manifest gets when it asks for nothing.
pub const DEFAULT_BUDGET: u64 = 2_000;
pub const DEFAULT_DEADLINE_MS: u64 = 50;
pub const DEFAULT_MEMORY_BYTES: u64 = 16 * 1024 * 1024;
/// Extension calls running at once on this node.
pub const TURNS: usize = 2;
/// Posts a dry run may judge, at most, and by default.
pub const MAX_DRY_RUN_POSTS: usize = 5_000;
pub const DEFAULT_DRY_RUN_POSTS: usize = 1_000;
/// The longest a dry run may take; past it, the report covers the posts judged so far.
const DRY_RUN_TIME: Duration = Duration::from_secs(20);
/// Examples a dry-run report shows per verdict.
const EXAMPLES: usize = 5;

/// This node's share of running extensions.
pub(crate) struct ExtWork {
    engine: Engine,
    turns: Arc<Semaphore>,
    /// Dry runs at once on this node: apart from the turns, so that one never holds up posting.
    dry_runs: Arc<Semaphore>,
    figures: Mutex<HashMap<(Id, u32), Figures>>,
    /// The deployed versions' programs, made once per version rather than per post.
    rules: Mutex<HashMap<(Id, u32), Arc<Rule>>>,
    /// Feed rankings at once on this node: apart from the turns, so that readers never hold up
    /// posting.
    pub(crate) feed_turns: Arc<Semaphore>,
    /// Recent rankings, for paging through a feed in the order it was ranked.
    pub(crate) rankings: Mutex<HashMap<(Id, Id), crate::feeds::Ranked>>,
}

/// A version, ready to run.
pub(crate) struct Rule {
    pub program: Program,
    pub on_error: FailPolicy,
}

/// Versions whose programs are kept beyond those deployed now, at most.
const KEPT_RULES: usize = 64;

impl Default for ExtWork {
    fn default() -> ExtWork {
        ExtWork {
            engine: Engine::default(),
            turns: Arc::new(Semaphore::new(TURNS)),
            dry_runs: Arc::new(Semaphore::new(1)),
            figures: Mutex::default(),
            rules: Mutex::default(),
            feed_turns: Arc::new(Semaphore::new(crate::feeds::TURNS)),
            rankings: Mutex::default(),
        }
    }
}

/// What one deployed version decided on this node since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Figures {
    /// When the deployment these figures count began (a new deployment starts them afresh).
    pub since: roost_types::Millis,
    pub calls: u64,
    pub verdicts: HashMap<String, u64>,
    pub errors: u64,
    /// The newest errors' messages, at most five.
    pub recent_errors: Vec<String>,
    /// The last [`HEALTH_WINDOW`] calls: whether each failed, and whose post it judged.
    recent: std::collections::VecDeque<(bool, Id)>,
    /// This node asked for the extension to be disabled.
    pub stopped: bool,
}

/// Calls of a version this node looks back on, and how many of them may fail before it stops
/// the extension (a `DisableExtension` by the node, in the log like any other) — if the
/// failures came from posts of at least [`HEALTH_AUTHORS`] members, so that one member cannot
/// switch a rule off by writing posts it chokes on.
pub const HEALTH_WINDOW: usize = 20;
pub const HEALTH_FAILURES: usize = 10;
pub const HEALTH_AUTHORS: usize = 3;

/// A version as its author writes it.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    /// `None`: a new extension.
    pub extension: Option<Id>,
    pub name: String,
    pub kind: Option<ExtensionKind>,
    pub description: String,
    pub on_error: Option<FailPolicy>,
    pub budget: Option<u64>,
    pub deadline_ms: Option<u64>,
    pub memory_bytes: Option<u64>,
    /// A feed's candidates (feeds only).
    pub feed: Option<roost_types::FeedSpec>,
    pub source: String,
}

/// The function an extension of this kind must define.
pub fn entry_point(kind: ExtensionKind) -> &'static str {
    match kind {
        ExtensionKind::Automod => "judge",
        ExtensionKind::Feed => "rank",
        ExtensionKind::Bot => "react",
    }
}

pub(crate) fn limits(m: &ExtensionManifest) -> Limits {
    Limits {
        budget: m.budget,
        deadline: Duration::from_millis(m.deadline_ms),
        memory_bytes: usize::try_from(m.memory_bytes).unwrap_or(usize::MAX),
        ..Limits::default()
    }
}

/// 404 for anyone who may not change `e`: a personal feed's owner changes it (an administrator
/// may only stop it), those who administer the instance change every other extension.
pub(crate) fn may_change(svc: &Service, by: &Actor, e: &Extension, stopping: bool) -> Result<()> {
    match e.owner {
        Some(owner) if by.account == Some(owner) => Ok(()),
        Some(_) if !stopping => Err(Error::NotFound),
        _ => administer(svc, by),
    }
}

/// 404 for anyone who does not administer the instance (the operator does).
pub(crate) fn administer(svc: &Service, by: &Actor) -> Result<()> {
    let Some(account) = by.account else { return Ok(()) };
    let a = roost_core::query::account(&svc.read()?, account)?.ok_or(Error::NotFound)?;
    if a.role.can_administer() {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}

fn checked_manifest(svc: &Service, by: &Actor, d: &Draft) -> Result<ExtensionManifest> {
    let name = d.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "Validation failed: A name of 1 to {MAX_NAME_CHARS} characters is required"
        )));
    }
    if d.description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(Error::invalid(format!(
            "Validation failed: The description is longer than {MAX_DESCRIPTION_CHARS} characters"
        )));
    }
    let kind = d.kind.ok_or_else(|| Error::invalid("Validation failed: kind must be automod, feed or bot"))?;
    let bounded = |v: Option<u64>, default: u64, max: u64, what: &str| match v {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(Error::invalid(format!("Validation failed: {what} must be between 1 and {max}"))),
    };
    Ok(ExtensionManifest {
        name: name.to_string(),
        kind,
        description: d.description.trim().to_string(),
        on_error: d.on_error.unwrap_or(FailPolicy::Open),
        budget: bounded(d.budget, DEFAULT_BUDGET, MAX_BUDGET, "budget")?,
        deadline_ms: bounded(d.deadline_ms, DEFAULT_DEADLINE_MS, MAX_DEADLINE_MS, "deadline_ms")?,
        memory_bytes: match d.memory_bytes {
            Some(n) if n < MIN_MEMORY_BYTES => {
                return Err(Error::invalid(format!(
                    "Validation failed: memory_bytes must be between {MIN_MEMORY_BYTES} and {MAX_MEMORY_BYTES}"
                )))
            }
            other => bounded(other, DEFAULT_MEMORY_BYTES, MAX_MEMORY_BYTES, "memory_bytes")?,
        },
        feed: match (kind, &d.feed) {
            (ExtensionKind::Feed, Some(spec)) => Some(crate::feeds::checked_spec(svc, by, spec)?),
            (ExtensionKind::Feed, None) => {
                return Err(Error::invalid(
                    "Validation failed: A feed needs its sources (home, local, #tag, @account, list:ID)",
                ))
            }
            (_, Some(_)) => return Err(Error::invalid("Validation failed: Only feeds have sources")),
            (_, None) => None,
        },
    })
}

/// Runs `f` with the engine on a blocking thread, in turn with the node's other calls.
async fn with_engine<T: Send + 'static>(svc: &Service, f: impl FnOnce(&Engine) -> T + Send + 'static) -> Result<T> {
    on_engine(svc, &svc.ext_work().turns, f).await
}

/// Runs `f` on a blocking thread once `turns` grants a turn, which it holds until `f` ends
/// (even if the request that asked went away).
pub(crate) async fn on_engine<T: Send + 'static>(
    svc: &Service,
    turns: &Arc<Semaphore>,
    f: impl FnOnce(&Engine) -> T + Send + 'static,
) -> Result<T> {
    let turn = turns.clone().acquire_owned().await.map_err(|e| Error::Internal(e.to_string()))?;
    let svc2 = svc.clone();
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        f(&svc2.ext_work().engine)
    })
    .await
    .map_err(|e| Error::Internal(format!("an extension call failed: {e}")))
}

/// Saves a new version (of a new extension when `d.extension` is `None`); returns the
/// extension's ID and the version's number.
pub async fn save(svc: &Service, by: &Actor, d: Draft) -> Result<(Id, u32, Applied)> {
    let personal = d.kind == Some(ExtensionKind::Feed) && d.feed.as_ref().is_some_and(|f| f.personal);
    match d.extension {
        Some(id) => {
            let e = stored::extension(&svc.read()?, id)?.ok_or(Error::NotFound)?;
            may_change(svc, by, &e, false)?;
            if Some(e.kind) != d.kind {
                return Err(Error::invalid("Validation failed: An extension keeps its kind across versions"));
            }
            if e.owner.is_some() != personal {
                return Err(Error::invalid("Validation failed: A feed stays personal, or shared, across versions"));
            }
        }
        None if personal => {
            crate::write::member(by)?;
        }
        None => administer(svc, by)?,
    }
    let manifest = checked_manifest(svc, by, &d)?;
    if d.source.len() > MAX_SOURCE_BYTES {
        return Err(Error::TooLarge(format!("The source is larger than {MAX_SOURCE_BYTES} bytes")));
    }
    let program = Program::new(&d.source, limits(&manifest));
    let entry = entry_point(manifest.kind);
    with_engine(svc, move |engine| engine.check(&program, entry))
        .await?
        .map_err(|e| Error::invalid(format!("Validation failed: {e}")))?;
    let command = Command::SaveExtension { actor: by.account, extension: d.extension, manifest, source: d.source };
    let applied = propose(svc, by, command).await?;
    let id = crate::write::created_id(&applied)?;
    let version = stored::extension(&svc.read()?, id)?.map_or(0, |e| e.latest);
    Ok((id, version, applied))
}

/// Puts `version` to work in `mode` (a roll back names an earlier version).
pub async fn deploy(svc: &Service, by: &Actor, id: Id, version: u32, mode: ExtensionMode) -> Result<Applied> {
    let e = stored::extension(&svc.read()?, id)?.ok_or(Error::NotFound)?;
    may_change(svc, by, &e, false)?;
    propose(svc, by, Command::DeployExtension { actor: by.account, extension: id, version, mode }).await
}

pub async fn disable(svc: &Service, by: &Actor, id: Id) -> Result<Applied> {
    let e = stored::extension(&svc.read()?, id)?.ok_or(Error::NotFound)?;
    may_change(svc, by, &e, true)?;
    propose(svc, by, Command::DisableExtension { actor: by.account, extension: id, version: None }).await
}

/// Every extension, for those who administer the instance.
pub fn list(svc: &Service, by: &Actor) -> Result<Vec<Extension>> {
    administer(svc, by)?;
    Ok(stored::extensions(&svc.read()?)?)
}

/// One extension, its newest versions (at most 100) and what its deployed version decided here.
pub fn show(svc: &Service, by: &Actor, id: Id) -> Result<(Extension, Vec<ExtensionVersion>, Option<Figures>)> {
    let view = svc.read()?;
    let e = stored::extension(&view, id)?.ok_or(Error::NotFound)?;
    may_change(svc, by, &e, false)?;
    let versions = stored::versions(&view, id, 100)?;
    let figures = e.deployed.and_then(|d| {
        let f = svc.ext_work().figures.lock().ok()?.get(&(id, d.version)).cloned()?;
        (f.since == d.at).then_some(f)
    });
    Ok((e, versions, figures))
}

/// One version, its source included.
pub fn version(svc: &Service, by: &Actor, id: Id, version: u32) -> Result<ExtensionVersion> {
    let view = svc.read()?;
    let e = stored::extension(&view, id)?.ok_or(Error::NotFound)?;
    may_change(svc, by, &e, false)?;
    stored::version(&view, id, version)?.ok_or(Error::NotFound)
}

/// What a rule decided of one post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    pub verdict: String,
    pub reason: String,
    /// For `label`: the label shown with the post (the reason, or the rule's name, if none).
    pub label: Option<String>,
    /// For `label`: a content warning the post gets if it has none.
    pub content_warning: Option<String>,
}

/// A rule's answer, read strictly: `null` or `{verdict: "allow"}` lets the post through.
fn judgement(v: &serde_json::Value) -> std::result::Result<Judgement, String> {
    if v.is_null() {
        return Ok(Judgement { verdict: "allow".into(), reason: String::new(), label: None, content_warning: None });
    }
    let verdict = v.get("verdict").and_then(|x| x.as_str()).ok_or("the answer has no verdict")?;
    if !["allow", "reject", "hold", "label"].contains(&verdict) {
        return Err(format!("unknown verdict {verdict:.40}"));
    }
    let text = |key: &str, max: usize| -> Option<String> {
        let t: String =
            v.get(key).and_then(|x| x.as_str())?.trim().chars().filter(|c| !c.is_control()).take(max).collect();
        (!t.is_empty()).then_some(t)
    };
    Ok(Judgement {
        verdict: verdict.to_string(),
        reason: text("reason", roost_types::MAX_RULE_REASON_CHARS).unwrap_or_default(),
        label: text("label", roost_types::MAX_LABEL_CHARS),
        content_warning: text("content_warning", roost_types::MAX_LABEL_CHARS * 4),
    })
}

/// What a rule sees of a post.
fn post_input(
    author: Option<&roost_core::model::Account>,
    text: &str,
    spoiler_text: &str,
    visibility: roost_types::Visibility,
    reply: bool,
    editing: bool,
) -> serde_json::Value {
    serde_json::json!({
        "text": text,
        "spoiler_text": spoiler_text,
        "visibility": visibility.as_str(),
        "reply": reply,
        "editing": editing,
        "author": author.map(|a| serde_json::json!({"id": a.id.to_string(), "username": a.username, "role": format!("{:?}", a.role).to_lowercase()})),
    })
}

/// What the deployed rules in enforce mode decided of a post that they let through.
#[derive(Debug, Clone, Default)]
pub(crate) struct Verdicts {
    /// Holds and labels, carried in the post's command ([`Command::Judged`]).
    pub effects: Vec<roost_types::RuleEffect>,
    /// A content warning for a post that has none.
    pub content_warning: Option<String>,
    /// The first hold's rule name and reason (a scheduled post cannot be held: it is refused).
    pub held_by: Option<(String, String)>,
}

impl Verdicts {
    /// The post's command, carrying these decisions if there are any.
    pub fn command(self, command: Command) -> Command {
        if self.effects.is_empty() {
            command
        } else {
            Command::Judged { effects: self.effects, command: Box::new(command) }
        }
    }
}

/// Runs every deployed automod rule on a post about to be written (see the module docs).
pub(crate) async fn judge_post(svc: &Service, post: &PostDraft<'_>) -> Result<Verdicts> {
    let (rules, author) = {
        let view = svc.read()?;
        let deployed: Vec<Extension> = stored::deployed_of(&view, ExtensionKind::Automod)?;
        if deployed.is_empty() {
            return Ok(Verdicts::default());
        }
        (loaded_rules(svc, &view, deployed)?, roost_core::query::account(&view, post.author)?)
    };
    let input = post_input(
        author.as_ref(),
        post.text,
        post.spoiler_text,
        post.visibility,
        post.in_reply_to.is_some(),
        post.editing.is_some(),
    );
    let at = now_ms();
    let host = Host { now_ms: at, seed: post.author ^ (at as u64) };
    // All the rules of one post in one turn of the blocking pool, in order, stopping at the
    // first that refuses the post (the rest need not run).
    let jobs: Vec<(Arc<Rule>, ExtensionMode)> =
        rules.iter().filter_map(|(e, rule)| Some((rule.clone(), e.deployed?.mode))).collect();
    let answers = with_engine(svc, move |engine| {
        let mut answers = Vec::with_capacity(jobs.len());
        for (rule, mode) in &jobs {
            let judged = match engine.call(&rule.program, "judge", &input, host) {
                Ok((value, _)) => judgement(&value),
                Err(e) => Err(without_content(&e)),
            };
            let refuses = *mode == ExtensionMode::Enforce
                && match &judged {
                    Ok(j) => j.verdict == "reject",
                    Err(_) => rule.on_error == FailPolicy::Closed,
                };
            answers.push(judged);
            if refuses {
                break;
            }
        }
        answers
    })
    .await?;
    let mut verdicts = Verdicts::default();
    for ((ext, rule), judged) in rules.iter().zip(answers) {
        let Some(d) = ext.deployed else { continue };
        if record(svc, ext.id, d, post.author, &judged) {
            stop(svc, ext, d.version);
        }
        match (judged, d.mode) {
            (Ok(j), ExtensionMode::Enforce) if j.verdict == "reject" => {
                let reason =
                    if j.reason.is_empty() { "it breaks a rule of this instance".to_string() } else { j.reason };
                return Err(Error::invalid(format!(
                    "This post was refused by the rule \u{201c}{}\u{201d}: {reason}",
                    ext.name
                )));
            }
            (Err(e), ExtensionMode::Enforce) if rule.on_error == FailPolicy::Closed => {
                tracing::warn!(extension = ext.id, version = d.version, "an automod rule failed, closed: {e}");
                return Err(Error::invalid(format!(
                    "This post could not be checked by the rule \u{201c}{}\u{201d}; try again later",
                    ext.name
                )));
            }
            (Ok(j), ExtensionMode::Enforce) if j.verdict == "hold" => {
                let reason =
                    if j.reason.is_empty() { "it may break a rule of this instance".to_string() } else { j.reason };
                verdicts.held_by.get_or_insert((ext.name.clone(), reason.clone()));
                verdicts.effects.push(roost_types::RuleEffect {
                    extension: ext.id,
                    version: d.version,
                    action: roost_types::RuleAction::Hold { reason },
                });
            }
            (Ok(j), ExtensionMode::Enforce) if j.verdict == "label" => {
                let label = j
                    .label
                    .or_else(|| {
                        (!j.reason.is_empty()).then(|| j.reason.chars().take(roost_types::MAX_LABEL_CHARS).collect())
                    })
                    .unwrap_or_else(|| ext.name.chars().take(roost_types::MAX_LABEL_CHARS).collect());
                if verdicts.content_warning.is_none() {
                    verdicts.content_warning = j.content_warning;
                }
                verdicts.effects.push(roost_types::RuleEffect {
                    extension: ext.id,
                    version: d.version,
                    action: roost_types::RuleAction::Label { label },
                });
            }
            (Err(e), _) => tracing::warn!(extension = ext.id, version = d.version, "an automod rule failed, open: {e}"),
            _ => {}
        }
    }
    Ok(verdicts)
}

/// The deployed extensions with their programs (see [`rule`]).
fn loaded_rules(
    svc: &Service,
    view: &crate::ReadView,
    deployed: Vec<Extension>,
) -> Result<Vec<(Extension, Arc<Rule>)>> {
    let mut out = Vec::with_capacity(deployed.len());
    for e in deployed {
        let Some(d) = e.deployed else { continue };
        if let Some(rule) = rule(svc, view, e.id, d.version)? {
            out.push((e, rule));
        }
    }
    Ok(out)
}

/// A version's program: made from the stored version the first time it is asked for, then
/// kept (a version never changes).
pub(crate) fn rule(svc: &Service, view: &crate::ReadView, id: Id, version: u32) -> Result<Option<Arc<Rule>>> {
    let mut kept = svc.ext_work().rules.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(rule) = kept.get(&(id, version)) {
        return Ok(Some(rule.clone()));
    }
    let Some(v) = stored::version(view, id, version)? else { return Ok(None) };
    let rule = Arc::new(Rule { program: Program::new(&v.source, limits(&v.manifest)), on_error: v.manifest.on_error });
    if kept.len() >= KEPT_RULES {
        kept.clear();
    }
    kept.insert((id, version), rule.clone());
    Ok(Some(rule))
}

/// What is kept of a failure on a live post: its kind, not the extension's own words (which
/// may quote a post that the admins reading the figures may not read).
pub(crate) fn without_content(e: &roost_ext::Error) -> String {
    match e {
        roost_ext::Error::Thrown(_) => "the rule threw an exception".into(),
        roost_ext::Error::Load(_) => "the rule does not load".into(),
        roost_ext::Error::Data(_) => "the rule's answer is not JSON".into(),
        other => other.to_string(),
    }
}

/// Counts a decision; returns whether the version now fails too often to keep running.
pub(crate) fn record(
    svc: &Service,
    id: Id,
    deployment: roost_core::model::Deployment,
    author: Id,
    judged: &std::result::Result<Judgement, String>,
) -> bool {
    let mut all = svc.ext_work().figures.lock().unwrap_or_else(|e| e.into_inner());
    let f = all.entry((id, deployment.version)).or_default();
    if f.since != deployment.at {
        // A new deployment of this version (after a roll back, or from observe to enforce):
        // its health and counts start afresh.
        *f = Figures { since: deployment.at, ..Figures::default() };
    }
    f.calls += 1;
    match judged {
        Ok(j) => *f.verdicts.entry(j.verdict.clone()).or_default() += 1,
        Err(e) => {
            f.errors += 1;
            f.recent_errors.insert(0, e.chars().take(300).collect());
            f.recent_errors.truncate(5);
        }
    }
    f.recent.push_back((judged.is_err(), author));
    if f.recent.len() > HEALTH_WINDOW {
        f.recent.pop_front();
    }
    let failed: Vec<Id> = f.recent.iter().filter(|(failed, _)| *failed).map(|(_, a)| *a).collect();
    let authors: std::collections::HashSet<Id> = failed.iter().copied().collect();
    let failing = failed.len() >= HEALTH_FAILURES && authors.len() >= HEALTH_AUTHORS;
    if failing && !f.stopped {
        f.stopped = true;
        return true;
    }
    false
}

/// Stops an extension that fails too often (see [`HEALTH_FAILURES`]), in the background: the
/// post being judged does not wait for it.
pub(crate) fn stop(svc: &Service, ext: &Extension, version: u32) {
    tracing::error!(
        extension = ext.id,
        version,
        name = %ext.name,
        "an extension failed {HEALTH_FAILURES} of its last {HEALTH_WINDOW} calls: disabling it"
    );
    let (svc, id) = (svc.clone(), ext.id);
    tokio::spawn(async move {
        let command = Command::DisableExtension { actor: None, extension: id, version: Some(version) };
        if let Err(e) = crate::write::propose_unchecked(&svc, &<Actor as crate::ActorExt>::node(), command).await {
            tracing::error!(extension = id, "could not disable a failing extension: {e}");
        }
    });
}

/// What every deployed version decided on this node: ((extension, version), figures).
pub fn figures(svc: &Service) -> Vec<((Id, u32), Figures)> {
    let all = svc.ext_work().figures.lock().unwrap_or_else(|e| e.into_inner());
    let mut out: Vec<_> = all.iter().map(|(k, f)| (*k, f.clone())).collect();
    out.sort_by_key(|(k, _)| *k);
    out
}

/// A post a dry run shows for a verdict: what the rule said, and the start of its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub post: Id,
    pub reason: String,
    pub text: Option<String>,
}

/// A dry run's report: what the version would have decided of the newest posts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DryRun {
    /// Posts judged: the newest the reader may read.
    pub posts: usize,
    /// Whether every post asked for was judged (a dry run stops after [`DRY_RUN_TIME`]).
    pub complete: bool,
    pub verdicts: Vec<(String, usize)>,
    /// Per verdict other than allow, a few posts.
    pub examples: Vec<(String, Vec<Example>)>,
    pub errors: usize,
    pub error_examples: Vec<(Id, String)>,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub budget_p50: u64,
    pub budget_p99: u64,
}

/// Runs `version` (an automod rule) over the newest `posts` posts, changing nothing.
pub async fn dry_run(svc: &Service, by: &Actor, id: Id, version: u32, posts: Option<usize>) -> Result<DryRun> {
    administer(svc, by)?;
    let n = posts.unwrap_or(DEFAULT_DRY_RUN_POSTS);
    if n == 0 || n > MAX_DRY_RUN_POSTS {
        return Err(Error::invalid(format!("Validation failed: posts must be between 1 and {MAX_DRY_RUN_POSTS}")));
    }
    let (v, sample) = {
        let view = svc.read()?;
        let v = stored::version(&view, id, version)?.ok_or(Error::NotFound)?;
        if v.manifest.kind != ExtensionKind::Automod {
            return Err(Error::invalid("Validation failed: Only automod rules can be dry-run against posts yet"));
        }
        // Only posts the reader may read: what a rule answers (its reason, its errors) may
        // quote the post.
        let mut sample = Vec::with_capacity(n);
        for s in roost_core::query::newest_statuses(&view, n.saturating_mul(2))? {
            let readable =
                by.account.is_none_or(|me| roost_core::query::visible_status(&view, me, s.id).ok().flatten().is_some());
            if !readable {
                continue;
            }
            let author = roost_core::query::account(&view, s.author)?;
            let input =
                post_input(author.as_ref(), &s.text, &s.spoiler_text, s.visibility, s.in_reply_to.is_some(), false);
            sample.push((s.id, input, Some(s.text.chars().take(140).collect::<String>())));
            if sample.len() == n {
                break;
            }
        }
        (v, sample)
    };
    let program = Program::new(&v.source, limits(&v.manifest));
    let at = now_ms();
    let work = svc.ext_work().dry_runs.clone();
    on_engine(svc, &work, move |engine| {
        let mut report = DryRun { posts: 0, complete: true, ..DryRun::default() };
        let whole = Instant::now();
        let mut counts: HashMap<String, usize> = HashMap::new();
        let mut examples: HashMap<String, Vec<Example>> = HashMap::new();
        let (mut times, mut budgets) = (Vec::with_capacity(sample.len()), Vec::with_capacity(sample.len()));
        for (post, input, excerpt) in sample {
            if whole.elapsed() > DRY_RUN_TIME {
                report.complete = false;
                break;
            }
            report.posts += 1;
            let started = Instant::now();
            let answer = engine.call(&program, "judge", &input, Host { now_ms: at, seed: post });
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            let judged = match answer {
                Ok((value, usage)) => {
                    budgets.push(usage.budget);
                    judgement(&value)
                }
                Err(e) => Err(e.to_string()),
            };
            match judged {
                Ok(j) => {
                    *counts.entry(j.verdict.clone()).or_default() += 1;
                    let list = examples.entry(j.verdict).or_default();
                    if list.len() < EXAMPLES {
                        list.push(Example { post, reason: j.reason, text: excerpt });
                    }
                }
                Err(e) => {
                    report.errors += 1;
                    if report.error_examples.len() < EXAMPLES {
                        report.error_examples.push((post, e));
                    }
                }
            }
        }
        let mut verdicts: Vec<(String, usize)> = counts.into_iter().collect();
        verdicts.sort();
        report.verdicts = verdicts;
        let mut examples: Vec<_> = examples.into_iter().filter(|(v, _)| v != "allow").collect();
        examples.sort_by(|a, b| a.0.cmp(&b.0));
        report.examples = examples;
        times.sort_by(f64::total_cmp);
        budgets.sort_unstable();
        let pick = |len: usize, p: f64| ((len as f64 * p).ceil() as usize).clamp(1, len.max(1)) - 1;
        if !times.is_empty() {
            report.p50_ms = times[pick(times.len(), 0.5)];
            report.p99_ms = times[pick(times.len(), 0.99)];
        }
        if !budgets.is_empty() {
            report.budget_p50 = budgets[pick(budgets.len(), 0.5)];
            report.budget_p99 = budgets[pick(budgets.len(), 0.99)];
        }
        report
    })
    .await
}
