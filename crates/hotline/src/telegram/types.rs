//! The few Bot API objects Hotline reads. Each keeps every other field in `extra`, so
//! nothing Telegram adds is lost if the value is passed on.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A Telegram user (or bot).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// User id.
    pub id: i64,
    /// Whether this is a bot.
    #[serde(default)]
    pub is_bot: bool,
    /// First name.
    pub first_name: String,
    /// Last name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Username without `@`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Client language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_code: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A chat as returned by getChat (ChatFullInfo) or embedded in a message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Chat {
    /// Chat id.
    pub id: i64,
    /// `private`, `group`, `supergroup` or `channel`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Group title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Whether topics are enabled (required for a backend group).
    #[serde(default)]
    pub is_forum: bool,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A sent or edited message: only ids are read, the rest stays raw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Message id within its chat.
    pub message_id: i64,
    /// Topic id for topic messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_thread_id: Option<i64>,
    /// The chat.
    pub chat: Chat,
    /// Unix seconds.
    #[serde(default)]
    pub date: i64,
    /// Album id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_group_id: Option<String>,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Result of copyMessage / copyMessages / forwardMessages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageId {
    /// The new message's id.
    pub message_id: i64,
}

/// A member's status in a chat; Hotline checks admin rights and `can_manage_topics`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChatMember {
    /// `creator`, `administrator`, `member`, `restricted`, `left`, `kicked`.
    pub status: String,
    /// The member.
    pub user: User,
    /// Administrators only.
    #[serde(default)]
    pub can_manage_topics: bool,
    /// Everything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChatMember {
    /// Creator or administrator.
    pub fn is_admin(&self) -> bool {
        self.status == "creator" || self.status == "administrator"
    }
}

/// A forum topic as created.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ForumTopic {
    /// The topic's thread id.
    pub message_thread_id: i64,
    /// Title.
    pub name: String,
    /// Icon colour (RGB).
    #[serde(default)]
    pub icon_color: i64,
    /// Custom emoji icon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon_custom_emoji_id: Option<String>,
}

/// A file ready to download.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct File {
    /// Id to reuse the file.
    pub file_id: String,
    /// Stable id.
    pub file_unique_id: String,
    /// Size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_size: Option<i64>,
    /// Path for `/file/bot<token>/<path>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_path: Option<String>,
}

/// A command for the bot's menu.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotCommand {
    /// 1-32 chars, lowercase, digits and underscores.
    pub command: String,
    /// 1-256 chars.
    pub description: String,
}

/// A file sent in a multipart request, built in memory (CSV reports, charts).
#[derive(Clone, Debug)]
pub struct InputFile {
    /// The form field: the parameter name (`document`) or an `attach://name` target.
    pub field: String,
    /// File name shown to users.
    pub file_name: String,
    /// MIME type, e.g. `text/csv`.
    pub mime: Option<String>,
    /// Contents.
    pub bytes: bytes::Bytes,
}
