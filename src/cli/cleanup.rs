//! What must not outlive the command that made it: a temporary file (a token file being
//! written, a backup being copied), and a terminal a prompt holds with its echo off.
//!
//! While such a file has a name, [`Guard`] removes it if SIGINT, SIGTERM or SIGHUP ends the
//! process (then lets the signal end it as it would have), and [`hold`] takes an advisory lock
//! on it, so that [`remove_stale`] — run by the next writer in the same directory, for the
//! leftovers of a SIGKILL, which runs no handler — never removes a file whose writer is still
//! at work, however long it has waited.

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Once;
use std::sync::atomic::{AtomicI32, AtomicPtr, Ordering};
use std::time::{Duration, SystemTime};

/// A leftover this old, and unlocked, is a killed writer's.
const STALE_AFTER: Duration = Duration::from_secs(60);

/// The file to remove, as a C string the handler can use without allocating.
static PENDING: AtomicPtr<std::ffi::c_char> = AtomicPtr::new(std::ptr::null_mut());
static INSTALL: Once = Once::new();

/// A terminal a prompt holds in raw mode (its fd, else -1) and the settings to put back, so
/// that SIGTERM or SIGHUP at a prompt does not leave the shell without echo. One handler
/// does both jobs: signal-hook runs a signal's actions in turn, and the first to re-raise
/// the signal would end the process before the next ran.
static TERMINAL_FD: AtomicI32 = AtomicI32::new(-1);
static TERMINAL_SETTINGS: AtomicPtr<libc::termios> = AtomicPtr::new(std::ptr::null_mut());

/// Whether `signal` is ignored (by `nohup`, `trap '' HUP`, or a shell starting a job in the
/// background): then sa must not start dying of it.
fn ignored(signal: std::ffi::c_int) -> bool {
    // SAFETY: with a null new action, sigaction only writes the current one into `old`.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
    }
}

fn install() {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        if ignored(signal) {
            continue;
        }
        // SAFETY: the action only swaps an atomic pointer, calls unlink(2) on a C string
        // nobody frees while it is published, and re-raises the signal with its default
        // action: all async-signal-safe, no allocation, no locks.
        let _ = unsafe {
            signal_hook::low_level::register(signal, move || {
                let path = PENDING.swap(std::ptr::null_mut(), Ordering::SeqCst);
                if !path.is_null() {
                    // SAFETY: published by `Guard::new` from a live CString.
                    let _ = rustix::fs::unlink(std::ffi::CStr::from_ptr(path));
                }
                let fd = TERMINAL_FD.swap(-1, Ordering::SeqCst);
                let settings = TERMINAL_SETTINGS.load(Ordering::SeqCst);
                if fd >= 0 && !settings.is_null() {
                    // SAFETY: tcsetattr is async-signal-safe; the settings were leaked by
                    // `restore_terminal_on_signal` and are never freed.
                    libc::tcsetattr(fd, libc::TCSANOW, settings);
                }
                let _ = signal_hook::low_level::emulate_default_handler(signal);
            })
        };
    }
}

/// While alive, a terminating signal removes the file at the path it was given.
pub struct Guard {
    path: *mut std::ffi::c_char,
}

impl Guard {
    pub fn new(path: &Path) -> Self {
        INSTALL.call_once(install);
        let Ok(c_path) = CString::new(path.as_os_str().as_bytes()) else {
            return Guard {
                path: std::ptr::null_mut(),
            };
        };
        let raw = c_path.into_raw();
        let previous = PENDING.swap(raw, Ordering::SeqCst);
        if !previous.is_null() {
            // SAFETY: a pointer PENDING held came from `CString::into_raw` and, once swapped
            // out here, is reachable from nowhere else.
            drop(unsafe { CString::from_raw(previous) });
        }
        Guard { path: raw }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.path.is_null() {
            return;
        }
        let unpublished = PENDING
            .compare_exchange(
                self.path,
                std::ptr::null_mut(),
                Ordering::SeqCst,
                Ordering::SeqCst,
            )
            .is_ok();
        // If a handler took the pointer, it may still be using it: leak it instead.
        if unpublished {
            // SAFETY: came from `CString::into_raw` in `new` and is no longer published.
            drop(unsafe { CString::from_raw(self.path) });
        }
    }
}

/// From now until [`release_terminal`], a terminating signal puts `settings` back on the
/// terminal `fd` before it ends the process.
pub fn restore_terminal_on_signal(fd: std::os::fd::RawFd, settings: &libc::termios) {
    INSTALL.call_once(install);
    // Leaked, a few dozen bytes a prompt: a handler may be reading the previous one.
    let settings = Box::into_raw(Box::new(*settings));
    TERMINAL_SETTINGS.store(settings, Ordering::SeqCst);
    TERMINAL_FD.store(fd, Ordering::SeqCst);
}

/// The terminal is as it was: a signal has nothing to put back.
pub fn release_terminal() {
    TERMINAL_FD.store(-1, Ordering::SeqCst);
}

/// Marks `file` as in use until it is closed (an advisory `flock`, released by the kernel
/// when the process ends, however it ends).
pub fn hold(file: &File) -> std::io::Result<()> {
    rustix::fs::flock(file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
        .map_err(Into::into)
}

/// Removes what a SIGKILL left in `dir`: files named `prefix` and 16 hex digits (the names
/// sa gives them), over a minute old, held by no live writer, and this user's (any user's,
/// for root, whose leftovers may already belong to the service they were written for).
pub fn remove_stale(dir: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let euid = rustix::process::geteuid().as_raw();
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let ours = name
            .as_bytes()
            .strip_prefix(prefix.as_bytes())
            .is_some_and(|rest| rest.len() == 16 && rest.iter().all(u8::is_ascii_hexdigit));
        if !ours {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        let old = meta
            .modified()
            .ok()
            .and_then(|at| now.duration_since(at).ok())
            .is_some_and(|age| age > STALE_AFTER);
        let owned = euid == 0 || std::os::unix::fs::MetadataExt::uid(&meta) == euid;
        if !meta.file_type().is_file() || !old || !owned {
            continue;
        }
        // Held by a writer still waiting for the database: not ours to remove.
        let unheld = File::open(entry.path()).is_ok_and(|file| hold(&file).is_ok());
        if unheld {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A fresh name for a temporary file: `prefix` and 16 hex digits, as `remove_stale` expects.
pub fn temp_name(prefix: &str) -> std::ffi::OsString {
    format!("{prefix}{:016x}", rand::random::<u64>()).into()
}

/// A named temporary file in a directory opened once (`dir`): held (`hold`) so no other
/// writer takes it for a leftover, guarded against terminating signals, and removed on drop
/// unless [`TempFile::placed`] says it was renamed or linked into place.
pub struct TempFile {
    file: File,
    dir: OwnedFd,
    name: OsString,
    placed: bool,
    _on_signal: Guard,
}

impl TempFile {
    /// Creates `prefix` + 16 hex digits in `dir` (whose path is `dir_path`), mode 0600.
    pub fn create(dir: &OwnedFd, dir_path: &Path, prefix: &str) -> std::io::Result<Self> {
        use rustix::fs::{Mode, OFlags};
        let dir = dir.try_clone()?;
        loop {
            let name = temp_name(prefix);
            // Guarded before it exists: a signal between creating and guarding it would
            // otherwise leave it behind.
            let on_signal = Guard::new(&dir_path.join(&name));
            match rustix::fs::openat(
                &dir,
                name.as_os_str(),
                OFlags::RDWR | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            ) {
                Ok(fd) => {
                    let temp = TempFile {
                        file: File::from(fd),
                        dir,
                        name,
                        placed: false,
                        _on_signal: on_signal,
                    };
                    hold(&temp.file)?;
                    return Ok(temp);
                }
                // Someone else's file by that name: not ours to remove on a signal.
                Err(rustix::io::Errno::EXIST) => drop(on_signal),
                Err(errno) => return Err(errno.into()),
            }
        }
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    /// Its name in its directory.
    pub fn name(&self) -> &OsStr {
        &self.name
    }

    /// It has been renamed into place (or linked there and may go): not removed on drop.
    pub fn placed(&mut self) {
        self.placed = true;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.placed {
            let _ = rustix::fs::unlinkat(
                &self.dir,
                self.name.as_os_str(),
                rustix::fs::AtFlags::empty(),
            );
        }
    }
}
