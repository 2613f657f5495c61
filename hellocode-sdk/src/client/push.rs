//! Push notifications: the caller's devices' pushers and the chats they muted. The server
//! notifies a device's push gateway (Matrix's push gateway API; Sygnal relays to FCM and APNs)
//! of each post that arrives while none of the user's connections is open.

use std::future::Future;

use hellocode_core::model::{ChatId, PushSettings};
use hellocode_core::protocol::{Command, ServerFrame};

use super::Client;
use crate::Result;
use crate::driver::unexpected;

/// A device's pusher to register with [`Client::set_pusher`].
///
/// ```
/// use hellocode_sdk::PusherSpec;
/// let spec = PusherSpec::new(
///     "org.example.chat.android",
///     "fcm-registration-token",
///     "https://push.example.org/_matrix/push/v1/notify",
/// )
/// .device_name("Ada's phone")
/// .previews(false);
/// assert_eq!(spec.previews, Some(false));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PusherSpec {
    /// The app, reverse-DNS style: the gateway picks its FCM or APNs credentials by it.
    pub app_id: String,
    /// The device's push token from FCM or APNs.
    pub pushkey: String,
    /// The gateway's notify URL (`http(s)://…/_matrix/push/v1/notify`).
    pub url: String,
    /// A name the user recognises the device by.
    pub device_name: Option<String>,
    /// The device's language tag (`en`, `fr-FR`).
    pub lang: Option<String>,
    /// Whether notifications carry the message's text (the server's default: yes).
    pub previews: Option<bool>,
}

impl PusherSpec {
    /// A pusher for `pushkey` of app `app_id` at the gateway `url`.
    pub fn new(
        app_id: impl Into<String>,
        pushkey: impl Into<String>,
        url: impl Into<String>,
    ) -> Self {
        PusherSpec {
            app_id: app_id.into(),
            pushkey: pushkey.into(),
            url: url.into(),
            device_name: None,
            lang: None,
            previews: None,
        }
    }

    /// Name the device.
    pub fn device_name(mut self, name: impl Into<String>) -> Self {
        self.device_name = Some(name.into());
        self
    }

    /// The device's language tag.
    pub fn lang(mut self, lang: impl Into<String>) -> Self {
        self.lang = Some(lang.into());
        self
    }

    /// Whether notifications carry the message's text.
    pub fn previews(mut self, previews: bool) -> Self {
        self.previews = Some(previews);
        self
    }
}

impl Client {
    /// Register this device's pusher, or change the one with the same app id and push key;
    /// returns the push settings as they now are.
    ///
    /// Errors: `invalid_field` for a URL that is not `http`/`https`, does not end in
    /// `/_matrix/push/v1/notify`, holds a user name, or points at the server itself; for
    /// overlong fields; beyond 20 pushers.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client) -> hellocode_sdk::Result<()> {
    /// use hellocode_sdk::PusherSpec;
    /// let spec = PusherSpec::new("org.example.chat.ios", "apns-device-token",
    ///     "https://sygnal.example.org/_matrix/push/v1/notify");
    /// let settings = client.set_pusher(spec).await?;
    /// assert_eq!(settings.pushers.len(), 1);
    /// # Ok(()) }
    /// ```
    pub fn set_pusher(
        &self,
        pusher: PusherSpec,
    ) -> impl Future<Output = Result<PushSettings>> + Send + 'static {
        let PusherSpec { app_id, pushkey, url, device_name, lang, previews } = pusher;
        self.settings_reply(Command::SetPusher {
            app_id,
            pushkey,
            url,
            device_name,
            lang,
            previews,
        })
    }

    /// Remove one of the caller's pushers (idempotent): its device is notified no more.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client) -> hellocode_sdk::Result<()> {
    /// let settings = client.remove_pusher("org.example.chat.ios", "apns-device-token").await?;
    /// assert!(settings.pushers.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn remove_pusher(
        &self,
        app_id: impl Into<String>,
        pushkey: impl Into<String>,
    ) -> impl Future<Output = Result<PushSettings>> + Send + 'static {
        let command = Command::RemovePusher { app_id: app_id.into(), pushkey: pushkey.into() };
        self.settings_reply(command)
    }

    /// The caller's pushers and muted chats.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client) -> hellocode_sdk::Result<()> {
    /// let settings = client.push_settings().await?;
    /// for pusher in &settings.pushers {
    ///     println!("{} ({}), previews: {}", pusher.device_name, pusher.app_id, pusher.previews);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn push_settings(&self) -> impl Future<Output = Result<PushSettings>> + Send + 'static {
        self.settings_reply(Command::GetPushSettings {})
    }

    /// Mute (or unmute) a chat's notifications on every device of the caller; a mute ends
    /// when the caller leaves the chat.
    ///
    /// Errors: `forbidden` for a chat the caller is not in, `not_found` for none.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client, chat: hellocode_sdk::ChatId) -> hellocode_sdk::Result<()> {
    /// let settings = client.mute_chat(chat, true).await?;
    /// assert!(settings.muted_chats.contains(&chat));
    /// # Ok(()) }
    /// ```
    pub fn mute_chat(
        &self,
        chat: ChatId,
        muted: bool,
    ) -> impl Future<Output = Result<PushSettings>> + Send + 'static {
        self.settings_reply(Command::MuteChat { chat_id: Some(chat), muted })
    }

    fn settings_reply(
        &self,
        command: Command,
    ) -> impl Future<Output = Result<PushSettings>> + Send + 'static {
        // Every push command may be sent again after a lost connection: it ends the same.
        let reply = self.request(command, true);
        async move {
            match reply.await? {
                ServerFrame::PushSettings { settings, .. } => Ok(settings),
                other => Err(unexpected("push_settings", &other)),
            }
        }
    }
}
