//! Media over HTTP: attachments up and down with progress, sent in messages, thumbnails,
//! avatars, and every refusal with its code.

use std::io::Cursor;
use std::sync::{Arc, Mutex};

use hellocode_sdk::{Client, ClientConfig, Error, Event, Progress};
use hellocode_server::Settings;

use crate::harness::{Kind, TestServer, fast_config, next_matching, register};

/// The type the server gives a UTF-8 text file.
const TEXT: &str = "text/plain; charset=utf-8";

/// The `(done, total)` calls a progress callback got.
type Calls = Arc<Mutex<Vec<(u64, u64)>>>;

/// A progress callback and the calls it got.
fn recorder() -> (Progress, Calls) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = calls.clone();
    let progress: Progress = Arc::new(move |done, total| {
        seen.lock().expect("calls").push((done, total));
    });
    (progress, calls)
}

/// The calls increase and the last one is `total` of `total`.
fn assert_progressed(calls: &Mutex<Vec<(u64, u64)>>, total: u64) {
    let calls = calls.lock().expect("calls");
    assert!(!calls.is_empty(), "progress was reported");
    assert!(calls.windows(2).all(|pair| pair[0].0 < pair[1].0), "increasing: {calls:?}");
    assert!(calls.iter().all(|&(done, all)| all == total && done <= total), "{calls:?}");
    assert_eq!(calls.last(), Some(&(total, total)));
}

/// A PNG of this size (a gradient, so that it is not all one colour).
fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 99]));
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, image::ImageFormat::Png).expect("a PNG");
    bytes.into_inner()
}

fn dimensions(png: &[u8]) -> (u32, u32) {
    let image = image::load_from_memory_with_format(png, image::ImageFormat::Png).expect("PNG");
    (image.width(), image.height())
}

async fn two_in_a_chat(server: &TestServer) -> (Client, Client, hellocode_sdk::Chat) {
    let alice = server.register(Kind::WebSocket, "alice").await;
    let bob = server.register(Kind::WebSocket, "bob").await;
    let chat = alice.create_chat(vec!["bob".into()]).await.expect("chat");
    (alice, bob, chat)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_goes_up_with_progress_is_sent_and_comes_back_identical() {
    let server = TestServer::start().await;
    let (alice, bob, chat) = two_in_a_chat(&server).await;
    let mut bob_events = bob.events();
    // Several chunks' worth of text.
    let text: String = (0..20_000).map(|n| format!("line {n}\n")).collect();
    let size = text.len() as u64;
    assert!(size > 3 * 64 * 1024);

    let (progress, calls) = recorder();
    let file = alice
        .upload_attachment(chat.id, "notes.txt", text.clone().into_bytes(), Some(progress))
        .await
        .expect("uploaded");
    assert_progressed(&calls, size);
    assert!(calls.lock().expect("calls").len() >= 4, "reported per chunk");
    assert_eq!((file.name.as_str(), file.content_type.as_str()), ("notes.txt", TEXT));
    assert_eq!(file.size, size);
    assert_eq!(file.id.len(), 64);
    assert!(file.thumbnail.is_none() && file.width.is_none());

    let sent = alice
        .send_with_attachments(chat.id, "see file", vec![file.id.clone()])
        .await
        .expect("sent");
    assert_eq!(sent.content, "see file");
    assert_eq!(sent.attachments, vec![file.clone()]);
    let received = next_matching(&mut bob_events, |event| match event {
        Event::Message(message) if message.seq == sent.seq => Some(message),
        _ => None,
    })
    .await;
    assert_eq!(received.attachments.len(), 1);
    let described = &received.attachments[0];
    assert_eq!(
        (described.id.as_str(), described.name.as_str(), described.content_type.as_str()),
        (file.id.as_str(), "notes.txt", TEXT)
    );
    assert_eq!(described.size, size);

    let (progress, calls) = recorder();
    let download = bob.download(described.id.clone(), Some(progress)).await.expect("downloaded");
    assert_eq!(download.content_type, TEXT);
    assert!(download.data == text.as_bytes(), "the same bytes");
    assert_progressed(&calls, size);
    // By its address as well.
    let again = bob.download(format!("/api/media/{}", file.id), None).await.expect("by address");
    assert_eq!(again.data.len() as u64, size);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_gets_a_thumbnail_and_an_avatar_is_readable_by_others() {
    let server = TestServer::start().await;
    let (alice, bob, chat) = two_in_a_chat(&server).await;

    let image = alice.upload_attachment(chat.id, "wide.png", png(640, 480), None).await;
    let image = image.expect("an image uploaded");
    assert_eq!(image.content_type, "image/png");
    assert_eq!((image.width, image.height), (Some(640), Some(480)));
    assert!(image.thumbnail.is_some());
    let thumbnail = bob.download_thumbnail(image.id.clone(), None).await.expect("thumbnail");
    assert_eq!(thumbnail.content_type, "image/png");
    assert_eq!(dimensions(&thumbnail.data), (320, 240), "fits 320 x 320");
    let by_address = bob.download(format!("/api/media/{}/thumbnail", image.id), None).await;
    assert_eq!(by_address.expect("thumbnail by address").data, thumbnail.data);
    // A text file has no thumbnail.
    let text = alice.upload_attachment(chat.id, "a.txt", b"plain".to_vec(), None).await;
    let error = bob.download_thumbnail(text.expect("text").id, None).await.expect_err("none");
    assert_eq!(error.code(), "not_found");

    let (progress, calls) = recorder();
    let picture = png(64, 48);
    let size = picture.len() as u64;
    let avatar = alice.upload_avatar("me.png", picture, Some(progress)).await.expect("avatar");
    assert_progressed(&calls, size);
    let address = format!("/api/media/{}", avatar.id);
    let profile = bob.get_user("alice").await.expect("alice's profile");
    assert_eq!(profile.avatar.as_deref(), Some(address.as_str()));
    // Anyone signed in reads an avatar: carol shares no chat with alice.
    let carol = server.register(Kind::WebSocket, "carol").await;
    let fetched = carol.download(address, None).await.expect("an avatar is public");
    assert_eq!(fetched.content_type, "image/png");
    assert_eq!(dimensions(&fetched.data), (64, 48));
    let error = alice.upload_avatar("notes.txt", b"not an image".to_vec(), None).await;
    assert_eq!(error.expect_err("not an image").code(), "invalid_field");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_have_their_codes() {
    let mut settings = Settings::without_abuse_limits();
    settings.max_upload_bytes = 256 * 1024;
    let server = TestServer::start_with(settings).await;
    let (alice, _bob, chat) = two_in_a_chat(&server).await;
    let carol = server.register(Kind::WebSocket, "carol").await;
    let file = alice.upload_attachment(chat.id, "notes.txt", b"hello media".to_vec(), None).await;
    let file = file.expect("uploaded");

    fn code<T>(result: Result<T, Error>) -> &'static str {
        result.map(|_| ()).expect_err("refused").code()
    }
    // Not a member: may not upload, and cannot tell the file exists.
    assert_eq!(
        code(carol.upload_attachment(chat.id, "x.txt", b"x".to_vec(), None).await),
        "forbidden"
    );
    assert_eq!(code(carol.download(file.id.clone(), None).await), "not_found");
    // Beyond the server's limit, announced by the length before the body is read: the body
    // waits for 100 Continue, so the refusal arrives rather than a connection broken while
    // 16 MiB are sent into it.
    let big = vec![b'a'; 16 * 1024 * 1024];
    let error = alice.upload_attachment(chat.id, "big.txt", big, None).await.expect_err("413");
    assert_eq!(error.code(), "too_large", "{error}");
    // Beyond the client's own download limit.
    let mut config = fast_config();
    config.max_download_bytes = 10;
    let careful =
        server.connect_with(Kind::WebSocket, crate::harness::password("alice"), config).await;
    assert_eq!(code(careful.download(file.id.clone(), None).await), "too_large");
    // Bad names and addresses, checked before anything is sent.
    assert_eq!(
        code(alice.upload_attachment(chat.id, "../x.txt", b"x".to_vec(), None).await),
        "invalid_field"
    );
    assert_eq!(
        code(alice.upload_attachment(chat.id, "empty.txt", Vec::new(), None).await),
        "invalid_field"
    );
    for bad in ["https://elsewhere.example/api/media/x", "/api/users/alice", "../../etc/passwd"] {
        assert_eq!(code(alice.download(bad, None).await), "invalid_argument", "{bad}");
    }
    assert_eq!(
        code(alice.send_with_attachments(chat.id, "x", vec!["nope".into()]).await),
        "invalid_argument"
    );
    // A media id that is not an attachment of this chat: the server's not_found.
    let elsewhere = "0".repeat(64);
    assert_eq!(code(alice.send_with_attachments(chat.id, "x", vec![elsewhere]).await), "not_found");
    // The send queue goes on after a refused send.
    let sent = alice.send_with_attachments(chat.id, "", vec![file.id.clone()]).await;
    assert_eq!(sent.expect("attachments only").attachments.len(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_process_transport_has_no_http_address() {
    let server = TestServer::start().await;
    let alice = Client::connect_with(
        server.transport(Kind::InProcess),
        register("alice"),
        ClientConfig::default(),
    )
    .await
    .expect("connected in process");
    let chat = alice.create_chat(vec![]).await;
    let chat = chat.map(|chat| chat.id).unwrap_or(hellocode_sdk::ChatId(1));
    let error =
        alice.upload_attachment(chat, "a.txt", b"a".to_vec(), None).await.expect_err("no HTTP");
    assert_eq!(error.code(), "unsupported");
    assert!(error.to_string().contains("HTTP address"), "{error}");
    let error = alice.download("0".repeat(64), None).await.expect_err("no HTTP");
    assert_eq!(error.code(), "unsupported");
    server.stop().await;
}
