//! The frame decoder on arbitrary text: it never panics, the size limit holds, an accepted frame
//! re-encodes to text that decodes to the same frame, and every refusal is a well-formed error
//! frame carrying the request id the client gave.

#![no_main]

use hellocode_core::protocol::{DecodeError, Limits, RequestId, decode};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    // The first two bytes pick the frame limit, so the size check is exercised at every size;
    // 0xFFFF stands for the server's default.
    let (limit, text) = match data {
        [a, b, rest @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), rest),
        _ => return,
    };
    let limits = match limit {
        0xFFFF => Limits::default(),
        limit => Limits { max_frame_bytes: limit, ..Limits::default() },
    };
    // Frames are text: the transports hand the decoder only valid UTF-8.
    let Ok(text) = std::str::from_utf8(text) else { return };
    check(text, &limits);
});

fn check(text: &str, limits: &Limits) {
    match decode(text, limits) {
        Ok(frame) => {
            assert!(text.len() <= limits.max_frame_bytes, "an oversized frame was accepted");
            let encoded = serde_json::to_string(&frame).expect("a decoded frame serializes");
            let unlimited = Limits { max_frame_bytes: usize::MAX, ..*limits };
            let again = decode(&encoded, &unlimited)
                .unwrap_or_else(|err| panic!("re-encoded frame {encoded} is refused: {err}"));
            assert_eq!(again, frame, "re-encoded frame {encoded} decodes differently");
            let twice = serde_json::to_string(&again).expect("serializes");
            assert_eq!(twice, encoded, "encoding is not stable");
        }
        Err(err) => {
            let too_large = text.len() > limits.max_frame_bytes;
            assert_eq!(matches!(err, DecodeError::TooLarge { .. }), too_large, "{err}");
            check_error_frame(text, &err);
        }
    }
}

/// The error frame is JSON with `command: "error"`, the code, and the request id exactly when the
/// frame was an object with a readable one.
fn check_error_frame(text: &str, err: &DecodeError) {
    let frame: Value =
        serde_json::from_str(&err.to_frame().to_json()).expect("error frame is JSON");
    assert_eq!(frame["command"], "error");
    assert_eq!(frame["code"], serde_json::to_value(err.code()).expect("code serializes"));
    assert!(frame["message"].is_string());
    if let Some(id) = err.request_id() {
        let given: Value = serde_json::from_str(text).expect("an id was read from valid JSON");
        let given: RequestId =
            serde_json::from_value(given["id"].clone()).expect("the id it read is readable");
        assert_eq!(&given, id, "the error carries another id than the frame");
        assert_eq!(frame["id"], serde_json::to_value(id).expect("id serializes"));
    } else {
        assert!(frame.get("id").is_none());
    }
}
