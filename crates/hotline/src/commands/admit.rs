//! `/admit USER_ID|@username|all` in General: contacts waiting at the spam gate
//! (`NEW_TOPICS_PER_HOUR`) get their topics now, with the messages they wrote meanwhile.

//!
//! The table row lives here (menus, /help, the admin check); the command is handed back
//! ([`super::HandedBack::Admit`]) and run by the relay's spam gate (`relay::gate::command`),
//! which owns the admission.

use super::{Command, Place, Spec, Who};

/// The rows of this family.
pub(super) const COMMANDS: &[Spec] = &[Spec {
    name: "admit",
    aliases: &[],
    place: Place::General,
    who: Who::Admin,
    menu: "Let contacts waiting at the spam gate in",
    help: "/admit USER_ID, /admit @username or /admit all — give contacts waiting at the spam gate (NEW_TOPICS_PER_HOUR) their topics",
    parse: |p| Command::Admit(p.clone()),
}];
