//! Reading the few fields the generator needs from a `new_message` frame without parsing JSON.

/// What a delivered `new_message` says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Delivery {
    pub(crate) seq: i64,
    pub(crate) sender: usize,
    pub(crate) number: u64,
    pub(crate) sent_micros: u64,
}

/// The delivery in `frame`, if it is a `new_message` event sent by the generator
/// (content `"<room>:<sender>:<n>:<µs>"`).
pub(crate) fn new_message(frame: &str) -> Option<Delivery> {
    if !frame.starts_with(r#"{"command":"new_message""#) {
        return None;
    }
    let seq = number_after(frame, r#""seq":"#)?;
    let content_start = frame.find(r#""content":""#)? + r#""content":""#.len();
    let content = &frame[content_start..];
    let content = &content[..content.find('"')?];
    let mut fields = content.split(':').skip(1);
    let sender = fields.next()?.parse().ok()?;
    let number = fields.next()?.parse().ok()?;
    let sent_micros = fields.next()?.parse().ok()?;
    Some(Delivery { seq, sender, number, sent_micros })
}

fn number_after(text: &str, key: &str) -> Option<i64> {
    let start = text.find(key)? + key.len();
    let digits: &str = &text[start..];
    let end = digits.find(|c: char| !c.is_ascii_digit()).unwrap_or(digits.len());
    digits[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_server_frame() {
        let frame = r#"{"command":"new_message","message":{"id":9,"chatId":3,"seq":42,"author":"load0_1","content":"0:1:17:1700000000123456","timestamp":"2026-01-01T00:00:00.000Z"}}"#;
        assert_eq!(
            new_message(frame),
            Some(Delivery { seq: 42, sender: 1, number: 17, sent_micros: 1_700_000_000_123_456 })
        );
        assert_eq!(new_message(r#"{"command":"pong","id":"ready"}"#), None);
        assert_eq!(
            new_message(r#"{"command":"new_message","message":{"seq":1,"content":"hello"}}"#),
            None
        );
    }
}
