//! Group membership as Telegram shows it: ChatMember objects, and the updates a change
//! sends — `my_chat_member` to a bot whose own status or rights changed (always), and
//! `chat_member` to the other administrator bots of the group (only those that listed it
//! in `allowed_updates`, which the default list does not).

use serde_json::{json, Value};

use super::{now, ChatKey, Member, World};

/// The statuses the emulator models ("restricted" is not).
pub const STATUSES: &[&str] = &["creator", "administrator", "member", "left", "kicked"];

/// Administrator rights listed by ChatMemberAdministrator, all required in the object.
const ADMIN_RIGHTS: &[&str] = &[
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_pin_messages",
    "can_manage_topics",
];

impl Member {
    /// Someone who is not (or no longer) in the group.
    pub fn left() -> Self {
        Self::with("left", json!({}))
    }

    /// A membership with a status and (for administrators) rights.
    pub fn with(status: &str, rights: Value) -> Self {
        Self {
            status: status.to_string(),
            rights,
            until_date: 0,
        }
    }

    /// Whether this is someone in the group (not left, not banned).
    pub fn is_in(&self) -> bool {
        !matches!(self.status.as_str(), "left" | "kicked")
    }
}

/// The ChatMember object of `user` with membership `m`.
pub fn member_json(world: &World, user: i64, m: &Member) -> Value {
    let user_json = world.user_json(user).unwrap_or(json!({"id": user}));
    match m.status.as_str() {
        "creator" => json!({"status": "creator", "user": user_json, "is_anonymous": false}),
        "administrator" => {
            let mut a = json!({"status": "administrator", "user": user_json, "can_be_edited": false, "is_anonymous": false});
            for r in ADMIN_RIGHTS {
                a[*r] = json!(m.rights[*r].as_bool().unwrap_or(false));
            }
            a
        }
        "kicked" => json!({"status": "kicked", "user": user_json, "until_date": m.until_date}),
        "left" => json!({"status": "left", "user": user_json}),
        _ => json!({"status": "member", "user": user_json}),
    }
}

/// A ChatMemberUpdated object.
pub fn member_updated(world: &World, chat: &Value, by: i64, old: Value, new: Value) -> Value {
    json!({"chat": chat, "from": world.user_json(by).unwrap_or(json!({"id": by})), "date": now(),
        "old_chat_member": old, "new_chat_member": new})
}

impl World {
    /// Sets the membership of a person or bot in a group as `by` did it, and sends the
    /// updates Telegram sends (none when nothing visible changed). Without `by`, people
    /// join and leave by themselves and everything else is the group's creator's doing.
    pub fn change_member(
        &mut self,
        group: i64,
        user: i64,
        new: Member,
        by: Option<i64>,
    ) -> Result<(), String> {
        if !STATUSES.contains(&new.status.as_str()) {
            return Err(format!(
                "status must be one of {}, got {:?}",
                STATUSES.join(", "),
                new.status
            ));
        }
        if self.user_json(user).is_none() {
            return Err(format!("user {user} not found"));
        }
        let key = ChatKey::Group(group);
        let chat = self
            .chats
            .get(&key)
            .ok_or_else(|| format!("group {group} not found"))?;
        let old = chat
            .members
            .get(&user)
            .cloned()
            .unwrap_or_else(Member::left);
        let is_bot = self.bots.contains_key(&user);
        let by = by.unwrap_or_else(|| {
            let joins = !old.is_in() && new.status == "member";
            let leaves = old.is_in() && new.status == "left";
            let own_doing = !is_bot && (joins || leaves);
            let creator = chat
                .members
                .iter()
                .find(|(_, m)| m.status == "creator")
                .map(|(id, _)| *id);
            match creator {
                Some(c) if !own_doing => c,
                _ => user,
            }
        });
        let chat_json = chat.json.clone();
        let (old_json, new_json) = (member_json(self, user, &old), member_json(self, user, &new));
        self.chat_mut(key).members.insert(user, new);
        if old_json == new_json {
            return Ok(());
        }
        let update = member_updated(self, &chat_json, by, old_json, new_json);
        if is_bot {
            self.push_update(user, "my_chat_member", update.clone());
        }
        let mut watchers: Vec<i64> = self
            .chat(key)
            .members
            .iter()
            .filter(|(id, m)| **id != user && self.bots.contains_key(id) && m.is_admin())
            .map(|(id, _)| *id)
            .collect();
        watchers.sort_unstable();
        for bot in watchers {
            self.push_update(bot, "chat_member", update.clone());
        }
        Ok(())
    }
}
