//! Decoding untrusted text into a [`ClientFrame`], with every failure typed.

use serde_json::Value;

use super::{ClientFrame, Command, ErrorCode, Limits, RequestId, ServerFrame};

/// Why a frame could not be decoded. Each maps to an [`ErrorCode`] and to an error frame; the
/// request id is kept whenever the frame had a readable one, so the client can match the error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The frame is larger than the limit; it was not parsed.
    #[error("frame of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Size of the frame.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The text is not JSON, is truncated, or nests too deeply.
    #[error("frame is not valid JSON: {detail}")]
    NotJson {
        /// The parser's explanation.
        detail: String,
    },
    /// The JSON value is not an object.
    #[error("frame must be a JSON object")]
    NotAnObject,
    /// No `command` field, or it is not a string.
    #[error("frame has no \"command\" string field")]
    MissingCommand {
        /// The frame's request id.
        id: Option<RequestId>,
    },
    /// The command is not one of protocol v1.
    #[error("unknown command {command:?}")]
    UnknownCommand {
        /// The frame's request id.
        id: Option<RequestId>,
        /// The command name given (truncated to 64 characters).
        command: String,
    },
    /// A required field is missing.
    #[error("{command}: missing field {field:?}")]
    MissingField {
        /// The frame's request id.
        id: Option<RequestId>,
        /// The command.
        command: &'static str,
        /// The missing field.
        field: String,
    },
    /// A field has the wrong type or value.
    #[error("{command}: {detail}")]
    InvalidField {
        /// The frame's request id.
        id: Option<RequestId>,
        /// The command.
        command: &'static str,
        /// What is wrong.
        detail: String,
    },
}

impl DecodeError {
    /// The error code sent to the client.
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::TooLarge { .. } => ErrorCode::FrameTooLarge,
            DecodeError::NotJson { .. } => ErrorCode::NotJson,
            DecodeError::NotAnObject => ErrorCode::NotAnObject,
            DecodeError::MissingCommand { .. } => ErrorCode::MissingCommand,
            DecodeError::UnknownCommand { .. } => ErrorCode::UnknownCommand,
            DecodeError::MissingField { .. } => ErrorCode::MissingField,
            DecodeError::InvalidField { .. } => ErrorCode::InvalidField,
        }
    }

    /// The request id of the offending frame, if it could be read.
    pub fn request_id(&self) -> Option<&RequestId> {
        match self {
            DecodeError::TooLarge { .. }
            | DecodeError::NotJson { .. }
            | DecodeError::NotAnObject => None,
            DecodeError::MissingCommand { id }
            | DecodeError::UnknownCommand { id, .. }
            | DecodeError::MissingField { id, .. }
            | DecodeError::InvalidField { id, .. } => id.as_ref(),
        }
    }

    /// The error frame to send back.
    pub fn to_frame(&self) -> ServerFrame {
        ServerFrame::error(self.request_id().cloned(), self.code(), self.to_string())
    }
}

/// Decode one text frame.
///
/// Never panics, whatever the input: size is checked before parsing, serde_json bounds nesting
/// depth, and every failure becomes a [`DecodeError`].
///
/// ```
/// use hellocode_core::protocol::{decode, ErrorCode, Limits};
///
/// let err = decode(r#"{"command":"dance","id":3}"#, &Limits::default()).unwrap_err();
/// assert_eq!(err.code(), ErrorCode::UnknownCommand);
/// assert_eq!(err.to_frame().to_json(),
///     r#"{"command":"error","id":3,"code":"unknown_command","message":"unknown command \"dance\""}"#);
/// ```
pub fn decode(text: &str, limits: &Limits) -> Result<ClientFrame, DecodeError> {
    if text.len() > limits.max_frame_bytes {
        return Err(DecodeError::TooLarge { size: text.len(), limit: limits.max_frame_bytes });
    }
    match serde_json::from_str::<ClientFrame>(text) {
        Ok(frame) => Ok(frame),
        Err(err) => Err(classify(text, &err)),
    }
}

/// Work out why a frame failed to decode. Only runs on the error path, so the second parse
/// into a `Value` costs nothing for well-formed traffic.
fn classify(text: &str, err: &serde_json::Error) -> DecodeError {
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(syntax) => return DecodeError::NotJson { detail: syntax.to_string() },
    };
    let Value::Object(map) = value else {
        return DecodeError::NotAnObject;
    };
    let id = map.get("id").and_then(|v| serde_json::from_value::<RequestId>(v.clone()).ok());
    let name = match map.get("command") {
        Some(Value::String(name)) => name,
        _ => return DecodeError::MissingCommand { id },
    };
    let Some(command) = Command::NAMES.iter().copied().find(|known| known == name) else {
        return DecodeError::UnknownCommand { id, command: name.chars().take(64).collect() };
    };
    if map.get("id").is_some() && id.is_none() {
        return DecodeError::InvalidField {
            id: None,
            command,
            detail: "\"id\" must be a string or an integer".to_owned(),
        };
    }
    // serde's message for a missing field is stable: "missing field `name`".
    let message = err.to_string();
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or_default().to_owned();
        return DecodeError::MissingField { id, command, field };
    }
    let detail = match message.rfind(" at line ") {
        Some(cut) => message[..cut].to_owned(),
        None => message,
    };
    DecodeError::InvalidField { id, command, detail }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ChatId;

    fn limits() -> Limits {
        Limits::default()
    }

    #[test]
    fn original_app_frames_decode() {
        let frame =
            decode(r#"{"command":"fetch_messages","chatId":"7"}"#, &limits()).expect("decodes");
        assert_eq!(
            frame.command,
            Command::FetchMessages { chat_id: Some(ChatId(7)), limit: None, before: None }
        );
        let frame = decode(
            r#"{"command":"new_message","from":"alice","message":"hi","chatId":7}"#,
            &limits(),
        )
        .expect("decodes");
        assert_eq!(
            frame.command,
            Command::NewMessage {
                chat_id: Some(ChatId(7)),
                message: "hi".into(),
                from: Some("alice".into()),
                client_id: None,
                attachments: Vec::new(),
            }
        );
    }

    #[test]
    fn keeps_request_id_on_errors() {
        let err = decode(r#"{"command":"new_message","id":"r1"}"#, &limits()).unwrap_err();
        assert_eq!(
            err,
            DecodeError::MissingField {
                id: Some("r1".into()),
                command: "new_message",
                field: "message".into()
            }
        );
        let err =
            decode(r#"{"command":"read","id":9,"chatId":1,"seq":"x"}"#, &limits()).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidField);
        assert_eq!(err.request_id(), Some(&RequestId::Number(9)));
    }

    #[test]
    fn classifies_each_failure() {
        let cases: &[(&str, ErrorCode)] = &[
            ("", ErrorCode::NotJson),
            ("{\"command\":", ErrorCode::NotJson),
            ("[1,2]", ErrorCode::NotAnObject),
            ("\"fetch_messages\"", ErrorCode::NotAnObject),
            ("{}", ErrorCode::MissingCommand),
            (r#"{"command":5}"#, ErrorCode::MissingCommand),
            (r#"{"command":"nope"}"#, ErrorCode::UnknownCommand),
            (r#"{"command":"fetch_messages","chatId":-1}"#, ErrorCode::InvalidField),
            (r#"{"command":"fetch_messages","chatId":"abc"}"#, ErrorCode::InvalidField),
            (r#"{"command":"fetch_messages","chatId":1e400}"#, ErrorCode::NotJson),
            (
                r#"{"command":"fetch_messages","chatId":99999999999999999999}"#,
                ErrorCode::InvalidField,
            ),
            (r#"{"command":"fetch_messages","limit":-3}"#, ErrorCode::InvalidField),
            (r#"{"command":"ping","id":{"a":1}}"#, ErrorCode::InvalidField),
            (r#"{"command":"ping","id":1.5}"#, ErrorCode::InvalidField),
            (r#"{"command":"auth"}"#, ErrorCode::MissingField),
        ];
        for (text, code) in cases {
            let err = decode(text, &limits()).expect_err(text);
            assert_eq!(err.code(), *code, "{text}: {err}");
        }
    }

    #[test]
    fn refuses_oversized_frames_before_parsing() {
        let limits = Limits { max_frame_bytes: 16, ..Limits::default() };
        let err = decode(r#"{"command":"ping","pad":"xxxxxxxx"}"#, &limits).unwrap_err();
        assert_eq!(err.code(), ErrorCode::FrameTooLarge);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let limits = Limits { max_frame_bytes: usize::MAX, ..Limits::default() };
        assert_eq!(decode(&deep, &limits).unwrap_err().code(), ErrorCode::NotJson);
        let nested_field =
            format!(r#"{{"command":"ping","x":{}1{}}}"#, "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(decode(&nested_field, &limits).unwrap_err().code(), ErrorCode::NotJson);
    }
}
