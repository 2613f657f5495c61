//! Every text field of every command held to the rules of [`crate::text`]: no U+0000, and a
//! length cap. The session runs this first for each command, whatever the transport.

use super::{Command, Limits};
use crate::text::{
    self, MAX_EMAIL_CHARS, MAX_LABEL_CHARS, MAX_PASSWORD_CHARS, MAX_TOKEN_CHARS, MAX_USERNAME_CHARS,
};

/// Longest `clientId`, in characters (the session also holds it to 128 bytes).
const MAX_CLIENT_ID_CHARS: usize = 128;
/// Longest time zone name, in characters (the session's own check says 64).
const MAX_TIMEZONE_CHARS: usize = MAX_LABEL_CHARS;

impl Command {
    /// `Ok` if every text field is acceptable, else [`Error::InvalidText`](crate::Error::InvalidText)
    /// naming the first field that is not (its wire name).
    pub fn check_text(&self, limits: &Limits) -> crate::Result<()> {
        use text::{check, check_all};
        match self {
            Command::Auth { token, .. } => check("token", token, MAX_TOKEN_CHARS),
            Command::Register { username, email, password, password_confirmation, .. } => {
                check("username", username, MAX_USERNAME_CHARS)?;
                check("email", email, MAX_EMAIL_CHARS)?;
                check("password", password, MAX_PASSWORD_CHARS)?;
                check("password_confirmation", password_confirmation, MAX_PASSWORD_CHARS)
            }
            Command::Login { username, password, .. } => {
                check("username", username, MAX_USERNAME_CHARS)?;
                check("password", password, MAX_PASSWORD_CHARS)
            }
            Command::NewMessage { message, from, client_id, .. } => {
                check("message", message, limits.max_message_chars)?;
                check_all("from", from, MAX_USERNAME_CHARS)?;
                check_all("clientId", client_id, MAX_CLIENT_ID_CHARS)
            }
            Command::EditMessage { message, client_id, .. } => {
                check("message", message, limits.max_message_chars)?;
                check_all("clientId", client_id, MAX_CLIENT_ID_CHARS)
            }
            Command::CreateChat { participants, name, topic, client_id } => {
                check_all("participants", participants, MAX_USERNAME_CHARS)?;
                check_all("name", name, MAX_LABEL_CHARS)?;
                check_all("topic", topic, MAX_LABEL_CHARS)?;
                check_all("clientId", client_id, MAX_CLIENT_ID_CHARS)
            }
            Command::UpdateChat { name, topic, client_id, .. } => {
                check_all("name", name, MAX_LABEL_CHARS)?;
                check_all("topic", topic, MAX_LABEL_CHARS)?;
                check_all("clientId", client_id, MAX_CLIENT_ID_CHARS)
            }
            Command::RemoveParticipant { username, client_id, .. }
            | Command::SetRole { username, client_id, .. } => {
                check("username", username, MAX_USERNAME_CHARS)?;
                check_all("clientId", client_id, MAX_CLIENT_ID_CHARS)
            }
            Command::DeleteMessage { client_id, .. } | Command::LeaveChat { client_id, .. } => {
                check_all("clientId", client_id, MAX_CLIENT_ID_CHARS)
            }
            Command::AddParticipants { usernames, client_id, .. } => {
                check_all("usernames", usernames, MAX_USERNAME_CHARS)?;
                check_all("clientId", client_id, MAX_CLIENT_ID_CHARS)
            }
            Command::FindUsers { language, after, .. } => {
                check("language", language, MAX_LABEL_CHARS)?;
                check_all("after", after, MAX_USERNAME_CHARS)
            }
            Command::GetUser { username }
            | Command::AddContact { username }
            | Command::RemoveContact { username } => {
                check("username", username, MAX_USERNAME_CHARS)
            }
            Command::UpdateProfile { timezone, languages } => {
                check_all("timezone", timezone, MAX_TIMEZONE_CHARS)?;
                check_all("languages", languages.iter().flatten(), MAX_LABEL_CHARS)
            }
            Command::AddLanguage { name } | Command::CreateBotToken { name } => {
                check("name", name, MAX_LABEL_CHARS)
            }
            Command::ListLanguages { after, .. } => check_all("after", after, MAX_LABEL_CHARS),
            Command::Invite { username, .. } => check("username", username, MAX_USERNAME_CHARS),
            Command::JoinByLink { token } => check("token", token, MAX_TOKEN_CHARS),
            // Their fields' own rules (NewPusher::check) come later, with the session's.
            Command::SetPusher { .. } | Command::RemovePusher { .. } => Ok(()),
            Command::FetchMessages { .. }
            | Command::Resume { .. }
            | Command::ListChats { .. }
            | Command::GetChat { .. }
            | Command::GetReadPositions { .. }
            | Command::Typing { .. }
            | Command::Read { .. }
            | Command::Ping {}
            | Command::ListContacts {}
            | Command::ListBotTokens {}
            | Command::RevokeBotToken { .. }
            | Command::DeleteChat { .. }
            | Command::ListInvitations { .. }
            | Command::AcceptInvitation { .. }
            | Command::DeclineInvitation { .. }
            | Command::CancelInvitation { .. }
            | Command::CreateInviteLink { .. }
            | Command::ListInviteLinks { .. }
            | Command::RevokeInviteLink { .. }
            | Command::GetPushSettings {}
            | Command::MuteChat { .. } => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Error;
    use crate::protocol::decode;

    /// A frame of each command with a text field, `{}` standing for the tested value.
    const FRAMES: &[(&str, &str)] = &[
        ("token", r#"{"command":"auth","token":"{}"}"#),
        (
            "email",
            r#"{"command":"register","username":"a","email":"{}","password":"p","password_confirmation":"p"}"#,
        ),
        ("username", r#"{"command":"login","username":"{}","password":"p"}"#),
        ("message", r#"{"command":"new_message","chatId":1,"message":"{}"}"#),
        ("clientId", r#"{"command":"new_message","chatId":1,"message":"m","clientId":"{}"}"#),
        ("message", r#"{"command":"edit_message","chatId":1,"seq":1,"message":"{}"}"#),
        ("participants", r#"{"command":"create_chat","participants":["b","{}"]}"#),
        ("usernames", r#"{"command":"add_participants","chatId":1,"usernames":["{}"]}"#),
        ("language", r#"{"command":"find_users","language":"{}"}"#),
        ("username", r#"{"command":"add_contact","username":"{}"}"#),
        ("timezone", r#"{"command":"update_profile","timezone":"{}"}"#),
        ("languages", r#"{"command":"update_profile","languages":["{}"]}"#),
        ("name", r#"{"command":"add_language","name":"{}"}"#),
        ("name", r#"{"command":"create_bot_token","name":"{}"}"#),
        ("username", r#"{"command":"invite","chatId":1,"username":"{}"}"#),
        ("token", r#"{"command":"join_by_link","token":"{}"}"#),
    ];

    #[test]
    fn nul_is_refused_in_every_text_field() {
        let limits = Limits::default();
        for (field, template) in FRAMES {
            let good = decode(&template.replace("{}", "ok"), &limits).expect(template);
            assert!(good.command.check_text(&limits).is_ok(), "{template}");
            let bad = decode(&template.replace("{}", r"a\u0000b"), &limits).expect(template);
            match bad.command.check_text(&limits) {
                Err(Error::InvalidText { field: named, .. }) => assert_eq!(named, *field),
                other => panic!("{template}: {other:?}"),
            }
        }
    }

    #[test]
    fn usernames_have_a_length_cap() {
        let limits = Limits::default();
        let long = "u".repeat(MAX_USERNAME_CHARS + 1);
        let command = Command::GetUser { username: long };
        assert!(matches!(command.check_text(&limits), Err(Error::InvalidText { .. })));
    }
}
