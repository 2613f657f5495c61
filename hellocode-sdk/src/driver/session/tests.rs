//! The session's decisions, driven without a socket: each test scripts what the server says and
//! when, and checks what the client writes, asks for, and tells the application.

use std::time::Duration;

use hellocode_core::model::{
    Chat, ChatId, ChatKind, EventKind, Invitation, InvitationState, Message, Participant, Seq,
    Timestamp,
};
use hellocode_core::protocol::{Command, ErrorCode, RequestId, ServerFrame};

use super::Action;
use super::harness::{Harness, ack, authenticated, chat, refusal};
use super::transmit::COMMANDS_IN_FLIGHT;
use crate::config::{ClientConfig, Credentials};
use crate::event::{ConnectionState, Event, SendState};
use crate::{Error, driver::ToDriver};

fn config() -> ClientConfig {
    ClientConfig::default()
}

fn ping() -> Command {
    Command::Ping {}
}

/// The code of the error the session stopped with, after dropping the connection.
fn stopped_with(h: &mut Harness) -> Option<ErrorCode> {
    match h.actions().as_slice() {
        [Action::Disconnect, Action::Stop(Some(error))] => error.server_code(),
        other => panic!("expected a stop with an error, got {other:?}"),
    }
}

#[test]
fn the_first_connection_logs_in_and_fetches_the_chat_list_before_it_is_ready() {
    let mut h = Harness::new(Credentials::password("alice", "secret-pw"), config());
    h.open();
    let login = h.sent_one("login");
    assert_eq!(login["username"], "alice");
    h.answer(&login, authenticated("alice", Some("t1")));
    assert!(h.session.is_first(), "not ready before the chat list");
    assert_eq!(h.shared.token.lock().unwrap().as_deref(), Some("t1"));
    h.answer_chat_list(&[chat(7, 3)]);
    assert!(!h.session.is_first());
    assert_eq!(h.session.username(), "alice");
    assert_eq!(*h.state.borrow(), ConnectionState::Connected { username: "alice".into() });
    // The chat starts at its newest message: nothing to resume.
    assert_eq!(h.sent(), Vec::<serde_json::Value>::new());
}

#[test]
fn who_is_online_is_told_after_connected_on_every_connection() {
    let online = |names: &[&str]| ServerFrame::Online {
        usernames: names.iter().map(|name| (*name).to_owned()).collect(),
    };
    let mut h = Harness::new(Credentials::password("alice", "secret-pw"), config());
    h.open();
    let login = h.sent_one("login");
    h.answer(&login, authenticated("alice", Some("t1")));
    // The server sends the list right after `authenticated`, before the chat list is in.
    h.receive(&online(&["bob"]));
    h.answer_chat_list(&[chat(7, 0)]);
    let told: Vec<Event> = h
        .drain_events()
        .into_iter()
        .filter(|event| matches!(event, Event::Connection(_) | Event::Online { .. }))
        .collect();
    assert_eq!(
        told,
        [
            Event::Connection(ConnectionState::Connected { username: "alice".into() }),
            Event::Online { usernames: vec!["bob".into()] },
        ]
    );
    // Each reconnection brings a new list, which replaces the last.
    h.lose(Error::Transport("reset".into()));
    h.reconnect();
    h.receive(&online(&[]));
    let lists: Vec<Event> = h
        .drain_events()
        .into_iter()
        .filter(|event| matches!(event, Event::Online { .. }))
        .collect();
    assert_eq!(lists, [Event::Online { usernames: vec![] }]);
}

#[test]
fn a_refused_first_login_stops_with_the_refusal() {
    let mut h = Harness::new(Credentials::password("alice", "wrong-password"), config());
    h.open();
    let login = h.sent_one("login");
    h.answer(&login, refusal(ErrorCode::InvalidCredentials));
    assert_eq!(stopped_with(&mut h), Some(ErrorCode::InvalidCredentials));
}

#[test]
fn the_first_connection_times_out_at_connect_timeout() {
    let mut h = Harness::new(Credentials::password("alice", "secret-pw"), config());
    h.open();
    h.sent_one("login");
    h.advance(config().connect_timeout + Duration::from_millis(1));
    match h.actions().as_slice() {
        [Action::Disconnect, Action::Stop(Some(Error::Timeout(limit)))] => {
            assert_eq!(*limit, config().connect_timeout);
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[test]
fn an_expired_token_falls_back_to_the_password_on_reconnection() {
    let mut h = Harness::ready(config());
    h.lose(Error::Transport("reset".into()));
    let expected = config().reconnect.delay(0, 0.0);
    match &*h.state.borrow() {
        ConnectionState::Reconnecting { attempt: 1, delay, .. } => assert_eq!(*delay, expected),
        other => panic!("expected reconnecting, got {other:?}"),
    }
    h.advance(expected - Duration::from_millis(1));
    assert!(h.actions().is_empty(), "no attempt before the backoff is over");
    h.advance(Duration::from_millis(1));
    h.open();
    let auth = h.sent_one("auth");
    assert_eq!(auth["token"], "t1");
    h.answer(&auth, refusal(ErrorCode::InvalidToken));
    let login = h.sent_one("login");
    h.answer(&login, authenticated("alice", Some("t2")));
    assert_eq!(h.shared.token.lock().unwrap().as_deref(), Some("t2"));
    assert!(matches!(&*h.state.borrow(), ConnectionState::Connected { .. }));
    // Back, the client asks what changed while it was away.
    h.answer_chat_list(&[chat(9, 0)]);
    let created = h.drain_events().into_iter().any(
        |event| matches!(event, Event::ChatCreated(chat) if chat.id == hellocode_core::model::ChatId(9)),
    );
    assert!(created, "a chat that appeared while away is announced");
}

#[test]
fn register_or_login_registers_when_the_login_is_refused() {
    let credentials = Credentials::register_or_login("carol", "carol@example.com", "secret-pw");
    let mut h = Harness::new(credentials.clone(), config());
    h.open();
    let login = h.sent_one("login");
    h.answer(&login, refusal(ErrorCode::InvalidCredentials));
    let register = h.sent_one("register");
    assert_eq!(register["email"], "carol@example.com");
    h.answer(&register, authenticated("carol", Some("t1")));
    h.answer_chat_list(&[]);
    assert!(!h.session.is_first());

    // A taken name means the account exists: the login's refusal stands.
    let mut h = Harness::new(credentials, config());
    h.open();
    let login = h.sent_one("login");
    h.answer(&login, refusal(ErrorCode::InvalidCredentials));
    let register = h.sent_one("register");
    h.answer(&register, refusal(ErrorCode::UsernameTaken));
    assert_eq!(stopped_with(&mut h), Some(ErrorCode::InvalidCredentials));
}

#[test]
fn a_rate_limited_send_waits_out_retry_after_and_goes_again_with_its_client_id() {
    let mut h = Harness::ready(config());
    let mut outcome = h.enqueue(1, "c1");
    let first = h.sent_one("new_message");
    assert_eq!(first["clientId"], "c1");
    h.receive(&ServerFrame::rate_limited(
        Some(RequestId::Number(first["id"].as_i64().unwrap())),
        "slow down",
        3,
    ));
    h.advance(Duration::from_millis(2_900));
    assert!(h.sent().is_empty(), "nothing is written during the pause");
    h.advance(Duration::from_millis(100));
    let again = h.sent_one("new_message");
    assert_eq!(again["clientId"], "c1");
    assert_ne!(again["id"], first["id"], "a new request id");
    h.receive(&ack(&again, 1));
    let message = outcome.try_recv().expect("settled").expect("sent");
    assert_eq!(message.client_id.as_deref(), Some("c1"));
}

#[test]
fn an_internal_failure_is_retried_at_most_five_times() {
    let mut h = Harness::ready(config());
    let mut outcome = h.enqueue(1, "c1");
    for attempt in 1..=5 {
        h.advance(Duration::from_secs(10)); // past any pause
        let send = h.sent_one("new_message");
        assert_eq!(send["clientId"], "c1", "attempt {attempt}");
        h.answer(&send, refusal(ErrorCode::Internal));
    }
    let error = outcome.try_recv().expect("settled").expect_err("failed");
    assert_eq!(error.server_code(), Some(ErrorCode::Internal));
    h.advance(Duration::from_secs(10));
    assert!(h.sent().is_empty(), "not sent a sixth time");
}

#[test]
fn a_permanent_refusal_fails_the_send_at_once() {
    let mut h = Harness::ready(config());
    let mut outcome = h.enqueue(1, "c1");
    let send = h.sent_one("new_message");
    h.answer(&send, refusal(ErrorCode::Forbidden));
    let error = outcome.try_recv().expect("settled").expect_err("failed");
    assert_eq!(error.server_code(), Some(ErrorCode::Forbidden));
    let failed = h.drain_events().into_iter().any(|event| {
        matches!(event, Event::Send(update) if matches!(update.state, SendState::Failed(_)))
    });
    assert!(failed, "the application is told");
}

#[test]
fn a_chat_has_one_send_on_the_wire_at_a_time() {
    let mut h = Harness::ready(config());
    let _a = h.enqueue(1, "a1");
    let _b = h.enqueue(1, "a2");
    let _c = h.enqueue(2, "b1");
    let sent = h.sent();
    let ids: Vec<_> = sent.iter().map(|frame| frame["clientId"].clone()).collect();
    assert_eq!(ids, ["a1", "b1"], "the second of chat 1 waits for the first's ack");
    h.receive(&ack(&sent[0], 1));
    assert_eq!(h.sent_one("new_message")["clientId"], "a2");
}

#[test]
fn a_silent_connection_is_pinged_and_dropped_when_the_ping_goes_unanswered() {
    let config = config();
    let mut h = Harness::ready(config.clone());
    h.advance(config.keepalive + Duration::from_millis(300));
    let ping = h.sent_one("ping");
    h.answer(&ping, |id| ServerFrame::Pong { id: Some(id) });
    assert!(h.actions().is_empty(), "an answered ping keeps the connection");

    h.advance(config.keepalive + Duration::from_millis(300));
    h.sent_one("ping");
    h.advance(config.request_timeout + Duration::from_millis(300));
    assert!(matches!(h.actions().as_slice(), [Action::Disconnect]));
    assert!(matches!(
        &*h.state.borrow(),
        ConnectionState::Reconnecting { error: Error::Timeout(_), .. }
    ));
}

#[test]
fn a_lost_connection_resends_retryable_requests_and_fails_the_others() {
    let mut h = Harness::ready(config());
    let mut again = h.request(ping(), true);
    let mut once = h.request(ping(), false);
    assert_eq!(h.sent().len(), 2);
    h.lose(Error::Transport("reset".into()));
    assert!(matches!(once.try_recv(), Ok(Err(Error::ConnectionLost))));
    assert!(again.try_recv().is_err(), "a retryable request waits for the next connection");
    h.reconnect();
    let sent = h.sent();
    let commands: Vec<_> = sent.iter().map(|frame| frame["command"].clone()).collect();
    assert_eq!(commands, ["list_chats", "ping"]);
    h.answer(&sent[1], |id| ServerFrame::Pong { id: Some(id) });
    assert!(matches!(again.try_recv(), Ok(Ok(ServerFrame::Pong { .. }))));
}

#[test]
fn an_error_without_an_id_answers_the_oldest_command() {
    let mut h = Harness::ready(config());
    let mut first = h.request(ping(), true);
    let mut second = h.request(ping(), true);
    h.sent();
    h.receive(&ServerFrame::error(None, ErrorCode::NotJson, "bad frame"));
    let error = first.try_recv().expect("answered").expect_err("refused");
    assert_eq!(error.server_code(), Some(ErrorCode::NotJson));
    assert!(second.try_recv().is_err(), "the second still waits");
}

#[test]
fn commands_on_the_wire_are_bounded() {
    let mut h = Harness::ready(config());
    let _answers: Vec<_> = (0..COMMANDS_IN_FLIGHT + 10).map(|_| h.request(ping(), true)).collect();
    let sent = h.sent();
    assert_eq!(sent.len(), COMMANDS_IN_FLIGHT);
    assert!(h.sent().is_empty(), "no more until a reply comes back");
    h.answer(&sent[0], |id| ServerFrame::Pong { id: Some(id) });
    assert_eq!(h.sent().len(), 1);
}

#[test]
fn closed_with_4001_a_token_client_stops_and_a_password_client_logs_in_again() {
    let mut h = Harness::new(Credentials::token("t0"), config());
    h.open();
    let auth = h.sent_one("auth");
    h.answer(&auth, authenticated("alice", None));
    h.answer_chat_list(&[]);
    h.lose(Error::server(ErrorCode::InvalidToken, "unauthorized: token revoked"));
    match h.actions().as_slice() {
        [Action::Stop(Some(error))] => {
            assert_eq!(error.server_code(), Some(ErrorCode::InvalidToken));
        }
        other => panic!("expected a stop, got {other:?}"),
    }
    assert_eq!(*h.shared.token.lock().unwrap(), None, "the dead token is forgotten");

    let mut h = Harness::ready(config());
    h.lose(Error::server(ErrorCode::InvalidToken, "unauthorized: password changed"));
    let delay = match &*h.state.borrow() {
        ConnectionState::Reconnecting { delay, .. } => *delay,
        other => panic!("expected reconnecting, got {other:?}"),
    };
    h.advance(delay);
    h.open();
    h.sent_one("login");
}

#[test]
fn reconnection_gives_up_after_max_attempts() {
    let mut config = config();
    config.reconnect.max_attempts = Some(2);
    let mut h = Harness::ready(config);
    h.lose(Error::Transport("reset".into()));
    for _ in 0..2 {
        let delay = match &*h.state.borrow() {
            ConnectionState::Reconnecting { delay, .. } => *delay,
            other => panic!("expected reconnecting, got {other:?}"),
        };
        h.advance(delay);
        h.open();
        h.lose(Error::Transport("refused".into()));
    }
    assert!(matches!(h.actions().as_slice(), [Action::Stop(Some(Error::Transport(_)))]));
}

#[test]
fn close_flushes_the_queue_then_stops_and_refuses_what_comes_after() {
    let mut h = Harness::ready(config());
    let mut outcome = h.enqueue(1, "c1");
    let (done, mut closed) = tokio::sync::oneshot::channel();
    h.session.handle_command(ToDriver::Close(done), h.now);
    let send = h.sent_one("new_message");
    assert!(h.actions().is_empty(), "waits for the queued message");
    let mut late = h.request(ping(), true);
    assert!(matches!(late.try_recv(), Ok(Err(Error::Closed))), "refused while closing");
    h.receive(&ack(&send, 1));
    assert!(h.sent().is_empty());
    assert!(matches!(h.actions().as_slice(), [Action::Stop(None)]));
    assert!(outcome.try_recv().expect("settled").is_ok());
    h.session.finish(None, Vec::new());
    assert!(closed.try_recv().is_ok(), "close returns");
    assert_eq!(*h.state.borrow(), ConnectionState::Closed { error: None });
}

#[test]
fn close_while_waiting_to_reconnect_stops_at_once_and_fails_the_queue() {
    let mut h = Harness::ready(config());
    let mut outcome = h.enqueue(1, "c1");
    h.lose(Error::Transport("reset".into()));
    let (done, _closed) = tokio::sync::oneshot::channel();
    h.session.handle_command(ToDriver::Close(done), h.now);
    assert!(matches!(h.actions().as_slice(), [Action::Stop(None)]));
    h.session.finish(None, Vec::new());
    assert!(matches!(outcome.try_recv(), Ok(Err(Error::Closed))));
}

/// An event of chat `chat` with sequence number `seq`, made by alice.
fn chat_event(chat: i64, seq: i64, kind: EventKind, member: Option<&str>) -> Message {
    Message {
        id: 1000 + seq,
        chat_id: ChatId(chat),
        seq: Seq(seq),
        author: "alice".into(),
        content: String::new(),
        timestamp: Timestamp::from_unix_millis(0),
        client_id: None,
        edited_at: None,
        deleted: false,
        kind,
        target: None,
        member: member.map(str::to_owned),
        role: None,
        attachments: Vec::new(),
    }
}

fn post(chat: i64, seq: i64) -> Message {
    Message { content: format!("post {seq}"), ..chat_event(chat, seq, EventKind::Message, None) }
}

/// What the application was told, in order: `m<seq>` a post, `<kind><seq>` an event, and the
/// names of the other events of interest here.
fn told(h: &mut Harness) -> Vec<String> {
    h.drain_events()
        .into_iter()
        .filter_map(|event| match event {
            Event::Message(m) => Some(format!("m{}", m.seq.0)),
            Event::ChatEvent(m) => Some(format!("{}{}", m.kind.as_str(), m.seq.0)),
            Event::Edited(m) => Some(format!("edited{}", m.seq.0)),
            Event::Deleted { seq, .. } => Some(format!("deleted{}", seq.0)),
            Event::ChatChanged(chat) => Some(format!("changed{}", chat.id.0)),
            Event::ChatDeleted { chat_id, by } => Some(format!("gone{}by{by}", chat_id.0)),
            _ => None,
        })
        .collect()
}

#[test]
fn every_authentication_command_declares_protocol_version_2() {
    let mut h = Harness::new(Credentials::password("alice", "secret-pw"), config());
    h.open();
    let login = h.sent_one("login");
    assert_eq!(login["protocol"], 2);
    h.answer(&login, authenticated("alice", Some("t1")));
    h.answer_chat_list(&[]);
    h.lose(Error::Transport("reset".into()));
    h.advance(config().reconnect.delay(0, 0.0));
    h.open();
    assert_eq!(h.sent_one("auth")["protocol"], 2, "the token's `auth` too");

    let mut h =
        Harness::new(Credentials::register("carol", "c@example.org", "secret-pw"), config());
    h.open();
    assert_eq!(h.sent_one("register")["protocol"], 2);
}

#[test]
fn live_edits_and_deletions_come_as_their_sequenced_event_then_the_convenience() {
    let mut h = Harness::ready(config());
    let h = &mut h;
    h.receive(&ServerFrame::ChatCreated { chat: chat(7, 0) });
    h.receive(&ServerFrame::NewMessage { message: post(7, 1) });
    let edited = Message { content: "edited".into(), ..post(7, 1) };
    let event = Message { target: Some(Seq(1)), ..chat_event(7, 2, EventKind::Edit, None) };
    h.receive(&ServerFrame::MessageEdited { message: edited, event: Some(event.clone()) });
    let deletion = Message { target: Some(Seq(1)), ..chat_event(7, 3, EventKind::Delete, None) };
    h.receive(&ServerFrame::MessageDeleted {
        chat_id: ChatId(7),
        seq: Seq(1),
        event: Some(deletion.clone()),
    });
    // The same frames again (say, also received through a resume): nothing new.
    h.receive(&ServerFrame::MessageDeleted {
        chat_id: ChatId(7),
        seq: Seq(1),
        event: Some(deletion),
    });
    assert_eq!(told(h), ["m1", "edit2", "edited1", "delete3", "deleted1"]);
    let positions = h.session.chats.positions();
    assert_eq!(positions[&ChatId(7)], Seq(3), "the cursor counts events");
}

#[test]
fn removed_from_a_group_the_client_tells_the_removal_last_and_never_resumes_it() {
    let mut h = Harness::ready(config());
    h.receive(&ServerFrame::ChatCreated { chat: chat(7, 0) });
    h.receive(&ServerFrame::ChatCreated { chat: chat(8, 0) });
    h.receive(&ServerFrame::NewMessage { message: post(7, 1) });
    let removal = chat_event(7, 2, EventKind::Remove, Some("alice"));
    let now = Chat { participants: vec![Participant::new("bob")], ..chat(7, 2) };
    h.receive(&ServerFrame::ChatChanged { chat: now, events: vec![removal] });
    assert_eq!(told(&mut h), ["m1", "remove2", "changed7"]);
    assert!(!h.session.chats.positions().contains_key(&ChatId(7)), "forgotten");
    // A frame that was already on its way starts nothing.
    h.receive(&ServerFrame::NewMessage { message: post(7, 3) });
    assert!(told(&mut h).is_empty());

    // After a reconnect, the chat list (without chat 7) is all that is asked: no resume of
    // the chat, so no `forbidden` to answer it.
    h.lose(Error::Transport("reset".into()));
    h.reconnect();
    h.answer_chat_list(&[chat(8, 0)]);
    assert!(h.sent().is_empty(), "nothing to resume");
}

#[test]
fn a_chat_deleted_is_told_and_forgotten() {
    let mut h = Harness::ready(config());
    h.receive(&ServerFrame::ChatCreated { chat: chat(7, 0) });
    h.receive(&ServerFrame::NewMessage { message: post(7, 1) });
    h.receive(&ServerFrame::ChatDeleted { chat_id: ChatId(7), by: "bob".into() });
    assert_eq!(told(&mut h), ["m1", "gone7bybob"]);
    assert!(h.session.chats.positions().is_empty());
}

#[test]
fn items_missed_while_away_are_resumed_posts_and_events_in_one_sequence() {
    let mut h = Harness::ready(config());
    h.receive(&ServerFrame::ChatCreated { chat: chat(7, 0) });
    h.receive(&ServerFrame::NewMessage { message: post(7, 1) });
    told(&mut h);
    h.lose(Error::Transport("reset".into()));
    h.reconnect();
    h.answer_chat_list(&[chat(7, 4)]);
    let resume = h.sent_one("resume");
    assert_eq!(resume["since"], 1);
    let items = vec![
        Message { target: Some(Seq(1)), ..chat_event(7, 2, EventKind::Edit, None) },
        chat_event(7, 3, EventKind::Join, Some("carol")),
        post(7, 4),
    ];
    h.answer(&resume, move |id| ServerFrame::Resumed {
        id: Some(id),
        chat_id: ChatId(7),
        messages: items.clone(),
        more: false,
    });
    assert_eq!(told(&mut h), ["edit2", "join3", "m4"], "no live convenience for resumed ones");
}

#[test]
fn invitations_pushed_to_the_invitee_are_events_and_the_reply_to_invite_is_not() {
    let mut h = Harness::ready(config());
    let invitation = Invitation {
        id: 12,
        chat_id: ChatId(9),
        kind: ChatKind::Group,
        name: Some("Crabs".into()),
        inviter: "bob".into(),
        invitee: "alice".into(),
        state: InvitationState::Pending,
        created_at: Timestamp::from_unix_millis(0),
    };
    let cancelled = Invitation { state: InvitationState::Cancelled, ..invitation.clone() };
    h.receive(&ServerFrame::Invitation { id: None, invitation: invitation.clone() });
    h.receive(&ServerFrame::Invitation { id: None, invitation: cancelled.clone() });
    // The reply to this client's own `invite` goes to the caller only.
    let invite = Command::Invite { chat_id: Some(ChatId(9)), username: "dave".into() };
    let mut reply = h.request(invite, true);
    let sent = h.sent_one("invite");
    let theirs =
        Invitation { invitee: "dave".into(), inviter: "alice".into(), ..invitation.clone() };
    h.answer(&sent, move |id| ServerFrame::Invitation { id: Some(id), invitation: theirs.clone() });
    assert!(matches!(reply.try_recv(), Ok(Ok(ServerFrame::Invitation { .. }))));
    let told: Vec<Invitation> = h
        .drain_events()
        .into_iter()
        .filter_map(|event| match event {
            Event::Invitation(invitation) => Some(invitation),
            _ => None,
        })
        .collect();
    assert_eq!(told, [invitation, cancelled]);
}
