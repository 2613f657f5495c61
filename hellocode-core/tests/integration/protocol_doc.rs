//! docs/PROTOCOL.md cannot drift from the code: every example in it is checked here.

use std::collections::BTreeSet;

use hellocode_core::protocol::{Command, ErrorCode, Limits, ServerFrame, decode};

const DOC: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/PROTOCOL.md"));

/// Fenced blocks as `(info string, body)`.
fn blocks() -> Vec<(String, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in DOC.lines() {
        match (line.strip_prefix("```"), current.take()) {
            (Some(info), None) => current = Some((info.trim().to_owned(), String::new())),
            (Some(_), Some(done)) => blocks.push(done),
            (None, Some((info, mut body))) => {
                body.push_str(line);
                body.push('\n');
                current = Some((info, body));
            }
            (None, None) => {}
        }
    }
    assert!(current.is_none(), "unclosed code block in PROTOCOL.md");
    blocks
}

#[test]
fn every_client_example_decodes_and_every_command_has_one() {
    let mut documented = BTreeSet::new();
    for (info, body) in blocks().iter().filter(|(info, _)| info == "json client") {
        let frame = decode(body.trim(), &Limits::default())
            .unwrap_or_else(|err| panic!("{info} example does not decode ({err}):\n{body}"));
        documented.insert(frame.command.name());
    }
    let all: BTreeSet<&str> = Command::NAMES.iter().copied().collect();
    assert_eq!(documented, all, "every command has a client example");
}

#[test]
fn every_server_example_is_exactly_what_the_server_writes() {
    let mut documented = BTreeSet::new();
    for (_, body) in blocks().iter().filter(|(info, _)| info == "json server") {
        let frame: ServerFrame = serde_json::from_str(body.trim())
            .unwrap_or_else(|err| panic!("server example does not parse ({err}):\n{body}"));
        assert_eq!(frame.to_json(), body.trim(), "the server would write this example differently");
        documented.insert(frame.name());
    }
    let all: BTreeSet<&str> = ServerFrame::NAMES.iter().copied().collect();
    assert_eq!(documented, all, "every server frame has an example");
}

#[test]
fn every_bad_frame_example_gets_its_code() {
    let mut checked = 0;
    for (info, body) in blocks() {
        let Some(code) = info.strip_prefix("text bad-frame ") else { continue };
        let err = decode(body.trim_end_matches('\n'), &Limits::default())
            .expect_err(&format!("bad frame was accepted:\n{body}"));
        assert_eq!(err.code().as_str(), code, "{body}");
        checked += 1;
    }
    assert!(checked >= 6, "the bad-frame examples were found");
}

#[test]
fn every_error_code_is_in_the_table() {
    for code in ErrorCode::ALL {
        let row = format!("| `{code}` |");
        assert!(DOC.contains(&row), "PROTOCOL.md does not document error code {code}");
    }
}
