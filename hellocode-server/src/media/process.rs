//! What an upload becomes before it is stored: its type detected from its content (the
//! client's word for it is only checked against that), an image decoded within limits, turned
//! upright, re-encoded without any of its metadata (camera data, GPS) and thumbnailed.

use std::io::Cursor;

use hellocode_core::model::MediaKind;
use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use sha2::{Digest, Sha256};

/// The largest image accepted, in pixels per side.
pub const MAX_IMAGE_SIDE: u32 = 8_192;
/// The most memory a decode may take (a small file declaring a huge image is refused before
/// anything is allocated for it).
const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;
/// A thumbnail fits in this square.
pub const THUMBNAIL_SIDE: u32 = 320;
/// JPEG quality of re-encoded photos and thumbnails.
const JPEG_QUALITY: u8 = 85;
/// Longest file name, in characters.
pub const MAX_NAME_CHARS: usize = 255;

/// Why an upload is refused (nothing is stored).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    /// The client said one type, the content is another.
    #[error("the content is {detected}, not {claimed}")]
    WrongType {
        /// What the client said.
        claimed: String,
        /// What the content is.
        detected: String,
    },
    /// An avatar must be a JPEG, PNG, GIF or WebP image.
    #[error("an avatar must be a JPEG, PNG, GIF or WebP image; this is {0}")]
    NotAnImage(String),
    /// The image is larger than the server decodes (a decompression bomb, say): too many
    /// pixels per side, or too much memory once decoded.
    #[error(
        "the image is too large to decode: at most {MAX_IMAGE_SIDE} pixels per side and \
         256 MiB decoded"
    )]
    ImageTooLarge,
    /// The image's bytes are not a valid image of its type.
    #[error("the image cannot be decoded: {0}")]
    Corrupt(String),
    /// The file name is a path, empty, too long or has control characters.
    #[error("{0}")]
    BadName(&'static str),
    /// Nothing was uploaded.
    #[error("the upload is empty")]
    Empty,
    /// A form was sent instead of the file.
    #[error("send the file's bytes as the request body, not a multipart form")]
    Multipart,
}

/// An upload ready to store: its bytes (re-encoded for an image), and a thumbnail's.
#[derive(Debug)]
pub struct Processed {
    /// The bytes to store.
    pub bytes: Vec<u8>,
    /// Their content address: lowercase hex SHA-256.
    pub id: String,
    /// The detected type of what is stored.
    pub content_type: String,
    /// The file name to offer (its extension follows a re-encoding).
    pub name: String,
    /// An image's size in pixels.
    pub dimensions: Option<(u32, u32)>,
    /// An image's thumbnail, with its address.
    pub thumbnail: Option<(String, Vec<u8>)>,
}

/// Check and prepare an upload of `kind`, named `name`, with the type the client `claimed`
/// (its `Content-Type`, if any).
pub fn process(
    bytes: &[u8],
    claimed: Option<&str>,
    name: &str,
    kind: MediaKind,
) -> Result<Processed, Refusal> {
    check_name(name)?;
    if bytes.is_empty() {
        return Err(Refusal::Empty);
    }
    if claimed.map(essence).is_some_and(|claimed| claimed.starts_with("multipart/")) {
        return Err(Refusal::Multipart);
    }
    let detected = detect(bytes);
    if let Some(claimed) = claimed.map(essence).filter(|claimed| !is_unspecific(claimed))
        && claimed != essence(&detected)
    {
        return Err(Refusal::WrongType { claimed: claimed.to_owned(), detected });
    }
    match image_format(&detected) {
        Some(format) => reencode(bytes, format, name),
        None if kind == MediaKind::Avatar => Err(Refusal::NotAnImage(detected)),
        None => Ok(Processed {
            id: content_id(bytes),
            bytes: bytes.to_vec(),
            content_type: detected,
            name: name.to_owned(),
            dimensions: None,
            thumbnail: None,
        }),
    }
}

/// The content address of `bytes`.
pub fn content_id(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// Whether `id` looks like a content address (so that a path built from it is safe).
pub fn is_content_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A file name, not a path: no separator, no `..`, no control character, not empty, not too
/// long.
fn check_name(name: &str) -> Result<(), Refusal> {
    if name.trim().is_empty() {
        return Err(Refusal::BadName("the file name is empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Refusal::BadName("the file name is longer than 255 characters"));
    }
    if name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(Refusal::BadName("the file name must be a name, not a path"));
    }
    if name.chars().any(char::is_control) {
        return Err(Refusal::BadName("the file name has control characters"));
    }
    Ok(())
}

/// The type of `bytes` by their content: a known signature, else UTF-8 text, else bytes.
fn detect(bytes: &[u8]) -> String {
    match infer::get(bytes) {
        Some(kind) => kind.mime_type().to_owned(),
        None if std::str::from_utf8(bytes).is_ok() => "text/plain; charset=utf-8".to_owned(),
        None => "application/octet-stream".to_owned(),
    }
}

/// A type without its parameters, lowercase.
fn essence(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or_default().trim()
}

/// A claimed type that says nothing: the client did not know, or sent its tool's default
/// (`curl --data-binary` claims a URL-encoded form).
fn is_unspecific(content_type: &str) -> bool {
    content_type.is_empty()
        || content_type.eq_ignore_ascii_case("application/octet-stream")
        || content_type.eq_ignore_ascii_case("application/x-www-form-urlencoded")
}

/// The image formats decoded and re-encoded.
fn image_format(content_type: &str) -> Option<ImageFormat> {
    match essence(content_type) {
        "image/jpeg" => Some(ImageFormat::Jpeg),
        "image/png" => Some(ImageFormat::Png),
        "image/gif" => Some(ImageFormat::Gif),
        "image/webp" => Some(ImageFormat::WebP),
        _ => None,
    }
}

/// Decode within limits, turn upright, and encode again: a photo as JPEG, anything else as
/// PNG (GIF and WebP included: the first frame, losslessly). No metadata survives.
fn reencode(bytes: &[u8], format: ImageFormat, name: &str) -> Result<Processed, Refusal> {
    let image = decode(bytes, format)?;
    let (width, height) = (image.width(), image.height());
    // The thumbnail in the same format as the image, so that one type describes both.
    let (encode, content_type, extension): (fn(&DynamicImage) -> _, _, _) =
        if format == ImageFormat::Jpeg {
            (encode_jpeg, "image/jpeg", "jpg")
        } else {
            (encode_png, "image/png", "png")
        };
    let stored = encode(&image)?;
    let thumbnail = encode(&image.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE))?;
    Ok(Processed {
        id: content_id(&stored),
        bytes: stored,
        content_type: content_type.to_owned(),
        name: with_extension(name, extension),
        dimensions: Some((width, height)),
        thumbnail: Some((content_id(&thumbnail), thumbnail)),
    })
}

fn decode(bytes: &[u8], format: ImageFormat) -> Result<DynamicImage, Refusal> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(refusal)?;
    let (width, height) = image::ImageDecoder::dimensions(&decoder);
    // Checked here too, before anything is allocated: not every decoder applies the limits
    // before it allocates its output.
    let decoded_bytes = image::ImageDecoder::total_bytes(&decoder);
    if width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE || decoded_bytes > MAX_DECODE_BYTES {
        return Err(Refusal::ImageTooLarge);
    }
    let orientation = image::ImageDecoder::orientation(&mut decoder).map_err(refusal)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(refusal)?;
    image.apply_orientation(orientation);
    Ok(image)
}

fn refusal(err: image::ImageError) -> Refusal {
    match err {
        image::ImageError::Limits(_) => Refusal::ImageTooLarge,
        other => Refusal::Corrupt(other.to_string()),
    }
}

fn encode_jpeg(image: &DynamicImage) -> Result<Vec<u8>, Refusal> {
    let mut out = Vec::new();
    let rgb = image.to_rgb8();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
        .encode_image(&rgb)
        .map_err(refusal)?;
    Ok(out)
}

fn encode_png(image: &DynamicImage) -> Result<Vec<u8>, Refusal> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Png).map_err(refusal)?;
    Ok(out.into_inner())
}

/// `name` with its extension replaced by `extension` (added when it has none).
fn with_extension(name: &str, extension: &str) -> String {
    let stem = match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => name,
    };
    format!("{stem}.{extension}")
}

#[cfg(test)]
mod tests {
    use image::{ImageEncoder, Rgb, RgbImage};

    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = RgbImage::from_pixel(width, height, Rgb([200, 30, 30]));
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).expect("png");
        out.into_inner()
    }

    #[test]
    fn an_image_is_reencoded_with_a_thumbnail_and_addressed_by_its_new_bytes() {
        let original = png(800, 400);
        let done = process(&original, Some("image/png"), "shot.PNG", MediaKind::Attachment)
            .expect("accepted");
        assert_eq!((done.content_type.as_str(), done.name.as_str()), ("image/png", "shot.png"));
        assert_eq!(done.dimensions, Some((800, 400)));
        assert_eq!(done.id, content_id(&done.bytes));
        let (thumb_id, thumb) = done.thumbnail.expect("thumbnail");
        assert_eq!(thumb_id, content_id(&thumb));
        let small = image::load_from_memory(&thumb).expect("a thumbnail decodes");
        assert_eq!((small.width(), small.height()), (320, 160));
        assert!(is_content_id(&done.id));
    }

    #[test]
    fn jpeg_metadata_is_dropped_and_the_photo_turned_upright() {
        // A 4×2 JPEG whose EXIF says "rotate 90° clockwise", with a GPS-looking marker.
        let mut exif =
            b"II\x2a\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0\0\0\0\0".to_vec();
        exif.extend_from_slice(b"GPS 51.5N 0.1W");
        let mut jpeg = Vec::new();
        let mut encoder = image::codecs::jpeg::JpegEncoder::new(&mut jpeg);
        encoder.set_exif_metadata(exif).expect("exif");
        encoder.write_image(&[90; 4 * 2 * 3], 4, 2, image::ExtendedColorType::Rgb8).expect("jpeg");
        assert!(jpeg.windows(3).any(|w| w == b"GPS"));
        let done = process(&jpeg, None, "photo.jpeg", MediaKind::Avatar).expect("accepted");
        assert_eq!((done.content_type.as_str(), done.name.as_str()), ("image/jpeg", "photo.jpg"));
        assert!(!done.bytes.windows(3).any(|w| w == b"GPS"), "metadata stripped");
        assert!(!done.bytes.windows(4).any(|w| w == b"Exif"), "no EXIF segment");
        assert_eq!(done.dimensions, Some((2, 4)), "turned upright");
    }

    #[test]
    fn bad_uploads_are_refused() {
        let text = b"just some text".as_slice();
        assert!(matches!(
            process(text, Some("image/png"), "a.png", MediaKind::Attachment),
            Err(Refusal::WrongType { .. })
        ));
        assert!(matches!(
            process(text, None, "notes.txt", MediaKind::Avatar),
            Err(Refusal::NotAnImage(_))
        ));
        for name in ["../etc/passwd", "a/b.png", "c:\\x.png", "", "..", "tab\there"] {
            assert!(
                matches!(
                    process(text, None, name, MediaKind::Attachment),
                    Err(Refusal::BadName(_))
                ),
                "{name:?}"
            );
        }
        assert_eq!(process(b"", None, "x", MediaKind::Attachment).err(), Some(Refusal::Empty));
        let form = Some("multipart/form-data; boundary=x");
        assert_eq!(
            process(text, form, "a.txt", MediaKind::Attachment).err(),
            Some(Refusal::Multipart)
        );
        let curl = Some("application/x-www-form-urlencoded");
        assert!(process(text, curl, "a.txt", MediaKind::Attachment).is_ok(), "curl's default");
        let mut truncated = png(64, 64);
        truncated.truncate(60);
        assert!(matches!(
            process(&truncated, None, "t.png", MediaKind::Attachment),
            Err(Refusal::Corrupt(_))
        ));
    }

    /// A PNG that declares an image of this size and pixel format and has no pixels: all a
    /// decompression bomb needs to get an unguarded decoder to allocate.
    fn png_declaring(width: u32, height: u32, bit_depth: u8, color_type: u8) -> Vec<u8> {
        fn crc32(bytes: &[u8]) -> u32 {
            let mut crc = !0u32;
            for &byte in bytes {
                crc ^= u32::from(byte);
                for _ in 0..8 {
                    crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
                }
            }
            !crc
        }
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        for (kind, data) in [
            (
                b"IHDR",
                [
                    &width.to_be_bytes()[..],
                    &height.to_be_bytes(),
                    &[bit_depth, color_type, 0, 0, 0],
                ]
                .concat(),
            ),
            (b"IDAT", vec![0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]),
            (b"IEND", Vec::new()),
        ] {
            png.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let chunk = [&kind[..], &data].concat();
            png.extend_from_slice(&chunk);
            png.extend_from_slice(&crc32(&chunk).to_be_bytes());
        }
        png
    }

    #[test]
    fn a_decompression_bomb_is_refused_before_it_is_decoded() {
        // Too many pixels per side: refused on the header alone.
        let huge = png_declaring(20_000, 20_000, 8, 0);
        assert_eq!(
            process(&huge, None, "bomb.png", MediaKind::Attachment).err(),
            Some(Refusal::ImageTooLarge)
        );
        // Within the sides, but 8,192² pixels of 16-bit RGBA would take 512 MiB to decode.
        let heavy = png_declaring(8_192, 8_192, 16, 6);
        assert_eq!(
            process(&heavy, None, "bomb.png", MediaKind::Attachment).err(),
            Some(Refusal::ImageTooLarge)
        );
    }

    #[test]
    fn other_files_are_kept_as_they_are_with_their_detected_type() {
        let pdf = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n";
        let done =
            process(pdf, Some("application/octet-stream"), "paper.pdf", MediaKind::Attachment)
                .expect("accepted");
        assert_eq!(done.content_type, "application/pdf");
        assert_eq!(done.bytes, pdf);
        assert!(done.thumbnail.is_none());
        let text = process(b"fn main() {}", None, "main.rs", MediaKind::Attachment).expect("text");
        assert_eq!(text.content_type, "text/plain; charset=utf-8");
        let lying = process(pdf, Some("text/plain"), "paper.txt", MediaKind::Attachment);
        assert!(matches!(lying, Err(Refusal::WrongType { .. })));
    }
}
