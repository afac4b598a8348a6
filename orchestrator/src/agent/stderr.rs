//! A bounded capture of an agent's stderr: the first half of the budget keeps the head, the second half a
//! rolling tail, and a marker says how much was dropped in between.

use std::collections::VecDeque;

/// The kept part of a stream of bytes.
#[derive(Debug)]
pub(crate) struct StderrBuffer {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    head_limit: usize,
    tail_limit: usize,
    /// Bytes that fell out of the tail; shown in the marker so readers know the log is cut.
    dropped: u64,
}

impl StderrBuffer {
    /// A buffer that keeps at most `limit` bytes in total.
    pub(crate) fn new(limit: usize) -> Self {
        let head_limit = limit / 2;
        Self {
            head: Vec::new(),
            tail: VecDeque::new(),
            head_limit,
            tail_limit: limit - head_limit,
            dropped: 0,
        }
    }

    /// Appends bytes; what does not fit pushes the oldest tail bytes out.
    pub(crate) fn push(&mut self, mut bytes: &[u8]) {
        if self.head.len() < self.head_limit {
            let take = bytes.len().min(self.head_limit - self.head.len());
            self.head.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        if self.tail_limit == 0 {
            self.dropped += bytes.len() as u64;
            return;
        }
        if bytes.len() > self.tail_limit {
            let skip = bytes.len() - self.tail_limit;
            self.dropped += (self.tail.len() + skip) as u64;
            self.tail.clear();
            bytes = &bytes[skip..];
        }
        let overflow = (self.tail.len() + bytes.len()).saturating_sub(self.tail_limit);
        self.tail.drain(..overflow);
        self.dropped += overflow as u64;
        self.tail.extend(bytes);
    }

    /// The kept text (invalid UTF-8 replaced), with a marker where bytes were dropped.
    pub(crate) fn render(&self) -> String {
        let mut out = String::from_utf8_lossy(&self.head).into_owned();
        if self.dropped > 0 {
            out.push_str(&format!(
                "\n[... {} bytes of stderr omitted ...]\n",
                self.dropped
            ));
        }
        let tail: Vec<u8> = self.tail.iter().copied().collect();
        out.push_str(&String::from_utf8_lossy(&tail));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::StderrBuffer;

    #[test]
    fn keeps_everything_that_fits() {
        let mut buf = StderrBuffer::new(16);
        buf.push(b"hello ");
        buf.push(b"world");
        assert_eq!(buf.render(), "hello world");
    }

    #[test]
    fn keeps_head_and_tail_of_long_output() {
        let mut buf = StderrBuffer::new(8);
        for chunk in [&b"abcd"[..], b"efgh", b"ijkl", b"mn"] {
            buf.push(chunk);
        }
        assert_eq!(
            buf.render(),
            "abcd\n[... 6 bytes of stderr omitted ...]\nklmn"
        );
    }

    #[test]
    fn one_huge_write_keeps_its_ends() {
        let mut buf = StderrBuffer::new(4);
        buf.push(b"0123456789");
        assert_eq!(buf.render(), "01\n[... 6 bytes of stderr omitted ...]\n89");
    }

    #[test]
    fn zero_budget_keeps_nothing() {
        let mut buf = StderrBuffer::new(0);
        buf.push(b"abc");
        assert_eq!(buf.render(), "\n[... 3 bytes of stderr omitted ...]\n");
    }
}
