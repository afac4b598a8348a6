//! The self-contained HTML replay viewer: one file, no network access, the replay embedded. The page is the
//! template with the replay's JSON in place of its marker; [`page_parts`] and [`Escape`] let the replay store
//! write it as a stream, without the replay in memory.

use std::io::Write;

const TEMPLATE: &str = include_str!("../assets/viewer.html");
const MARKER: &str = "__REPLAY_JSON__";

/// The viewer page for a replay document.
pub fn render(replay_json: &str) -> String {
    let (head, tail) = page_parts();
    let mut page = Vec::with_capacity(TEMPLATE.len() + replay_json.len());
    page.extend_from_slice(head.as_bytes());
    // Writing into a Vec cannot fail.
    let _ = Escape(&mut page).write_all(replay_json.as_bytes());
    page.extend_from_slice(tail.as_bytes());
    String::from_utf8_lossy(&page).into_owned()
}

/// The page before and after the embedded replay.
pub(crate) fn page_parts() -> (&'static str, &'static str) {
    TEMPLATE.split_once(MARKER).unwrap_or((TEMPLATE, ""))
}

/// Writes replay JSON into the page's script element: `<` only occurs inside JSON strings, where `\u003c`
/// means the same; this keeps `</script>` and `<!--` in agent-controlled strings from ending the element.
/// Byte by byte (`<` is ASCII), so the JSON may arrive in pieces cut anywhere.
pub(crate) struct Escape<W>(pub(crate) W);

impl<W: Write> Write for Escape<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for piece in buf.split_inclusive(|&b| b == b'<') {
            match piece.strip_suffix(b"<") {
                Some(before) => {
                    self.0.write_all(before)?;
                    self.0.write_all(b"\\u003c")?;
                }
                None => self.0.write_all(piece)?,
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    #[test]
    fn script_end_tags_in_the_replay_cannot_escape() {
        let page = super::render(r#"{"agents":["</script><script>alert(1)</script>"]}"#);
        assert!(!page.contains("</script><script>alert(1)"));
        assert!(page.contains(r"\u003c/script>\u003cscript>alert(1)\u003c/script>"));
        assert!(!page.contains(super::MARKER));
    }

    #[test]
    fn escaping_in_pieces_is_escaping_at_once() {
        let json = r#"{"a":"<<x</script>","b":"<"}"#;
        let whole = super::render(json);
        for cut in 0..json.len() {
            let (head, tail) = super::page_parts();
            let mut page = head.as_bytes().to_vec();
            let mut escape = super::Escape(&mut page);
            escape.write_all(&json.as_bytes()[..cut]).unwrap();
            escape.write_all(&json.as_bytes()[cut..]).unwrap();
            page.extend_from_slice(tail.as_bytes());
            assert_eq!(String::from_utf8(page).unwrap(), whole, "cut at {cut}");
        }
    }
}
