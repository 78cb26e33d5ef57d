//! [`BackgroundWriter`]: log lines leave the request path.
//!
//! Writing each access-log line to stdout took a system call under stdout's lock on
//! the thread serving the request: about a third of the server's time for `/health`.
//! Handing each line to a writer thread through a channel cost as much again (a
//! wake-up per line). Instead, a request appends its finished line to a shared
//! buffer, and a thread of its own writes the buffer out every few milliseconds in
//! one call. Nothing is dropped: when the buffer outgrows its bound before the
//! thread comes by, the request that overflowed it writes it out itself.
//! [`BackgroundWriter::flush`] (called when telemetry shuts down) writes out
//! whatever is buffered.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How often buffered lines are written out: how late a line may appear.
const WRITE_INTERVAL: Duration = Duration::from_millis(5);

/// Buffered bytes beyond which the line that overflowed writes them out itself.
const BUFFER_BYTES: usize = 256 * 1024;

type Destination = Box<dyn Write + Send>;

struct Shared {
    buffer: Mutex<Vec<u8>>,
    destination: Mutex<Destination>,
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A buffer of bytes stays usable whatever panicked while holding it.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Writes out everything buffered so far, in order.
    fn write_out(&self) {
        // The destination's lock is taken first, so that two write-outs cannot
        // reorder the batches they took.
        let mut destination = locked(&self.destination);
        let batch = std::mem::take(&mut *locked(&self.buffer));
        if !batch.is_empty() {
            // A line that cannot be written has nowhere else to go.
            let _ = destination.write_all(&batch);
            let _ = destination.flush();
        }
    }
}

/// A log destination written in batches; see the module docs.
#[derive(Clone)]
pub struct BackgroundWriter {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for BackgroundWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackgroundWriter").finish_non_exhaustive()
    }
}

impl BackgroundWriter {
    /// Starts the thread writing to `destination`; it stops once every clone of the
    /// writer is gone.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn spawn<W: Write + Send + 'static>(destination: W) -> io::Result<Self> {
        let shared = Arc::new(Shared {
            buffer: Mutex::new(Vec::new()),
            destination: Mutex::new(Box::new(destination)),
        });
        let watched = Arc::downgrade(&shared);
        std::thread::Builder::new()
            .name("otto-log-writer".into())
            .spawn(move || write_periodically(&watched))?;
        Ok(BackgroundWriter { shared })
    }

    /// Writes out every line buffered so far.
    pub fn flush(&self) {
        self.shared.write_out();
    }

    fn append(&self, line: &[u8]) {
        let overflowing = {
            let mut buffer = locked(&self.shared.buffer);
            buffer.extend_from_slice(line);
            buffer.len() >= BUFFER_BYTES
        };
        if overflowing {
            self.shared.write_out();
        }
    }
}

fn write_periodically(shared: &Weak<Shared>) {
    loop {
        std::thread::sleep(WRITE_INTERVAL);
        let Some(shared) = shared.upgrade() else {
            return;
        };
        shared.write_out();
    }
}

/// One line on its way into the buffer.
#[derive(Debug)]
pub struct BufferedLine<'a> {
    writer: &'a BackgroundWriter,
}

impl Write for BufferedLine<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.writer.append(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BackgroundWriter {
    type Writer = BufferedLine<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        BufferedLine { writer: self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::json_log::CapturedLines;

    fn write_line(writer: &BackgroundWriter, line: &str) {
        writer
            .make_writer()
            .write_all(line.as_bytes())
            .expect("buffered");
    }

    #[test]
    fn every_line_from_every_thread_is_written_whole_and_in_order_per_thread() {
        let captured = CapturedLines::default();
        let writer = BackgroundWriter::spawn(captured.clone()).expect("starts");
        std::thread::scope(|scope| {
            for thread in 0..4 {
                let writer = &writer;
                scope.spawn(move || {
                    for n in 0..20_000 {
                        // Long enough lines that the buffer overflows now and then.
                        let padding = "x".repeat(n % 64);
                        write_line(
                            writer,
                            &format!("{{\"thread\":{thread},\"n\":{n},\"pad\":\"{padding}\"}}\n"),
                        );
                    }
                });
            }
        });
        writer.flush();

        let lines = captured.lines();
        assert_eq!(lines.len(), 80_000, "nothing lost");
        for thread in 0..4 {
            let numbers: Vec<u64> = lines
                .iter()
                .filter(|line| line["thread"] == thread)
                .map(|line| line["n"].as_u64().expect("n"))
                .collect();
            assert_eq!(numbers, (0..20_000).collect::<Vec<_>>(), "thread {thread}");
        }
    }

    #[test]
    fn lines_appear_without_a_flush_within_moments() {
        let captured = CapturedLines::default();
        let writer = BackgroundWriter::spawn(captured.clone()).expect("starts");
        write_line(&writer, "{\"first\":true}\n");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while captured.lines().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(captured.lines(), vec![serde_json::json!({"first": true})]);
    }

    #[test]
    fn a_flush_writes_out_what_is_buffered() {
        let captured = CapturedLines::default();
        let writer = BackgroundWriter::spawn(captured.clone()).expect("starts");
        write_line(&writer, "{\"last\":true}\n");
        writer.flush();
        assert_eq!(captured.lines(), vec![serde_json::json!({"last": true})]);
    }
}
