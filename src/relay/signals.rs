//! The requests to stop, watched from the start, so that a request to stop
//! while connecting or asking the key server ends the run as well as one
//! during the session: cleanly, with the host's first request answered.
//! On Unix they are SIGTERM, SIGINT and SIGHUP; on Windows, the console's
//! Ctrl-C, Ctrl-Break and close, logoff and shutdown, which Windows
//! delivers to a handler thread of its own.

#[cfg(unix)]
pub use unix::StopRequests;
#[cfg(windows)]
pub use windows::StopRequests;

#[cfg(unix)]
mod unix {
    use std::io;

    use async_signal::{Signal, Signals};
    use smol::stream::StreamExt;

    use crate::error::Error;

    /// The signals that ask us to stop, as a stream.
    pub struct StopRequests(Signals);

    impl StopRequests {
        /// Installs the handlers; until then a signal would kill the process.
        pub fn install() -> Result<StopRequests, Error> {
            Signals::new([Signal::Term, Signal::Int, Signal::Hup])
                .map(StopRequests)
                .map_err(|source| Error::Internal {
                    context: "cannot install signal handlers",
                    source,
                })
        }

        /// The next request to stop, by name.
        pub async fn next(&mut self) -> &'static str {
            name(self.0.next().await)
        }
    }

    fn name(signal: Option<io::Result<Signal>>) -> &'static str {
        match signal {
            Some(Ok(Signal::Term)) => "SIGTERM",
            Some(Ok(Signal::Int)) => "SIGINT",
            Some(Ok(Signal::Hup)) => "SIGHUP",
            _ => "a signal",
        }
    }
}

#[cfg(windows)]
mod windows {
    #![allow(unsafe_code, reason = "the console's handler is a Win32 callback")]

    use std::io;
    use std::sync::OnceLock;
    use std::time::Duration;

    use smol::channel::{Receiver, Sender};
    use windows_sys::Win32::System::Console::{
        CTRL_BREAK_EVENT, CTRL_C_EVENT, CTRL_CLOSE_EVENT, CTRL_LOGOFF_EVENT, SetConsoleCtrlHandler,
    };
    use windows_sys::core::BOOL;

    use crate::error::Error;

    /// How long the handler holds Windows back after a close, logoff or
    /// shutdown (Windows ends the process when the handler returns, and
    /// gives it 5 s at most): time for the loop to answer the host and
    /// close the connection, and exit on its own.
    const CLOSE_GRACE: Duration = Duration::from_millis(4500);
    /// Requests not yet taken by the loop; more of them say nothing new.
    const PENDING: usize = 4;

    /// Where the handler, on its own thread, hands each event to the loop.
    static EVENTS: OnceLock<Sender<u32>> = OnceLock::new();

    /// The console's requests to stop, as a stream.
    pub struct StopRequests(Receiver<u32>);

    impl StopRequests {
        /// Installs the handler; until then Ctrl-C would end the process.
        pub fn install() -> Result<StopRequests, Error> {
            let (sender, receiver) = smol::channel::bounded(PENDING);
            if EVENTS.set(sender).is_err() {
                return Err(Error::Internal {
                    context: "cannot install the console handler twice",
                    source: io::ErrorKind::AlreadyExists.into(),
                });
            }
            // SAFETY: `handler` has the signature Windows calls, and stays
            // valid for the life of the process.
            if unsafe { SetConsoleCtrlHandler(Some(handler), 1) } == 0 {
                return Err(Error::Internal {
                    context: "cannot install the console handler",
                    source: io::Error::last_os_error(),
                });
            }
            Ok(StopRequests(receiver))
        }

        /// The next request to stop, by name.
        pub async fn next(&mut self) -> &'static str {
            match self.0.recv().await {
                Ok(CTRL_C_EVENT) => "Ctrl-C",
                Ok(CTRL_BREAK_EVENT) => "Ctrl-Break",
                Ok(CTRL_CLOSE_EVENT) => "the console's closing",
                Ok(CTRL_LOGOFF_EVENT) => "the user's logoff",
                Ok(_) => "the system's shutdown",
                Err(_) => "a console event",
            }
        }
    }

    unsafe extern "system" fn handler(event: u32) -> BOOL {
        if let Some(events) = EVENTS.get() {
            let _ = events.try_send(event);
        }
        if event != CTRL_C_EVENT && event != CTRL_BREAK_EVENT {
            std::thread::sleep(CLOSE_GRACE);
        }
        1
    }
}
