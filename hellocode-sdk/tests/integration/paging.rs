//! Lists longer than one page (agreed protocol: `after` + `limit`, at most 500 a page): the
//! client's chat list after connecting, `list_chats`, `languages`, `find_users`, `invitations`
//! and `invite_links` get every item.

use hellocode_sdk::{ChatId, Client, Credentials, Language};
use serde_json::{Value, json};

use crate::fake::{Fake, chat, standard};
use crate::harness::fast_config;

const CHATS: i64 = 1_201;
const LANGUAGES: usize = 1_001;
const RUSTACEANS: usize = 1_002;
const INVITATIONS: i64 = 1_003;
const LINKS: i64 = 501;
const PAGE: usize = 500;

/// Answers `list_chats`/`list_languages` a page at a time, as the protocol says.
fn paging() -> Fake {
    Fake::new(|_, frame| {
        let limit = frame["limit"].as_u64().map_or(PAGE, |n| (n as usize).min(PAGE));
        let id = frame["id"].clone();
        match frame["command"].as_str() {
            Some("list_chats") => {
                let after = frame["after"].as_i64().unwrap_or(0);
                let chats: Vec<Value> = (after + 1..=CHATS)
                    .take(limit)
                    .map(|n| serde_json::to_value(chat(n)).expect("json"))
                    .collect();
                vec![json!({"command": "chats", "id": id, "chats": chats})]
            }
            Some("list_languages") => {
                let after = frame["after"].as_str().unwrap_or("").to_owned();
                let languages: Vec<Value> = (0..LANGUAGES)
                    .map(|n| format!("lang{n:05}"))
                    .filter(|name| *name > after)
                    .take(limit)
                    .enumerate()
                    .map(|(i, name)| json!({"id": i, "name": name}))
                    .collect();
                vec![json!({"command": "languages", "id": id, "languages": languages})]
            }
            Some("find_users") => {
                let after = frame["after"].as_str().unwrap_or("").to_owned();
                let users: Vec<Value> = (0..RUSTACEANS)
                    .map(|n| format!("user{n:05}"))
                    .filter(|name| *name > after)
                    .take(limit)
                    .enumerate()
                    .map(|(i, name)| {
                        json!({"id": i, "username": name, "timezone": "UTC", "languages": ["Rust"]})
                    })
                    .collect();
                vec![json!({"command": "users", "id": id, "language": "Rust", "users": users})]
            }
            Some("list_invitations") => {
                let after = frame["after"].as_i64().unwrap_or(0);
                let invitations: Vec<Value> = (after + 1..=INVITATIONS)
                    .take(limit)
                    .map(|n| {
                        json!({
                            "id": n, "chatId": n, "kind": "group", "inviter": "alice",
                            "invitee": "ghost", "state": "pending",
                            "createdAt": "2023-11-14T22:30:00.000Z",
                        })
                    })
                    .collect();
                vec![json!({"command": "invitations", "id": id, "invitations": invitations})]
            }
            Some("list_invite_links") => {
                let after = frame["after"].as_i64().unwrap_or(0);
                let chat = frame["chatId"].clone();
                let links: Vec<Value> = (after + 1..=LINKS)
                    .take(limit)
                    .map(|n| {
                        json!({
                            "id": n, "chatId": chat, "createdBy": "ghost",
                            "createdAt": "2023-11-14T22:40:00.000Z",
                            "expiresAt": "2023-11-15T22:40:00.000Z", "uses": 0, "revoked": false,
                        })
                    })
                    .collect();
                vec![json!({"command": "invite_links", "id": id, "chatId": chat, "links": links})]
            }
            _ => standard(frame).into_iter().collect(),
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_of_chats_languages_users_invitations_and_links_is_fetched() {
    let fake = paging();
    let client = Client::connect_with(fake.clone(), Credentials::token("t0"), fast_config())
        .await
        .expect("connects");
    let positions = client.positions().await.expect("positions");
    assert_eq!(positions.len(), CHATS as usize, "the sync after connecting saw every chat");
    assert!(positions.contains_key(&ChatId(CHATS)));

    let chats = client.list_chats().await.expect("chats");
    let ids: Vec<i64> = chats.iter().map(|chat| chat.id.0).collect();
    assert_eq!(ids, (1..=CHATS).collect::<Vec<_>>());

    let languages: Vec<Language> = client.languages().await.expect("languages");
    assert_eq!(languages.len(), LANGUAGES);
    assert_eq!(languages.last().map(|l| l.name.as_str()), Some("lang01000"));

    let users = client.find_users("Rust").await.expect("users");
    assert_eq!(users.len(), RUSTACEANS);
    assert_eq!(users.last().map(|u| u.username.as_str()), Some("user01001"));

    let invitations = client.invitations().await.expect("invitations");
    let ids: Vec<i64> = invitations.iter().map(|invitation| invitation.id).collect();
    assert_eq!(ids, (1..=INVITATIONS).collect::<Vec<_>>());

    let links = client.invite_links(ChatId(7)).await.expect("links");
    let ids: Vec<i64> = links.iter().map(|link| link.id).collect();
    assert_eq!(ids, (1..=LINKS).collect::<Vec<_>>());
    assert!(links.iter().all(|link| link.chat_id == ChatId(7)));

    let pages =
        |command: &str| fake.received().iter().filter(|(_, f)| f["command"] == command).count();
    assert_eq!(pages("list_chats"), 6, "3 pages after connecting, 3 for list_chats");
    assert_eq!(pages("find_users"), 3);
    assert_eq!(pages("list_invitations"), 3);
    assert_eq!(pages("list_invite_links"), 2);
    client.close().await;
}
