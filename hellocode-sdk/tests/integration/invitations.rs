//! Invitations and invite links: against a real server (announced, listed, accepted, declined,
//! cancelled; links joined, counted, revoked), resent after a lost connection (a scripted
//! server that loses each reply once), and a bot's `on_invite`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hellocode_sdk::bot::{Bot, Command, InviteContext};
use hellocode_sdk::{
    ChatId, ChatKind, Client, ConnectionState, Credentials, Error, Event, EventKind, Events,
    Invitation, InvitationState, Message, Role, WebSocketTransport,
};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::bot::{echo, stopped};
use crate::fake::{CLOSE, Fake, chat, standard};
use crate::harness::{
    Kind, TestServer, fast_config, marker, next_matching, next_told, on_transports, password,
};
use crate::proxy::Proxy;

on_transports!(
    an_invitation_is_announced_listed_and_accepted,
    a_declined_or_cancelled_invitation_joins_no_one,
    an_invite_link_joins_until_it_is_revoked_or_used_up,
);

fn code<T: std::fmt::Debug>(result: Result<T, Error>) -> &'static str {
    result.expect_err("the server refuses").code()
}

async fn next_invitation(events: &mut Events) -> Invitation {
    next_matching(events, |event| match event {
        Event::Invitation(invitation) => Some(invitation),
        _ => None,
    })
    .await
}

async fn an_invitation_is_announced_listed_and_accepted(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.register(kind, "alice").await;
    let bob = server.register(kind, "bob").await;
    let dave = server.register(kind, "dave").await;
    let mut bob_events = bob.events();
    let mut dave_events = dave.events();
    let group = alice.create_group("Crabs", vec!["bob".into()]).await.expect("group");
    alice.send(group.id, "before dave").await.expect("sent");

    let invitation = alice.invite(group.id, "dave").await.expect("invited");
    assert_eq!(
        (invitation.chat_id, invitation.kind, invitation.name.as_deref()),
        (group.id, ChatKind::Group, Some("Crabs"))
    );
    assert_eq!(
        (invitation.inviter.as_str(), invitation.invitee.as_str(), invitation.state),
        ("alice", "dave", InvitationState::Pending)
    );
    // The invitee is told at once; inviting again returns the pending invitation as it is.
    assert_eq!(next_invitation(&mut dave_events).await, invitation);
    assert_eq!(alice.invite(group.id, "dave").await.expect("again"), invitation);
    assert_eq!(dave.invitations().await.expect("listed"), std::slice::from_ref(&invitation));
    // Invited is not a member: nothing of the chat is readable yet.
    assert_eq!(code(dave.fetch_messages(group.id, None, None).await), "forbidden");

    // Who may invite whom.
    assert_eq!(code(bob.invite(group.id, "dave").await), "forbidden", "a plain member");
    assert_eq!(code(dave.invite(group.id, "bob").await), "forbidden", "an outsider");
    assert_eq!(code(alice.invite(group.id, "bob").await), "invalid_field", "a member");
    assert_eq!(code(alice.invite(group.id, "nobody").await), "not_found");
    let direct = alice.create_chat(vec!["bob".into()]).await.expect("direct");
    assert_eq!(code(alice.invite(direct.id, "dave").await), "invalid_field", "a direct chat");

    let joined = dave.accept_invitation(invitation.id).await.expect("accepted");
    assert_eq!(joined.id, group.id);
    assert_eq!(joined.role_of("dave"), Some(Role::Member));
    // The invitee gets the chat, then its join (which they authored), as every member does.
    match next_told(&mut dave_events).await {
        Event::ChatCreated(chat) => assert_eq!(chat.id, group.id),
        other => panic!("expected the new chat, got {other:?}"),
    }
    for events in [&mut dave_events, &mut bob_events] {
        let join = next_matching(events, |event| match event {
            Event::ChatEvent(item) | Event::Message(item) if item.chat_id == group.id => {
                (item.kind != EventKind::Message).then_some(item)
            }
            _ => None,
        })
        .await;
        assert_eq!(
            (join.kind, join.member.as_deref(), join.author.as_str(), join.role),
            (EventKind::Join, Some("dave"), "dave", Some(Role::Member))
        );
    }
    // The members were told nothing of the invitation itself: bob's next news is the marker.
    alice.send(group.id, "welcome").await.expect("sent");
    let next = next_matching(&mut bob_events, |event| match event {
        Event::Message(message) => Some(Event::Message(message)),
        Event::Invitation(invitation) => Some(Event::Invitation(invitation)),
        _ => None,
    })
    .await;
    assert!(matches!(&next, Event::Message(m) if m.content == "welcome"), "{next:?}");

    // Now dave reads the chat from its start.
    let history: Vec<(EventKind, String)> = dave
        .fetch_messages(group.id, None, Some(10))
        .await
        .expect("readable")
        .into_iter()
        .map(|item| (item.kind, item.content))
        .collect();
    assert!(history.contains(&(EventKind::Message, "before dave".to_owned())), "{history:?}");
    // Accepting again (a retry whose reply was lost) is answered with the chat; nothing pends.
    assert_eq!(dave.accept_invitation(invitation.id).await.expect("again").id, group.id);
    assert!(dave.invitations().await.expect("listed").is_empty());
    assert_eq!(code(bob.accept_invitation(invitation.id).await), "not_found", "not bob's");
    for client in [alice, bob, dave] {
        client.close().await;
    }
    server.stop().await;
}

async fn a_declined_or_cancelled_invitation_joins_no_one(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.register(kind, "alice").await;
    let bob = server.register(kind, "bob").await;
    let carol = server.register(kind, "carol").await;
    let erin = server.register(kind, "erin").await;
    let mut erin_events = erin.events();
    let group = alice.create_group("Crabs", vec!["bob".into()]).await.expect("group");

    // Declined: answered again the same way, and it cannot be accepted afterwards.
    let invitation = alice.invite(group.id, "carol").await.expect("invited");
    carol.decline_invitation(invitation.id).await.expect("declined");
    carol.decline_invitation(invitation.id).await.expect("declined again");
    assert_eq!(code(carol.accept_invitation(invitation.id).await), "not_found");
    assert!(carol.invitations().await.expect("listed").is_empty());
    assert_eq!(code(carol.get_chat(group.id).await), "forbidden");
    assert!(!alice.get_chat(group.id).await.expect("chat").has_participant("carol"));

    // Cancelled: a plain member may not, the inviter may; the invitee is told.
    let invitation = alice.invite(group.id, "erin").await.expect("invited");
    assert_eq!(next_invitation(&mut erin_events).await.state, InvitationState::Pending);
    assert_eq!(code(bob.cancel_invitation(invitation.id).await), "forbidden");
    assert_eq!(code(carol.cancel_invitation(invitation.id).await), "not_found", "an outsider");
    alice.cancel_invitation(invitation.id).await.expect("cancelled");
    let cancelled = next_invitation(&mut erin_events).await;
    assert_eq!((cancelled.id, cancelled.state), (invitation.id, InvitationState::Cancelled));
    assert_eq!(code(erin.accept_invitation(invitation.id).await), "not_found");
    assert!(erin.invitations().await.expect("listed").is_empty());
    assert_eq!(
        code(alice.cancel_invitation(invitation.id).await),
        "not_found",
        "no longer pending"
    );
    for client in [alice, bob, carol, erin] {
        client.close().await;
    }
    server.stop().await;
}

async fn an_invite_link_joins_until_it_is_revoked_or_used_up(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.register(kind, "alice").await;
    let bob = server.register(kind, "bob").await;
    let carol = server.register(kind, "carol").await;
    let dave = server.register(kind, "dave").await;
    let mut alice_events = alice.events();
    let mut carol_events = carol.events();
    let group = alice.create_group("Crabs", vec!["bob".into()]).await.expect("group");

    let day = Duration::from_secs(86_400);
    let issued = alice.create_invite_link(group.id, Some(day), None).await.expect("link");
    let link = issued.link.clone();
    assert_eq!((link.chat_id, link.created_by.as_str()), (group.id, "alice"));
    assert_eq!((link.uses, link.max_uses, link.revoked), (0, None, false));
    assert_eq!(link.expires_at.unix_millis() - link.created_at.unix_millis(), 86_400_000);
    assert!(issued.token.len() >= 32, "a secret long enough not to be guessed");
    assert!(!format!("{issued:?}").contains(&issued.token), "never printed");
    assert_eq!(code(bob.create_invite_link(group.id, None, None).await), "forbidden");
    assert_eq!(code(bob.invite_links(group.id).await), "forbidden");

    let joined = carol.join_by_link(issued.token.clone()).await.expect("joined");
    assert_eq!((joined.id, joined.role_of("carol")), (group.id, Some(Role::Member)));
    match next_told(&mut carol_events).await {
        Event::ChatCreated(chat) => assert_eq!(chat.id, group.id),
        other => panic!("expected the new chat, got {other:?}"),
    }
    let join = next_matching(&mut alice_events, |event| match event {
        Event::ChatEvent(item) if item.kind == EventKind::Join => Some(item),
        _ => None,
    })
    .await;
    assert_eq!((join.member.as_deref(), join.author.as_str()), (Some("carol"), "carol"));
    // Joining again (a retry whose reply was lost) is answered with the chat and uses nothing.
    assert_eq!(carol.join_by_link(issued.token.clone()).await.expect("again").id, group.id);
    let listed = alice.invite_links(group.id).await.expect("links");
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].id, listed[0].uses, listed[0].revoked), (link.id, 1, false));

    alice.revoke_invite_link(group.id, link.id).await.expect("revoked");
    alice.revoke_invite_link(group.id, link.id).await.expect("revoking again changes nothing");
    assert!(alice.invite_links(group.id).await.expect("links")[0].revoked);
    // A revoked link and a made-up one are refused alike, and say nothing of the chat.
    let refused = dave.join_by_link(issued.token.clone()).await.expect_err("revoked");
    let unknown = dave.join_by_link("0".repeat(64)).await.expect_err("unknown");
    assert_eq!((refused.code(), unknown.code()), ("not_found", "not_found"));
    assert_eq!(refused.to_string(), unknown.to_string());
    assert!(!refused.to_string().contains("Crabs") && !refused.to_string().contains("alice"));
    assert_eq!(code(dave.get_chat(group.id).await), "forbidden");

    // A link used up refuses the next joiner the same way.
    let once = alice.create_invite_link(group.id, None, Some(1)).await.expect("link");
    assert_eq!(once.link.max_uses, Some(1));
    dave.join_by_link(once.token.clone()).await.expect("the one use");
    let erin = server.register(kind, "erin").await;
    assert_eq!(erin.join_by_link(once.token.clone()).await.expect_err("used up"), refused);

    // Lifetimes: a part of a second counts as a second; none, or over 30 days, is refused.
    let short = alice.create_invite_link(group.id, Some(Duration::from_millis(1_500)), None);
    let short = short.await.expect("link").link;
    assert_eq!(short.expires_at.unix_millis() - short.created_at.unix_millis(), 2_000);
    let week = alice.create_invite_link(group.id, None, None).await.expect("link").link;
    assert_eq!(week.expires_at.unix_millis() - week.created_at.unix_millis(), 7 * 86_400_000);
    for (lifetime, uses) in [(Some(Duration::ZERO), None), (Some(day * 31), None), (None, Some(0))]
    {
        let refused = alice.create_invite_link(group.id, lifetime, uses).await;
        assert_eq!(code(refused), "invalid_field", "{lifetime:?} {uses:?}");
    }
    let direct = alice.create_chat(vec!["bob".into()]).await.expect("direct");
    assert_eq!(code(alice.create_invite_link(direct.id, None, None).await), "invalid_field");
    let other = alice.create_group("Other", vec!["bob".into()]).await.expect("group");
    assert_eq!(code(alice.revoke_invite_link(other.id, link.id).await), "not_found");
    assert_eq!(alice.invite_links(group.id).await.expect("links").len(), 4);
    for client in [alice, bob, carol, dave, erin] {
        client.close().await;
    }
    server.stop().await;
}

// ---- resent after a lost connection ----

/// An invitation of `ghost` to chat 9, as the server writes it.
fn invitation_json(state: &str) -> Value {
    json!({
        "id": 12, "chatId": 9, "kind": "group", "name": "Crabs", "inviter": "alice",
        "invitee": "ghost", "state": state, "createdAt": "2023-11-14T22:30:00.000Z",
    })
}

fn link_json() -> Value {
    json!({
        "id": 3, "chatId": 9, "createdBy": "ghost", "createdAt": "2023-11-14T22:40:00.000Z",
        "expiresAt": "2023-11-15T22:40:00.000Z", "uses": 0, "revoked": false,
    })
}

/// The server's answer to an invitation or invite-link command.
fn answer(frame: &Value) -> Option<Value> {
    let id = frame["id"].clone();
    let group = serde_json::to_value(chat(9)).expect("json");
    Some(match frame["command"].as_str()? {
        "invite" => {
            json!({"command": "invitation", "id": id, "invitation": invitation_json("pending")})
        }
        "list_invitations" => {
            json!({"command": "invitations", "id": id, "invitations": [invitation_json("pending")]})
        }
        "accept_invitation" | "join_by_link" => json!({"command": "chat", "id": id, "chat": group}),
        "decline_invitation" | "cancel_invitation" | "revoke_invite_link" => {
            json!({"command": "ok", "id": id})
        }
        "list_invite_links" => {
            json!({"command": "invite_links", "id": id, "chatId": 9, "links": [link_json()]})
        }
        "create_invite_link" => {
            json!({"command": "invite_link", "id": id, "link": link_json(), "token": "secret"})
        }
        _ => return None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitation_commands_are_resent_after_a_lost_connection_and_a_new_link_is_not() {
    // Each command's first arrival ends the connection before its reply: the client cannot know
    // whether it was applied. Later arrivals are answered.
    let seen = Arc::new(Mutex::new(HashMap::<String, usize>::new()));
    let counted = seen.clone();
    let fake = Fake::new(move |_, frame| {
        let Some(reply) = answer(frame) else {
            return standard(frame).into_iter().collect();
        };
        let command = frame["command"].as_str().unwrap_or_default().to_owned();
        let mut seen = counted.lock().expect("seen");
        let arrivals = seen.entry(command).or_default();
        *arrivals += 1;
        if *arrivals == 1 { vec![CLOSE] } else { vec![reply] }
    });
    let client = Client::connect_with(fake.clone(), Credentials::token("t0"), fast_config())
        .await
        .expect("connects");
    let group = ChatId(9);

    let invitation = client.invite(group, "ghost").await.expect("invite resent");
    assert_eq!((invitation.id, invitation.state), (12, InvitationState::Pending));
    assert_eq!(client.invitations().await.expect("list resent").len(), 1);
    assert_eq!(client.accept_invitation(12).await.expect("accept resent").id, group);
    client.decline_invitation(12).await.expect("decline resent");
    client.cancel_invitation(12).await.expect("cancel resent");
    assert_eq!(client.invite_links(group).await.expect("links resent")[0].id, 3);
    client.revoke_invite_link(group, 3).await.expect("revoke resent");
    assert_eq!(client.join_by_link("secret").await.expect("join resent").id, group);
    // A second creation would be a second link: the lost reply is the caller's to know.
    let lost = client.create_invite_link(group, None, None).await.expect_err("not resent");
    assert_eq!(lost, Error::ConnectionLost);

    // Each resend is the same command, on the next connection.
    let received = fake.received();
    let arrivals = |command: &str| -> Vec<(usize, Value)> {
        received
            .iter()
            .filter(|(_, frame)| frame["command"] == command)
            .map(|(connection, frame)| {
                let mut frame = frame.clone();
                frame.as_object_mut().expect("an object").remove("id");
                (*connection, frame)
            })
            .collect()
    };
    for command in [
        "invite",
        "list_invitations",
        "accept_invitation",
        "decline_invitation",
        "cancel_invitation",
        "list_invite_links",
        "revoke_invite_link",
        "join_by_link",
    ] {
        let sent = arrivals(command);
        assert_eq!(sent.len(), 2, "{command} sent twice: {sent:?}");
        assert_eq!(sent[0].1, sent[1].1, "{command} resent as it was");
        assert_eq!(sent[1].0, sent[0].0 + 1, "{command} resent on the next connection");
    }
    assert_eq!(arrivals("create_invite_link").len(), 1);
    // Nine replies lost, nine connections lost; the client goes on with a tenth.
    client.ping().await.expect("connected again");
    assert_eq!(fake.connections(), 10);
    client.close().await;
}

// ---- bots ----

/// How the test's invite handler answered: the invitation's id, and what it did.
type Answers = mpsc::UnboundedReceiver<(i64, &'static str)>;

/// A bot that accepts alice's invitations (greeting the chat), declines mallory's, leaves the
/// others pending, and reports each answer.
fn welcoming_bot(client: Client) -> (Bot, Answers) {
    let (answered, answers) = mpsc::unbounded_channel();
    let bot = Bot::new(client).command(Command::new("echo", echo)).on_invite(
        move |ctx: InviteContext| {
            let answered = answered.clone();
            async move {
                if ctx.inviter() == "alice" {
                    let chat = ctx.accept().await?;
                    let _ = answered.send((ctx.invitation().id, "accepted"));
                    Ok::<_, Error>(Some(format!("Hello, {}!", chat.name.unwrap_or_default())))
                } else if ctx.inviter() == "mallory" {
                    ctx.decline().await?;
                    let _ = answered.send((ctx.invitation().id, "declined"));
                    Ok(None)
                } else {
                    let _ = answered.send((ctx.invitation().id, "left pending"));
                    Ok(None)
                }
            }
        },
    );
    (bot, answers)
}

/// The next message `author` posts in `chat`.
async fn next_post_by(events: &mut Events, chat: ChatId, author: &str) -> Message {
    next_matching(events, |event| match event {
        Event::Message(message) if message.chat_id == chat && message.author == author => {
            Some(message)
        }
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_answers_invitations_pending_at_start_live_and_made_while_it_was_away() {
    let server = TestServer::start().await;
    let alice = server.register(Kind::WebSocket, "alice").await;
    let mallory = server.register(Kind::WebSocket, "mallory").await;
    let carol = server.register(Kind::WebSocket, "carol").await;
    server.register(Kind::WebSocket, "helper").await.close().await;
    let proxy = Proxy::start(server.addr()).await;
    let transport = WebSocketTransport::new(&proxy.ws_url()).expect("url");
    let helper =
        Client::connect_with(transport, password("helper"), fast_config()).await.expect("connects");
    let mut helper_events = helper.events();
    let mut alice_events = alice.events();

    // Made before the bot runs: answered when it starts.
    let crabs = alice.create_group("Crabs", vec!["mallory".into()]).await.expect("group");
    let early = alice.invite(crabs.id, "helper").await.expect("invited");
    let (bot, mut answers) = welcoming_bot(helper.clone());
    let running = tokio::spawn(bot.run());
    assert_eq!(answers.recv().await, Some((early.id, "accepted")));
    assert_eq!(next_post_by(&mut alice_events, crabs.id, "helper").await.content, "Hello, Crabs!");
    // In the chat now, the bot answers commands there.
    marker(&alice, crabs.id, &mut alice_events, "!echo hi", &[("helper", "hi")]).await;

    // Live, from someone else: declined; the bot is not in that chat.
    let trap = mallory.create_group("Trap", vec!["alice".into()]).await.expect("group");
    let declined = mallory.invite(trap.id, "helper").await.expect("invited");
    // The next answer is this one: the invitation handled at start was not offered again.
    assert_eq!(answers.recv().await, Some((declined.id, "declined")));
    assert!(helper.invitations().await.expect("listed").is_empty());
    assert_eq!(code(helper.get_chat(trap.id).await), "forbidden");

    // Live, left pending by the handler: it stays pending, and is not offered again below.
    let pondered = carol.create_group("Maybe", vec!["alice".into()]).await.expect("group");
    let pending = carol.invite(pondered.id, "helper").await.expect("invited");
    assert_eq!(answers.recv().await, Some((pending.id, "left pending")));
    assert_eq!(helper.invitations().await.expect("listed"), [pending]);

    // Made while the bot was away (no event reached it): answered once it is back, by the
    // pending invitations listed again (carol's among them, not offered twice in a run).
    proxy.set_down(true);
    next_matching(&mut helper_events, |event| match event {
        Event::Connection(ConnectionState::Reconnecting { .. }) => Some(()),
        _ => None,
    })
    .await;
    let later = alice.create_group("Later", vec!["mallory".into()]).await.expect("group");
    let away = alice.invite(later.id, "helper").await.expect("invited");
    proxy.set_down(false);
    assert_eq!(answers.recv().await, Some((away.id, "accepted")));
    assert_eq!(next_post_by(&mut alice_events, later.id, "helper").await.content, "Hello, Later!");

    // The greeting is posted once: the handler's reply carries the invitation's key.
    let posts = messages_by(&alice, later.id, "helper").await;
    assert_eq!(posts, ["Hello, Later!"]);
    helper.close().await;
    stopped(running).await;
    for client in [alice, mallory, carol] {
        client.close().await;
    }
    server.stop().await;
}

/// What `author` posted in `chat`, oldest first.
async fn messages_by(reader: &Client, chat: ChatId, author: &str) -> Vec<String> {
    let mut page = reader.fetch_messages(chat, None, Some(100)).await.expect("history");
    page.reverse();
    page.into_iter()
        .filter(|item| item.author == author && item.kind == EventKind::Message)
        .map(|item| item.content)
        .collect()
}
