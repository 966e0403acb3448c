//! Pictures Roost draws itself: for members who chose none, a symmetric pattern in a colour,
//! both derived from a number (the account's ID), so every member is told apart at a glance
//! without a broken image; and the blurred stand-in of a sensitive picture, from its blurhash.

use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::{ExtendedColorType, ImageEncoder, Rgb, RgbImage};

use crate::{Error, Result};

/// The side of a default avatar, in pixels.
pub const AVATAR_SIDE: u32 = 240;
const CELLS: u32 = 5;
const MARGIN: u32 = 20;
const BACKGROUND: Rgb<u8> = Rgb([0xEE, 0xF0, 0xF3]);

/// A PNG default avatar for `seed`: 5 × 5 cells mirrored left to right, in one of many hues.
pub fn default_avatar(seed: u64) -> Result<Vec<u8>> {
    // Mix the bits first: consecutive IDs must not look alike.
    let mut eight = [0u8; 8];
    eight.copy_from_slice(&blake3::hash(&seed.to_be_bytes()).as_bytes()[..8]);
    let bits = u64::from_le_bytes(eight);
    let colour = hsl_to_rgb((bits >> 16) % 360, 0.55, 0.50);
    let cell = (AVATAR_SIDE - 2 * MARGIN) / CELLS;
    let mut img = RgbImage::from_pixel(AVATAR_SIDE, AVATAR_SIDE, BACKGROUND);
    for row in 0..CELLS {
        for col in 0..CELLS.div_ceil(2) {
            if bits >> (row * 3 + col) & 1 == 0 {
                continue;
            }
            for c in [col, CELLS - 1 - col] {
                for y in 0..cell {
                    for x in 0..cell {
                        img.put_pixel(MARGIN + c * cell + x, MARGIN + row * cell + y, colour);
                    }
                }
            }
        }
    }
    png(&img)
}

/// The header of a profile without one: a plain 1,500 × 500 band.
pub fn default_header() -> Result<Vec<u8>> {
    png(&RgbImage::from_pixel(1500, 500, Rgb([0xD9, 0xDE, 0xE5])))
}

/// Flat colours compress to almost nothing with deflate proper (the fast setting stores
/// them nearly raw: 170 KB for an avatar instead of well under one).
/// The side of a blurhash stand-in along its longer edge: the hash holds only a few colour
/// waves, which a browser scales up smoothly.
const BLUR_SIDE: u32 = 32;

/// A small PNG of what `blurhash` describes, in the shape of a `width` × `height` picture (for
/// a sensitive picture's stand-in until the reader opens it).
pub fn blurhash_png(blurhash: &str, width: u32, height: u32) -> Result<Vec<u8>> {
    let (w, h) = if width >= height {
        (BLUR_SIDE, (BLUR_SIDE * height / width.max(1)).max(1))
    } else {
        ((BLUR_SIDE * width / height.max(1)).max(1), BLUR_SIDE)
    };
    let rgba = blurhash::decode(blurhash, w, h, 1.0).map_err(|e| Error::Malformed(format!("blurhash: {e}")))?;
    let rgb: Vec<u8> = rgba.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
    let img = RgbImage::from_raw(w, h, rgb).ok_or_else(|| Error::Malformed("blurhash: wrong size".into()))?;
    png(&img)
}

fn png(img: &RgbImage) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Default, PngFilter::Sub)
        .write_image(img.as_raw(), img.width(), img.height(), ExtendedColorType::Rgb8)
        .map_err(|e| Error::Malformed(format!("encoding a PNG: {e}")))?;
    Ok(out)
}

fn hsl_to_rgb(hue: u64, s: f64, l: f64) -> Rgb<u8> {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let h = hue as f64 / 60.0;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    let byte = |v: f64| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    Rgb([byte(r), byte(g), byte(b)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_avatars_are_pictures_that_differ_by_seed_and_repeat_for_one() {
        let a = default_avatar(1).unwrap();
        let decoded = image::load_from_memory(&a).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (AVATAR_SIDE, AVATAR_SIDE));
        assert_eq!(a, default_avatar(1).unwrap());
        assert_ne!(a, default_avatar(2).unwrap());
        // Twenty faces on a page must not weigh more than the page.
        assert!(a.len() < 2_000, "a default avatar takes {} bytes", a.len());
        let header = default_header().unwrap();
        assert!(header.len() < 10_000, "the default header takes {} bytes", header.len());
        let h = image::load_from_memory(&header).unwrap();
        assert_eq!((h.width(), h.height()), (1500, 500));
    }

    #[test]
    fn a_blurhash_stand_in_keeps_the_pictures_shape_and_colour() {
        let red = RgbImage::from_pixel(60, 30, Rgb([200, 30, 30]));
        let hash = blurhash::encode(4, 3, 60, 30, &image::DynamicImage::ImageRgb8(red).to_rgba8().into_raw()).unwrap();
        let stand_in = image::load_from_memory(&blurhash_png(&hash, 1200, 600).unwrap()).unwrap().to_rgb8();
        assert_eq!((stand_in.width(), stand_in.height()), (BLUR_SIDE, BLUR_SIDE / 2));
        let p = stand_in.get_pixel(10, 8).0;
        assert!(p[0] > 150 && p[1] < 80 && p[2] < 80, "{p:?}");
        assert!(blurhash_png("not a hash", 10, 10).is_err());
        let tall = image::load_from_memory(&blurhash_png(&hash, 100, 400).unwrap()).unwrap();
        assert_eq!((tall.width(), tall.height()), (BLUR_SIDE / 4, BLUR_SIDE));
    }
}
