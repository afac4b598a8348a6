//! Cutting text for messages and logs without splitting a character: the first or last bytes of a text, or its
//! first characters marked as cut.

/// The first at most `max` bytes of `text`, ending at a character boundary.
pub fn head(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The last at most `max` bytes of `text`, starting at a character boundary.
pub fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// `text` cut to its first `max` characters, marked with `...` when anything was dropped.
pub fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_keep_characters_whole() {
        let text = "añb€c";
        assert_eq!(head(text, 2), "a");
        assert_eq!(head(text, 3), "añ");
        assert_eq!(head(text, 100), text);
        assert_eq!(tail(text, 2), "c");
        assert_eq!(tail(text, 4), "€c");
        assert_eq!(tail(text, 0), "");
        assert_eq!(tail(text, 100), text);
        assert_eq!(shorten(text, 2), "añ...");
        assert_eq!(shorten(text, 5), text);
        assert_eq!(shorten("", 0), "");
        assert_eq!(shorten("x", 0), "...");
    }
}
