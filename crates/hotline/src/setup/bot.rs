//! The setup bot's driver: long-polls the setup bot's own token, feeds each owner's messages
//! and button presses to [`conversation::decide`], and carries out its actions against
//! Telegram, the store and the [`Runtime`] that starts and stops connections.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{json, Value};

use super::conversation::{self, Action, Decision, Input, State, TokenCheck};
use crate::config::{
    apply_overrides, ConnectionConfig, Mode, Params, Secret, SetupBotConfig, TimeZone,
    WebhookTargets, PARAM_NAMES,
};
use crate::domain::Context;
use crate::shutdown::Shutdown;
use crate::store::{
    now_ms, open_token, seal_token, DeadKind, ManagedConnection, Store, StoreError, UnixMs,
};
use crate::telegram::{html, Client, TgError};

/// What the setup bot needs from whoever runs connections (the `app`, an upper layer, so
/// this feature does not depend on it): start one without a restart, stop one, and reach a
/// running one's live context (parameters apply at once, as with `/set`).
pub trait Runtime: Send + Sync {
    /// Runs `hotline run`'s start-up checks for `cfg` and starts its tasks; the error says
    /// what to fix, in words for the owner.
    fn start(&self, cfg: ConnectionConfig) -> BoxFuture<'_, Result<(), String>>;
    /// Like [`Runtime::start`], but nothing when the connection is known already (started
    /// meanwhile by another path of this instance): a running one is not restarted.
    fn start_missing(&self, cfg: ConnectionConfig) -> BoxFuture<'_, Result<(), String>>;
    /// Stops a connection's tasks (pause, removal); nothing when it does not run.
    fn stop(&self, name: &str) -> BoxFuture<'_, ()>;
    /// The live context of a running connection.
    fn context(&self, name: &str) -> Option<Context>;
    /// The instance that runs the connection's tasks, when one is known here.
    fn owner(&self, name: &str) -> Option<String>;
}

/// A connection from the configuration file, shown read-only.
#[derive(Clone, Debug)]
pub struct FileConnection {
    /// Its name.
    pub name: String,
    /// Its group.
    pub group_id: i64,
    /// The bot's id (the token's prefix), so the same bot is not connected twice.
    pub bot_id: Option<i64>,
}

/// Everything the setup bot works with.
pub struct SetupBot {
    tg: Client,
    store: Store,
    config: SetupBotConfig,
    files: Vec<FileConnection>,
    runtime: Arc<dyn Runtime>,
    webhook_targets: WebhookTargets,
    webhook_secret_grace: Duration,
    /// Per connection waiting for its group, the last membership update acted on.
    seen: std::sync::Mutex<std::collections::HashMap<String, Option<i64>>>,
}

/// The name under which the setup bot's own lease is kept (a row of `connections` that no
/// connection can take: not a valid connection name). With several instances on one
/// database, only the holder of this lease serves the setup bot: two pollers of one token
/// would end each other's getUpdates (409) and could both act on one owner's message.
pub const LEASE_NAME: &str = "@setup-bot";

/// How often every instance compares the connections it knows with the stored ones (see
/// [`SetupBot::follow_stored`]).
pub const FOLLOW_EVERY: Duration = Duration::from_secs(1);

/// How long a stored connection that failed its checks waits before an instance tries to
/// start it again on its own.
const RETRY_FAILED: Duration = Duration::from_secs(30);

/// How long one getUpdates waits while nothing awaits a group; while something does, the
/// bot looks for the group this often.
const LONG_POLL: u32 = 25;
const GROUP_POLL: u32 = 1;

impl SetupBot {
    /// A setup bot for `config`, listing `files` read-only.
    pub fn new(
        config: SetupBotConfig,
        store: Store,
        files: Vec<FileConnection>,
        runtime: Arc<dyn Runtime>,
        webhook_targets: WebhookTargets,
        webhook_secret_grace: Duration,
    ) -> Self {
        let tg = Client::new(&config.api_url, config.token.clone()).labelled("setup_bot");
        Self {
            tg,
            store,
            config,
            files,
            runtime,
            webhook_targets,
            webhook_secret_grace,
            seen: Default::default(),
        }
    }

    /// The configuration of a stored connection, its token opened.
    fn connection_config(&self, m: &ManagedConnection) -> Result<ConnectionConfig, StoreError> {
        Ok(ConnectionConfig {
            name: m.name.clone(),
            token: open_token(&self.config.secret_key, &m.name, &m.token_sealed)?,
            group_id: m.group_id.unwrap_or_default(),
            overflow_groups: Vec::new(),
            api_url: self.config.api_url.clone(),
            mode: Mode::Polling,
            gateway_plain_http_webhooks: false,
            time_zone: TimeZone(time::UtcOffset::UTC),
            webhook_targets: self.webhook_targets.clone(),
            webhook_secret_grace: self.webhook_secret_grace,
            params: Params::default(),
        })
    }

    /// Starts every stored connection that has its group and is not paused (at start-up);
    /// one that fails its checks is logged and left stopped, the others start.
    pub async fn start_stored(&self) -> Result<(), StoreError> {
        for m in self.store.managed_connections().await? {
            if m.paused || m.group_id.is_none() {
                continue;
            }
            let cfg = match self.connection_config(&m) {
                Ok(cfg) => cfg,
                Err(e) => {
                    tracing::error!(connection = %m.name, error = %e, "a stored connection cannot start");
                    continue;
                }
            };
            if let Err(e) = self.runtime.start(cfg).await {
                tracing::error!(connection = %m.name, error = %e, "a stored connection failed its checks");
            }
        }
        Ok(())
    }

    /// Keeps this instance's set of stored connections in step with the database until
    /// `shutdown`: a connection the setup bot added, resumed or gave a group on another
    /// instance is started here too (as a standby unless its lease is free, so that one
    /// instance owns it and another takes it over when the owner dies); one paused or
    /// removed there is stopped here. Every instance runs this, whichever serves the bot.
    pub async fn follow_stored(&self, every: Duration, mut shutdown: Shutdown) {
        let mut known: std::collections::HashSet<String> = Default::default();
        let mut failed: std::collections::HashMap<String, tokio::time::Instant> =
            Default::default();
        loop {
            tokio::select! {
                _ = shutdown.recv() => return,
                _ = tokio::time::sleep(every) => {}
            }
            let stored = match self.store.managed_connections().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "setup bot: reading the stored connections failed");
                    continue;
                }
            };
            for m in &stored {
                let wanted = !m.paused && m.group_id.is_some();
                let running = self.runtime.context(&m.name).is_some();
                if wanted && !running {
                    if failed
                        .get(&m.name)
                        .is_some_and(|at| at.elapsed() < RETRY_FAILED)
                    {
                        continue;
                    }
                    let started = match self.connection_config(m) {
                        Ok(cfg) => self.runtime.start_missing(cfg).await,
                        Err(e) => Err(e.to_string()),
                    };
                    match started {
                        Ok(()) => {
                            failed.remove(&m.name);
                        }
                        Err(e) => {
                            tracing::error!(connection = %m.name, error = %e, "a stored connection failed its checks");
                            failed.insert(m.name.clone(), tokio::time::Instant::now());
                        }
                    }
                } else if !wanted && running {
                    self.runtime.stop(&m.name).await;
                }
            }
            // Removed on another instance: no longer stored, still running here.
            let now: std::collections::HashSet<String> =
                stored.iter().map(|m| m.name.clone()).collect();
            for gone in known.difference(&now) {
                if self.runtime.context(gone).is_some() {
                    self.runtime.stop(gone).await;
                }
            }
            known = now;
        }
    }

    /// Serves the setup bot until `shutdown` (on the instance holding [`LEASE_NAME`]'s
    /// lease).
    pub async fn run(&self, mut shutdown: Shutdown) {
        if let Err(e) = self.tg.delete_webhook(false).await {
            tracing::warn!(error = %e, "setup bot: deleteWebhook failed");
        }
        let mut offset: Option<i64> = None;
        let mut failures = 0u32;
        loop {
            let waiting = self.waiting_for_group().await;
            let timeout = if waiting.is_empty() {
                LONG_POLL
            } else {
                GROUP_POLL
            };
            let got = tokio::select! {
                _ = shutdown.recv() => return,
                r = self.tg.get_updates(offset, 100, timeout, Some(&["message", "callback_query"][..])) => r,
            };
            match got {
                Ok(updates) => {
                    failures = 0;
                    for u in updates {
                        if let Some(id) = u["update_id"].as_i64() {
                            offset = Some(id + 1);
                        }
                        if let Err(e) = self.handle(&u).await {
                            tracing::error!(error = %e, "setup bot: an update failed");
                        }
                    }
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = %e, "setup bot: getUpdates failed");
                    let wait = crate::backoff::Backoff::new(
                        Duration::from_millis(500),
                        Duration::from_secs(30),
                    )
                    .delay(failures);
                    tokio::select! {
                        _ = shutdown.recv() => return,
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
            }
            for (owner, name) in waiting {
                if let Err(e) = self.check_group(owner, &name, false).await {
                    tracing::error!(error = %e, "setup bot: looking for a group failed");
                }
            }
        }
    }

    /// Owners whose conversation waits for a group, with the connection.
    async fn waiting_for_group(&self) -> Vec<(i64, String)> {
        let mut out = Vec::new();
        for &owner in &self.config.owners {
            if let Ok(stored) = self.store.setup_conversation(owner).await {
                if let State::AwaitingGroup { connection } = State::from_stored(stored.as_deref()) {
                    out.push((owner, connection));
                }
            }
        }
        out
    }

    async fn handle(&self, u: &Value) -> Result<(), StoreError> {
        let (from, chat, input) = if let Some(m) = u.get("message") {
            if m["chat"]["type"] != "private" {
                return Ok(());
            }
            let Some(text) = m["text"].as_str() else {
                return Ok(());
            };
            (
                m["from"]["id"].as_i64().unwrap_or_default(),
                m["chat"]["id"].as_i64().unwrap_or_default(),
                Input::Text {
                    text: text.to_string(),
                    message_id: m["message_id"].as_i64().unwrap_or_default(),
                },
            )
        } else if let Some(q) = u.get("callback_query") {
            let _ = self
                .tg
                .call(
                    "answerCallbackQuery",
                    json!({"callback_query_id": q["id"].as_str().unwrap_or_default()}),
                )
                .await;
            let from = q["from"]["id"].as_i64().unwrap_or_default();
            (
                from,
                q["message"]["chat"]["id"].as_i64().unwrap_or(from),
                Input::Button(q["data"].as_str().unwrap_or_default().to_string()),
            )
        } else {
            return Ok(());
        };
        let owner = self.config.owners.contains(&from);
        let state = if owner {
            State::from_stored(self.store.setup_conversation(from).await?.as_deref())
        } else {
            State::Idle
        };
        let decision = conversation::decide(&state, owner, &input);
        let next = self.carry_out(from, chat, decision).await?;
        if owner {
            self.store
                .set_setup_conversation(from, next.to_stored().as_deref(), now_ms())
                .await?;
        }
        Ok(())
    }

    async fn say(&self, chat: i64, text: &str, buttons: &[(String, String)]) {
        let mut extra = json!({"parse_mode": "HTML"});
        if !buttons.is_empty() {
            let rows: Vec<Value> = buttons
                .iter()
                .map(|(label, data)| json!([{"text": label, "callback_data": data}]))
                .collect();
            extra["reply_markup"] = json!({ "inline_keyboard": rows });
        }
        if let Err(e) = self.tg.send_message(chat, text, extra).await {
            tracing::warn!(error = %e, "setup bot: could not answer");
        }
    }

    /// Carries out a decision's actions; returns the state to keep (a token check or a
    /// refused value may change it).
    fn carry_out(
        &self,
        owner: i64,
        chat: i64,
        decision: Decision,
    ) -> BoxFuture<'_, Result<State, StoreError>> {
        Box::pin(async move {
            let mut next = decision.next;
            for action in decision.actions {
                match action {
                    Action::Say { text, buttons } => self.say(chat, &html(&text), &buttons).await,
                    Action::Delete(id) => {
                        if let Err(e) = self.tg.delete_message(chat, id).await {
                            tracing::warn!(error = %e, "setup bot: could not delete a message holding a token");
                        }
                    }
                    Action::CheckToken(token) => {
                        let check = self.check_token(owner, &token).await?;
                        next = self
                            .carry_out(owner, chat, conversation::after_token(&check))
                            .await?;
                    }
                    Action::List => self.list(chat).await?,
                    Action::Show(name) => self.show(chat, &name).await?,
                    Action::SetParam {
                        connection,
                        param,
                        value,
                    } => {
                        if self.set_param(chat, &connection, &param, &value).await? {
                            next = State::Idle;
                            self.show(chat, &connection).await?;
                        }
                    }
                    Action::Pause(name) => {
                        if self.managed(chat, &name).await?.is_some() {
                            self.store.set_managed_paused(&name, true, now_ms()).await?;
                            self.runtime.stop(&name).await;
                            self.say(chat, &format!("⏸ {} is paused.", html(&name)), &[])
                                .await;
                            self.show(chat, &name).await?;
                        }
                    }
                    Action::Resume(name) => {
                        if let Some(m) = self.managed(chat, &name).await? {
                            self.store
                                .set_managed_paused(&name, false, now_ms())
                                .await?;
                            if m.group_id.is_some() {
                                let cfg = self.connection_config(&m)?;
                                match self.runtime.start(cfg).await {
                                    Ok(()) => {
                                        self.say(
                                            chat,
                                            &format!("▶️ {} runs again.", html(&name)),
                                            &[],
                                        )
                                        .await
                                    }
                                    Err(e) => {
                                        self.say(chat, &format!("❌ {}", html(&e)), &[]).await
                                    }
                                }
                            }
                            self.show(chat, &name).await?;
                        }
                    }
                    Action::ConfirmRemove(name) => {
                        if self.managed(chat, &name).await?.is_some() {
                            self.say(
                                chat,
                                &format!(
                                    "Remove {}? Its bot stops answering; its dialogs stay in \
                                     the database.",
                                    html(&name)
                                ),
                                &[("🗑 Yes, remove it".into(), format!("remove!:{name}"))],
                            )
                            .await;
                        }
                    }
                    Action::Remove(name) => {
                        if self.managed(chat, &name).await?.is_some() {
                            self.runtime.stop(&name).await;
                            self.store.delete_managed_connection(&name).await?;
                            self.say(chat, &format!("🗑 {} is removed.", html(&name)), &[])
                                .await;
                        }
                    }
                    Action::RotateKey(name) => {
                        if self.managed(chat, &name).await?.is_some() {
                            self.rotate_key(owner, chat, &name).await?;
                        }
                    }
                    Action::Status(name) => self.status(chat, &name).await?,
                    Action::CheckGroup(name) => {
                        if self.check_group(owner, &name, true).await? {
                            next = State::Idle;
                        }
                    }
                }
            }
            Ok(next)
        })
    }

    /// A stored connection, or a message saying it is not one (a file connection is
    /// read-only).
    async fn managed(
        &self,
        chat: i64,
        name: &str,
    ) -> Result<Option<ManagedConnection>, StoreError> {
        let m = self.store.managed_connection(name).await?;
        if m.is_none() {
            let text = if self.files.iter().any(|f| f.name == name) {
                format!(
                    "{} comes from the configuration file: change it there (read-only here).",
                    html(name)
                )
            } else {
                format!("There is no connection {}. /list", html(name))
            };
            self.say(chat, &text, &[]).await;
        }
        Ok(m)
    }

    async fn check_token(&self, owner: i64, token: &Secret) -> Result<TokenCheck, StoreError> {
        let probe = Client::new(&self.config.api_url, token.clone());
        let me = match probe.get_me().await {
            Ok(me) => me,
            Err(e) if e.is_unauthorized() => return Ok(TokenCheck::Refused),
            Err(TgError::Permanent { .. }) => return Ok(TokenCheck::Refused),
            Err(e) => return Ok(TokenCheck::Unreachable(e.to_string())),
        };
        if let Some(f) = self.files.iter().find(|f| f.bot_id == Some(me.id)) {
            return Ok(TokenCheck::AlreadyConnected(f.name.clone()));
        }
        let stored = self.store.managed_connections().await?;
        if let Some(m) = stored.iter().find(|m| m.bot_id == me.id) {
            return Ok(TokenCheck::AlreadyConnected(m.name.clone()));
        }
        let username = me.username.clone().unwrap_or_default();
        let taken: Vec<String> = stored
            .iter()
            .map(|m| m.name.clone())
            .chain(self.files.iter().map(|f| f.name.clone()))
            .collect();
        let name = conversation::connection_name(&username, &taken);
        let now = now_ms();
        let m = ManagedConnection {
            name: name.clone(),
            bot_id: me.id,
            bot_username: username.clone(),
            token_sealed: seal_token(&self.config.secret_key, &name, token),
            group_id: None,
            paused: false,
            created_by: owner,
            created_at: now,
            updated_at: now,
        };
        if !self.store.insert_managed_connection(&m).await? {
            return Ok(TokenCheck::AlreadyConnected(name));
        }
        tracing::info!(connection = %name, "setup bot: a connection was added");
        Ok(TokenCheck::Stored {
            connection: name,
            username,
        })
    }

    /// Looks for the forum group the connection's bot was made an administrator of, runs
    /// the start-up checks and starts the connection. `asked`: the owner pressed the
    /// button (say why nothing happened); otherwise only a change is reported. Returns
    /// whether the connection started.
    async fn check_group(&self, owner: i64, name: &str, asked: bool) -> Result<bool, StoreError> {
        let Some(m) = self.store.managed_connection(name).await? else {
            self.store
                .set_setup_conversation(owner, None, now_ms())
                .await?;
            return Ok(false);
        };
        let cfg = self.connection_config(&m)?;
        let bot = Client::new(&cfg.api_url, cfg.token.clone());
        // Read without confirming (no offset): the connection's own intake gets the rest.
        // Every update type is asked for: `allowed_updates` is sticky, and asking for
        // my_chat_member alone made Telegram drop what users wrote until the connection's
        // first poll.
        let updates = match bot
            .get_updates(None, 100, 0, Some(crate::telegram::ALL_UPDATES))
            .await
        {
            Ok(u) => u,
            Err(e) => {
                if asked {
                    self.say(
                        owner,
                        &format!("I could not ask Telegram: {}", html(&e.to_string())),
                        &[],
                    )
                    .await;
                }
                return Ok(false);
            }
        };
        let group = updates.iter().rev().find_map(|u| {
            let m = &u["my_chat_member"];
            let status = m["new_chat_member"]["status"].as_str()?;
            let kind = m["chat"]["type"].as_str()?;
            ((kind == "supergroup" || kind == "group")
                && (status == "administrator" || status == "member"))
                .then(|| (u["update_id"].as_i64(), m["chat"]["id"].as_i64()))
        });
        let Some((update_id, Some(group_id))) = group else {
            if asked {
                self.say(
                    owner,
                    &format!(
                        "@{} is not in a group yet. Add it to your forum group as an \
                         administrator with the right to manage topics.",
                        html(&m.bot_username)
                    ),
                    &[("I have added it".into(), format!("group:{name}"))],
                )
                .await;
            }
            return Ok(false);
        };
        {
            // Looking again on its own, the bot acts only on a change of membership.
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            if !asked && seen.get(name) == Some(&update_id) {
                return Ok(false);
            }
            seen.insert(name.to_string(), update_id);
        }
        self.store
            .set_managed_group(name, group_id, now_ms())
            .await?;
        let mut cfg = cfg;
        cfg.group_id = group_id;
        // Every instance's follower may start it too, now that it has its group.
        match self.runtime.start_missing(cfg).await {
            Ok(()) => {
                self.store
                    .set_setup_conversation(owner, None, now_ms())
                    .await?;
                self.say(
                    owner,
                    &format!(
                        "✅ {} is running: messages to @{} now open topics in its group.",
                        html(name),
                        html(&m.bot_username)
                    ),
                    &[],
                )
                .await;
                self.show(owner, name).await?;
                Ok(true)
            }
            Err(e) => {
                // The same checks as `hotline run`: getChat says whether Topics are on.
                self.say(
                    owner,
                    &format!("❌ {}\nFix it, then press the button.", html(&e)),
                    &[("Check again".into(), format!("group:{name}"))],
                )
                .await;
                Ok(false)
            }
        }
    }

    async fn list(&self, chat: i64) -> Result<(), StoreError> {
        let stored = self.store.managed_connections().await?;
        if stored.is_empty() && self.files.is_empty() {
            self.say(chat, "No connections yet: /connect", &[]).await;
            return Ok(());
        }
        let mut lines = Vec::new();
        let mut buttons = Vec::new();
        for m in &stored {
            let state = match (m.paused, m.group_id) {
                (true, _) => "paused",
                (false, None) => "waiting for its group",
                (false, Some(_)) if self.runtime.context(&m.name).is_some() => "running",
                (false, Some(_)) => "stopped (see its status)",
            };
            lines.push(format!(
                "• {} (@{}): {state}",
                html(&m.name),
                html(&m.bot_username)
            ));
            buttons.push((m.name.clone(), format!("show:{}", m.name)));
        }
        for f in &self.files {
            lines.push(format!(
                "• {} (configuration file, read-only): group {}",
                html(&f.name),
                f.group_id
            ));
        }
        self.say(chat, &lines.join("\n"), &buttons).await;
        Ok(())
    }

    /// The effective parameters of a connection: the file's defaults with the stored
    /// overrides, as `hotline run` computes them.
    async fn params_of(&self, name: &str) -> Result<Params, StoreError> {
        if let Some(ctx) = self.runtime.context(name) {
            return Ok(ctx.params());
        }
        let mut params = Params::default();
        if let Some(id) = self.store.find_connection(name).await? {
            let _ = apply_overrides(&mut params, &self.store.param_overrides(id).await?);
        }
        Ok(params)
    }

    async fn show(&self, chat: i64, name: &str) -> Result<(), StoreError> {
        let Some(m) = self.managed(chat, name).await? else {
            return Ok(());
        };
        let params = self.params_of(name).await?;
        let mut text = format!(
            "<b>{}</b> — @{}{}\n",
            html(name),
            html(&m.bot_username),
            if m.paused { " (paused)" } else { "" }
        );
        for (p, v) in params.entries() {
            text.push_str(&format!("{p} = <code>{}</code>\n", html(&v)));
        }
        self.say(
            chat,
            &text,
            &conversation::connection_buttons(name, m.paused),
        )
        .await;
        Ok(())
    }

    /// Sets a parameter with `/set`'s validation; false (and why) when refused.
    async fn set_param(
        &self,
        chat: i64,
        name: &str,
        param: &str,
        value: &str,
    ) -> Result<bool, StoreError> {
        if self.managed(chat, name).await?.is_none() || !PARAM_NAMES.contains(&param) {
            return Ok(true);
        }
        let id = self.store.ensure_connection(name).await?;
        let mut next = self.params_of(name).await?;
        let reset = value.eq_ignore_ascii_case("default");
        let checked = if reset {
            next.set(param, &Params::default().get(param).unwrap_or_default())
        } else {
            next.set(param, value)
        };
        if let Err(e) = checked {
            self.say(
                chat,
                &format!(
                    "❌ {}\nSend another value, or /cancel.",
                    html(&e.to_string())
                ),
                &[],
            )
            .await;
            return Ok(false);
        }
        if reset {
            self.store.delete_param_override(id, param).await?;
        } else {
            let stored = next.get(param).unwrap_or_default();
            self.store.set_param_override(id, param, &stored).await?;
        }
        if let Some(ctx) = self.runtime.context(name) {
            *ctx.params.write().unwrap_or_else(|e| e.into_inner()) = next;
        }
        self.say(chat, &format!("✅ {param} of {} is set.", html(name)), &[])
            .await;
        Ok(true)
    }

    async fn rotate_key(&self, owner: i64, chat: i64, name: &str) -> Result<(), StoreError> {
        let id = self.store.ensure_connection(name).await?;
        let now = now_ms();
        for k in self.store.api_keys(id).await? {
            if k.revoked_at.is_none() {
                self.store.revoke_api_key(id, k.id, now).await?;
            }
        }
        let key = crate::api::auth::create_key(
            &self.store,
            id,
            "setup-bot",
            &format!("telegram:{owner}"),
        )
        .await?;
        self.say(
            chat,
            &format!(
                "🔑 The API key of {} (the previous ones are revoked). Store it now: it is not \
                 shown again.\n<code>{}</code>",
                html(name),
                html(&key.key)
            ),
            &[],
        )
        .await;
        Ok(())
    }

    async fn status(&self, chat: i64, name: &str) -> Result<(), StoreError> {
        let Some(m) = self.managed(chat, name).await? else {
            return Ok(());
        };
        // The owner may be another instance: the lease in the database says which.
        let lease = match self.store.find_connection(name).await? {
            Some(id) => self
                .store
                .lease_owner(id)
                .await?
                .filter(|l| l.expires_at > now_ms()),
            None => None,
        };
        let owner = match (self.runtime.owner(name), lease) {
            (Some(instance), _) => Some(format!("this instance, {}", html(&instance))),
            (None, Some(l)) => Some(format!(
                "another instance, {} at {}",
                html(&l.owner),
                html(&l.address)
            )),
            (None, None) => None,
        };
        let mut text = format!(
            "<b>{}</b>: {}\nOwner: {}\n",
            html(name),
            match (m.paused, &owner) {
                (true, _) => "paused",
                (false, Some(_)) => "running",
                (false, None) => "not running",
            },
            owner.as_deref().unwrap_or("none")
        );
        if let Some(id) = self.store.find_connection(name).await? {
            let g = self.store.gauges(id).await?;
            let pending: i64 = g.outbox_pending.iter().map(|(_, n, _)| n).sum();
            text.push_str(&format!(
                "Outbox: {pending} waiting, {} in flight, {} failed\nUpdates waiting: {}\n",
                g.outbox_in_flight, g.outbox_failed, g.updates_pending.0
            ));
            let mut last: Option<(UnixMs, String)> = None;
            for kind in [DeadKind::Intent, DeadKind::Update] {
                for d in self.store.dead_letters(kind, 100).await? {
                    if d.connection == name && last.as_ref().is_none_or(|(at, _)| d.at > *at) {
                        last = Some((d.at, d.last_error.unwrap_or_default()));
                    }
                }
            }
            match last {
                Some((_, e)) => text.push_str(&format!("Last error: {}\n", html(&e))),
                None => text.push_str("Last error: none\n"),
            }
        }
        self.say(chat, &text, &[]).await;
        Ok(())
    }
}
