//! Decoding an upload under limits and making the stored original and preview from it.

use std::io::Cursor;

use image::codecs::gif::{GifDecoder, GifEncoder, Repeat};
use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::codecs::webp::WebPDecoder;
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{AnimationDecoder, DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader};

use crate::{Error, Result};

/// What an upload may cost. Every figure bounds memory or time of one decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// The file's size.
    pub max_bytes: usize,
    /// Width and height, each (checked from the header, before any pixel is decoded).
    pub max_side: u32,
    /// Width × height of a still image: 4 bytes per pixel once decoded.
    pub max_pixels: u64,
    /// What the decoder may allocate at once, the decoded image included.
    pub max_decoder_bytes: u64,
    /// Frames of an animation.
    pub max_frames: u32,
    /// Width × height × frames of an animation: the work of re-encoding it.
    pub max_animation_pixels: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_bytes: 16 * 1024 * 1024,
            max_side: 16_384,
            // A 40-megapixel photo (8,000 × 5,000) decodes to 160 MB.
            max_pixels: 40_000_000,
            max_decoder_bytes: 256 * 1024 * 1024,
            max_frames: 500,
            // e.g. 300 frames of 480 × 360.
            max_animation_pixels: 50_000_000,
        }
    }
}

/// Originals larger than this (4,096 × 4,096) are scaled down to it.
pub const ORIGINAL_MAX_PIXELS: u64 = 4096 * 4096;
/// Previews fit in this many pixels (640 × 360, Mastodon's "small"), never scaled up.
pub const PREVIEW_MAX_PIXELS: u64 = 640 * 360;
const ORIGINAL_QUALITY: u8 = 85;
const PREVIEW_QUALITY: u8 = 80;
/// Blurhash components across and down, as Mastodon computes them.
const BLURHASH_COMPONENTS: (u32, u32) = (4, 4);

/// One image Roost made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    /// `image/jpeg` (opaque stills), `image/png` (stills with transparency) or `image/gif`
    /// (animations).
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
}

/// What an upload becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    /// The image at full size (at most [`ORIGINAL_MAX_PIXELS`]), upright, without metadata.
    pub original: Encoded,
    /// A still at most [`PREVIEW_MAX_PIXELS`]; the original's bytes when that is small enough.
    pub preview: Encoded,
    /// The placeholder shown while loading (or over sensitive media).
    pub blurhash: String,
    /// Whether the original is an animation.
    pub animated: bool,
}

/// Turns an upload into the images Roost stores, or says why it cannot.
///
/// The format comes from the content alone. Limits are checked on the header before decoding,
/// and the decoder is held to [`Limits::max_decoder_bytes`] while it runs.
pub fn process(bytes: &[u8], limits: &Limits) -> Result<Processed> {
    match open(bytes, limits)? {
        Source::Still(image) => still(image),
        Source::Gif(decoder) => animation(*decoder, limits),
        Source::WebP(decoder) => animation(decoder, limits),
    }
}

/// An upload once its format is known and its header checked: a decoded still, or an
/// animation still to be decoded frame by frame.
enum Source<'a> {
    Still(DynamicImage),
    Gif(Box<GifDecoder<Cursor<&'a [u8]>>>),
    WebP(WebPDecoder<Cursor<&'a [u8]>>),
}

fn open<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Source<'a>> {
    if bytes.len() > limits.max_bytes {
        return Err(Error::TooLarge { bytes: bytes.len(), max: limits.max_bytes });
    }
    let format = image::guess_format(bytes).map_err(|_| Error::NotAnImage)?;
    match format {
        ImageFormat::Gif => Ok(Source::Gif(Box::new(GifDecoder::new(Cursor::new(bytes)).map_err(malformed)?))),
        ImageFormat::WebP => {
            let decoder = WebPDecoder::new(Cursor::new(bytes)).map_err(malformed)?;
            if decoder.has_animation() {
                Ok(Source::WebP(decoder))
            } else {
                Ok(Source::Still(decode_still(decoder, limits)?))
            }
        }
        ImageFormat::Jpeg if !jpeg_is_whole(bytes) => {
            Err(Error::Malformed("the JPEG file is cut short (no end after its last scan)".into()))
        }
        ImageFormat::Jpeg | ImageFormat::Png => {
            // The header alone first, so that a size beyond the limits is named as such.
            let (w, h) = ImageReader::with_format(Cursor::new(bytes), format).into_dimensions().map_err(malformed)?;
            check_size(w, h, limits.max_pixels, limits)?;
            let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
            // PNG's decoder takes its limits when it is made.
            reader.limits(decoder_limits(limits));
            Ok(Source::Still(decode_still(reader.into_decoder().map_err(malformed)?, limits)?))
        }
        _ => Err(Error::NotAnImage),
    }
}

/// The shape a profile picture is cut to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Square, at most 400 × 400 (Mastodon's avatar size).
    Avatar,
    /// Three to one, at most 1,500 × 500 (Mastodon's header size).
    Header,
}

impl Shape {
    /// The largest size, which also gives the aspect ratio.
    pub fn size(self) -> (u32, u32) {
        match self {
            Shape::Avatar => (400, 400),
            Shape::Header => (1500, 500),
        }
    }
}

/// Turns an upload into a profile picture: decoded under the same limits as [`process`], cut
/// to `shape` around its centre and scaled down to it. An animation becomes its first frame
/// (profile pictures are stills in Roost). Original and preview are the same image.
pub fn process_profile(bytes: &[u8], limits: &Limits, shape: Shape) -> Result<Processed> {
    let image = match open(bytes, limits)? {
        Source::Still(image) => image,
        Source::Gif(decoder) => first_frame(*decoder, limits)?,
        Source::WebP(decoder) => first_frame(decoder, limits)?,
    };
    let (max_w, max_h) = shape.size();
    // The largest centred crop with the shape's aspect ratio, then scaled down if larger.
    let (w, h) = (image.width(), image.height());
    let (crop_w, crop_h) = if u64::from(w) * u64::from(max_h) > u64::from(h) * u64::from(max_w) {
        (((u64::from(h) * u64::from(max_w)) / u64::from(max_h)).max(1) as u32, h)
    } else {
        (w, ((u64::from(w) * u64::from(max_h)) / u64::from(max_w)).max(1) as u32)
    };
    let cropped = image.crop_imm((w - crop_w) / 2, (h - crop_h) / 2, crop_w, crop_h);
    let fitted = if crop_w > max_w {
        cropped.resize_exact(
            max_w,
            (u64::from(crop_h) * u64::from(max_w) / u64::from(crop_w)).max(1) as u32,
            FilterType::Triangle,
        )
    } else {
        cropped
    };
    let original = encode_still(&fitted, is_opaque(&fitted), ORIGINAL_QUALITY)?;
    Ok(Processed { preview: original.clone(), blurhash: blurhash_of(&fitted)?, original, animated: false })
}

fn decode_still(mut decoder: impl ImageDecoder, limits: &Limits) -> Result<DynamicImage> {
    let (width, height) = decoder.dimensions();
    check_size(width, height, limits.max_pixels, limits)?;
    decoder.set_limits(decoder_limits(limits)).map_err(malformed)?;
    // A file whose orientation cannot be read is shown as stored.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(malformed)?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// An animation's frame size, checked, and its frames, decoded one at a time under the limits.
fn frames<'a, D>(mut decoder: D, limits: &Limits) -> Result<((u32, u32), image::Frames<'a>)>
where
    D: ImageDecoder + AnimationDecoder<'a>,
{
    let (width, height) = decoder.dimensions();
    check_size(width, height, limits.max_pixels, limits)?;
    decoder.set_limits(decoder_limits(limits)).map_err(malformed)?;
    Ok(((width, height), decoder.into_frames()))
}

fn first_frame<'a, D>(decoder: D, limits: &Limits) -> Result<DynamicImage>
where
    D: ImageDecoder + AnimationDecoder<'a>,
{
    let (_, mut frames) = frames(decoder, limits)?;
    let first = frames.next().ok_or_else(|| Error::Malformed("no frames".into()))?.map_err(malformed)?;
    Ok(DynamicImage::ImageRgba8(first.into_buffer()))
}

/// Whether a JPEG ends its last scan: the decoder fills in a file cut short with grey rather
/// than failing, and a half-uploaded photo must be refused, not stored. Inside a scan a 0xFF
/// byte is always escaped, so an end-of-image marker after the last start-of-scan is the real
/// end (an EXIF thumbnail's own scan and end come before the main image's).
fn jpeg_is_whole(bytes: &[u8]) -> bool {
    let last = |marker: u8| bytes.windows(2).rposition(|w| w[0] == 0xFF && w[1] == marker);
    match (last(0xDA), last(0xD9)) {
        (Some(scan), Some(end)) => end > scan,
        _ => false,
    }
}

fn decoder_limits(limits: &Limits) -> image::Limits {
    let mut l = image::Limits::default();
    l.max_image_width = Some(limits.max_side);
    l.max_image_height = Some(limits.max_side);
    l.max_alloc = Some(limits.max_decoder_bytes);
    l
}

fn check_size(width: u32, height: u32, max_pixels: u64, limits: &Limits) -> Result<()> {
    let too_big = width == 0
        || height == 0
        || width > limits.max_side
        || height > limits.max_side
        || u64::from(width) * u64::from(height) > max_pixels;
    if too_big {
        return Err(Error::TooManyPixels { width, height });
    }
    Ok(())
}

fn malformed(e: ImageError) -> Error {
    match e {
        ImageError::Limits(_) => Error::Malformed("it needs more memory to decode than allowed".into()),
        ImageError::Unsupported(u) => Error::Malformed(format!("unsupported: {u}")),
        other => Error::Malformed(other.to_string()),
    }
}

fn still(image: DynamicImage) -> Result<Processed> {
    let image = match fit(image.width(), image.height(), ORIGINAL_MAX_PIXELS) {
        Some((w, h)) => image.resize_exact(w, h, FilterType::Triangle),
        None => image,
    };
    let opaque = is_opaque(&image);
    let original = encode_still(&image, opaque, ORIGINAL_QUALITY)?;
    let (preview, blurhash) = match fit(image.width(), image.height(), PREVIEW_MAX_PIXELS) {
        Some((w, h)) => {
            let small = image.thumbnail_exact(w, h);
            let hash = blurhash_of(&small)?;
            (encode_still(&small, opaque, PREVIEW_QUALITY)?, hash)
        }
        None => (original.clone(), blurhash_of(&image)?),
    };
    Ok(Processed { original, preview, blurhash, animated: false })
}

/// An animation is re-encoded frame by frame as it is decoded, so only one frame is held at a
/// time; a single-frame "animation" is a still.
fn animation<'a, D>(decoder: D, limits: &Limits) -> Result<Processed>
where
    D: ImageDecoder + AnimationDecoder<'a>,
{
    let ((width, height), mut frames) = frames(decoder, limits)?;
    let frame_pixels = u64::from(width) * u64::from(height);
    let first = frames.next().ok_or_else(|| Error::Malformed("no frames".into()))?.map_err(malformed)?;
    let Some(second) = frames.next() else {
        return still(DynamicImage::ImageRgba8(first.into_buffer()));
    };
    let second = second.map_err(malformed)?;
    let poster = DynamicImage::ImageRgba8(first.buffer().clone());

    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut out, 10);
        encoder.set_repeat(Repeat::Infinite).map_err(malformed)?;
        let mut count: u64 = 0;
        for frame in [Ok(first), Ok(second)].into_iter().chain(frames) {
            count += 1;
            if count > u64::from(limits.max_frames) || count * frame_pixels > limits.max_animation_pixels {
                return Err(Error::TooLong);
            }
            encoder.encode_frame(frame.map_err(malformed)?).map_err(malformed)?;
        }
    }
    let original = Encoded { bytes: out, content_type: "image/gif", width, height };
    let (w, h) = fit(width, height, PREVIEW_MAX_PIXELS).unwrap_or((width, height));
    let small = poster.thumbnail_exact(w, h);
    let preview = encode_still(&small, is_opaque(&small), PREVIEW_QUALITY)?;
    Ok(Processed { original, preview, blurhash: blurhash_of(&small)?, animated: true })
}

/// The size that fits `max_pixels` with the same aspect ratio, if the image is larger.
fn fit(width: u32, height: u32, max_pixels: u64) -> Option<(u32, u32)> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels <= max_pixels {
        return None;
    }
    let scale = (max_pixels as f64 / pixels as f64).sqrt();
    let mut w = ((f64::from(width) * scale).floor() as u32).max(1);
    let mut h = ((f64::from(height) * scale).floor() as u32).max(1);
    // A side rounded up to one pixel gives its share to the other.
    if u64::from(w) * u64::from(h) > max_pixels {
        if h == 1 {
            w = max_pixels.min(u64::from(width)) as u32;
        } else {
            h = max_pixels.min(u64::from(height)) as u32;
        }
    }
    Some((w, h))
}

fn is_opaque(image: &DynamicImage) -> bool {
    if !image.color().has_alpha() {
        return true;
    }
    match image {
        DynamicImage::ImageRgba8(b) => b.pixels().all(|p| p.0[3] == u8::MAX),
        other => other.to_rgba8().pixels().all(|p| p.0[3] == u8::MAX),
    }
}

/// JPEG for opaque images, PNG where transparency must survive.
fn encode_still(image: &DynamicImage, opaque: bool, quality: u8) -> Result<Encoded> {
    let mut bytes = Vec::new();
    let content_type = if opaque {
        encode_jpeg(image, quality, &mut bytes)?;
        "image/jpeg"
    } else {
        let encoder = PngEncoder::new_with_quality(&mut bytes, CompressionType::Fast, PngFilter::Adaptive);
        DynamicImage::ImageRgba8(image.to_rgba8()).write_with_encoder(encoder).map_err(malformed)?;
        "image/png"
    };
    Ok(Encoded { bytes, content_type, width: image.width(), height: image.height() })
}

/// A JPEG through `jpeg-encoder`, which takes under half the time of the `image` crate's own
/// encoder on a 12-megapixel photo (its AVX2 paths are picked at run time).
fn encode_jpeg(image: &DynamicImage, quality: u8, out: &mut Vec<u8>) -> Result<()> {
    let side = |n: u32| u16::try_from(n).map_err(|_| Error::Malformed(format!("a side of {n} pixels is too long")));
    let (w, h) = (side(image.width())?, side(image.height())?);
    let encoder = jpeg_encoder::Encoder::new(out, quality);
    match image {
        DynamicImage::ImageLuma8(b) => encoder.encode(b.as_raw(), w, h, jpeg_encoder::ColorType::Luma),
        DynamicImage::ImageRgb8(b) => encoder.encode(b.as_raw(), w, h, jpeg_encoder::ColorType::Rgb),
        other => encoder.encode(other.to_rgb8().as_raw(), w, h, jpeg_encoder::ColorType::Rgb),
    }
    .map_err(|e| Error::Malformed(format!("encoding as JPEG: {e}")))
}

fn blurhash_of(image: &DynamicImage) -> Result<String> {
    // The hash keeps only a few components: a 32-pixel thumbnail gives the same string, fast.
    let tiny = image.thumbnail(32, 32).to_rgba8();
    let (x, y) = BLURHASH_COMPONENTS;
    blurhash::encode(x, y, tiny.width(), tiny.height(), tiny.as_raw())
        .map_err(|e| Error::Malformed(format!("blurhash: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samples::{jpeg, jpeg_with_exif, png};
    use image::{Rgba, RgbaImage};

    fn decodes_as(e: &Encoded) -> DynamicImage {
        image::load_from_memory(&e.bytes).unwrap()
    }

    #[test]
    fn profile_pictures_are_cut_to_their_shape_and_never_scaled_up() {
        let wide = process_profile(&jpeg(1200, 600), &Limits::default(), Shape::Avatar).unwrap();
        assert_eq!((wide.original.width, wide.original.height), (400, 400));
        assert_eq!(wide.preview, wide.original);
        let small = process_profile(&jpeg(90, 120), &Limits::default(), Shape::Avatar).unwrap();
        assert_eq!((small.original.width, small.original.height), (90, 90));
        let header = process_profile(&jpeg(3000, 3000), &Limits::default(), Shape::Header).unwrap();
        assert_eq!((header.original.width, header.original.height), (1500, 500));
        let gif = process_profile(&crate::samples::animated_gif(60, 60, 3), &Limits::default(), Shape::Avatar).unwrap();
        assert!(!gif.animated, "an animated avatar becomes its first frame");
        assert!(matches!(process_profile(b"nope", &Limits::default(), Shape::Avatar), Err(Error::NotAnImage)));
    }

    #[test]
    fn a_photo_is_turned_upright_and_loses_its_metadata() {
        let upload = jpeg_with_exif(64, 32);
        assert!(upload.windows(10).any(|w| w == crate::samples::GPS_MARK));
        let p = process(&upload, &Limits::default()).unwrap();
        assert_eq!((p.original.width, p.original.height), (32, 64), "orientation 6 turns it");
        assert_eq!(p.original.content_type, "image/jpeg");
        assert!(!p.original.bytes.windows(4).any(|w| w == b"Exif"));
        assert!(!p.original.bytes.windows(10).any(|w| w == crate::samples::GPS_MARK));
        assert_eq!(decodes_as(&p.original).width(), 32);
        assert!(!p.animated);
        assert!(p.blurhash.len() >= 6);
    }

    #[test]
    fn large_photos_get_a_small_preview_and_huge_ones_a_smaller_original() {
        let p = process(&jpeg(1600, 1200), &Limits::default()).unwrap();
        assert_eq!((p.original.width, p.original.height), (1600, 1200));
        assert!(u64::from(p.preview.width) * u64::from(p.preview.height) <= PREVIEW_MAX_PIXELS);
        let skew = (i64::from(p.preview.width) * 3 - i64::from(p.preview.height) * 4).abs();
        assert!(skew <= 4, "aspect ratio kept: {}×{}", p.preview.width, p.preview.height);
        let preview = decodes_as(&p.preview);
        assert_eq!((preview.width(), preview.height()), (p.preview.width, p.preview.height));

        let p = process(&jpeg(5000, 4000), &Limits::default()).unwrap();
        assert!(u64::from(p.original.width) * u64::from(p.original.height) <= ORIGINAL_MAX_PIXELS);
        assert!(p.original.width > 4000);
    }

    #[test]
    fn a_tiny_image_is_its_own_preview() {
        let p = process(&png(RgbaImage::from_pixel(1, 1, Rgba([255, 0, 0, 255]))), &Limits::default()).unwrap();
        assert_eq!((p.original.width, p.original.height), (1, 1));
        assert_eq!(p.original.content_type, "image/jpeg", "an opaque PNG becomes a JPEG");
        assert_eq!(p.preview, p.original);
    }

    #[test]
    fn transparency_survives_as_png() {
        let img = RgbaImage::from_fn(20, 10, |x, _| Rgba([0, 0, 255, if x < 10 { 0 } else { 255 }]));
        let p = process(&png(img), &Limits::default()).unwrap();
        assert_eq!(p.original.content_type, "image/png");
        let back = decodes_as(&p.original).to_rgba8();
        assert_eq!(back.get_pixel(0, 0).0[3], 0);
        assert_eq!(back.get_pixel(15, 0).0[3], 255);
    }

    #[test]
    fn animated_gifs_stay_animated() {
        let gif = crate::samples::animated_gif(16, 8, 3);
        let p = process(&gif, &Limits::default()).unwrap();
        assert!(p.animated);
        assert_eq!(p.original.content_type, "image/gif");
        let frames = GifDecoder::new(Cursor::new(&p.original.bytes)).unwrap().into_frames().count();
        assert_eq!(frames, 3);
        assert_eq!(p.preview.content_type, "image/jpeg");

        let limits = Limits { max_frames: 2, ..Limits::default() };
        assert!(matches!(process(&gif, &limits), Err(Error::TooLong)));
    }

    #[test]
    fn hostile_files_are_refused_without_decoding() {
        let limits = Limits::default();
        let bomb = crate::samples::png_bomb(12_000);
        assert!(matches!(process(&bomb, &limits), Err(Error::TooManyPixels { width: 12_000, .. })));

        let whole = jpeg(200, 200);
        assert!(matches!(process(&whole[..whole.len() / 2], &limits), Err(Error::Malformed(_))));
        assert!(matches!(process(b"<svg onload=alert(1)>", &limits), Err(Error::NotAnImage)));
        assert!(matches!(process(b"", &limits), Err(Error::NotAnImage)));
        let small = Limits { max_bytes: 100, ..Limits::default() };
        assert!(matches!(process(&whole, &small), Err(Error::TooLarge { .. })));
        let narrow = Limits { max_side: 100, ..Limits::default() };
        assert!(matches!(process(&whole, &narrow), Err(Error::TooManyPixels { .. })));
    }

    #[test]
    fn fit_keeps_the_aspect_and_the_budget() {
        assert_eq!(fit(100, 100, 10_000), None);
        let (w, h) = fit(4000, 3000, PREVIEW_MAX_PIXELS).unwrap();
        assert!(u64::from(w * h) <= PREVIEW_MAX_PIXELS);
        assert_eq!((w, h), (554, 415));
        assert_eq!(fit(100_000, 1, 1_000), Some((1_000, 1)));
    }
}
