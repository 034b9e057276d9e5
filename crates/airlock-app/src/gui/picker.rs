//! Choosing folders: the request bundle on the USB medium and the folder
//! the import bundle is written into. The app asks a [`FolderPicker`]; the
//! real one opens the GTK dialog through `rfd`, tests hand folders over
//! with [`FixedFolders`]. Also lists mounted removable media.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

/// Where folder choices come from.
pub trait FolderPicker: Send {
    /// Asks for a folder; `start` is where the dialog opens. `None` when
    /// the custodian cancelled.
    fn pick_folder(&mut self, title: &str, start: Option<&Path>) -> Option<PathBuf>;
}

/// The GTK folder dialog (rfd, gtk3 backend).
#[derive(Debug, Default)]
pub struct RfdFolderPicker;

impl FolderPicker for RfdFolderPicker {
    fn pick_folder(&mut self, title: &str, start: Option<&Path>) -> Option<PathBuf> {
        let mut dialog = rfd::FileDialog::new().set_title(title);
        if let Some(dir) = start {
            dialog = dialog.set_directory(dir);
        }
        dialog.pick_folder()
    }
}

/// Hands out folders given in advance, in order (for tests and scripted
/// rehearsals); `None` once they run out.
#[derive(Debug, Default)]
pub struct FixedFolders(VecDeque<PathBuf>);

impl FixedFolders {
    /// The folders to hand out, in order.
    pub fn new(folders: impl IntoIterator<Item = PathBuf>) -> Self {
        FixedFolders(folders.into_iter().collect())
    }
}

impl FolderPicker for FixedFolders {
    fn pick_folder(&mut self, _title: &str, _start: Option<&Path>) -> Option<PathBuf> {
        self.0.pop_front()
    }
}

/// Where desktop systems mount removable media: `/media/USER/LABEL`,
/// `/run/media/USER/LABEL`, and plain `/media/LABEL`.
pub const MEDIA_ROOTS: [&str; 2] = ["/media", "/run/media"];

/// Mounted removable media under `roots` (two levels deep: the user's
/// folder, then each medium), sorted. Unreadable folders are skipped.
pub fn removable_media(roots: &[&Path]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for root in roots {
        for first in subdirs(root) {
            let second = subdirs(&first);
            if second.is_empty() || is_mount_point(&first) {
                out.push(first);
            } else {
                out.extend(second);
            }
        }
    }
    out.sort();
    out
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

/// A folder on a different device than its parent is a mount point.
fn is_mount_point(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(dir), dir.parent().map(std::fs::metadata)) {
        (Ok(d), Some(Ok(p))) => d.dev() != p.dev(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_folders_come_out_in_order_then_none() {
        let mut p = FixedFolders::new([PathBuf::from("/a"), PathBuf::from("/b")]);
        assert_eq!(p.pick_folder("x", None), Some(PathBuf::from("/a")));
        assert_eq!(p.pick_folder("x", None), Some(PathBuf::from("/b")));
        assert_eq!(p.pick_folder("x", None), None);
    }

    #[test]
    fn media_are_listed_per_user() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("alice/USB-REQUEST")).unwrap();
        std::fs::create_dir_all(root.path().join("alice/USB-OUT")).unwrap();
        std::fs::create_dir_all(root.path().join("STICK")).unwrap();
        std::fs::write(root.path().join("not-a-dir"), b"x").unwrap();
        let found = removable_media(&[root.path(), Path::new("/nonexistent-media-root")]);
        assert_eq!(
            found,
            vec![
                root.path().join("STICK"),
                root.path().join("alice/USB-OUT"),
                root.path().join("alice/USB-REQUEST"),
            ]
        );
    }
}
