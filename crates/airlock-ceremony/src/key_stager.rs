//! Writes each wrapped key's files into the bundle's staging folder on a
//! thread of its own, while the HSM works on the next key.
//!
//! The bundle format puts a folder and two files under `keys/` per key,
//! and creating them is the file system's work (inodes, directory blocks),
//! not the HSM's. Done at Seal & export, one after the other, it added to
//! every key's cost; done here, as each key is wrapped, it runs beside the
//! token's own work and is finished by the time the keys are.
//!
//! Nothing about what is published changes: the files go into the same
//! hidden staging sibling of the output folder ([`StagedDir`]), without a
//! flush of their own; Seal & export adds the rest of the bundle, flushes it
//! once, reads it all back, verifies it and only then renames it into
//! place. A stager that is dropped (a failed or stopped generation, an
//! abort) waits for its thread and wipes the staging folder; a crash leaves
//! the staging folder, which the next run's stager wipes as stale before it
//! writes anything.

use std::path::Path;
use std::sync::mpsc::{Sender, channel};
use std::thread::JoinHandle;

use airlock_core::staged_dir::{StagedDir, StagedDirError};

/// One file of the bundle: its path relative to the bundle and its bytes.
type StagedFile = (String, Vec<u8>);

/// The staging folder of one bundle and the thread writing into it.
pub(crate) struct KeyStager {
    files: Option<Sender<StagedFile>>,
    writer: Option<JoinHandle<Result<StagedDir, StagedDirError>>>,
    /// The folder, once the writer has written everything ([`KeyStager::settle`]).
    settled: Option<StagedDir>,
}

impl KeyStager {
    /// Creates the staging folder for `out` (refusing an `out` that exists;
    /// a stale staging folder from a crashed run is wiped and reported to
    /// `on_stale`) and starts its writer.
    pub(crate) fn start(out: &Path, on_stale: impl FnOnce(&Path)) -> Result<Self, StagedDirError> {
        let staged = StagedDir::create(out, on_stale)?;
        let (tx, rx) = channel::<StagedFile>();
        let writer = std::thread::Builder::new()
            .name("airlock-stager".into())
            .spawn(move || {
                for (rel, bytes) in rx {
                    // On an error the staged folder is dropped (wiped) here
                    // and the channel closes: the next `stage` sees it.
                    staged.write_file_deferred(&rel, &bytes)?;
                }
                Ok(staged)
            })
            .map_err(|source| StagedDirError::Io {
                path: out.to_path_buf(),
                source,
            })?;
        Ok(KeyStager {
            files: Some(tx),
            writer: Some(writer),
            settled: None,
        })
    }

    /// Hands one file to the writer. Fails with the writer's error once it
    /// has failed (e.g. the medium is full).
    pub(crate) fn stage(&mut self, rel: String, bytes: Vec<u8>) -> Result<(), StagedDirError> {
        let sent = self.files.as_ref().map(|tx| tx.send((rel, bytes)));
        match sent {
            Some(Ok(())) => Ok(()),
            // The writer stopped: say why (it stops early only on an error).
            _ => match self.join_writer() {
                Err(e) => Err(e),
                Ok(_) => Err(StagedDirError::Io {
                    path: "the staging folder".into(),
                    source: std::io::Error::other("the bundle writer stopped early"),
                }),
            },
        }
    }

    /// Waits until every file handed over is written (the last key's
    /// files are on disk when the generation says it is done), or returns
    /// the first write's error. Nothing more can be staged after it.
    pub(crate) fn settle(&mut self) -> Result<(), StagedDirError> {
        if self.settled.is_none() {
            self.settled = Some(self.join_writer()?);
        }
        Ok(())
    }

    /// [`KeyStager::settle`], then the staging folder (nothing flushed
    /// yet), for Seal & export to complete.
    pub(crate) fn finish(mut self) -> Result<StagedDir, StagedDirError> {
        self.settle()?;
        Ok(self.settled.take().expect("settled above"))
    }

    /// Closes the channel and waits for the writer: the folder, or its
    /// first error.
    fn join_writer(&mut self) -> Result<StagedDir, StagedDirError> {
        self.files = None;
        match self.writer.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(StagedDirError::Io {
                path: "the staging folder".into(),
                source: std::io::Error::other("the bundle writer thread panicked"),
            }),
            None => Err(StagedDirError::Io {
                path: "the staging folder".into(),
                source: std::io::Error::other("the bundle writer already stopped"),
            }),
        }
    }
}

impl Drop for KeyStager {
    /// Waits for the writer, then wipes what it staged (unless `finish`
    /// handed the folder on): dropping the folder wipes it.
    fn drop(&mut self) {
        let _ = self.join_writer();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_files_are_all_written_once_settled() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("bundle");
        let mut s = KeyStager::start(&out, |_| {}).unwrap();
        for i in 0..50 {
            s.stage(format!("keys/k{i}/a.bin"), vec![i as u8; 10])
                .unwrap();
        }
        s.settle().unwrap();
        let staging = airlock_core::staged_dir::staging_path_for(&out).unwrap();
        assert!(
            staging.join("keys/k49/a.bin").is_file(),
            "settled: the last file is on disk"
        );
        let staged = s.finish().unwrap();
        for i in 0..50 {
            assert_eq!(
                staged.read_file(&format!("keys/k{i}/a.bin")).unwrap(),
                vec![i as u8; 10]
            );
        }
        assert!(!out.exists(), "nothing is published by staging");
    }

    #[test]
    fn a_dropped_stager_leaves_no_staging_folder() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("bundle");
        let staging = airlock_core::staged_dir::staging_path_for(&out).unwrap();
        let mut s = KeyStager::start(&out, |_| {}).unwrap();
        s.stage("keys/k/a.bin".into(), vec![1; 10]).unwrap();
        assert!(staging.exists());
        drop(s);
        assert!(!staging.exists(), "the staging folder is wiped");
        assert!(!out.exists());
    }

    #[test]
    fn a_failed_write_is_reported_by_the_next_stage_and_wipes_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("bundle");
        let staging = airlock_core::staged_dir::staging_path_for(&out).unwrap();
        let mut s = KeyStager::start(&out, |_| {}).unwrap();
        s.stage("keys/k/a.bin".into(), vec![1; 10]).unwrap();
        // The same file twice: never overwritten, so the writer fails.
        s.stage("keys/k/a.bin".into(), vec![2; 10]).unwrap();
        let mut failed = None;
        for i in 0..1000 {
            if let Err(e) = s.stage(format!("keys/k{i}/b.bin"), vec![3; 10]) {
                failed = Some(e);
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let e = failed.expect("the writer's error reaches the caller");
        assert!(e.to_string().contains("a.bin"), "{e}");
        assert!(
            !staging.exists(),
            "the failed writer wiped the staging folder"
        );
        assert!(
            s.finish().is_err(),
            "a failed stager never hands a folder on"
        );
    }
}
