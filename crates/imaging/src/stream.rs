//! The one entry point for an upload whose bytes arrive in pieces: sniff the format, take the
//! bytes, plan, decode, thumbnail, asking the caller to reserve memory before every allocation
//! that the input decides.
//!
//! The protocol is a handshake so the caller's memory budget is a bound, not an estimate: when
//! [`Thumbnailer::feed`] or [`Thumbnailer::end`] answers [`Step::Reserve`], nothing has been
//! allocated yet; the caller reserves that many bytes (or refuses the upload) and calls
//! [`Thumbnailer::grant`], which allocates at most that much, and feeds on.

use crate::codec::{Fed, StreamDecoder};
use crate::headers::{self, sniff};
use crate::jpeg_stream::JpegStream;
use crate::plan::{plan, plan_header, Plan};
use crate::png_stream::PngStream;
use crate::thumbnails::{resize_and_encode, thumbnails_planned};
use crate::{Format, ImageError, Limits, Probe, Thumbnail};

/// Bytes the format is recognised from (the longest signature we test, the ISO BMFF brands
/// of a HEIC, fit in this).
const SNIFF_BYTES: usize = 64;
/// Largest input of a format decoded from one buffer (WebP, GIF, BMP, TIFF; JPEG and PNG
/// stream): what is left of the per-request memory after the smallest decode. The plan
/// refuses a file whose decode would not fit next to its bytes ([`ImageError::TooMuchMemory`]).
pub const BUFFERED_MAX_BYTES: u64 = 48 * 1024 * 1024;

/// What the caller does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Every byte given was taken: feed more, or call [`Thumbnailer::end`] at the end.
    NeedMore,
    /// `consumed` bytes were taken; reserve `bytes` more, call [`Thumbnailer::grant`], then
    /// feed the rest (or, after `end`, call [`Thumbnailer::finish`]).
    Reserve { consumed: usize, bytes: u64 },
    /// After `end`: nothing more to reserve; call [`Thumbnailer::finish`].
    Ready,
}

enum State {
    Sniffing {
        head: [u8; SNIFF_BYTES],
        len: usize,
    },
    /// A JPEG or PNG, decoded as it arrives: `plan` is set once its header is known.
    /// `pending`: the end of the sniffed bytes, when the header was complete within them
    /// (a small PNG's), fed after `begin`.
    Streaming {
        format: Format,
        codec: Box<dyn StreamDecoder>,
        plan: Option<Plan>,
        begun: bool,
        pending: Vec<u8>,
    },
    /// The format is known; the input buffer waits for its reservation.
    AwaitingBuffer {
        format: Format,
        head: Vec<u8>,
    },
    Buffering {
        bytes: Vec<u8>,
    },
    /// `end` asked for the decode's memory.
    AwaitingDecode {
        bytes: Vec<u8>,
        plan: Plan,
    },
    Planned {
        bytes: Vec<u8>,
        plan: Plan,
    },
    /// Thumbnails made; the input is kept for the caller to store.
    Finished {
        bytes: Vec<u8>,
    },
    Spent,
}

// A native caller may keep a Thumbnailer across threads (bench/imaging-wasm keeps one in a
// static Mutex): checked here, at compile time.
const _: fn() = || {
    fn send<T: Send>() {}
    send::<Thumbnailer>();
};

/// Takes an upload's bytes as they arrive and makes its thumbnails.
pub struct Thumbnailer {
    heights: Vec<u32>,
    limits: Limits,
    /// Upper bound of the input's size (the request's declared length, or the upload limit).
    input_bound: u64,
    state: State,
}

impl Thumbnailer {
    /// A thumbnailer for thumbnails of `heights` of an image of at most `input_bound` bytes.
    pub fn new(heights: &[u32], limits: Limits, input_bound: u64) -> Self {
        Self {
            heights: heights.to_vec(),
            limits,
            input_bound,
            state: State::Sniffing {
                head: [0; SNIFF_BYTES],
                len: 0,
            },
        }
    }

    /// The format, once recognised.
    pub fn format(&self) -> Option<Format> {
        match &self.state {
            State::AwaitingBuffer { format, .. } => Some(*format),
            State::Buffering { bytes } => sniff(bytes),
            State::AwaitingDecode { plan, .. } | State::Planned { plan, .. } => {
                Some(plan.probe.format)
            }
            State::Streaming { format, .. } => Some(*format),
            State::Finished { bytes } => sniff(bytes),
            State::Sniffing { .. } | State::Spent => None,
        }
    }

    /// Takes the next bytes of the image.
    pub fn feed(&mut self, data: &[u8]) -> Result<Step, ImageError> {
        match &mut self.state {
            State::Sniffing { head, len } => {
                let take = (SNIFF_BYTES - *len).min(data.len());
                head[*len..*len + take].copy_from_slice(&data[..take]);
                *len += take;
                if *len < SNIFF_BYTES {
                    return Ok(Step::NeedMore);
                }
                let head = head[..*len].to_vec();
                self.recognise(head, take)
            }
            State::Streaming {
                codec, plan, begun, ..
            } => {
                if plan.is_some() && !*begun {
                    return Err(out_of_order());
                }
                match feed_codec(codec.as_mut(), data, &self.limits)? {
                    Fed::NeedMore | Fed::Done => Ok(Step::NeedMore),
                    Fed::Header { consumed } => {
                        let planned = plan_streamed(&**codec, &self.heights, &self.limits)?;
                        let bytes = planned.peak_bytes;
                        *plan = Some(planned);
                        Ok(Step::Reserve { consumed, bytes })
                    }
                }
            }
            State::Buffering { bytes } => {
                if bytes.len() + data.len() > bytes.capacity() {
                    return Err(self.too_large());
                }
                bytes.extend_from_slice(data);
                Ok(Step::NeedMore)
            }
            _ => Err(out_of_order()),
        }
    }

    /// Allocates what the last [`Step::Reserve`] asked for.
    pub fn grant(&mut self) -> Result<(), ImageError> {
        if let State::Streaming {
            codec,
            plan,
            begun,
            pending,
            ..
        } = &mut self.state
        {
            let Some(plan) = plan else {
                return Ok(()); // the header phase's own reservation: nothing more to do
            };
            if *begun {
                return Err(out_of_order());
            }
            codec.begin(plan)?;
            *begun = true;
            // What arrived with the header and waits for the decode: the rest of the sniffed
            // bytes, or what the decoder kept of the piece that completed its header.
            codec.feed(&std::mem::take(pending))?;
            return Ok(());
        }
        match std::mem::replace(&mut self.state, State::Spent) {
            State::AwaitingBuffer { format, head } => {
                let mut bytes = Vec::with_capacity(self.buffer_bytes(format) as usize);
                bytes.extend_from_slice(&head);
                self.state = State::Buffering { bytes };
                Ok(())
            }
            State::AwaitingDecode { bytes, plan } => {
                self.state = State::Planned { bytes, plan };
                Ok(())
            }
            _ => Err(out_of_order()),
        }
    }

    /// The input is complete: reads the headers and plans the decode, asking for its memory.
    /// Call it again after each [`Step::Reserve`] it answers (and its `grant`), until
    /// [`Step::Ready`].
    pub fn end(&mut self) -> Result<Step, ImageError> {
        if let State::Sniffing { head, len } = &self.state {
            // A file shorter than the sniffing window.
            let head = head[..*len].to_vec();
            let len = head.len();
            return self.recognise(head, len);
        }
        if let State::Streaming {
            format,
            codec,
            begun,
            ..
        } = &self.state
        {
            check_size(codec.as_ref(), &self.limits)?;
            return if *begun {
                Ok(Step::Ready)
            } else {
                Err(ImageError::Corrupt(format!(
                    "{} truncated before its image data",
                    format.name()
                )))
            };
        }
        match std::mem::replace(&mut self.state, State::Spent) {
            State::Planned { bytes, plan } => {
                self.state = State::Planned { bytes, plan };
                Ok(Step::Ready)
            }
            State::Buffering { bytes } => {
                let plan = plan(&bytes, &self.heights, &self.limits)?;
                let peak = plan.peak_bytes;
                self.state = State::AwaitingDecode { bytes, plan };
                Ok(Step::Reserve {
                    consumed: 0,
                    bytes: peak,
                })
            }
            _ => Err(out_of_order()),
        }
    }

    /// Decodes and makes the thumbnails, in the order of the heights. The decode's memory is
    /// freed when this returns; the input stays (see [`Thumbnailer::input`]).
    pub fn finish(&mut self) -> Result<(Probe, Vec<Thumbnail>), ImageError> {
        match std::mem::replace(&mut self.state, State::Spent) {
            State::Streaming {
                codec,
                plan: Some(plan),
                begun: true,
                ..
            } => {
                let decoded = codec.finish()?;
                resize_and_encode(decoded, plan.probe, &self.heights).map(|t| (plan.probe, t))
            }
            State::Planned { bytes, plan } => {
                let made = thumbnails_planned(&bytes, &self.heights, &plan);
                self.state = State::Finished { bytes };
                made
            }
            _ => Err(out_of_order()),
        }
    }

    /// Whether the input is kept whole ([`Thumbnailer::input`]); else the caller must store it
    /// as it arrives (JPEG, PNG).
    pub fn keeps_input(&self) -> bool {
        !matches!(self.state, State::Streaming { .. })
    }

    /// The input as received, when this format keeps it whole (WebP, GIF, BMP, TIFF).
    pub fn input(&self) -> Option<&[u8]> {
        match &self.state {
            State::Buffering { bytes }
            | State::AwaitingDecode { bytes, .. }
            | State::Planned { bytes, .. }
            | State::Finished { bytes } => Some(bytes),
            _ => None,
        }
    }

    fn recognise(&mut self, head: Vec<u8>, consumed: usize) -> Result<Step, ImageError> {
        let format = sniff(&head).ok_or_else(|| headers::refusal(&head))?;
        let mut codec: Box<dyn StreamDecoder> = match format {
            Format::Jpeg => Box::new(JpegStream::new()),
            Format::Png => Box::new(PngStream::new()),
            _ => {
                let bytes = self.buffer_bytes(format);
                self.state = State::AwaitingBuffer { format, head };
                return Ok(Step::Reserve { consumed, bytes });
            }
        };
        // Streamed: what the decoder holds before its header is known, then (on the next
        // Reserve) its plan. The sniffed bytes go to it first.
        let header_bound = codec.header_bound();
        let (plan, pending) = match feed_codec(codec.as_mut(), &head, &self.limits)? {
            Fed::NeedMore | Fed::Done => (None, Vec::new()),
            // A PNG of a few pixels: its header fits in the sniffed bytes, so its plan is
            // reserved with the header phase's memory, and the rest waits for `begin`.
            Fed::Header { consumed: used } => (
                Some(plan_streamed(&*codec, &self.heights, &self.limits)?),
                head.get(used..).unwrap_or_default().to_vec(),
            ),
        };
        let bytes = header_bound + plan.map_or(0, |p| p.peak_bytes);
        self.state = State::Streaming {
            format,
            codec,
            plan,
            begun: false,
            pending,
        };
        Ok(Step::Reserve { consumed, bytes })
    }

    /// The input buffer's capacity: the upload's bound, at most what one buffer may hold.
    fn buffer_bytes(&self, _format: Format) -> u64 {
        self.input_bound
            .min(BUFFERED_MAX_BYTES)
            .max(SNIFF_BYTES as u64)
    }

    fn too_large(&self) -> ImageError {
        ImageError::FileTooLarge {
            max: self.input_bound.min(BUFFERED_MAX_BYTES),
        }
    }
}

/// Feeds a streamed decoder, refusing an image over the pixel limit as soon as its size is
/// read, before any error the bytes after it cause: as a file held whole is refused from its
/// headers before it is decoded.
fn feed_codec(
    codec: &mut dyn StreamDecoder,
    data: &[u8],
    limits: &Limits,
) -> Result<Fed, ImageError> {
    let fed = codec.feed(data);
    check_size(codec, limits)?;
    fed
}

/// Refuses a streamed image whose size, once read, is over the pixel limit.
fn check_size(codec: &dyn StreamDecoder, limits: &Limits) -> Result<(), ImageError> {
    match codec.size() {
        Some((width, height)) if u64::from(width) * u64::from(height) > limits.max_pixels => {
            Err(ImageError::TooManyPixels {
                width,
                height,
                max: limits.max_pixels,
            })
        }
        _ => Ok(()),
    }
}

/// The plan of a streamed image, from its decoder's header: no input is counted, the decoder
/// keeps none of the file.
fn plan_streamed(
    codec: &dyn StreamDecoder,
    heights: &[u32],
    limits: &Limits,
) -> Result<Plan, ImageError> {
    let header = codec
        .header()
        .ok_or_else(|| ImageError::Corrupt("image without a header".into()))?;
    plan_header(header, 0, heights, limits)
}

fn out_of_order() -> ImageError {
    ImageError::Corrupt("imaging calls out of order".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first 64 bytes of a file of `format` that its decoder takes without complaint.
    fn head(format: Format) -> Vec<u8> {
        let mut head = match format {
            Format::Png => {
                let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
                png.extend_from_slice(&[0, 0, 0, 9, 0, 0, 0, 7, 8, 2, 0, 0, 0]);
                let crc = crc32fast::hash(&png[12..]);
                png.extend_from_slice(&crc.to_be_bytes());
                // A text chunk longer than what follows.
                png.extend_from_slice(b"\0\0\x10\0tEXt");
                png
            }
            // SOI, then fill bytes.
            Format::Jpeg => vec![0xFF, 0xD8],
            Format::WebP => b"RIFF\0\0\0\0WEBP".to_vec(),
            Format::Gif => b"GIF89a".to_vec(),
            Format::Bmp => b"BM".to_vec(),
            Format::Tiff => b"II*\0".to_vec(),
        };
        let fill = if format == Format::Jpeg { 0xFF } else { 0 };
        head.resize(SNIFF_BYTES, fill);
        head
    }

    #[test]
    fn the_formats_said_to_stream_are_the_ones_the_thumbnailer_streams() {
        for format in Format::ALL {
            let mut thumbnailer = Thumbnailer::new(&[100], Limits::default(), 1 << 20);

            let step = thumbnailer.feed(&head(format));

            assert!(
                matches!(step, Ok(Step::Reserve { .. })),
                "{format:?}: {step:?}"
            );
            thumbnailer.grant().unwrap();
            assert_eq!(thumbnailer.format(), Some(format));
            assert_eq!(thumbnailer.keeps_input(), !format.streams(), "{format:?}");
        }
    }
}
