//! Stored files: what `file_id`s point to and what `getFile` and downloads serve.

use bytes::Bytes;
use rand::{distributions::Alphanumeric, Rng};
use serde_json::{json, Value};

use super::World;
use crate::error::{ApiError, ApiResult};
use crate::params::FileRef;

/// The kinds of files Telegram distinguishes (a file id of one kind can't be sent as another).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A photo size.
    Photo,
    /// A video.
    Video,
    /// A GIF or silent video.
    Animation,
    /// Music.
    Audio,
    /// A voice note.
    Voice,
    /// A round video.
    VideoNote,
    /// Any file.
    Document,
    /// A sticker.
    Sticker,
}

impl FileKind {
    /// The kind for a content field name ("photo", "video_note"...).
    pub fn from_field(field: &str) -> Option<Self> {
        Some(match field {
            "photo" => Self::Photo,
            "video" => Self::Video,
            "animation" => Self::Animation,
            "audio" => Self::Audio,
            "voice" => Self::Voice,
            "video_note" => Self::VideoNote,
            "document" => Self::Document,
            "sticker" => Self::Sticker,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Photo => "Photo",
            Self::Video => "Video",
            Self::Animation => "Animation",
            Self::Audio => "Audio",
            Self::Voice => "Voice",
            Self::VideoNote => "VideoNote",
            Self::Document => "Document",
            Self::Sticker => "Sticker",
        }
    }

    fn dir(self) -> &'static str {
        match self {
            Self::Photo => "photos",
            Self::Video => "videos",
            Self::Animation => "animations",
            Self::Audio => "music",
            Self::Voice => "voice",
            Self::VideoNote => "video_notes",
            Self::Document => "documents",
            Self::Sticker => "stickers",
        }
    }
}

/// One stored file.
#[derive(Debug, Clone)]
pub struct FileRec {
    /// Its kind.
    pub kind: FileKind,
    /// Stable across bots and re-sends.
    pub file_unique_id: String,
    /// Path under `/file/bot<token>/`.
    pub file_path: String,
    /// Content.
    pub data: Bytes,
    /// The media object (Video, Document, ... or the PhotoSize array for photos) sent
    /// whenever this file id is used again.
    pub media: Value,
}

fn random(n: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

impl World {
    /// Turns an InputFile into the media object of a new message (storing uploads).
    pub fn media_for(&mut self, kind: FileKind, file: FileRef, extra: &Value) -> ApiResult<Value> {
        let (data, filename, mime) = match file {
            FileRef::FileId(id) => {
                let rec = self.files.get(&id).ok_or_else(|| {
                    ApiError::bad_request("wrong file identifier/HTTP URL specified")
                })?;
                if rec.kind != kind
                    && !(rec.kind == FileKind::Document && kind == FileKind::Document)
                {
                    return Err(ApiError::bad_request(format!(
                        "can't use file of type {} as {}",
                        rec.kind.name(),
                        kind.name()
                    )));
                }
                return Ok(rec.media.clone());
            }
            FileRef::Url(url) => {
                // Telegram would download it; offline, the URL itself stands in for the bytes.
                let name = url
                    .rsplit('/')
                    .next()
                    .filter(|n| !n.is_empty())
                    .map(str::to_string);
                (Bytes::from(url.into_bytes()), name, None)
            }
            FileRef::Upload(u) => (u.data, u.filename, u.content_type),
        };
        if data.is_empty() {
            return Err(ApiError::bad_request("file must be non-empty"));
        }
        let size = data.len();
        let new_file = |world: &mut World, kind: FileKind, ext: &str| {
            let file_id = format!("{}{}", kind_prefix(kind), random(40));
            let unique = format!("AQAD{}", random(12));
            let n = world.files.len();
            let rec = FileRec {
                kind,
                file_unique_id: unique.clone(),
                file_path: format!("{}/file_{n}.{ext}", kind.dir()),
                data: data.clone(),
                media: Value::Null,
            };
            world.files.insert(file_id.clone(), rec);
            (file_id, unique)
        };
        let int = |k: &str, d: i64| extra.get(k).and_then(Value::as_i64).unwrap_or(d);
        let media = match kind {
            FileKind::Photo => {
                let (small, small_u) = new_file(self, kind, "jpg");
                let (big, big_u) = new_file(self, kind, "jpg");
                json!([
                    {"file_id": small, "file_unique_id": small_u, "file_size": size.min(1000), "width": 90, "height": 67},
                    {"file_id": big, "file_unique_id": big_u, "file_size": size, "width": int("width", 1280), "height": int("height", 960)}
                ])
            }
            _ => {
                let ext = filename
                    .as_deref()
                    .and_then(|f| f.rsplit_once('.'))
                    .map(|(_, e)| e.to_string());
                let default_ext = match kind {
                    FileKind::Voice => "oga",
                    FileKind::Audio => "mp3",
                    FileKind::Sticker => "webp",
                    FileKind::Document => "bin",
                    _ => "mp4",
                };
                let (id, unique) = new_file(self, kind, ext.as_deref().unwrap_or(default_ext));
                let mut m = json!({"file_id": id, "file_unique_id": unique, "file_size": size});
                let duration = int("duration", 5);
                match kind {
                    FileKind::Video | FileKind::Animation => {
                        m["width"] = json!(int("width", 640));
                        m["height"] = json!(int("height", 360));
                        m["duration"] = json!(duration);
                        m["mime_type"] = json!(mime.clone().unwrap_or_else(|| "video/mp4".into()));
                    }
                    FileKind::Audio => {
                        m["duration"] = json!(duration);
                        m["mime_type"] = json!(mime.clone().unwrap_or_else(|| "audio/mpeg".into()));
                        for k in ["performer", "title"] {
                            if let Some(v) = extra.get(k).filter(|v| v.is_string()) {
                                m[k] = v.clone();
                            }
                        }
                    }
                    FileKind::Voice => {
                        m["duration"] = json!(duration);
                        m["mime_type"] = json!("audio/ogg");
                    }
                    FileKind::VideoNote => {
                        m["length"] = json!(int("length", 240));
                        m["duration"] = json!(duration);
                    }
                    FileKind::Sticker => {
                        m["type"] = json!("regular");
                        m["width"] = json!(512);
                        m["height"] = json!(512);
                        m["is_animated"] = json!(false);
                        m["is_video"] = json!(false);
                        m["emoji"] = extra.get("emoji").cloned().unwrap_or(json!("🙂"));
                    }
                    FileKind::Document | FileKind::Photo => {
                        m["mime_type"] = json!(mime
                            .clone()
                            .unwrap_or_else(|| "application/octet-stream".into()));
                    }
                }
                if let Some(f) = filename.filter(|_| {
                    matches!(
                        kind,
                        FileKind::Document
                            | FileKind::Video
                            | FileKind::Animation
                            | FileKind::Audio
                    )
                }) {
                    m["file_name"] = json!(f);
                }
                m
            }
        };
        // Re-sending any of these file ids yields this same media object.
        let ids: Vec<String> = match &media {
            Value::Array(sizes) => sizes
                .iter()
                .filter_map(|s| s["file_id"].as_str().map(str::to_string))
                .collect(),
            m => m["file_id"]
                .as_str()
                .map(str::to_string)
                .into_iter()
                .collect(),
        };
        for id in ids {
            if let Some(rec) = self.files.get_mut(&id) {
                rec.media = media.clone();
            }
        }
        Ok(media)
    }
}

fn kind_prefix(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Photo => "AgACAgIAAxkBAAI",
        FileKind::Video => "BAACAgIAAxkBAAI",
        FileKind::Animation => "CgACAgIAAxkBAAI",
        FileKind::Audio => "CQACAgIAAxkBAAI",
        FileKind::Voice => "AwACAgIAAxkBAAI",
        FileKind::VideoNote => "DQACAgIAAxkBAAI",
        FileKind::Document => "BQACAgIAAxkBAAI",
        FileKind::Sticker => "CAACAgIAAxkBAAI",
    }
}
