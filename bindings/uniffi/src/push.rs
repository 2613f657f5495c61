//! Push notifications: the pusher a device registers (`PusherSpec`), the settings every push
//! operation answers with (`PushSettings`, `Pusher`). The operations are `Client` methods
//! (`client.rs`). A pusher's `pushkey` is the device's FCM or APNs token: `Debug` leaves it out.

use hellocode_sdk as sdk;

/// A device's pusher to register with `Client.set_pusher`: the app, the device's push token
/// and the push gateway (Matrix's push gateway API; Sygnal relays to FCM and APNs).
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct PusherSpec {
    /// The app, reverse-DNS style (`org.example.chat.android`): the gateway picks its FCM or
    /// APNs credentials by it.
    pub app_id: String,
    /// The device's token from FCM or APNs.
    pub pushkey: String,
    /// The gateway's notify URL (`https://…/_matrix/push/v1/notify`).
    pub url: String,
    /// A name the user recognises the device by.
    #[uniffi(default)]
    pub device_name: Option<String>,
    /// The device's language tag (`en`, `fr-FR`).
    #[uniffi(default)]
    pub lang: Option<String>,
    /// Whether notifications carry the message's text (the server's default: yes).
    #[uniffi(default)]
    pub previews: Option<bool>,
}

impl std::fmt::Debug for PusherSpec {
    // Never print the device's token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PusherSpec")
            .field("app_id", &self.app_id)
            .field("url", &self.url)
            .field("device_name", &self.device_name)
            .field("lang", &self.lang)
            .field("previews", &self.previews)
            .finish_non_exhaustive()
    }
}

impl From<PusherSpec> for sdk::PusherSpec {
    fn from(spec: PusherSpec) -> Self {
        let mut out = sdk::PusherSpec::new(spec.app_id, spec.pushkey, spec.url);
        if let Some(name) = spec.device_name {
            out = out.device_name(name);
        }
        if let Some(lang) = spec.lang {
            out = out.lang(lang);
        }
        if let Some(previews) = spec.previews {
            out = out.previews(previews);
        }
        out
    }
}

/// A device's registered pusher.
#[derive(Clone, PartialEq, Eq, uniffi::Record)]
pub struct Pusher {
    /// The app, reverse-DNS style.
    pub app_id: String,
    /// The device's token at FCM or APNs.
    pub pushkey: String,
    /// The gateway's notify URL.
    pub url: String,
    /// A name the user recognises the device by (empty when not told).
    pub device_name: String,
    /// The device's language tag (empty when not told).
    pub lang: String,
    /// Whether notifications carry the message's text.
    pub previews: bool,
    /// When it was registered or last changed, in milliseconds since the Unix epoch.
    pub created_at_ms: i64,
}

impl std::fmt::Debug for Pusher {
    // Never print the device's token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pusher")
            .field("app_id", &self.app_id)
            .field("url", &self.url)
            .field("device_name", &self.device_name)
            .field("lang", &self.lang)
            .field("previews", &self.previews)
            .field("created_at_ms", &self.created_at_ms)
            .finish_non_exhaustive()
    }
}

impl From<sdk::Pusher> for Pusher {
    fn from(p: sdk::Pusher) -> Self {
        Pusher {
            app_id: p.app_id,
            pushkey: p.pushkey,
            url: p.url,
            device_name: p.device_name,
            lang: p.lang,
            previews: p.previews,
            created_at_ms: p.created_at.unix_millis(),
        }
    }
}

/// The caller's pushers and muted chats: what every push operation answers with.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PushSettings {
    /// Their devices' pushers, by app id then push key.
    pub pushers: Vec<Pusher>,
    /// The ids of the chats that notify none of their devices, ascending.
    pub muted_chats: Vec<i64>,
}

impl From<sdk::PushSettings> for PushSettings {
    fn from(s: sdk::PushSettings) -> Self {
        PushSettings {
            pushers: s.pushers.into_iter().map(Pusher::from).collect(),
            muted_chats: s.muted_chats.into_iter().map(|chat| chat.0).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_leaves_the_push_key_out() {
        let spec = PusherSpec {
            app_id: "org.example.chat".into(),
            pushkey: "device-token-secret".into(),
            url: "https://push.example.org/_matrix/push/v1/notify".into(),
            device_name: Some("Ada's phone".into()),
            lang: None,
            previews: Some(false),
        };
        assert!(!format!("{spec:?}").contains("device-token-secret"));
        let pusher = Pusher {
            app_id: spec.app_id.clone(),
            pushkey: spec.pushkey.clone(),
            url: spec.url.clone(),
            device_name: "Ada's phone".into(),
            lang: String::new(),
            previews: false,
            created_at_ms: 0,
        };
        let settings = PushSettings { pushers: vec![pusher], muted_chats: vec![3] };
        let printed = format!("{settings:?}");
        assert!(printed.contains("Ada's phone") && !printed.contains("device-token-secret"));
        let converted = sdk::PusherSpec::from(spec);
        assert_eq!((converted.lang, converted.previews), (None, Some(false)));
    }
}
