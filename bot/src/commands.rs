//! The bot people talk to: long polling, one reply per message.
//!
//! - `/start`, `/help`: what the bot does (anyone).
//! - `/save <link or share text>`, or any message with a link: archive it
//!   (allowed users and operators). `#tags` in the message become tags.
//! - `/get [tag]`: push the next pulled item not yet pushed there (with
//!   that tag) to `VAULTSTREAM_TELEGRAM_DEFAULT_TARGET`, answer ✅.
//! - `/status <id>`: an item's state and its media.
//! - `/retry <id>`: re-queue a failed item or its failed media (operators).
//! - `/targets`: the push targets and their rules.
//! - `/search <query>`: the top 5 hits with links (allowed users).
//! - `/login [check|qr <platform>]`: platform logins (operators).
//!
//! Everyone else gets a polite refusal naming their user id, so they can
//! ask an operator to add it to `VAULTSTREAM_TELEGRAM_ALLOWED_USERS`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;
use teloxide::prelude::*;
use teloxide::types::{AllowedUpdate, BotCommand, UpdateKind};
use vaultstream_adapters::intake::{self, IntakeError, Share};
use vaultstream_adapters::links::Linker;
use vaultstream_core::Settings;
use vaultstream_core::content::Channel;
use vaultstream_core::db::contents;
use vaultstream_core::db::push;
use vaultstream_core::db::retry::{RetryRefusal, retry_content};
use vaultstream_core::queue::JobQueue;
use vaultstream_core::status::MediaStatus;

use vaultstream_telegram::client::{ChatTarget, SendError, Telegram};
use vaultstream_telegram::format::escape;
use vaultstream_telegram::publish::{PublishOutcome, Publisher};

pub struct BotCtx {
    pub db: DatabaseConnection,
    pub linker: Linker,
    pub queue: Arc<dyn JobQueue>,
    pub settings: Arc<Settings>,
    pub telegram: Telegram,
    pub publisher: Arc<Publisher>,
}

pub const HELP: &str = "<b>VaultStream</b> archives what you share: send me a link or a whole share text \
(Bilibili, X/Twitter, Weibo, Xiaohongshu, Zhihu, Douyin, YouTube or any web page).\n\n\
/save &lt;link or text&gt; — archive it (a plain message with a link works too; #tags become tags)\n\
/get [tag] — push the next archived item to the default channel\n\
/status &lt;id&gt; — an item's state\n\
/retry &lt;id&gt; — retry a failed item (operators)\n\
/refresh &lt;id&gt; — fetch an archived item again (operators)\n\
/login [check|qr &lt;platform&gt;] — platform logins (operators)\n\
/targets — the channels items are pushed to\n\
/search &lt;words&gt; — search the archive (&quot;phrases&quot;, -word, OR, platform: tag: …)\n\
/help — this text";

/// `/cmd@botname rest` → `("cmd", "rest")`.
fn command(text: &str) -> Option<(String, &str)> {
    let t = text.trim_start();
    let rest = t.strip_prefix('/')?;
    let (head, tail) = rest
        .split_once(char::is_whitespace)
        .map_or((rest, ""), |(h, t)| (h, t));
    let name = head.split('@').next().unwrap_or(head).to_ascii_lowercase();
    (!name.is_empty()).then_some((name, tail.trim()))
}

/// The `#tags` of a message, as the user wrote them: every word that starts
/// with `#`, minus trailing punctuation, Weibo's closing `#` (`#话题#`) and
/// Xiaohongshu's `[话题]` marker. They go through the same checks as the
/// API's `tags`, so a tag the API refuses is refused here too (not dropped).
fn hashtags(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter_map(|w| w.strip_prefix('#'))
        .map(|t| {
            let t = t.trim_end_matches([',', '.', '!', '?', '，', '。', '！', '？', '、']);
            let t = t.strip_suffix('#').unwrap_or(t);
            t.strip_suffix("[话题]").unwrap_or(t)
        })
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

impl BotCtx {
    fn allowed(&self, user: i64) -> bool {
        let t = &self.settings.telegram;
        t.allowed_users.contains(&user) || t.operators.contains(&user)
    }

    fn operator(&self, user: i64) -> bool {
        self.settings.telegram.operators.contains(&user)
    }

    fn refusal(user: i64) -> String {
        format!(
            "Sorry, you are not on this archive's list of users. Ask its operator to add your \
             user id <code>{user}</code> to VAULTSTREAM_TELEGRAM_ALLOWED_USERS."
        )
    }

    /// The reply (HTML) to one message, if any.
    pub async fn reply_to(&self, user: i64, text: &str) -> Option<String> {
        match command(text) {
            Some((cmd, arg)) => Some(match cmd.as_str() {
                "start" | "help" => HELP.to_owned(),
                _ if !self.allowed(user) => Self::refusal(user),
                "save" if arg.is_empty() => {
                    "Send <code>/save &lt;link or share text&gt;</code>.".into()
                }
                "save" => self.save(user, arg).await,
                "get" => self.get(arg).await,
                "status" => self.status(arg).await,
                "retry" if !self.operator(user) => "Only operators can retry items.".to_owned(),
                "retry" => self.retry(arg).await,
                "refresh" if !self.operator(user) => "Only operators can refresh items.".into(),
                "refresh" => crate::refresh::reply(&self.db, self.queue.as_ref(), arg).await,
                "login" if !self.operator(user) => "Only operators can manage logins.".into(),
                "login" => {
                    // The QR code goes to the operator's private chat.
                    let (chat, q) = (ChatTarget::Id(user), self.queue.clone());
                    crate::logins::reply(&self.db, &self.settings, q, &self.telegram, chat, arg)
                        .await
                }
                "targets" => self.targets().await,
                "search" => crate::search::reply(&self.db, arg).await,
                other => format!("Unknown command /{}. See /help.", escape(other)),
            }),
            None if !text.contains("http://") && !text.contains("https://") => {
                if self.allowed(user) {
                    Some(
                        "Send me a link (or a share text with one) to archive it. See /help."
                            .into(),
                    )
                } else {
                    Some(Self::refusal(user))
                }
            }
            None if !self.allowed(user) => Some(Self::refusal(user)),
            None => Some(self.save(user, text).await),
        }
    }

    async fn save(&self, user: i64, text: &str) -> String {
        let share = Share {
            text: text.to_owned(),
            tags: hashtags(text),
            note: None,
            channel: Channel::Telegram,
            submitted_by: Some(user.to_string()),
            request_id: None,
        };
        match intake::accept(&self.linker, &self.db, Some(self.queue.as_ref()), share).await {
            Ok(r) if r.created => format!(
                "✅ Saved as #{id} ({} {}). Archiving now; /status {id}",
                escape(&r.platform),
                escape(&r.platform_id),
                id = r.content_id,
            ),
            Ok(r) => format!(
                "✅ Already archived as #{id} ({}); your share is kept as a source. /status {id}",
                escape(&r.status),
                id = r.content_id,
            ),
            // The API's code and message, word for word.
            Err(IntakeError::Refused(e)) => {
                format!("❌ {} (<code>{}</code>)", escape(&e.message), e.code)
            }
            Err(IntakeError::Store(e)) => {
                tracing::error!(error = %e, "bot: could not store a share");
                "⚠️ The archive is unavailable right now; please try again later.".into()
            }
        }
    }

    fn parse_id(arg: &str) -> Result<i64, String> {
        arg.trim()
            .trim_start_matches('#')
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| "Give an item id, e.g. <code>/status 42</code>.".to_owned())
    }

    async fn status(&self, arg: &str) -> String {
        let id = match Self::parse_id(arg) {
            Ok(i) => i,
            Err(m) => return m,
        };
        match contents::get(&self.db, id).await {
            Ok(Some(v)) => {
                let media = v.media.as_deref().unwrap_or_default();
                let archived = media
                    .iter()
                    .filter(|m| m.status == MediaStatus::Archived)
                    .count();
                let mut out = format!(
                    "#{id} · {} · <b>{}</b>",
                    escape(&v.platform),
                    escape(&v.status)
                );
                // A parsed item without a title of its own is named by its
                // kind and author ("Thread by @jack").
                let title = v
                    .title
                    .as_deref()
                    .filter(|t| !t.trim().is_empty())
                    .or((v.status == "pulled").then_some(v.display_title.as_str()));
                if let Some(t) = title {
                    out.push_str(&format!(
                        "\n{}",
                        escape(&vaultstream_telegram::format::render_title(t))
                    ));
                }
                if !media.is_empty() {
                    out.push_str(&format!(
                        "\nmedia: {} ({archived}/{} archived)",
                        escape(&v.media_status),
                        media.len()
                    ));
                }
                if let Some(e) = &v.last_error {
                    out.push_str(&format!("\nlast error: {}", escape(e)));
                }
                out.push_str(&format!("\n{}", escape(&v.canonical_url)));
                out
            }
            Ok(None) => format!("No item #{id}."),
            Err(e) => {
                tracing::error!(error = %e, "bot: status query failed");
                "⚠️ The archive is unavailable right now.".into()
            }
        }
    }

    async fn retry(&self, arg: &str) -> String {
        let id = match Self::parse_id(arg) {
            Ok(i) => i,
            Err(m) => return m.replace("/status", "/retry"),
        };
        let requeue_after = Duration::from_millis(self.settings.requeue_after_ms);
        match retry_content(&self.db, id, requeue_after).await {
            Ok(Ok(r)) => {
                r.enqueue(self.queue.as_ref()).await;
                if r.items.is_empty() {
                    format!("🔁 Retrying {} media file(s) of #{id}.", r.media.len())
                } else {
                    format!("🔁 #{id} is queued again.")
                }
            }
            Ok(Err(RetryRefusal::NotFound)) => format!("No item #{id}."),
            Ok(Err(RetryRefusal::NotRetryable(s))) => {
                format!("#{id} is {s}; there is nothing to retry.")
            }
            Err(e) => {
                tracing::error!(error = %e, "bot: retry failed");
                "⚠️ The archive is unavailable right now.".into()
            }
        }
    }

    async fn targets(&self) -> String {
        match push::list_targets(&self.db).await {
            Ok(list) if list.is_empty() => {
                "No push targets yet (operators add them over <code>/api/v1/push-targets</code>)."
                    .into()
            }
            Ok(list) => list
                .iter()
                .map(|t| {
                    let platforms = push::target_platforms(t);
                    let tags = push::target_tags(t);
                    format!(
                        "#{} {} · {} · {} · {}",
                        t.id,
                        escape(&push::destination(t)),
                        if platforms.is_empty() {
                            "all platforms".to_owned()
                        } else {
                            escape(&platforms.join(", "))
                        },
                        if tags.is_empty() {
                            "all tags".to_owned()
                        } else {
                            escape(&tags.join(", "))
                        },
                        if t.enabled { "on" } else { "off" }
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
            Err(e) => {
                tracing::error!(error = %e, "bot: targets query failed");
                "⚠️ The archive is unavailable right now.".into()
            }
        }
    }

    /// `/get [tag]`.
    async fn get(&self, arg: &str) -> String {
        let Some(chat) = self.settings.telegram.default_target.clone() else {
            return "No default channel is set (VAULTSTREAM_TELEGRAM_DEFAULT_TARGET).".into();
        };
        let tag = arg
            .split_whitespace()
            .next()
            .map(|t| t.trim_start_matches('#').to_lowercase());
        let run = async {
            let target = match push::target_by_chat(&self.db, &chat).await? {
                Some(t) => t,
                // A target for `/get` only: disabled, so rules never push
                // to it by themselves.
                None => match push::create_target(
                    &self.db,
                    push::NewTarget {
                        name: Some("default target (/get)".into()),
                        chat_id: chat.clone(),
                        platforms: vec![],
                        tags: vec![],
                        enabled: false,
                        notify_deleted: false,
                        webhook: None,
                    },
                )
                .await
                {
                    Ok(t) => t,
                    Err(push::TargetError::Invalid(e)) => {
                        return Ok::<_, anyhow::Error>(format!(
                            "The default channel setting is not a chat id: {}",
                            escape(&e.message)
                        ));
                    }
                    Err(push::TargetError::Db(e)) => return Err(e.into()),
                },
            };
            let Some(content_id) = push::next_unpushed(&self.db, target.id, tag.as_deref()).await?
            else {
                return Ok(match &tag {
                    Some(t) => format!("Nothing new tagged #{} to push.", escape(t)),
                    None => "Nothing new to push.".into(),
                });
            };
            let Some(record) = push::schedule_one(&self.db, target.id, content_id).await? else {
                return Ok("That item was just pushed; try again.".into());
            };
            Ok(match self.publisher.publish(record).await? {
                PublishOutcome::Sent { .. } => {
                    format!("✅ Pushed #{content_id} to {}", escape(&target.chat_id))
                }
                PublishOutcome::Retry { after } => {
                    // Leave it to the workers' reconciler, after the wait.
                    format!(
                        "⏳ Telegram asked to wait {} s; #{content_id} will be pushed then.",
                        after.as_secs().max(1)
                    )
                }
                PublishOutcome::Failed | PublishOutcome::Unknown | PublishOutcome::Stale => {
                    format!(
                        "❌ Could not push #{content_id}; see <code>/api/v1/pushed-records?content_id={content_id}</code>."
                    )
                }
            })
        };
        match run.await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "bot: /get failed");
                "⚠️ The archive is unavailable right now.".into()
            }
        }
    }
}

/// How many times a reply is sent when Telegram keeps answering 429 or
/// cannot be reached.
const REPLY_ATTEMPTS: u32 = 3;

/// Send a reply, honouring `429 retry_after` (wait, then send again) and
/// retrying a send that certainly did not go out. A reply is never dropped
/// silently: giving up is logged as an error with the reason. `Unknown`
/// outcomes are not retried (the user may already have the answer).
pub async fn send_reply(telegram: &Telegram, chat: &ChatTarget, html: &str) -> bool {
    for attempt in 1..=REPLY_ATTEMPTS {
        let wait = match telegram.send_text(chat, html, true).await {
            Ok(_) => return true,
            Err(SendError::RetryAfter(after)) if attempt < REPLY_ATTEMPTS => {
                tracing::info!(chat = %chat, retry_after_ms = after.as_millis() as u64, "reply rate-limited by Telegram; waiting");
                after
            }
            Err(SendError::NotSent(e)) if attempt < REPLY_ATTEMPTS => {
                tracing::warn!(chat = %chat, error = %e, "reply not sent (Telegram unreachable); retrying");
                Duration::from_secs(u64::from(attempt))
            }
            Err(e) => {
                tracing::error!(chat = %chat, error = %e, attempts = attempt, "could not answer a Telegram message");
                return false;
            }
        };
        tokio::time::sleep(wait).await;
    }
    false
}

/// Poll for updates and answer them until `shutdown` resolves.
///
/// Polls with [`Telegram::poller`], whose client waits longer than the
/// poll's own timeout, so an idle bot's polls end with an empty answer from
/// Telegram, not a client timeout.
pub async fn run(
    ctx: Arc<BotCtx>,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let bot = ctx.telegram.poller();
    let me = bot
        .get_me()
        .await
        .map_err(|e| anyhow::anyhow!("getMe failed: {e}"))?;
    tracing::info!(bot = %me.username(), "Telegram bot polling");
    for w in ctx.settings.telegram.timeout_warnings() {
        tracing::warn!("{w}");
    }
    let commands = [
        ("save", "archive a link or share text"),
        ("get", "push the next archived item to the default channel"),
        ("status", "an item's state"),
        ("retry", "retry a failed item (operators)"),
        ("refresh", "fetch an archived item again (operators)"),
        (
            "login",
            "platform logins: list, check, QR login (operators)",
        ),
        ("targets", "the channels items are pushed to"),
        ("search", "search the archive"),
        ("help", "what this bot does"),
    ]
    .map(|(c, d)| BotCommand::new(c, d));
    if let Err(e) = bot.set_my_commands(commands).await {
        tracing::warn!(error = %e, "could not set the bot's command list");
    }
    let poll_secs = ctx
        .telegram
        .timeouts()
        .poll
        .as_secs()
        .min(u64::from(u32::MAX)) as u32;
    let mut offset: i32 = 0;
    tokio::pin!(shutdown);
    loop {
        let poll = bot
            .get_updates()
            .offset(offset)
            .timeout(poll_secs)
            .allowed_updates(vec![AllowedUpdate::Message]);
        let updates = tokio::select! {
            _ = &mut shutdown => return Ok(()),
            u = poll.send() => u,
        };
        let updates = match updates {
            Ok(u) => u,
            Err(teloxide::RequestError::RetryAfter(s)) => {
                tokio::select! {
                    _ = &mut shutdown => return Ok(()),
                    _ = tokio::time::sleep(s.duration()) => continue,
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "getUpdates failed; retrying in 2 s");
                tokio::select! {
                    _ = &mut shutdown => return Ok(()),
                    _ = tokio::time::sleep(Duration::from_secs(2)) => continue,
                }
            }
        };
        for update in updates {
            offset = offset.max(update.id.0 as i32 + 1);
            let UpdateKind::Message(msg) = update.kind else {
                continue;
            };
            let Some(user) = msg.from.as_ref().map(|u| u.id.0 as i64) else {
                continue;
            };
            let Some(text) = msg.text().or(msg.caption()) else {
                continue;
            };
            let Some(reply) = ctx.reply_to(user, text).await else {
                continue;
            };
            let chat = ChatTarget::Id(msg.chat.id.0);
            tokio::select! {
                _ = &mut shutdown => return Ok(()),
                _ = send_reply(&ctx.telegram, &chat, &reply) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse() {
        assert_eq!(
            command("/save https://x"),
            Some(("save".into(), "https://x"))
        );
        assert_eq!(
            command("/GET@VaultBot  rust "),
            Some(("get".into(), "rust"))
        );
        assert_eq!(command("/help"), Some(("help".into(), "")));
        assert_eq!(command("hello /save"), None);
        assert_eq!(command("/"), None);
    }

    #[test]
    fn hashtags_become_tags() {
        assert_eq!(
            hashtags("看看 #Rust https://x.com/a #中文, #a/b # #新闻# #旅行[话题]#"),
            vec!["Rust", "中文", "a/b", "新闻", "旅行"]
        );
        // What the API refuses is kept, so it is refused the same way.
        let long = format!("#{}", "x".repeat(65));
        assert_eq!(hashtags(&long), vec!["x".repeat(65)]);
    }
}
