//! Image files for tests, made on the spot: photos with EXIF and GPS, transparency, animation,
//! and hostile files (a decompression bomb). Behind the `samples` feature for other crates'
//! tests; never part of the server.

#![allow(clippy::unwrap_used)]

use image::codecs::gif::GifEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{DynamicImage, Frame, Rgb, RgbImage, Rgba, RgbaImage};

/// Bytes inside the GPS block of [`jpeg_with_exif`]: a leak of metadata shows them.
pub const GPS_MARK: &[u8; 10] = b"GPS-SECRET";

/// A colourful opaque JPEG.
pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(width, height, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 128]));
    let mut out = Vec::new();
    DynamicImage::ImageRgb8(img).write_with_encoder(JpegEncoder::new_with_quality(&mut out, 90)).unwrap();
    out
}

/// A PNG of these pixels.
pub fn png(img: RgbaImage) -> Vec<u8> {
    let mut out = Vec::new();
    DynamicImage::ImageRgba8(img).write_with_encoder(PngEncoder::new(&mut out)).unwrap();
    out
}

/// A PNG, half transparent.
pub fn transparent_png(width: u32, height: u32) -> Vec<u8> {
    png(RgbaImage::from_fn(width, height, |x, _| Rgba([0, 0, 255, if x < width / 2 { 0 } else { 255 }])))
}

/// A lossless WebP.
pub fn webp(width: u32, height: u32) -> Vec<u8> {
    let img = RgbaImage::from_fn(width, height, |x, y| Rgba([(x % 256) as u8, 200, (y % 256) as u8, 255]));
    let mut out = Vec::new();
    DynamicImage::ImageRgba8(img).write_with_encoder(WebPEncoder::new_lossless(&mut out)).unwrap();
    out
}

/// An animated GIF of `frames` frames.
pub fn animated_gif(width: u32, height: u32, frames: u8) -> Vec<u8> {
    let mut gif = Vec::new();
    {
        let mut enc = GifEncoder::new(&mut gif);
        for i in 0..frames {
            let frame = RgbaImage::from_pixel(width, height, Rgba([i.wrapping_mul(80), 0, 0, 255]));
            enc.encode_frame(Frame::new(frame)).unwrap();
        }
    }
    gif
}

/// A PNG whose header claims `side` × `side` pixels, in a few hundred bytes.
pub fn png_bomb(side: u32) -> Vec<u8> {
    let mut bomb = png(RgbaImage::new(1, 1));
    bomb[16..20].copy_from_slice(&side.to_be_bytes());
    bomb[20..24].copy_from_slice(&side.to_be_bytes());
    // The IHDR chunk's CRC (over its type and data), so the header is a valid one.
    let crc = crc32(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    bomb
}

/// CRC-32 as PNG computes it (bit by bit: a few bytes, no table needed).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = u32::MAX;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A JPEG with an APP1 Exif segment holding an orientation (6: turn 90° clockwise) and a GPS
/// block, as phones write them.
pub fn jpeg_with_exif(width: u32, height: u32) -> Vec<u8> {
    let plain = jpeg(width, height);
    let mut tiff: Vec<u8> = b"II*\0".to_vec();
    tiff.extend(8u32.to_le_bytes()); // IFD0 at 8
                                     // IFD0: two entries (orientation, GPS IFD pointer), then no next IFD.
    tiff.extend(2u16.to_le_bytes());
    tiff.extend([0x12, 0x01, 3, 0]); // 0x0112 Orientation, SHORT
    tiff.extend(1u32.to_le_bytes());
    tiff.extend([6, 0, 0, 0]);
    tiff.extend([0x25, 0x88, 4, 0]); // 0x8825 GPSInfo, LONG
    tiff.extend(1u32.to_le_bytes());
    tiff.extend(38u32.to_le_bytes()); // the GPS IFD right after this one
    tiff.extend(0u32.to_le_bytes());
    // GPS IFD: latitude ref "N", then the marker a leak would show.
    tiff.extend(1u16.to_le_bytes());
    tiff.extend([0x01, 0x00, 2, 0]); // GPSLatitudeRef, ASCII
    tiff.extend(2u32.to_le_bytes());
    tiff.extend(*b"N\0\0\0");
    tiff.extend(0u32.to_le_bytes());
    tiff.extend(GPS_MARK);
    tiff.extend(b"-51.5N");
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(tiff);
    let mut out = plain[..2].to_vec(); // SOI
    out.extend([0xFF, 0xE1]);
    out.extend(((app1.len() + 2) as u16).to_be_bytes());
    out.extend(app1);
    out.extend(&plain[2..]);
    out
}
