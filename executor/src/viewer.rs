//! The self-contained HTML replay viewer: one file, no network access, the replay embedded.

const TEMPLATE: &str = include_str!("../assets/viewer.html");
const MARKER: &str = "__REPLAY_JSON__";

/// The viewer page for a replay document.
pub fn render(replay_json: &str) -> String {
    // `<` only occurs inside JSON strings, where `\u003c` means the same; this keeps `</script>` and `<!--`
    // in agent-controlled strings from ending the script element.
    let embedded = replay_json.replace('<', "\\u003c");
    TEMPLATE.replacen(MARKER, &embedded, 1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn script_end_tags_in_the_replay_cannot_escape() {
        let page = super::render(r#"{"agents":["</script><script>alert(1)</script>"]}"#);
        assert!(!page.contains("</script><script>alert(1)"));
        assert!(page.contains(r"\u003c/script>\u003cscript>alert(1)\u003c/script>"));
        assert!(!page.contains(super::MARKER));
    }
}
