//! Invitations and invite links over the WebSocket and REST: the invitee told live and reading
//! nothing before accepting, declining and cancelling, links joining until used up or revoked,
//! and, per command, outsiders, removed members, plain members and holders of dead links
//! refused without learning anything, the other members told nothing.

use serde_json::{Value, json};

use crate::harness::{Backend, Client, TestServer, group_among, test_settings};

on_backends!(invitations:
    an_invitation_is_announced_listed_and_accepted,
    declining_and_cancelling_leave_the_invitee_out,
    invite_links_join_until_used_up_or_revoked,
    invite_refuses_all_but_owners_and_admins,
    list_invitations_shows_only_ones_own,
    accept_invitation_refuses_all_but_the_invitee,
    decline_invitation_refuses_all_but_the_invitee,
    cancel_invitation_refuses_all_but_the_inviter_owners_and_admins,
    create_invite_link_refuses_all_but_owners_and_admins,
    list_invite_links_refuses_all_but_owners_and_admins,
    revoke_invite_link_refuses_all_but_owners_and_admins,
    join_by_link_refuses_dead_links_alike,
    creation_limits_cover_invitations_and_links,
    rest_maps_invitations_and_links_onto_the_same_commands,
);

/// The one answer for every dead or unknown link.
const NO_LINK: &str = "invite link not found or no longer valid";

/// A socket speaking protocol version 2.
async fn socket(server: &TestServer, token: &str) -> Client {
    server.connect(&format!("/ws?token={token}&protocol=2")).await
}

fn commands(frames: &[Value]) -> Vec<&str> {
    frames.iter().map(|frame| frame["command"].as_str().expect("command")).collect()
}

fn members(chat: &Value) -> Vec<String> {
    let participants = chat["participants"].as_array().expect("participants");
    participants.iter().map(|p| p["username"].as_str().expect("name").to_owned()).collect()
}

/// The one `join` event of a `chat_changed` frame: `(author, member, role)`.
fn join_of(changed: &Value) -> (String, String, String) {
    let events = changed["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{changed}");
    let event = &events[0];
    assert_eq!(event["kind"], "join", "{changed}");
    let text = |field: &str| event[field].as_str().expect(field).to_owned();
    (text("author"), text("member"), text("role"))
}

fn join_by(name: &str) -> (String, String, String) {
    (name.to_owned(), name.to_owned(), "member".to_owned())
}

pub async fn an_invitation_is_announced_listed_and_accepted(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let (tokens, chat) = group_among(&server, "Crabs", &["alice", "bob"]).await;
    let dave_token = server.user("dave").await;
    let mut alice = socket(&server, &tokens[0]).await;
    let mut bob = socket(&server, &tokens[1]).await;
    let before = alice.post(chat, "before you came", 1).await;
    bob.expect("new_message").await;
    // Dave has a chat of his own, and a connection bound to it.
    let body = json!({ "participants": ["bob"] });
    let (status, own) =
        server.http("POST", "/api/chat/create/", Some(&dave_token), Some(&body)).await;
    assert_eq!(status, 201, "{own}");
    bob.expect("chat_created").await;
    let mut dave = socket(&server, &dave_token).await;
    let mut dave_bound =
        server.connect(&format!("/ws/chat/{}?token={dave_token}", own["id"])).await;

    let invite = json!({ "command": "invite", "chatId": chat, "username": "dave" });
    let (invited, told) = alice.call(invite.clone(), 2).await;
    assert!(told.is_empty(), "the inviter is told nothing but the reply: {told:?}");
    assert_eq!(invited["command"], "invitation", "{invited}");
    let invitation = invited["invitation"].clone();
    assert_eq!(invitation["chatId"], chat);
    assert_eq!((&invitation["kind"], &invitation["name"]), (&json!("group"), &json!("Crabs")));
    assert_eq!((&invitation["inviter"], &invitation["invitee"]), (&json!("alice"), &json!("dave")));
    assert_eq!(invitation["state"], "pending");
    // Every connection of the invitee hears of it, the one bound to another chat included.
    for connection in [&mut dave, &mut dave_bound] {
        let event = connection.expect("invitation").await;
        assert_eq!(event, json!({ "command": "invitation", "invitation": invitation }));
    }
    bob.expect_nothing_pending().await;
    // Inviting again returns the same invitation, announced once only.
    let (again, _) = alice.call(invite, 3).await;
    assert_eq!(again["invitation"], invitation);
    dave.expect_nothing_pending().await;

    let listed = dave.request(json!({ "command": "list_invitations" }), 1).await;
    assert_eq!(listed["invitations"], json!([invitation]), "{listed}");

    // Not a member yet: nothing of the chat.
    for (n, command) in [
        json!({ "command": "fetch_messages", "chatId": chat }),
        json!({ "command": "resume", "chatId": chat, "since": 0 }),
        json!({ "command": "get_chat", "chatId": chat }),
        json!({ "command": "new_message", "chatId": chat, "message": "early" }),
        json!({ "command": "typing", "chatId": chat }),
    ]
    .into_iter()
    .enumerate()
    {
        let refused = dave.request(command.clone(), 10 + n as i64).await;
        assert_eq!(refused["code"], "forbidden", "{command} → {refused}");
        assert!(!refused.to_string().contains("before you came"), "{refused}");
    }

    let accept = json!({ "command": "accept_invitation", "invitationId": invitation["id"] });
    let (joined, told) = dave.call(accept.clone(), 20).await;
    assert_eq!(joined["command"], "chat", "{joined}");
    assert_eq!(members(&joined["chat"]), ["alice", "bob", "dave"]);
    assert_eq!(commands(&told), ["chat_created", "chat_changed"]);
    assert_eq!(join_of(&told[1]), join_by("dave"));
    assert_eq!(commands(&[dave_bound.recv().await]), ["chat_created"], "on every connection");
    for member in [&mut alice, &mut bob] {
        let changed = member.expect("chat_changed").await;
        assert_eq!(join_of(&changed), join_by("dave"));
        assert_eq!(changed["events"][0]["seq"], before["seq"].as_i64().expect("seq") + 1);
    }

    // Now a member: everything, history included.
    let history = dave.request(json!({ "command": "fetch_messages", "chatId": chat }), 21).await;
    assert_eq!(history["messages"][0]["content"], "before you came", "{history}");
    let resumed =
        dave.request(json!({ "command": "resume", "chatId": chat, "since": 0 }), 22).await;
    let kinds: Vec<&str> = resumed["messages"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["kind"].as_str().unwrap_or("post"))
        .collect();
    assert_eq!(kinds, ["post", "join"], "{resumed}");
    dave.post(chat, "hello all", 23).await;
    alice.expect("new_message").await;
    bob.expect("new_message").await;
    let listed = dave.request(json!({ "command": "list_invitations" }), 24).await;
    assert_eq!(listed["invitations"], json!([]));
    // Accepting again (a retry whose reply was lost) is answered with the chat, and changes
    // and announces nothing.
    let twice = dave.request(accept.clone(), 25).await;
    assert_eq!(twice["command"], "chat", "answered once, the repeat answered alike: {twice}");
    // Another answer to it is refused.
    let decline =
        json!({ "command": "decline_invitation", "invitationId": accept["invitationId"] });
    assert_eq!(dave.request(decline, 26).await["code"], "not_found");
    alice.expect_nothing_pending().await;
    dave_bound.expect_nothing_pending().await;
}

pub async fn declining_and_cancelling_leave_the_invitee_out(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let (tokens, chat) = group_among(&server, "Crabs", &["alice", "bob"]).await;
    let dave_token = server.user("dave").await;
    let mut alice = socket(&server, &tokens[0]).await;
    let mut bob = socket(&server, &tokens[1]).await;
    let mut dave = socket(&server, &dave_token).await;
    let invite = json!({ "command": "invite", "chatId": chat, "username": "dave" });

    let (invited, _) = alice.call(invite.clone(), 1).await;
    let id = invited["invitation"]["id"].clone();
    let first = id.clone();
    dave.expect("invitation").await;
    let declined =
        dave.request(json!({ "command": "decline_invitation", "invitationId": id }), 1).await;
    assert_eq!(declined, json!({ "command": "ok", "id": 1 }));
    let accept = json!({ "command": "accept_invitation", "invitationId": id });
    assert_eq!(dave.request(accept, 2).await["code"], "not_found");
    let listed = dave.request(json!({ "command": "list_invitations" }), 3).await;
    assert_eq!(listed["invitations"], json!([]));
    let detail = dave.request(json!({ "command": "get_chat", "chatId": chat }), 4).await;
    assert_eq!(detail["code"], "forbidden");
    alice.expect_nothing_pending().await;
    bob.expect_nothing_pending().await;

    // Invited anew; a plain member may not cancel it, the owner does, and the invitee is told.
    let (invited, _) = alice.call(invite, 2).await;
    let id = invited["invitation"]["id"].clone();
    assert_ne!(id, first, "a new invitation once the last was declined");
    dave.expect("invitation").await;
    let cancel = json!({ "command": "cancel_invitation", "invitationId": id });
    assert_eq!(bob.request(cancel.clone(), 1).await["code"], "forbidden");
    dave.expect_nothing_pending().await;
    let (cancelled, _) = alice.call(cancel, 3).await;
    assert_eq!(cancelled, json!({ "command": "ok", "id": 3 }));
    let told = dave.expect("invitation").await;
    assert_eq!(
        (&told["invitation"]["id"], &told["invitation"]["state"]),
        (&id, &json!("cancelled"))
    );
    let accept = json!({ "command": "accept_invitation", "invitationId": id });
    assert_eq!(dave.request(accept, 5).await["code"], "not_found");
    bob.expect_nothing_pending().await;
    let detail = alice.request(json!({ "command": "get_chat", "chatId": chat }), 4).await;
    assert_eq!(members(&detail["chat"]), ["alice", "bob"]);
}

pub async fn invite_links_join_until_used_up_or_revoked(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let (tokens, chat) = group_among(&server, "Crabs", &["alice", "bob"]).await;
    let mut alice = socket(&server, &tokens[0]).await;
    let mut bob = socket(&server, &tokens[1]).await;
    let mut joiners = Vec::new();
    for name in ["dave", "erin", "frank", "gus"] {
        let token = server.user(name).await;
        joiners.push(socket(&server, &token).await);
    }
    let [dave, erin, frank, gus] = &mut joiners[..] else { unreachable!() };

    let create = json!({ "command": "create_invite_link", "chatId": chat, "maxUses": 2 });
    let (created, told) = alice.call(create, 1).await;
    assert!(told.is_empty(), "{told:?}");
    assert_eq!(created["command"], "invite_link", "{created}");
    let token = created["token"].as_str().expect("the token, once").to_owned();
    assert_eq!(token.len(), 64, "{token}");
    let link = created["link"].clone();
    assert_eq!((&link["chatId"], &link["createdBy"]), (&json!(chat), &json!("alice")));
    assert_eq!(
        (&link["maxUses"], &link["uses"], &link["revoked"]),
        (&json!(2), &json!(0), &json!(false))
    );
    let listed = alice.request(json!({ "command": "list_invite_links", "chatId": chat }), 2).await;
    assert_eq!(listed["links"], json!([link]));
    assert!(!listed.to_string().contains(&token), "never listed: {listed}");
    bob.expect_nothing_pending().await;

    let join = json!({ "command": "join_by_link", "token": token });
    for (client, name) in [(&mut *dave, "dave"), (&mut *erin, "erin")] {
        let (joined, told) = client.call(join.clone(), 1).await;
        assert_eq!(joined["command"], "chat", "{joined}");
        assert!(members(&joined["chat"]).contains(&name.to_owned()));
        assert_eq!(commands(&told), ["chat_created", "chat_changed"]);
        for member in [&mut alice, &mut bob] {
            assert_eq!(join_of(&member.expect("chat_changed").await), join_by(name));
        }
    }
    dave.expect("chat_changed").await; // erin's join
    // Used up: the same answer as for any dead link, nothing of the chat.
    let refused = frank.request(join.clone(), 1).await;
    assert_eq!((&refused["code"], &refused["message"]), (&json!("not_found"), &json!(NO_LINK)));
    assert!(!refused.to_string().contains("Crabs") && !refused.to_string().contains("alice"));
    let listed = alice.request(json!({ "command": "list_invite_links", "chatId": chat }), 3).await;
    assert_eq!(listed["links"][0]["uses"], 2);

    // A member joining again (a retry whose reply was lost) is answered with the chat, counts no
    // use and announces nothing.
    let (created, _) =
        alice.call(json!({ "command": "create_invite_link", "chatId": chat }), 4).await;
    let second = created["token"].as_str().expect("token").to_owned();
    let again = dave.request(json!({ "command": "join_by_link", "token": second }), 2).await;
    assert_eq!(again["command"], "chat", "{again}");
    // Revoked: refused alike.
    let revoke =
        json!({ "command": "revoke_invite_link", "chatId": chat, "linkId": created["link"]["id"] });
    let (revoked, _) = alice.call(revoke, 5).await;
    assert_eq!(revoked, json!({ "command": "ok", "id": 5 }));
    let refused = gus.request(json!({ "command": "join_by_link", "token": second }), 1).await;
    assert_eq!((&refused["code"], &refused["message"]), (&json!("not_found"), &json!(NO_LINK)));
    let listed = alice.request(json!({ "command": "list_invite_links", "chatId": chat }), 6).await;
    assert_eq!(listed["links"][1]["revoked"], true);
    for client in [&mut alice, &mut bob, &mut *dave, &mut *erin, &mut *frank, &mut *gus] {
        client.expect_nothing_pending().await;
    }
    let detail = alice.request(json!({ "command": "get_chat", "chatId": chat }), 7).await;
    assert_eq!(members(&detail["chat"]), ["alice", "bob", "dave", "erin"]);
}

/// A group "Crabs" (alice owns it, bob is a plain member) with a post no outsider may read;
/// carol, once its admin, was removed; dave has a pending invitation from alice; a live link
/// and a revoked one exist, the revoked one's token in eve's hands; mallory never had anything
/// to do with it. The members and dave watch on sockets of their own.
struct Scene {
    server: TestServer,
    chat: i64,
    invitation: i64,
    live_link: i64,
    live_token: String,
    revoked_token: String,
    watchers: Vec<(&'static str, Client)>,
    /// Who tries: mallory (never in), carol (removed), bob (a plain member), eve (holds a
    /// revoked link).
    actors: Vec<(&'static str, Client)>,
}

/// Words no refusal may carry: the chat's name, its post, its members and its invitee (an
/// actor's own name aside).
const SECRETS: [&str; 6] = ["Crabs", "top secret", "alice", "bob", "carol", "dave"];

impl Scene {
    async fn new(backend: Backend) -> Option<Scene> {
        let server = TestServer::start(backend).await?;
        let names = ["alice", "bob", "carol", "dave", "mallory", "eve"];
        let mut tokens = Vec::new();
        for name in names {
            tokens.push(server.user(name).await);
        }
        let mut alice = socket(&server, &tokens[0]).await;
        let create =
            json!({ "command": "create_chat", "participants": ["bob", "carol"], "name": "Crabs" });
        let (created, _) = alice.call(create, 1).await;
        let chat = created["chat"]["id"].as_i64().expect("chat id");
        alice.post(chat, "top secret", 2).await;
        let role =
            json!({ "command": "set_role", "chatId": chat, "username": "carol", "role": "admin" });
        alice.call(role, 3).await;
        let remove =
            json!({ "command": "remove_participant", "chatId": chat, "username": "carol" });
        alice.call(remove, 4).await;
        let invite = json!({ "command": "invite", "chatId": chat, "username": "dave" });
        let (invited, _) = alice.call(invite, 5).await;
        let invitation = invited["invitation"]["id"].as_i64().expect("invitation id");
        let link = json!({ "command": "create_invite_link", "chatId": chat });
        let (revoked, _) = alice.call(link.clone(), 6).await;
        let revoke = json!({ "command": "revoke_invite_link", "chatId": chat,
                             "linkId": revoked["link"]["id"] });
        alice.call(revoke, 7).await;
        let (live, _) = alice.call(link, 8).await;
        let mut watchers = vec![("alice", alice)];
        for (name, token) in [("bob", &tokens[1]), ("dave", &tokens[3])] {
            watchers.push((name, socket(&server, token).await));
        }
        let mut actors = Vec::new();
        for (name, token) in [
            ("mallory", &tokens[4]),
            ("carol", &tokens[2]),
            ("bob", &tokens[1]),
            ("eve", &tokens[5]),
        ] {
            actors.push((name, socket(&server, token).await));
        }
        Some(Scene {
            server,
            chat,
            invitation,
            live_link: live["link"]["id"].as_i64().expect("link id"),
            live_token: live["token"].as_str().expect("token").to_owned(),
            revoked_token: revoked["token"].as_str().expect("token").to_owned(),
            watchers,
            actors,
        })
    }

    /// Every actor sends `command`; each reply must have the code `expected(actor)` and carry
    /// none of the [`SECRETS`] (but the actor's own name). Returns the replies.
    async fn attempt(
        &mut self,
        command: &Value,
        expected: impl Fn(&str) -> &'static str,
    ) -> Vec<Value> {
        let mut replies = Vec::new();
        for (n, (name, client)) in self.actors.iter_mut().enumerate() {
            let name: &str = name;
            let reply = client.request(command.clone(), 100 + n as i64).await;
            assert_eq!(reply["code"], expected(name), "{name}: {command} → {reply}");
            let text = reply.to_string();
            for secret in SECRETS.into_iter().filter(|secret| *secret != name) {
                assert!(!text.contains(secret), "{name} learns {secret:?}: {text}");
            }
            replies.push(reply);
        }
        replies
    }

    /// No member (nor the invitee) was told anything.
    async fn nobody_told(&mut self) {
        for (_, client) in self.watchers.iter_mut().chain(self.actors.iter_mut()) {
            client.expect_nothing_pending().await;
        }
    }

    fn watcher(&mut self, name: &str) -> &mut Client {
        &mut self.watchers.iter_mut().find(|(n, _)| *n == name).expect("a watcher").1
    }
}

pub async fn invite_refuses_all_but_owners_and_admins(backend: Backend) {
    let Some(mut scene) = Scene::new(backend).await else { return };
    let zed_token = scene.server.user("zed").await;
    let mut zed = socket(&scene.server, &zed_token).await;
    for invitee in ["zed", "mallory", "dave"] {
        let command = json!({ "command": "invite", "chatId": scene.chat, "username": invitee });
        scene.attempt(&command, |_| "forbidden").await;
    }
    scene.nobody_told().await;
    zed.expect_nothing_pending().await;
    let listed = zed.request(json!({ "command": "list_invitations" }), 1).await;
    assert_eq!(listed["invitations"], json!([]), "no invitation was made");
}

pub async fn list_invitations_shows_only_ones_own(backend: Backend) {
    let Some(mut scene) = Scene::new(backend).await else { return };
    let command = json!({ "command": "list_invitations" });
    for (name, client) in scene.actors.iter_mut() {
        let listed = client.request(command.clone(), 1).await;
        assert_eq!(listed["invitations"], json!([]), "{name}: {listed}");
    }
    let dave = scene.watcher("dave").request(command, 1).await;
    assert_eq!(dave["invitations"][0]["id"], scene.invitation, "the invitee's own: {dave}");
    scene.nobody_told().await;
}

pub async fn accept_invitation_refuses_all_but_the_invitee(backend: Backend) {
    let Some(mut scene) = Scene::new(backend).await else { return };
    let command = json!({ "command": "accept_invitation", "invitationId": scene.invitation });
    let replies = scene.attempt(&command, |_| "not_found").await;
    let expected = format!("invitation {} not found or no longer pending", scene.invitation);
    assert!(replies.iter().all(|reply| reply["message"] == expected), "{replies:?}");
    scene.nobody_told().await;
    // The invitation is still the invitee's.
    let (joined, _) = scene.watcher("dave").call(command, 1).await;
    assert_eq!(joined["command"], "chat", "{joined}");
}

pub async fn decline_invitation_refuses_all_but_the_invitee(backend: Backend) {
    let Some(mut scene) = Scene::new(backend).await else { return };
    let command = json!({ "command": "decline_invitation", "invitationId": scene.invitation });
    scene.attempt(&command, |_| "not_found").await;
    scene.nobody_told().await;
    let listed = scene.watcher("dave").request(json!({ "command": "list_invitations" }), 1).await;
    assert_eq!(listed["invitations"][0]["state"], "pending", "still pending: {listed}");
}

pub async fn cancel_invitation_refuses_all_but_the_inviter_owners_and_admins(backend: Backend) {
    let Some(mut scene) = Scene::new(backend).await else { return };
    let command = json!({ "command": "cancel_invitation", "invitationId": scene.invitation });
    // A plain member learns the rule; the others that there is no such invitation.
    scene.attempt(&command, |name| if name == "bob" { "forbidden" } else { "not_found" }).await;
    scene.nobody_told().await;
    let listed = scene.watcher("dave").request(json!({ "command": "list_invitations" }), 1).await;
    assert_eq!(listed["invitations"][0]["state"], "pending", "still pending: {listed}");
}

pub async fn create_invite_link_refuses_all_but_owners_and_admins(backend: Backend) {
    let Some(mut scene) = Scene::new(backend).await else { return };
    for command in [
        json!({ "command": "create_invite_link", "chatId": scene.chat }),
        json!({ "command": "create_invite_link", "chatId": scene.chat, "expiresIn": 60, "maxUses": 1 }),
    ] {
        let replies = scene.attempt(&command, |_| "forbidden").await;
        assert!(replies.iter().all(|reply| reply.get("token").is_none()));
    }
    scene.nobody_told().await;
    let chat = scene.chat;
    let listed = scene
        .watcher("alice")
        .request(json!({ "command": "list_invite_links", "chatId": chat }), 1)
        .await;
    assert_eq!(listed["links"].as_array().expect("links").len(), 2, "none made: {listed}");
}

pub async fn list_invite_links_refuses_all_but_owners_and_admins(backend: Backend) {
    let Some(mut scene) = Scene::new(backend).await else { return };
    let command = json!({ "command": "list_invite_links", "chatId": scene.chat });
    scene.attempt(&command, |_| "forbidden").await;
    scene.nobody_told().await;
    // The owner sees them, without their tokens.
    let listed = scene.watcher("alice").request(command, 1).await;
    let text = listed.to_string();
    assert!(!text.contains(&scene.live_token) && !text.contains(&scene.revoked_token), "{text}");
}

pub async fn revoke_invite_link_refuses_all_but_owners_and_admins(backend: Backend) {
    let Some(mut scene) = Scene::new(backend).await else { return };
    let command =
        json!({ "command": "revoke_invite_link", "chatId": scene.chat, "linkId": scene.live_link });
    scene.attempt(&command, |_| "forbidden").await;
    scene.nobody_told().await;
    // The link still works.
    let token = scene.live_token.clone();
    let join = json!({ "command": "join_by_link", "token": token });
    let mallory = &mut scene.actors[0].1;
    let (joined, _) = mallory.call(join, 1).await;
    assert_eq!(joined["command"], "chat", "{joined}");
}

pub async fn join_by_link_refuses_dead_links_alike(backend: Backend) {
    let Some(mut scene) = Scene::new(backend).await else { return };
    // Used up: a one-use link, used.
    let one_use = json!({ "command": "create_invite_link", "chatId": scene.chat, "maxUses": 1 });
    let (created, _) = scene.watcher("alice").call(one_use, 1).await;
    let used_up = created["token"].as_str().expect("token").to_owned();
    let frank_token = scene.server.user("frank").await;
    let mut frank = socket(&scene.server, &frank_token).await;
    frank.call(json!({ "command": "join_by_link", "token": used_up }), 1).await;
    // Every member connection hears of frank's join (bob's two included).
    for name in ["alice", "bob"] {
        scene.watcher(name).expect("chat_changed").await;
    }
    scene.actors[2].1.expect("chat_changed").await;
    let unknown = "0".repeat(64);
    for token in [scene.revoked_token.clone(), unknown] {
        let command = json!({ "command": "join_by_link", "token": token });
        let replies = scene.attempt(&command, |_| "not_found").await;
        assert!(replies.iter().all(|reply| reply["message"] == NO_LINK), "{replies:?}");
    }
    // Used up: refused alike, except that a member's repeat is answered with the chat they are
    // in (their own join may be what used it up: a retry whose reply was lost).
    let command = json!({ "command": "join_by_link", "token": used_up });
    for (n, (name, client)) in scene.actors.iter_mut().enumerate() {
        let reply = client.request(command.clone(), 200 + n as i64).await;
        match *name {
            "bob" => assert_eq!(reply["command"], "chat", "a member: {reply}"),
            _ => assert_eq!(reply["message"], NO_LINK, "{name}: {reply}"),
        }
    }
    scene.nobody_told().await;
    frank.expect_nothing_pending().await;
    let chat = scene.chat;
    let detail =
        scene.watcher("alice").request(json!({ "command": "get_chat", "chatId": chat }), 2).await;
    assert_eq!(members(&detail["chat"]), ["alice", "bob", "frank"], "no one else got in");
}

pub async fn creation_limits_cover_invitations_and_links(backend: Backend) {
    let mut settings = test_settings();
    settings.creation.invitations_per_minute = 2;
    settings.creation.invite_links_per_minute = 2;
    let Some(server) = TestServer::start_with(backend, settings).await else { return };
    let (tokens, chat) = group_among(&server, "Crabs", &["alice", "bob"]).await;
    for name in ["u1", "u2", "u3"] {
        server.user(name).await;
    }
    let mut alice = socket(&server, &tokens[0]).await;
    for (n, name) in ["u1", "u2"].into_iter().enumerate() {
        let invite = json!({ "command": "invite", "chatId": chat, "username": name });
        assert_eq!(alice.request(invite, n as i64).await["command"], "invitation");
    }
    let invite = json!({ "command": "invite", "chatId": chat, "username": "u3" });
    let refused = alice.request(invite, 3).await;
    assert_eq!(refused["code"], "rate_limited", "{refused}");
    assert!(refused["retryAfter"].as_u64().is_some_and(|s| s >= 1), "{refused}");
    let path = format!("/api/chat/{chat}/invitations/");
    let body = json!({ "username": "u3" });
    let (status, _) = server.http("POST", &path, Some(&tokens[0]), Some(&body)).await;
    assert_eq!(status, 429, "over REST too");

    let link = json!({ "command": "create_invite_link", "chatId": chat });
    for n in 0..2 {
        assert_eq!(alice.request(link.clone(), 10 + n).await["command"], "invite_link");
    }
    let refused = alice.request(link, 12).await;
    assert_eq!(refused["code"], "rate_limited", "{refused}");
    assert!(refused.get("token").is_none());
}

pub async fn rest_maps_invitations_and_links_onto_the_same_commands(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else { return };
    let (tokens, chat) = group_among(&server, "Crabs", &["alice", "bob"]).await;
    let (alice, bob) = (tokens[0].as_str(), tokens[1].as_str());
    let dave = server.user("dave").await;
    let erin = server.user("erin").await;
    let mut dave_socket = socket(&server, &dave).await;
    let mut bob_socket = socket(&server, bob).await;

    let invitations = format!("/api/chat/{chat}/invitations/");
    let body = json!({ "username": "dave" });
    let (status, invitation) = server.http("POST", &invitations, Some(alice), Some(&body)).await;
    assert_eq!(status, 201, "{invitation}");
    assert_eq!((&invitation["invitee"], &invitation["state"]), (&json!("dave"), &json!("pending")));
    let told = dave_socket.expect("invitation").await;
    assert_eq!(told["invitation"], invitation, "the socket hears of a REST invitation");
    let (status, refused) = server.http("POST", &invitations, Some(bob), Some(&body)).await;
    assert_eq!((status, &refused["code"]), (403, &json!("forbidden")), "{refused}");

    let (status, listed) = server.http("GET", "/api/invitations/", Some(&dave), None).await;
    assert_eq!((status, &listed), (200, &json!([invitation])));
    let (status, listed) = server.http("GET", "/api/invitations/?limit=1", Some(&erin), None).await;
    assert_eq!((status, &listed), (200, &json!([])));
    let accept = format!("/api/invitations/{}/accept/", invitation["id"]);
    let (status, refused) = server.http("POST", &accept, Some(&erin), None).await;
    assert_eq!((status, &refused["code"]), (404, &json!("not_found")), "{refused}");
    let (status, joined) = server.http("POST", &accept, Some(&dave), None).await;
    assert_eq!(status, 200, "{joined}");
    assert_eq!(members(&joined), ["alice", "bob", "dave"]);
    assert_eq!(join_of(&bob_socket.expect("chat_changed").await), join_by("dave"));

    // Declined by the invitee; cancelled by the owner.
    let body = json!({ "username": "erin" });
    let (_, invitation) = server.http("POST", &invitations, Some(alice), Some(&body)).await;
    let decline = format!("/api/invitations/{}/decline/", invitation["id"]);
    assert_eq!(server.http("POST", &decline, Some(&erin), None).await.0, 204);
    let (_, invitation) = server.http("POST", &invitations, Some(alice), Some(&body)).await;
    let cancel = format!("/api/invitations/{}/", invitation["id"]);
    assert_eq!(server.http("DELETE", &cancel, Some(bob), None).await.0, 403);
    assert_eq!(server.http("DELETE", &cancel, Some(alice), None).await.0, 204);
    let (_, listed) = server.http("GET", "/api/invitations/", Some(&erin), None).await;
    assert_eq!(listed, json!([]));

    // Links: created with the token once, listed without it, joined by a token in the body.
    let links = format!("/api/chat/{chat}/links/");
    let body = json!({ "expiresIn": 3600, "maxUses": 1 });
    let (status, created) = server.http("POST", &links, Some(alice), Some(&body)).await;
    assert_eq!(status, 201, "{created}");
    let token = created["token"].as_str().expect("token").to_owned();
    assert_eq!(created["link"]["maxUses"], 1);
    let (status, defaults) = server.http("POST", &links, Some(alice), Some(&json!({}))).await;
    assert_eq!(status, 201, "{defaults}");
    let (status, listed) = server.http("GET", &links, Some(alice), None).await;
    assert_eq!(status, 200);
    assert_eq!(listed, json!([created["link"], defaults["link"]]));
    assert!(!listed.to_string().contains(&token));
    assert_eq!(server.http("GET", &links, Some(bob), None).await.0, 403);
    let (status, joined) =
        server.http("POST", "/api/join/", Some(&erin), Some(&json!({ "token": token }))).await;
    assert_eq!(status, 200, "{joined}");
    assert!(members(&joined).contains(&"erin".to_owned()));
    let (status, again) =
        server.http("POST", "/api/join/", Some(&erin), Some(&json!({ "token": token }))).await;
    assert_eq!(status, 200, "a repeat by the one who joined is answered alike: {again}");
    let zed = server.user("zed").await;
    let (status, refused) =
        server.http("POST", "/api/join/", Some(&zed), Some(&json!({ "token": token }))).await;
    assert_eq!((status, &refused["message"]), (404, &json!(NO_LINK)), "used up");
    let (status, _) = server.http("POST", "/api/join/", Some(&erin), Some(&json!({}))).await;
    assert_eq!(status, 400, "the token goes in the body");
    let revoke = format!("{links}{}/", defaults["link"]["id"]);
    assert_eq!(server.http("DELETE", &revoke, Some(bob), None).await.0, 403);
    assert_eq!(server.http("DELETE", &revoke, Some(alice), None).await.0, 204);
    let body = json!({ "token": defaults["token"] });
    let (status, refused) = server.http("POST", "/api/join/", Some(&dave), Some(&body)).await;
    assert_eq!((status, &refused["message"]), (404, &json!(NO_LINK)), "revoked");
}
