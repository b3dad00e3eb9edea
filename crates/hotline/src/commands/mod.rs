//! Operator commands as one table (as in tokio's mini-redis: each command is parsed into a
//! typed [`Command`], then applied). Every family file declares its rows ([`Spec`]): the
//! name, where it works, who may use it, its menu description, its `/help` line and its
//! parser. Dispatch, the "works in General / in a dialog topic" answers, the admin check,
//! the Telegram command menus per scope ([`menu`]) and `/help` ([`help::text`]) are all
//! derived from that table, so a new command is one row plus one handler and can never be
//! missing from the menu or the help. Commands are never sent to the user.

mod admit;
mod assign;
mod ban;
mod bot;
pub mod comment;
mod features;
mod help;
mod mark;
mod new;
mod say;
pub(crate) mod settings;
mod status;

use serde_json::Value;

use crate::domain::render::html;
use crate::domain::roles::require_admin;
use crate::domain::slash::{answer, Parsed};
use crate::domain::Context;
use crate::store::StoreError;
use crate::store::{Dialog, Tx};
use crate::telegram::BotCommand;

/// Where a command works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Only in a dialog topic (it acts on that dialog).
    Topic,
    /// Only in General (it acts on the whole connection).
    General,
    /// In both.
    Both,
}

impl Place {
    fn includes(self, in_topic: bool) -> bool {
        match self {
            Place::Both => true,
            Place::Topic => in_topic,
            Place::General => !in_topic,
        }
    }
}

/// Who may use a command: it decides the menu scope, the `/help` section and whether the
/// dispatcher checks the author is an administrator (or listed in EXTENSIONS_ALLOWED).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Every member of the group.
    Operator,
    /// Administrators (or the EXTENSIONS_ALLOWED people).
    Admin,
}

/// One row of the command table. A name may have one row per place when it means
/// different things there (`/mark NAME` tags in a topic, `/mark new` defines in General).
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// The command, lower-case, as in the menu.
    pub name: &'static str,
    /// Other spellings dispatched the same way (not shown in menus).
    pub aliases: &'static [&'static str],
    /// Where it works.
    pub place: Place,
    /// Who may use it.
    pub who: Who,
    /// The one-line description in the Telegram `/` menu.
    pub menu: &'static str,
    /// Its line in `/help` (HTML), starting with `/name`.
    pub help: &'static str,
    /// Turns the typed command into a [`Command`].
    pub parse: fn(&Parsed) -> Command,
}

impl Spec {
    fn answers_to(&self, name: &str) -> bool {
        self.name == name || self.aliases.contains(&name)
    }
}

/// Every row, family by family, in menu and `/help` order.
pub fn table() -> impl Iterator<Item = &'static Spec> {
    [
        help::COMMANDS,
        status::COMMANDS,
        assign::COMMANDS,
        ban::COMMANDS,
        new::COMMANDS,
        admit::COMMANDS,
        say::COMMANDS,
        mark::COMMANDS,
        bot::COMMANDS,
        settings::COMMANDS,
        features::COMMANDS,
    ]
    .into_iter()
    .flatten()
}

/// A parsed command, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/help`, `/start`.
    Help,
    /// `/info`.
    Info,
    /// `/close`, `/hold`, `/wait`.
    Status(status::Change),
    /// `/take`.
    Take,
    /// `/assign …`.
    Assign(assign::Target),
    /// `/unassign`.
    Unassign,
    /// `/ban` (true), `/unban` (false).
    Ban(bool),
    /// `/bot [off|on]`.
    Bot(bot::Op),
    /// `/new USER`.
    New(Parsed),
    /// `/admit USER|all`.
    Admit(Parsed),
    /// `/say …`.
    Say(Parsed),
    /// `/mark …`.
    Mark(Parsed),
    /// `/set NAME VALUE`.
    Set(Parsed),
    /// `/get [NAME]`.
    Get(Parsed),
    /// `/send …` (broadcasts).
    Send(Parsed),
    /// `/export [SEGMENT]`.
    Export(Parsed),
    /// `/stats [PERIOD]`.
    Stats(Parsed),
    /// `/apikey …`.
    ApiKey(Parsed),
}

/// A command parsed and authorized by the table whose work belongs to a feature above the
/// commands (the relay's spam gate): the caller runs it, so the relay need not be imported
/// here (no cycle between the two).
#[derive(Debug)]
pub enum HandedBack {
    /// `/admit USER|all` (the relay's spam gate).
    Admit(Parsed),
}

impl Command {
    /// Applies the command where it was typed (`dialog` is the topic's dialog); a command
    /// run by the caller comes back as [`HandedBack`].
    async fn apply(
        self,
        ctx: &Context,
        tx: &mut Tx,
        msg: &Value,
        dialog: Option<&Dialog>,
    ) -> Result<Option<HandedBack>, StoreError> {
        if let (Command::Admit(p), None) = (&self, dialog) {
            return Ok(Some(HandedBack::Admit(p.clone())));
        }
        let reply_to = msg["message_id"].as_i64();
        let from = msg["from"]["id"].as_i64();
        let done = match (self, dialog) {
            (Command::Help, d) => help::help(ctx, tx, msg, d.map(|d| d.id)).await,
            (Command::Say(p), d) => say::run(ctx, tx, msg, d, &p).await,
            (Command::Mark(p), Some(d)) => mark::topic(ctx, tx, msg, d, &p).await,
            (Command::Mark(p), None) => mark::general(ctx, tx, msg, &p).await,
            (Command::Info, Some(d)) => help::info(ctx, tx, msg, d).await,
            (Command::Status(c), Some(d)) => status::run(ctx, tx, d, c, from).await,
            (Command::Take, Some(d)) => assign::take(ctx, tx, msg, d).await,
            (Command::Assign(t), Some(d)) => assign::assign(ctx, tx, msg, d, t).await,
            (Command::Unassign, Some(d)) => assign::unassign(ctx, tx, msg, d).await,
            (Command::Ban(on), Some(d)) => ban::run(ctx, tx, d, on, reply_to).await,
            (Command::Bot(op), Some(d)) => bot::run(ctx, tx, d, op, from, reply_to).await,
            (Command::New(p), None) => new::run(ctx, tx, &p, reply_to).await,
            (Command::Set(p), None) => settings::set(ctx, tx, msg, &p).await,
            (Command::Get(p), None) => settings::get(ctx, tx, msg, &p).await,
            (Command::Send(p), None) => crate::broadcast::command(ctx, tx, msg, &p).await,
            (Command::Export(p), None) => crate::export::command(ctx, tx, msg, &p).await,
            (Command::Stats(p), None) => crate::stats::command(ctx, tx, msg, &p).await,
            (Command::ApiKey(p), None) => crate::api::admin::apikey(ctx, tx, msg, &p).await,
            (c, d) => {
                // The table's `place` keeps this from happening; the unit tests check it.
                tracing::error!(command = ?c, in_topic = d.is_some(), "command row and handler disagree on the place");
                Ok(())
            }
        };
        done.map(|()| None)
    }
}

/// A command typed in a dialog topic.
pub async fn topic(
    ctx: &Context,
    tx: &mut Tx,
    msg: &Value,
    dialog: &Dialog,
    cmd: &Parsed,
) -> Result<(), StoreError> {
    // No topic command is handed back (the table's places are checked by the unit tests).
    dispatch(ctx, tx, msg, Some(dialog), cmd).await.map(|_| ())
}

/// A command typed in General; the caller runs what comes back.
pub async fn general(
    ctx: &Context,
    tx: &mut Tx,
    msg: &Value,
    cmd: &Parsed,
) -> Result<Option<HandedBack>, StoreError> {
    dispatch(ctx, tx, msg, None, cmd).await
}

/// What the table says about a command name typed in a topic or in General.
#[derive(Debug)]
enum Lookup {
    /// Run this row.
    Run(&'static Spec),
    /// A known command, but not here: it works in this other place.
    Elsewhere(Place),
    /// Not a built-in command.
    Unknown,
}

fn lookup(name: &str, in_topic: bool) -> Lookup {
    let mut elsewhere = None;
    for spec in table().filter(|s| s.answers_to(name)) {
        if spec.place.includes(in_topic) {
            return Lookup::Run(spec);
        }
        elsewhere.get_or_insert(spec.place);
    }
    elsewhere.map_or(Lookup::Unknown, Lookup::Elsewhere)
}

async fn dispatch(
    ctx: &Context,
    tx: &mut Tx,
    msg: &Value,
    dialog: Option<&Dialog>,
    cmd: &Parsed,
) -> Result<Option<HandedBack>, StoreError> {
    let reply_to = msg["message_id"].as_i64();
    let at = dialog.map(|d| d.id);
    match lookup(&cmd.name, dialog.is_some()) {
        Lookup::Run(spec) => {
            if spec.who == Who::Admin && !require_admin(ctx, tx, msg, at).await? {
                return Ok(None);
            }
            (spec.parse)(cmd).apply(ctx, tx, msg, dialog).await
        }
        Lookup::Elsewhere(place) => {
            let text = format!("/{} works in {}.", cmd.name, place_name(place));
            answer(ctx, tx, at, reply_to, text).await.map(|()| None)
        }
        Lookup::Unknown => unknown(ctx, tx, msg, at, cmd, reply_to)
            .await
            .map(|()| None),
    }
}

fn place_name(place: Place) -> &'static str {
    match place {
        Place::General => "General",
        Place::Topic | Place::Both => "a dialog topic",
    }
}

/// The Telegram `/` menu for a scope: the group's members see the operator commands,
/// administrators (and EXTENSIONS_ALLOWED people) see the admin ones too.
pub fn menu(who: Who) -> Vec<BotCommand> {
    let mut list: Vec<BotCommand> = Vec::new();
    for spec in table().filter(|s| who == Who::Admin || s.who == Who::Operator) {
        if list.iter().all(|c| c.command != spec.name) {
            list.push(BotCommand {
                command: spec.name.into(),
                description: spec.menu.into(),
            });
        }
    }
    list
}

async fn unknown(
    ctx: &Context,
    tx: &mut Tx,
    msg: &Value,
    dialog: Option<i64>,
    cmd: &Parsed,
    reply_to: Option<i64>,
) -> Result<(), StoreError> {
    if crate::api::commands::custom(ctx, tx, msg, dialog, cmd).await? {
        return Ok(());
    }
    let text = format!(
        "Unknown command /{}. It was not sent to the user. /help lists the commands.",
        html(&cmd.name)
    );
    answer(ctx, tx, dialog, reply_to, text).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(name: &str, args: &str) -> Parsed {
        Parsed {
            name: name.into(),
            bot: None,
            args: args.into(),
        }
    }

    #[test]
    fn every_command_has_a_menu_entry_and_a_help_line_and_vice_versa() {
        let admin_menu = menu(Who::Admin);
        let operator_menu = menu(Who::Operator);
        let help_lines = |in_topic: bool, admin: bool| -> Vec<String> {
            help::text(in_topic, admin)
                .lines()
                .filter(|l| l.starts_with('/'))
                .map(str::to_string)
                .collect()
        };
        for spec in table() {
            assert!(
                admin_menu.iter().any(|c| c.command == spec.name),
                "/{} is not in the admins' menu",
                spec.name
            );
            assert_eq!(
                operator_menu.iter().any(|c| c.command == spec.name),
                table().any(|s| s.name == spec.name && s.who == Who::Operator),
                "/{} in the members' menu",
                spec.name
            );
            assert!(
                spec.help.starts_with(&format!("/{}", spec.name)),
                "help line of /{}",
                spec.name
            );
            for in_topic in [true, false] {
                let admin = help_lines(in_topic, true);
                let operator = help_lines(in_topic, false);
                let shown = |lines: &[String]| lines.iter().any(|l| l == spec.help);
                // Admin rows are listed in every /help an admin gets; operator rows where
                // they work.
                let expected = match spec.who {
                    Who::Admin => true,
                    Who::Operator => spec.place.includes(in_topic),
                };
                assert_eq!(
                    shown(&admin),
                    expected,
                    "/{} in_topic={in_topic}",
                    spec.name
                );
                assert_eq!(
                    shown(&operator),
                    expected && spec.who == Who::Operator,
                    "/{} for an operator, in_topic={in_topic}",
                    spec.name
                );
            }
        }
        // Vice versa: nothing in a menu or /help that is not a row.
        for c in &admin_menu {
            let row = table().find(|s| s.name == c.command).expect("a row");
            assert_eq!(c.description, row.menu);
            let ok = c.command.len() <= 32
                && c.command
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
                && (1..=256).contains(&c.description.chars().count());
            assert!(ok, "setMyCommands limits: {c:?}");
        }
        for in_topic in [true, false] {
            for line in help_lines(in_topic, true) {
                assert!(
                    table().any(|s| s.help == line),
                    "a /help line without a row: {line}"
                );
            }
        }
    }

    #[test]
    fn every_name_parses_to_a_command_that_runs_where_its_row_says() {
        for spec in table() {
            for name in std::iter::once(&spec.name).chain(spec.aliases) {
                for in_topic in [true, false] {
                    let found = lookup(name, in_topic);
                    if spec.place.includes(in_topic) {
                        assert!(
                            matches!(found, Lookup::Run(s) if s.name == spec.name),
                            "/{name}"
                        );
                    } else if !table().any(|s| s.answers_to(name) && s.place.includes(in_topic)) {
                        assert!(
                            matches!(found, Lookup::Elsewhere(p) if p == spec.place),
                            "/{name}"
                        );
                    }
                }
            }
            // Topic-only commands need the dialog, General-only ones must not get one:
            // a parsed command is applied exactly where its row puts it.
            let cmd = (spec.parse)(&parsed(spec.name, ""));
            let needs_topic = matches!(
                cmd,
                Command::Info | Command::Status(_) | Command::Ban(_) | Command::Bot(_)
            );
            let needs_general = matches!(
                cmd,
                Command::New(_)
                    | Command::Admit(_)
                    | Command::Set(_)
                    | Command::Get(_)
                    | Command::Send(_)
                    | Command::Export(_)
                    | Command::Stats(_)
                    | Command::ApiKey(_)
            );
            assert!(!needs_topic || spec.place == Place::Topic, "/{}", spec.name);
            assert!(
                !needs_general || spec.place == Place::General,
                "/{}",
                spec.name
            );
        }
        assert!(matches!(
            lookup("set", true),
            Lookup::Elsewhere(Place::General)
        ));
        assert!(matches!(
            lookup("info", false),
            Lookup::Elsewhere(Place::Topic)
        ));
        assert!(matches!(lookup("nothing", false), Lookup::Unknown));
        assert!(matches!(lookup("start", true), Lookup::Run(s) if s.name == "help"));
    }
}
