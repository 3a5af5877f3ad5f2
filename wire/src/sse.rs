//! A small parser for Server-Sent Events (the `text/event-stream` format of
//! the HTML standard), fed with the bytes of a streamed `fetch` body as they
//! arrive. `EventSource` would parse for us, but it cannot send the
//! `Authorization` header and the token must never be in a URL. Shared by
//! the widget and the inbox.
//!
//! It works on bytes: lines end at `\n`, `\r` or `\r\n`, bytes that never
//! occur inside a multi-byte UTF-8 character, so a character split between
//! two chunks is reassembled before its line is decoded. Pure Rust, so it is
//! unit-tested natively.

use serde::{Deserialize, Serialize};

/// One dispatched event. (Serialized as is when the leading tab shares it
/// with the others: see [`crate::tabs`].)
#[derive(Serialize, Deserialize, Clone, PartialEq, Eq, Debug)]
pub struct Event {
    /// The `event:` field, `message` when absent.
    pub event: String,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
}

#[derive(Default, Debug)]
pub struct Parser {
    /// The bytes of the line being received.
    line: Vec<u8>,
    /// The last byte seen ended a line with `\r`: a `\n` right after it
    /// belongs to the same line ending.
    after_cr: bool,
    /// Whether the first line has been seen (it may start with a BOM).
    started: bool,
    event: String,
    data: String,
    has_data: bool,
}

impl Parser {
    /// Feeds the next chunk; returns the events it completes, in order.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Event> {
        let mut events = Vec::new();
        for &byte in chunk {
            if std::mem::take(&mut self.after_cr) && byte == b'\n' {
                continue;
            }
            if byte == b'\n' || byte == b'\r' {
                self.after_cr = byte == b'\r';
                let line = std::mem::take(&mut self.line);
                events.extend(self.line_ended(&line));
            } else {
                self.line.push(byte);
            }
        }
        events
    }

    fn line_ended(&mut self, line: &[u8]) -> Option<Event> {
        let line = String::from_utf8_lossy(line);
        let line = if std::mem::replace(&mut self.started, true) {
            &*line
        } else {
            line.strip_prefix('\u{feff}').unwrap_or(&line)
        };
        if line.is_empty() {
            return self.dispatch();
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            // A comment (`: keep-alive`) has an empty field name.
            "" => {}
            "event" => value.clone_into(&mut self.event),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            // `id` and `retry` are not needed: each message carries its
            // `seq`, and reconnecting is the caller's business.
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<Event> {
        let event = std::mem::take(&mut self.event);
        let data = std::mem::take(&mut self.data);
        if !std::mem::take(&mut self.has_data) {
            return None;
        }
        Some(Event {
            event: if event.is_empty() {
                "message".to_owned()
            } else {
                event
            },
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event: &str, data: &str) -> Event {
        Event {
            event: event.to_owned(),
            data: data.to_owned(),
        }
    }

    #[test]
    fn parses_the_servers_message_events_and_skips_keep_alive_comments() {
        let mut parser = Parser::default();
        let events = parser.push(
            b": keep-alive\n\nevent: message\nid: 7\ndata: {\"seq\":7}\n\n:\n\nevent: message\nid: 8\ndata: {\"seq\":8}\n\n",
        );
        assert_eq!(
            events,
            [
                event("message", "{\"seq\":7}"),
                event("message", "{\"seq\":8}")
            ]
        );
    }

    #[test]
    fn an_event_split_across_chunks_anywhere_comes_out_whole_and_once() {
        let stream = "event: message\ndata: {\"body\":\"héllo 👋\"}\n\n".as_bytes();
        for split in 0..=stream.len() {
            let mut parser = Parser::default();
            let mut events = parser.push(&stream[..split]);
            events.extend(parser.push(&stream[split..]));
            assert_eq!(
                events,
                [event("message", "{\"body\":\"héllo 👋\"}")],
                "split at byte {split}"
            );
        }
    }

    #[test]
    fn every_line_ending_counts_and_crlf_is_one_ending_even_when_split() {
        let mut parser = Parser::default();
        assert_eq!(parser.push(b"data: a\r"), []);
        assert_eq!(parser.push(b"\ndata: b\r\n\r"), [event("message", "a\nb")]);
        assert_eq!(
            parser.push(b"\ndata: c\r\rdata:d\n\n"),
            [event("message", "c"), event("message", "d")]
        );
    }

    #[test]
    fn an_unfinished_event_is_not_dispatched() {
        let mut parser = Parser::default();
        assert_eq!(parser.push(b"event: message\ndata: {\"seq\":1}\n"), []);
    }

    #[test]
    fn fields_without_data_dispatch_nothing_and_do_not_leak_into_the_next_event() {
        let mut parser = Parser::default();
        let events = parser.push(b"event: ping\nid: 3\n\ndata\n\n\xef\xbb\xbfdata: x\n\n");
        // The BOM is not skipped here: `\u{feff}data` is an unknown field.
        assert_eq!(events, [event("message", "")]);
    }

    #[test]
    fn a_byte_order_mark_is_skipped_only_at_the_very_start() {
        let mut parser = Parser::default();
        assert_eq!(
            parser.push(b"\xef\xbb\xbfdata: x\n\n"),
            [event("message", "x")]
        );
    }
}
