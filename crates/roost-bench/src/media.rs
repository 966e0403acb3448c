//! Processing pictures: how long one upload takes to decode, turn, re-encode, preview and hash
//! on one core (`roost_media::process`, as the server runs it on its blocking pool), for
//! photo-like JPEGs and PNG screenshots this generator makes.

use std::time::Instant;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{ImageEncoder, Rgb, RgbImage};
use rand::{Rng, SeedableRng};

use crate::stats::Latencies;

#[derive(clap::Args)]
pub struct Options {
    /// Uploads processed per kind.
    #[arg(long, default_value_t = 20)]
    pub runs: usize,
}

/// A photo-like image: smooth gradients under fine noise (what a camera's sensor gives; a flat
/// image would compress and decode far faster than a real photo).
pub(crate) fn photo(width: u32, height: u32, seed: u64) -> RgbImage {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    RgbImage::from_fn(width, height, |x, y| {
        let (fx, fy) = (x as f32 / width as f32, y as f32 / height as f32);
        let noise = rng.gen_range(-12i16..=12);
        let channel = |base: f32| (base * 255.0 + f32::from(noise)).clamp(0.0, 255.0) as u8;
        Rgb([channel(fx), channel(fy), channel(1.0 - (fx + fy) / 2.0)])
    })
}

/// A screenshot-like image: flat panels and lines of "text".
fn screenshot(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        if y % 24 < 14 && x % 9 < 6 && (x / 9 + y / 24) % 7 != 0 {
            Rgb([40, 40, 48])
        } else if x < width / 5 {
            Rgb([230, 233, 240])
        } else {
            Rgb([255, 255, 255])
        }
    })
}

pub(crate) fn jpeg(img: &RgbImage) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, 90).write_image(
        img.as_raw(),
        img.width(),
        img.height(),
        image::ExtendedColorType::Rgb8,
    )?;
    Ok(out)
}

fn png(img: &RgbImage) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    PngEncoder::new(&mut out).write_image(img.as_raw(), img.width(), img.height(), image::ExtendedColorType::Rgb8)?;
    Ok(out)
}

pub fn run(opts: Options) -> anyhow::Result<()> {
    println!("## roost-bench media\n");
    println!("- machine: {}", crate::stats::machine());
    println!("- one thread (the server processes one upload at a time per node by default); {} runs each\n", opts.runs);
    println!("| upload | file size | p50 (ms) | p99 (ms) | max (ms) |");
    println!("|---|---:|---:|---:|---:|");
    let kinds: Vec<(&str, Vec<u8>)> = vec![
        ("12 MP photo, JPEG (4000 × 3000)", jpeg(&photo(4000, 3000, 1))?),
        ("2 MP photo, JPEG (1600 × 1200)", jpeg(&photo(1600, 1200, 2))?),
        ("screenshot, PNG (2560 × 1440)", png(&screenshot(2560, 1440))?),
    ];
    let limits = roost_media::Limits::default();
    for (name, bytes) in kinds {
        let mut times = Latencies::default();
        for _ in 0..opts.runs {
            let start = Instant::now();
            let processed = roost_media::process(&bytes, &limits)?;
            times.record(start.elapsed());
            std::hint::black_box(processed);
        }
        println!(
            "| {name} | {:.1} MB | {:.0} | {:.0} | {:.0} |",
            bytes.len() as f64 / 1e6,
            times.percentile_ms(50.0),
            times.percentile_ms(99.0),
            times.percentile_ms(100.0)
        );
    }
    Ok(())
}
