//! The one interface of the decoders that take an upload as it arrives (JPEG, PNG), so the [`Thumbnailer`](crate::Thumbnailer) streams every such format the same way.
//!
//! A streamed decoder keeps none of the file: it holds at most
//! [`StreamDecoder::header_bound`] until its header is known, and after
//! [`StreamDecoder::begin`] what the plan made from that header reserved
//! ([`Plan::peak_bytes`]). The caller can thus reserve memory before each of the two
//! allocations, and the service sends the original to storage as it arrives.

use crate::headers::Header;
use crate::pixels::Pixels;
use crate::plan::Plan;
use crate::ImageError;

/// What a streamed decoder reached with the bytes it was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fed {
    /// Every byte given was used (or kept): give more.
    NeedMore,
    /// The header is known ([`StreamDecoder::header`]): `consumed` bytes were used, and
    /// the rest are given again after [`StreamDecoder::begin`]. Returned once.
    Header { consumed: usize },
    /// The image has ended; later bytes are ignored.
    Done,
}

/// A decoder fed the file's bytes in pieces of any size, whose output is the same
/// whatever the pieces. `Send`, so a [`Thumbnailer`](crate::Thumbnailer) holding one may move
/// between threads, as it could before it held a trait object.
pub(crate) trait StreamDecoder: Send {
    /// Upper bound of the heap it holds before `begin`, itself included.
    fn header_bound(&self) -> u64;

    /// Takes the next bytes and decodes as far as they allow. Before the header is known
    /// and after `begin`; in between it refuses to go on.
    fn feed(&mut self, data: &[u8]) -> Result<Fed, ImageError>;

    /// The stored width and height as soon as they are read (IHDR, the frame header), before
    /// the header is complete: an image over the pixel limit is refused from its first bytes,
    /// whatever follows.
    fn size(&self) -> Option<(u32, u32)>;

    /// The header, once [`Fed::Header`] was returned.
    fn header(&self) -> Option<Header>;

    /// Allocates what `plan` (made from [`StreamDecoder::header`]) chose and counted in
    /// its `peak_bytes`; feeding may go on.
    fn begin(&mut self, plan: &Plan) -> Result<(), ImageError>;

    /// The decoded image, as stored (the caller applies the orientation). Refuses a
    /// file that ended early.
    fn finish(self: Box<Self>) -> Result<Pixels, ImageError>;
}
