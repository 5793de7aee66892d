//! Reading a file the config names as data (a source, the token file): only a regular file,
//! opened without blocking, read whole and exactly as long as it said it was.
//!
//! A config can name any path, and in CI the config may come from a pull request. Read as
//! plain files, `csv: /proc/self/environ` put the runner's environment into an error message,
//! a FIFO hung the run with nobody writing to it, and `/dev/zero` filled the memory. So:
//!
//! * the path is resolved first (symlinks followed: Kubernetes mounts ConfigMaps and Secrets
//!   as symlinks) and refused when it lands under `/proc`, `/sys` or `/dev`;
//! * it is opened with `O_NONBLOCK`, so that opening a FIFO returns at once, and what was
//!   opened is checked on the descriptor: anything but a regular file (a FIFO, a socket, a
//!   device, a folder) is refused, named by what it is;
//! * it must yield exactly the bytes its size said: a pseudo-file (`/proc` files say 0 and
//!   yield plenty) or a file growing or shrinking while read cannot be trusted whole.

use std::fs::{File, FileType, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Folders that hold the system's view of itself, never data, with what they are.
const SYSTEM_FOLDERS: [(&str, &str); 3] = [
    ("/proc", "the kernel's view of the running processes"),
    ("/sys", "the kernel's view of the hardware"),
    ("/dev", "the system's devices"),
];

/// The most memory reserved up front for a file, whatever size it claims: a file that claims
/// more is still read, growing the buffer as it comes.
const MAX_RESERVE: u64 = 64 << 20;

/// Why a file the config names is not read as data.
#[derive(Debug, thiserror::Error)]
pub enum DataFileError {
    /// The operating system's reason (no such file, permission denied, …).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Not a regular file: a FIFO, a socket, a device or a folder.
    #[error("it is {what}, not a regular file of data")]
    NotRegular {
        /// What it is ("a FIFO (named pipe)", "a folder", …).
        what: &'static str,
    },
    /// Under `/proc`, `/sys` or `/dev` once symlinks are resolved.
    #[error("it is under {folder}, {what}, not a file of data")]
    System {
        /// The system folder.
        folder: &'static str,
        /// What that folder holds.
        what: &'static str,
        /// The path with symlinks resolved.
        resolved: PathBuf,
    },
    /// More (or fewer) bytes than the file's size said.
    #[error(
        "it yielded {read} bytes where its size said {size}: a pseudo-file, or a file changing \
         while read, cannot be trusted whole"
    )]
    Unstable {
        /// The size the file claimed when opened.
        size: u64,
        /// What reading it yielded (at most one byte more than its size: reading stops there).
        read: u64,
    },
}

impl DataFileError {
    /// Whether the file exists but is not a file of data (rather than unreadable).
    pub fn is_not_data(&self) -> bool {
        !matches!(self, DataFileError::Io(_))
    }
}

/// Reads the file at `path` whole, if it is a regular file of data (see the module's rules).
pub fn read_data_file(path: &Path) -> Result<Vec<u8>, DataFileError> {
    let resolved = std::fs::canonicalize(path)?;
    if let Some((folder, what)) = system_folder(&resolved) {
        return Err(DataFileError::System {
            folder,
            what,
            resolved,
        });
    }
    // Resolved already, so no link is left to follow; never blocking on a FIFO.
    let mut file = match crate::files::open_regular(&resolved, OpenOptions::new().read(true)) {
        Ok(file) => file,
        // A socket cannot be opened at all (ENXIO): say what it is, not the errno.
        Err(e) => {
            return Err(match std::fs::metadata(&resolved) {
                Ok(m) if !m.is_file() => DataFileError::NotRegular {
                    what: kind(m.file_type()),
                },
                _ => DataFileError::Io(e),
            });
        }
    };
    read_whole(&mut file)
}

/// Reads an opened file whole, if it is a regular file that yields exactly its size.
fn read_whole(file: &mut File) -> Result<Vec<u8>, DataFileError> {
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(DataFileError::NotRegular {
            what: kind(metadata.file_type()),
        });
    }
    let size = metadata.len();
    let reserve = usize::try_from(size.min(MAX_RESERVE)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(reserve);
    // One byte more than the size says is enough to know it lied.
    file.take(size.saturating_add(1)).read_to_end(&mut bytes)?;
    let read = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if read != size {
        return Err(DataFileError::Unstable { size, read });
    }
    Ok(bytes)
}

/// The system folder `resolved` (an absolute path without symlinks) is in, if any.
fn system_folder(resolved: &Path) -> Option<(&'static str, &'static str)> {
    SYSTEM_FOLDERS
        .into_iter()
        .find(|(folder, _)| resolved.starts_with(folder))
}

/// Opens for reading without blocking: a FIFO with no writer opens at once (and is then
/// refused by its type) instead of waiting for one forever.
/// What a file that is not a regular one is, in words.
fn kind(file_type: FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
    }
    if file_type.is_dir() {
        "a folder"
    } else if file_type.is_symlink() {
        "a symlink"
    } else {
        "a special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(path: &Path) -> String {
        read_data_file(path).unwrap_err().to_string()
    }

    #[test]
    fn a_regular_file_is_read_whole_through_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("people.csv");
        std::fs::write(&file, "Email\na@example.com\n").unwrap();
        assert_eq!(read_data_file(&file).unwrap(), b"Email\na@example.com\n");
        // A ConfigMap mount: a symlink to a symlink to the file.
        let data = dir.path().join("..data");
        std::os::unix::fs::symlink(dir.path(), &data).unwrap();
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink(data.join("people.csv"), &link).unwrap();
        assert_eq!(read_data_file(&link).unwrap(), b"Email\na@example.com\n");
        std::fs::write(&file, "").unwrap();
        assert_eq!(read_data_file(&file).unwrap(), b"");
    }

    #[test]
    fn system_folders_are_refused_after_resolution() {
        assert_eq!(
            refused(Path::new("/proc/self/environ")),
            "it is under /proc, the kernel's view of the running processes, not a file of data"
        );
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("env.csv");
        std::os::unix::fs::symlink("/proc/self/environ", &link).unwrap();
        assert!(refused(&link).contains("under /proc"));
        assert!(refused(Path::new("/dev/null")).contains("under /dev, the system's devices"));
        if Path::new("/sys/kernel").exists() {
            assert!(refused(Path::new("/sys/kernel")).contains("under /sys"));
        }
    }

    #[test]
    fn a_fifo_a_socket_and_a_folder_are_refused_by_what_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        // Nobody writes to it: a blocking open would wait forever.
        assert_eq!(
            refused(&fifo),
            "it is a FIFO (named pipe), not a regular file of data"
        );
        let socket = dir.path().join("sock");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        assert_eq!(
            refused(&socket),
            "it is a socket, not a regular file of data"
        );
        assert_eq!(
            refused(dir.path()),
            "it is a folder, not a regular file of data"
        );
        let missing = read_data_file(&dir.path().join("missing")).unwrap_err();
        assert!(!missing.is_not_data(), "{missing}");
        assert!(
            read_data_file(dir.path()).unwrap_err().is_not_data(),
            "a folder"
        );
    }

    #[test]
    fn a_file_yielding_other_than_its_size_is_refused() {
        // A /proc file says 0 and yields plenty: refused wherever it is reached from (here
        // opened directly, past the path check, as through a bind mount).
        let mut file = File::open("/proc/self/status").unwrap();
        assert_eq!(
            read_whole(&mut file).unwrap_err().to_string(),
            "it yielded 1 bytes where its size said 0: a pseudo-file, or a file changing while \
             read, cannot be trusted whole"
        );
    }
}
