//! Uploaded media: avatars and message attachments, stored once per content (addressed by the
//! SHA-256 of the bytes the server keeps) and recorded per use, so that who may read a file
//! follows from why it was uploaded.

use serde::{Deserialize, Serialize};

use super::{ChatId, Timestamp};

/// Why a file was uploaded, which decides who may read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// A user's picture: any signed-in user may read it.
    Avatar,
    /// A file shared in a chat: only the chat's members may read it.
    Attachment,
}

impl MediaKind {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Avatar => "avatar",
            MediaKind::Attachment => "attachment",
        }
    }

    /// The kind with this stored name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "avatar" => Some(MediaKind::Avatar),
            "attachment" => Some(MediaKind::Attachment),
            _ => None,
        }
    }
}

/// One upload as recorded: the same bytes uploaded twice (two chats, say) are stored once and
/// recorded twice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    /// The content's address: the lowercase hex SHA-256 of the stored bytes.
    pub id: String,
    /// Avatar or attachment.
    pub kind: MediaKind,
    /// Who uploaded it.
    pub owner: String,
    /// For an attachment: the chat it was shared in.
    #[serde(rename = "chatId", default, skip_serializing_if = "Option::is_none")]
    pub chat: Option<ChatId>,
    /// The file name to offer on download (sanitized: no path, no control characters).
    pub name: String,
    /// The type detected from the content (never the client's word for it).
    #[serde(rename = "contentType")]
    pub content_type: String,
    /// Bytes stored.
    pub size: u64,
    /// An image's width in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// An image's height in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// An image's thumbnail: the address of its bytes (a JPEG or PNG).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<String>,
    /// When it was uploaded.
    #[serde(rename = "createdAt")]
    pub created_at: Timestamp,
}

/// An upload to record (its bytes are in the media store already).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMedia {
    /// The content's address (see [`Media::id`]).
    pub id: String,
    /// Avatar or attachment.
    pub kind: MediaKind,
    /// Who uploads it (must exist; for an attachment, a member of `chat`).
    pub owner: String,
    /// For an attachment: the chat (required); for an avatar: none.
    pub chat: Option<ChatId>,
    /// See [`Media::name`].
    pub name: String,
    /// See [`Media::content_type`].
    pub content_type: String,
    /// See [`Media::size`].
    pub size: u64,
    /// See [`Media::width`].
    pub width: Option<u32>,
    /// See [`Media::height`].
    pub height: Option<u32>,
    /// See [`Media::thumbnail`].
    pub thumbnail: Option<String>,
    /// When.
    pub at: Timestamp,
}

impl NewMedia {
    /// The record this upload becomes.
    pub fn into_media(self) -> Media {
        Media {
            id: self.id,
            kind: self.kind,
            owner: self.owner,
            chat: self.chat,
            name: self.name,
            content_type: self.content_type,
            size: self.size,
            width: self.width,
            height: self.height,
            thumbnail: self.thumbnail,
            created_at: self.at,
        }
    }
}

/// A file a message carries: an attachment of the message's chat, as it was recorded when the
/// message was posted (the bytes at [`id`](Self::id) never change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// The content's address: download it from `/api/media/<id>`.
    pub id: String,
    /// The file name to offer.
    pub name: String,
    /// The type detected from the content.
    #[serde(rename = "contentType")]
    pub content_type: String,
    /// Bytes.
    pub size: u64,
    /// An image's width in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    /// An image's height in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// An image's thumbnail's address (`/api/media/<id>/thumbnail` serves it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail: Option<String>,
}

impl Attachment {
    /// An attachment named by its address only, as a client sends it; the server fills in the
    /// rest from the record of the upload (see [`Attachment::from_media`]).
    pub fn named(id: impl Into<String>) -> Self {
        Attachment {
            id: id.into(),
            name: String::new(),
            content_type: String::new(),
            size: 0,
            width: None,
            height: None,
            thumbnail: None,
        }
    }

    /// The attachment an upload's record describes.
    pub fn from_media(media: &Media) -> Self {
        Attachment {
            id: media.id.clone(),
            name: media.name.clone(),
            content_type: media.content_type.clone(),
            size: media.size,
            width: media.width,
            height: media.height,
            thumbnail: media.thumbnail.clone(),
        }
    }

    /// Whether only the address is known yet.
    pub fn is_unresolved(&self) -> bool {
        self.content_type.is_empty()
    }
}
