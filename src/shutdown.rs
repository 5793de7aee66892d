//! Stopping, one way for every front end: a [`Shutdown`] handle, created once per process and
//! passed down to whatever must notice it (the executor, the daemon's loop, the CLI's apply).
//! It is a cancellation future in two stages, as kube-runtime's `graceful_shutdown_on`: the
//! first signal *stops* (no new work starts, work in flight finishes), a second one *aborts*.
//!
//! The OS signals are read here too ([`Shutdown::on_signals`], [`Hangups`]), so neither front
//! end reaches into the other for them. SIGHUP means different things to each: `apply` stops
//! on it as on SIGTERM (its terminal closed); `run` takes it as "reload" and listens for it
//! with [`Hangups`] instead.
//!
//! A tiny type over `tokio::sync::watch` rather than tokio-util's `CancellationToken`: a token
//! has one stage, and this needs two plus the signal that set them; tokio is already here.

use std::sync::Arc;

use tokio::sync::watch;

/// The signal that stopped or aborted the process's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM (`kill`, an orchestrator).
    Terminate,
    /// SIGHUP (the terminal closed, `kill -HUP`): a stop for `apply` only.
    Hangup,
}

impl Signal {
    /// The signal's number (`128 +` it is the shell's exit code for it).
    pub fn number(self) -> u8 {
        match self {
            Signal::Hangup => 1,
            Signal::Interrupt => 2,
            Signal::Terminate => 15,
        }
    }
}

/// How far the shutdown has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Nothing asked to stop.
    Running,
    /// Asked once: start no new work, let the work in flight finish.
    Stopping(Signal),
    /// Asked again: give up on the work in flight. Keeps the first signal.
    Aborting(Signal),
}

/// The process's one stop handle; clones share it. Without a trigger it never fires (a library
/// caller that never stops passes [`Shutdown::new`]).
#[derive(Debug, Clone)]
pub struct Shutdown {
    stage: Arc<watch::Sender<Stage>>,
}

impl Default for Shutdown {
    fn default() -> Shutdown {
        Shutdown::new()
    }
}

impl Shutdown {
    /// A handle nothing has triggered yet.
    pub fn new() -> Shutdown {
        Shutdown {
            stage: Arc::new(watch::Sender::new(Stage::Running)),
        }
    }

    /// A handle triggered by SIGINT and SIGTERM, and with `hangup` by SIGHUP too: the first
    /// stops, the second aborts. The handlers are installed before this returns (so a SIGHUP
    /// it takes no longer ends the process). Must be called inside a tokio runtime.
    pub fn on_signals(hangup: bool) -> Shutdown {
        let shutdown = Shutdown::new();
        let mut signals = Signals::install(hangup);
        tokio::spawn({
            let shutdown = shutdown.clone();
            async move {
                while !matches!(shutdown.stage(), Stage::Aborting(_)) {
                    shutdown.trigger(signals.next().await);
                }
            }
        });
        shutdown
    }

    /// One more request to stop: the first stops, any later one aborts.
    pub fn trigger(&self, signal: Signal) {
        self.stage.send_modify(|stage| {
            *stage = match *stage {
                Stage::Running => Stage::Stopping(signal),
                Stage::Stopping(first) | Stage::Aborting(first) => Stage::Aborting(first),
            }
        });
    }

    /// The stage now.
    pub fn stage(&self) -> Stage {
        *self.stage.borrow()
    }

    /// Whether asked to stop (or abort): start no new work.
    pub fn is_stopping(&self) -> bool {
        self.stage() != Stage::Running
    }

    /// The signal that asked first, once one has.
    pub fn signal(&self) -> Option<Signal> {
        match self.stage() {
            Stage::Running => None,
            Stage::Stopping(s) | Stage::Aborting(s) => Some(s),
        }
    }

    /// Resolves once asked to stop (at once if already asked).
    pub async fn stopping(&self) {
        self.reached(|s| *s != Stage::Running).await;
    }

    /// Resolves once asked to abort (at once if already asked).
    pub async fn aborting(&self) {
        self.reached(|s| matches!(s, Stage::Aborting(_))).await;
    }

    async fn reached(&self, done: impl FnMut(&Stage) -> bool) {
        let mut rx = self.stage.subscribe();
        // The sender lives as long as `self`: the wait ends only when `done` holds.
        let _ = rx.wait_for(done).await;
    }
}

/// SIGINT, SIGTERM and perhaps SIGHUP, installed at once.
struct Signals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hangup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    #[cfg(unix)]
    fn install(hangup: bool) -> Signals {
        use tokio::signal::unix::{SignalKind, signal};
        Signals {
            interrupt: signal(SignalKind::interrupt()).expect("SIGINT handler"),
            terminate: signal(SignalKind::terminate()).expect("SIGTERM handler"),
            hangup: hangup.then(|| signal(SignalKind::hangup()).expect("SIGHUP handler")),
        }
    }

    #[cfg(not(unix))]
    fn install(_hangup: bool) -> Signals {
        Signals {}
    }

    /// The next signal.
    #[cfg(unix)]
    async fn next(&mut self) -> Signal {
        let hangup = async {
            match self.hangup.as_mut() {
                Some(h) => h.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = self.interrupt.recv() => Signal::Interrupt,
            _ = self.terminate.recv() => Signal::Terminate,
            _ = hangup => Signal::Hangup,
        }
    }

    #[cfg(not(unix))]
    async fn next(&mut self) -> Signal {
        let _ = tokio::signal::ctrl_c().await;
        Signal::Interrupt
    }
}

/// SIGHUP as a stream of "reload" requests (`scimsync run`); installed when made, so SIGHUP no
/// longer ends the process.
pub struct Hangups {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Hangups {
    /// Starts taking SIGHUP. Must be called inside a tokio runtime.
    pub fn install() -> Hangups {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Hangups {
                signal: signal(SignalKind::hangup()).expect("SIGHUP handler"),
            }
        }
        #[cfg(not(unix))]
        Hangups {}
    }

    /// Resolves at the next SIGHUP (never where there is none).
    pub async fn next(&mut self) {
        #[cfg(unix)]
        if self.signal.recv().await.is_some() {
            return;
        }
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_trigger_stops_the_second_aborts_and_the_first_signal_is_kept() {
        let s = Shutdown::new();
        assert_eq!(s.stage(), Stage::Running);
        assert!(!s.is_stopping());
        let waiter = tokio::spawn({
            let s = s.clone();
            async move { s.stopping().await }
        });
        s.trigger(Signal::Hangup);
        waiter.await.unwrap();
        assert_eq!(s.stage(), Stage::Stopping(Signal::Hangup));
        assert!(s.is_stopping());
        let aborting = tokio::spawn({
            let s = s.clone();
            async move { s.aborting().await }
        });
        tokio::task::yield_now().await;
        assert!(!aborting.is_finished());
        s.trigger(Signal::Interrupt);
        aborting.await.unwrap();
        assert_eq!(s.stage(), Stage::Aborting(Signal::Hangup));
        assert_eq!(s.signal(), Some(Signal::Hangup));
        // Already reached: resolves at once.
        s.stopping().await;
        s.aborting().await;
    }

    #[test]
    fn signal_numbers_are_the_os_ones() {
        assert_eq!(Signal::Hangup.number(), 1);
        assert_eq!(Signal::Interrupt.number(), 2);
        assert_eq!(Signal::Terminate.number(), 15);
    }
}
