//! Pictures, handled as hostile input.
//!
//! [`process`] takes the bytes a member uploaded and returns images Roost made itself: the
//! file's real format is read from its content (never from its name or the client's content
//! type), it is decoded under explicit limits ([`Limits`]: bytes, width, height, pixels,
//! frames, decoder memory), turned upright by its EXIF orientation, and re-encoded, which drops
//! every piece of metadata (EXIF, GPS, ICC, comments). Nothing a client sent is ever served
//! back byte for byte. Animated GIFs (and animated WebP) stay animated, re-encoded as GIF.
//!
//! [`Blobs`] stores the results by their BLAKE3 hash, outside the log: the log holds only
//! hashes, sizes and types.
//!
//! **Boundary:** no HTTP, consensus or state-machine crate. Processing is CPU-bound and
//! synchronous; callers run it off the async runtime with bounded concurrency.

mod blobs;
mod identicon;
mod process;
#[cfg(any(test, feature = "samples"))]
pub mod samples;

pub use blobs::{BlobHash, Blobs};
pub use identicon::{blurhash_png, default_avatar, default_header, AVATAR_SIDE};
pub use process::{process, process_profile, Encoded, Limits, Processed, Shape};

/// Why an upload was refused. Every variant but [`Error::Io`] is the uploader's doing
/// (HTTP 422, or 413 for [`Error::TooLarge`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file is larger than [`Limits::max_bytes`].
    #[error("the file is {bytes} bytes, more than the {max} allowed")]
    TooLarge { bytes: usize, max: usize },
    /// The content is none of JPEG, PNG, GIF and WebP, whatever its name says.
    #[error("not an image Roost accepts (JPEG, PNG, GIF or WebP)")]
    NotAnImage,
    /// Width, height or pixel count beyond the limits (a decompression bomb, or just too big).
    #[error("the image is {width}×{height} pixels, more than allowed")]
    TooManyPixels { width: u32, height: u32 },
    /// An animation with more frames, or more pixels over all its frames, than allowed.
    #[error("the animation is longer than allowed")]
    TooLong,
    /// The file could not be decoded (truncated, corrupt, or needing more decoder memory than
    /// allowed).
    #[error("the image could not be read: {0}")]
    Malformed(String),
    /// The blob store failed (the node's fault, not the uploader's).
    #[error("storing the image failed: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T> = std::result::Result<T, Error>;
