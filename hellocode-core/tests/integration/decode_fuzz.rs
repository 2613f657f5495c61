//! Hostile input for the decoder: nothing may panic, every failure is typed, every error frame
//! is valid JSON, and every accepted frame survives a round trip.

use hellocode_core::protocol::{ClientFrame, Command, DecodeError, ErrorCode, Limits, decode};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Decode, and check what must hold of any outcome.
fn check(text: &str, limits: &Limits) -> Result<ClientFrame, DecodeError> {
    let result = decode(text, limits);
    match &result {
        Ok(frame) => {
            let again = serde_json::to_string(frame).expect("an accepted frame re-encodes");
            let limits = Limits { max_frame_bytes: usize::MAX, ..*limits };
            assert_eq!(decode(&again, &limits).as_ref(), Ok(frame), "round trip of {text:?}");
        }
        Err(err) => {
            let wire: Value =
                serde_json::from_str(&err.to_frame().to_json()).expect("error frame is JSON");
            assert_eq!(wire["command"], "error");
            assert_eq!(wire["code"], err.code().as_str());
            assert!(!err.to_string().is_empty());
        }
    }
    result
}

fn code(text: &str) -> ErrorCode {
    check(text, &Limits { max_frame_bytes: 4 << 20, ..Limits::default() })
        .expect_err(text.get(..80).unwrap_or(text))
        .code()
}

fn valid_frames() -> Vec<String> {
    vec![
        r#"{"command":"fetch_messages","chatId":"7","limit":20,"before":40,"id":"x"}"#.into(),
        r#"{"command":"new_message","chatId":7,"message":"hi","from":"alice","clientId":"c1","id":1}"#.into(),
        r#"{"command":"register","username":"a","email":"a@b","password":"p","password_confirmation":"p"}"#.into(),
        r#"{"command":"resume","chatId":7,"since":0}"#.into(),
        r#"{"command":"create_chat","participants":["bob","carol"]}"#.into(),
        r#"{"command":"edit_message","chatId":7,"seq":3,"message":"x"}"#.into(),
    ]
}

#[test]
fn table_of_malformed_frames() {
    let mib = "x".repeat(1 << 20);
    let cases: Vec<(String, ErrorCode)> = vec![
        (String::new(), ErrorCode::NotJson),
        ("   ".into(), ErrorCode::NotJson),
        ("null".into(), ErrorCode::NotAnObject),
        ("42".into(), ErrorCode::NotAnObject),
        (r#"{"command":"ping"} trailing"#.into(), ErrorCode::NotJson),
        (r#"{"command":"ping","command":"ping"}"#.into(), ErrorCode::InvalidField),
        ("\u{feff}{\"command\":\"ping\"}".into(), ErrorCode::NotJson),
        (r#"{"command":"new_message","chatId":7,"message":12}"#.into(), ErrorCode::InvalidField),
        (
            r#"{"command":"new_message","chatId":true,"message":"x"}"#.into(),
            ErrorCode::InvalidField,
        ),
        (r#"{"command":"new_message","chatId":7.5,"message":"x"}"#.into(), ErrorCode::InvalidField),
        (r#"{"command":"new_message","chatId":0,"message":"x"}"#.into(), ErrorCode::InvalidField),
        (
            r#"{"command":"new_message","chatId":"18446744073709551616","message":"x"}"#.into(),
            ErrorCode::InvalidField,
        ),
        (
            r#"{"command":"fetch_messages","chatId":1,"limit":4294967296}"#.into(),
            ErrorCode::InvalidField,
        ),
        (
            r#"{"command":"fetch_messages","chatId":1,"before":1e308}"#.into(),
            ErrorCode::InvalidField,
        ),
        (
            r#"{"command":"read","chatId":1,"seq":123456789012345678901234567890}"#.into(),
            ErrorCode::InvalidField,
        ),
        (r#"{"command":"create_chat","participants":"bob"}"#.into(), ErrorCode::InvalidField),
        (r#"{"command":"create_chat","participants":[1,2]}"#.into(), ErrorCode::InvalidField),
        (r#"{"command":"Ping"}"#.into(), ErrorCode::UnknownCommand),
        (r#"{"command":""}"#.into(), ErrorCode::UnknownCommand),
        (r#"{"command":["ping"]}"#.into(), ErrorCode::MissingCommand),
        (r#"{"comand":"ping"}"#.into(), ErrorCode::MissingCommand),
        ("{\"command\":\"ping\",\"x\":\"\\ud800\"}".into(), ErrorCode::NotJson),
        (format!(r#"{{"command":"{mib}"}}"#), ErrorCode::UnknownCommand),
        (
            format!(
                r#"{{"command":"auth","token":{{"deep":{}1{}}}}}"#,
                "[".repeat(5000),
                "]".repeat(5000)
            ),
            ErrorCode::NotJson,
        ),
        ("{\"a\":".repeat(200_000), ErrorCode::NotJson),
    ];
    for (text, expected) in &cases {
        assert_eq!(code(text), *expected, "{}", text.get(..120).unwrap_or(text));
    }

    // A null id is no id, as in JSON-RPC.
    assert_eq!(
        check(r#"{"command":"list_chats","id":null}"#, &Limits::default()).map(|f| f.id),
        Ok(None)
    );

    // A 1 MiB message is within a 4 MiB frame limit but refused by the default 64 KiB one.
    let big = format!(r#"{{"command":"new_message","chatId":1,"message":"{mib}"}}"#);
    assert!(matches!(check(&big, &Limits::default()), Err(DecodeError::TooLarge { .. })));
    let roomy = Limits { max_frame_bytes: 4 << 20, ..Limits::default() };
    assert!(check(&big, &roomy).is_ok(), "the decoder itself copes with 1 MiB strings");
}

#[test]
fn every_truncation_of_a_valid_frame_is_refused_cleanly() {
    for frame in valid_frames() {
        for cut in 0..frame.len() {
            let Some(prefix) = frame.get(..cut) else { continue };
            assert!(check(prefix, &Limits::default()).is_err(), "{prefix}");
        }
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        ".{0,24}".prop_map(Value::String),
        prop::sample::select(vec!["7", "-1", "0", "99999999999999999999", "alice"])
            .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..8)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Objects that look like frames: a known or unknown command and plausible or hostile fields.
fn frame_like() -> impl Strategy<Value = Value> {
    let fields = prop::sample::select(vec![
        "id",
        "chatId",
        "message",
        "from",
        "clientId",
        "client_id",
        "limit",
        "before",
        "since",
        "seq",
        "token",
        "username",
        "password",
        "email",
        "password_confirmation",
        "participants",
    ]);
    let mut commands: Vec<String> = Command::NAMES.iter().map(|s| s.to_string()).collect();
    commands.push("bogus".into());
    (prop::sample::select(commands), prop::collection::btree_map(fields, json_value(), 0..8))
        .prop_map(|(command, fields)| {
            let mut object: serde_json::Map<String, Value> =
                fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            object.insert("command".into(), Value::String(command));
            Value::Object(object)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,256}") {
        let _ = check(&text, &Limits::default());
    }

    #[test]
    fn arbitrary_json_never_panics(value in json_value()) {
        let _ = check(&value.to_string(), &Limits::default());
    }

    #[test]
    fn frame_like_objects_decode_or_fail_typed(value in frame_like()) {
        let text = value.to_string();
        if let Err(err) = check(&text, &Limits::default()) {
            // The id is echoed whenever the frame carried a valid one.
            if let Some(id) = value.get("id")
                && (id.as_i64().is_some() || id.is_string())
            {
                let echoed = err.request_id().map(|id| serde_json::to_value(id).expect("json"));
                prop_assert_eq!(echoed.as_ref(), Some(id));
            }
        }
    }

    #[test]
    fn byte_mutations_of_valid_frames_never_panic(
        index in 0usize..6,
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = valid_frames()[index].clone().into_bytes();
        let at = position.index(bytes.len());
        bytes[at] = byte;
        if let Ok(text) = String::from_utf8(bytes) {
            let _ = check(&text, &Limits::default());
        }
    }
}
