//! The rows of commands whose handlers live with the feature that owns them: `/send`
//! (broadcast), `/export`, `/stats` and `/apikey` (the REST API). Admins only, in General.

use super::{Command, Place, Spec, Who};

/// The rows of this family.
pub(super) const COMMANDS: &[Spec] = &[
    Spec {
        name: "send",
        aliases: &[],
        place: Place::General,
        who: Who::Admin,
        menu: "Broadcast the replied message: /send SEGMENT",
        help: "/send all|test|SEGMENT|list IDS [at DATE TIME|in 2h] — as a reply: broadcast it; \
               /send lists, /send pause|resume|cancel N",
        parse: |p| Command::Send(p.clone()),
    },
    Spec {
        name: "export",
        aliases: &[],
        place: Place::General,
        who: Who::Admin,
        menu: "Contacts as CSV: /export [SEGMENT]",
        help: "/export [SEGMENT] — contacts as CSV",
        parse: |p| Command::Export(p.clone()),
    },
    Spec {
        name: "stats",
        aliases: &[],
        place: Place::General,
        who: Who::Admin,
        menu: "Team analytics: /stats [7d]",
        help: "/stats [today|7d|30d|FROM..TO] — team analytics with a chart",
        parse: |p| Command::Stats(p.clone()),
    },
    Spec {
        name: "apikey",
        aliases: &[],
        place: Place::General,
        who: Who::Admin,
        menu: "REST API keys: /apikey new NAME",
        help: "/apikey — REST API keys: /apikey new NAME, /apikey revoke ID",
        parse: |p| Command::ApiKey(p.clone()),
    },
];
