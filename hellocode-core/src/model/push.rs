//! Push notifications: a device's pusher (in the shape of Matrix's push gateway API, so that a
//! gateway such as Sygnal relays to FCM and APNs), a user's push settings, and the queue of
//! notifications waiting for their gateway.

use serde::{Deserialize, Serialize};

use super::{ChatId, Timestamp};

/// The path every push gateway answers on (Matrix push gateway API, `POST`).
pub const NOTIFY_PATH: &str = "/_matrix/push/v1/notify";
/// Longest app id, in bytes (Matrix's limit).
pub const MAX_APP_ID_BYTES: usize = 64;
/// Longest push key, in bytes (Matrix's limit).
pub const MAX_PUSHKEY_BYTES: usize = 512;
/// Longest gateway URL, in bytes.
pub const MAX_PUSH_URL_BYTES: usize = 512;
/// Longest device name or language tag, in characters.
pub const MAX_DEVICE_NAME_CHARS: usize = 128;
/// Most pushers one user may have (one per device and app).
pub const MAX_PUSHERS_PER_USER: usize = 20;

/// A device's registration for push notifications: where its gateway is and the key the gateway
/// knows the device by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pusher {
    /// The app the device runs, reverse-DNS style (`org.example.chat.android`): the gateway
    /// picks its FCM or APNs credentials by it.
    #[serde(rename = "appId")]
    pub app_id: String,
    /// The device's token at FCM or APNs, as the gateway expects it.
    pub pushkey: String,
    /// The gateway's notify URL (`https://push.example.org/_matrix/push/v1/notify`).
    pub url: String,
    /// A name the user recognises the device by.
    #[serde(rename = "deviceName", default)]
    pub device_name: String,
    /// The device's language tag (`en`, `fr-FR`), empty when not told.
    #[serde(default)]
    pub lang: String,
    /// Whether notifications carry the message's text; without, they say only who wrote in
    /// which chat.
    pub previews: bool,
    /// When it was registered (or last changed).
    #[serde(rename = "createdAt")]
    pub created_at: Timestamp,
}

/// A pusher to register: see [`Pusher`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPusher {
    /// See [`Pusher::app_id`].
    pub app_id: String,
    /// See [`Pusher::pushkey`].
    pub pushkey: String,
    /// See [`Pusher::url`].
    pub url: String,
    /// See [`Pusher::device_name`].
    pub device_name: String,
    /// See [`Pusher::lang`].
    pub lang: String,
    /// See [`Pusher::previews`].
    pub previews: bool,
    /// When.
    pub at: Timestamp,
}

impl NewPusher {
    /// The stored pusher.
    pub fn into_pusher(self) -> Pusher {
        Pusher {
            app_id: self.app_id,
            pushkey: self.pushkey,
            url: self.url,
            device_name: self.device_name,
            lang: self.lang,
            previews: self.previews,
            created_at: self.at,
        }
    }

    /// `Err` with what is wrong, for a client: empty or overlong fields, U+0000, or a URL that
    /// is not a gateway's notify URL (see [`check_push_url`]).
    ///
    /// ```
    /// use hellocode_core::model::{NewPusher, Timestamp};
    /// let pusher = NewPusher {
    ///     app_id: "org.example.chat".into(),
    ///     pushkey: "device-token".into(),
    ///     url: "https://push.example.org/_matrix/push/v1/notify".into(),
    ///     device_name: "Ada's phone".into(),
    ///     lang: "en".into(),
    ///     previews: true,
    ///     at: Timestamp::now(),
    /// };
    /// assert!(pusher.check().is_ok());
    /// let ftp = NewPusher { url: "ftp://push.example.org/_matrix/push/v1/notify".into(), ..pusher };
    /// assert!(ftp.check().is_err());
    /// ```
    pub fn check(&self) -> Result<(), String> {
        let fields = [
            ("appId", &self.app_id, MAX_APP_ID_BYTES),
            ("pushkey", &self.pushkey, MAX_PUSHKEY_BYTES),
            ("url", &self.url, MAX_PUSH_URL_BYTES),
        ];
        for (field, value, max) in fields {
            if value.is_empty() || value.len() > max {
                return Err(format!("{field} must be 1 to {max} bytes"));
            }
            if value.chars().any(char::is_control) {
                return Err(format!("{field} must not contain control characters"));
            }
        }
        for (field, value) in [("deviceName", &self.device_name), ("lang", &self.lang)] {
            if value.chars().count() > MAX_DEVICE_NAME_CHARS || value.contains('\0') {
                return Err(format!(
                    "{field} must be at most {MAX_DEVICE_NAME_CHARS} characters, without U+0000"
                ));
            }
        }
        check_push_url(&self.url).map(|_| ())
    }
}

/// A gateway URL's parts that matter for checking where it points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushUrl<'a> {
    /// `http` or `https`.
    pub scheme: &'a str,
    /// The host as written (a name, an IPv4 address, or an IPv6 address without brackets).
    pub host: &'a str,
    /// The port, or the scheme's default.
    pub port: u16,
}

/// Check that `url` is a push gateway's notify URL: `http` or `https`, a host, no user
/// information, and the path [`NOTIFY_PATH`] with no query or fragment. Whether the host is
/// the server itself is for the server to check; this returns the parts it needs.
///
/// ```
/// use hellocode_core::model::check_push_url;
/// let url = check_push_url("http://[::1]:5000/_matrix/push/v1/notify")?;
/// assert_eq!((url.host, url.port), ("::1", 5000));
/// assert!(check_push_url("http://gateway/notify").is_err());
/// assert!(check_push_url("https://user@gateway/_matrix/push/v1/notify").is_err());
/// # Ok::<(), String>(())
/// ```
pub fn check_push_url(url: &str) -> Result<PushUrl<'_>, String> {
    let (scheme, rest) = url
        .split_once("://")
        .filter(|(scheme, _)| matches!(*scheme, "http" | "https"))
        .ok_or_else(|| "url must be an http or https URL".to_owned())?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if path != NOTIFY_PATH {
        return Err(format!("url must be a push gateway's {NOTIFY_PATH} (no query)"));
    }
    if authority.contains('@') {
        return Err("url must not hold a user name or password".to_owned());
    }
    let default_port = if scheme == "https" { 443 } else { 80 };
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) =
            bracketed.split_once(']').ok_or_else(|| "url has an unclosed '['".to_owned())?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(port) => port.parse().map_err(|_| format!("url has a bad port {port:?}"))?,
        None => default_port,
    };
    let valid_host = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':');
    if host.is_empty() || !host.chars().all(valid_host) {
        return Err("url must name a host".to_owned());
    }
    Ok(PushUrl { scheme, host, port })
}

/// A user's pushers and the chats they muted: the answer to every push settings command.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushSettings {
    /// Their devices' pushers, by app id then push key.
    pub pushers: Vec<Pusher>,
    /// The chats whose messages notify none of their devices, by id.
    #[serde(rename = "mutedChats")]
    pub muted_chats: Vec<ChatId>,
}

/// A pusher to notify of a chat's new message: one of the chat's members who did not mute it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushTarget {
    /// The member.
    pub username: String,
    /// One of their pushers.
    pub pusher: Pusher,
    /// The posts of the chat they have not read (others' posts past their read position).
    pub unread: u64,
    /// The chat's name if it is a group (a direct chat has none).
    pub room_name: Option<String>,
}

/// A notification to queue for a pusher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPush {
    /// The pusher's app id.
    pub app_id: String,
    /// The pusher's push key.
    pub pushkey: String,
    /// The request body for its gateway (JSON).
    pub body: String,
    /// When to send it first.
    pub due: Timestamp,
}

/// A queued notification, claimed for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedPush {
    /// Its id in the queue.
    pub id: i64,
    /// The pusher's app id.
    pub app_id: String,
    /// The pusher's push key.
    pub pushkey: String,
    /// The gateway's URL (the pusher's, as it is now).
    pub url: String,
    /// The request body.
    pub body: String,
    /// How many sends failed before.
    pub attempts: u32,
}
