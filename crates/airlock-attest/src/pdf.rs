//! Turns laid-out [`Pages`] into PDF bytes with printpdf, deterministically:
//! fonts are registered under fixed resource names (not printpdf's
//! process-global counter), the info dictionary's dates are the bundle's
//! sealing time, and the trailer `/ID` (random in printpdf) is derived from
//! the attestation's content. The same input gives the same bytes in any
//! process, on any machine.

use std::collections::BTreeSet;

use lopdf::{Object, StringFormat};
use printpdf::{
    Color, FontId, Line, LinePoint, Op, PaintMode, PdfDocument, PdfFont, PdfFontHandle, PdfPage,
    PdfSaveOptions, Point, Pt, Rect, Rgb, TextItem, WindingOrder,
};
use time::OffsetDateTime;

use crate::error::AttestError;
use crate::fonts::Face;
use crate::page::{Draw, Grey, Pages};

/// The document's metadata.
#[derive(Debug, Clone)]
pub struct DocMeta {
    /// `/Title`.
    pub title: String,
    /// `/Subject`.
    pub subject: String,
    /// `/CreationDate` and `/ModDate`.
    pub date: OffsetDateTime,
    /// The trailer `/ID` (both halves), 32 characters.
    pub id: String,
}

fn grey(g: Grey) -> Color {
    Color::Rgb(Rgb::new(g, g, g, None))
}

fn pt(x: f32, y_from_top: f32, height: f32) -> Point {
    Point {
        x: Pt(x),
        y: Pt(height - y_from_top),
    }
}

fn ops_for(page: &[Draw], height: f32) -> Vec<Op> {
    let mut ops = Vec::new();
    for d in page {
        match d {
            Draw::Text {
                face,
                size,
                x,
                y,
                grey: g,
                text,
            } => {
                ops.push(Op::StartTextSection);
                ops.push(Op::SetFillColor { col: grey(*g) });
                ops.push(Op::SetFont {
                    font: PdfFontHandle::External(FontId(face.resource_id().to_string())),
                    size: Pt(*size),
                });
                ops.push(Op::SetTextCursor {
                    pos: pt(*x, *y, height),
                });
                ops.push(Op::ShowText {
                    items: vec![TextItem::Text(text.clone())],
                });
                ops.push(Op::EndTextSection);
            }
            Draw::Rect {
                x,
                y,
                w,
                h,
                grey: g,
            } => {
                ops.push(Op::SetFillColor { col: grey(*g) });
                ops.push(Op::DrawRectangle {
                    rectangle: Rect {
                        x: Pt(*x),
                        y: Pt(height - y - h),
                        width: Pt(*w),
                        height: Pt(*h),
                        mode: Some(PaintMode::Fill),
                        winding_order: Some(WindingOrder::NonZero),
                    },
                });
            }
            Draw::Line {
                x1,
                y1,
                x2,
                y2,
                width,
                grey: g,
            } => {
                ops.push(Op::SetOutlineColor { col: grey(*g) });
                ops.push(Op::SetOutlineThickness { pt: Pt(*width) });
                ops.push(Op::DrawLine {
                    line: Line {
                        points: vec![
                            LinePoint {
                                p: pt(*x1, *y1, height),
                                bezier: false,
                            },
                            LinePoint {
                                p: pt(*x2, *y2, height),
                                bezier: false,
                            },
                        ],
                        is_closed: false,
                    },
                });
            }
        }
    }
    ops
}

/// Serialises `pages` to PDF bytes.
pub fn to_pdf(pages: &Pages, meta: &DocMeta) -> Result<Vec<u8>, AttestError> {
    let mut doc = PdfDocument::new(&meta.title);
    let info = &mut doc.metadata.info;
    // printpdf has its own date type; a Unix timestamp crosses over exactly.
    let date = printpdf::OffsetDateTime::from_unix_timestamp(meta.date.unix_timestamp())
        .map_err(|e| AttestError::Pdf(format!("date {}: {e}", meta.date)))?;
    info.creation_date = date;
    info.modification_date = date;
    info.metadata_date = date;
    info.subject = meta.subject.clone();
    info.creator = format!("Airlock {}", env!("CARGO_PKG_VERSION"));
    info.producer = "Airlock (printpdf 0.12)".into();

    let used: BTreeSet<Face> = pages.texts().map(|(f, _)| f).collect();
    for face in used {
        doc.resources.fonts.map.insert(
            FontId(face.resource_id().to_string()),
            PdfFont::new(face.parsed()?.clone()),
        );
    }

    let (w, h) = (pages.width, pages.height);
    let pdf_pages: Vec<PdfPage> = pages
        .pages
        .iter()
        .map(|p| {
            // The boxes in points exactly (PdfPage::new goes through mm).
            let bx = Rect::from_wh(Pt(w), Pt(h));
            PdfPage {
                media_box: bx.clone(),
                trim_box: bx.clone(),
                crop_box: bx,
                ops: ops_for(p, h),
            }
        })
        .collect();
    doc.with_pages(pdf_pages);

    let opts = PdfSaveOptions {
        optimize: true,
        subset_fonts: true,
        secure: true,
        image_optimization: None,
    };
    let mut warnings = Vec::new();
    let mut lo = doc.to_lopdf_document(&opts, &mut warnings);
    let id = Object::String(meta.id.as_bytes().to_vec(), StringFormat::Literal);
    lo.trailer.set("ID", Object::Array(vec![id.clone(), id]));
    compress_streams(&mut lo)?;
    let mut out = Vec::new();
    lo.save_to(&mut out)
        .map_err(|e| AttestError::Pdf(e.to_string()))?;
    Ok(out)
}

/// Deflates every stream that has no filter yet, at zlib's default level
/// (same input, same bytes). The streams are independent (one per page
/// and font), so they are split between two threads: a long key table is
/// hundreds of pages, and the ceremony waits for its attestation.
fn compress_streams(lo: &mut lopdf::Document) -> Result<(), AttestError> {
    let mut streams: Vec<&mut lopdf::Stream> = lo
        .objects
        .values_mut()
        .filter_map(|object| match object {
            Object::Stream(stream)
                if stream.allows_compression && stream.dict.get(b"Filter").is_err() =>
            {
                Some(stream)
            }
            _ => None,
        })
        .collect();
    let half = streams.len().div_ceil(2).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = streams
            .chunks_mut(half)
            .map(|chunk| scope.spawn(move || chunk.iter_mut().try_for_each(|s| deflate(s))))
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join().unwrap_or_else(|_| {
                Err(AttestError::Pdf("a PDF compression thread panicked".into()))
            })
        })
    })
}

/// Deflates one stream, kept only where it is smaller.
fn deflate(stream: &mut lopdf::Stream) -> Result<(), AttestError> {
    use std::io::Write;
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&stream.content)
        .and_then(|()| enc.finish())
        .map(|packed| {
            if packed.len() + 19 < stream.content.len() {
                stream.dict.set("Filter", "FlateDecode");
                stream.set_content(packed);
            }
        })
        .map_err(|e| AttestError::Pdf(format!("compressing a PDF stream: {e}")))
}
