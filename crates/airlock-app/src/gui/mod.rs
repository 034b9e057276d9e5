//! The desktop app: a witnessed ceremony in one window. A step list on the
//! left, the current step on the right; each step calls the same
//! [`airlock_ceremony::Ceremony`] methods as `airlock ceremony run`, on a
//! worker thread (see [`worker`]), and shows what the engine reports. No
//! ceremony logic lives here: the app only collects input, enforces that
//! the custodians see the steps in order, and displays results.

pub mod app;
pub mod attest_worker;
pub mod attestation;
pub mod journal_view;
pub mod picker;
pub mod read_aloud;
pub mod secret;
pub mod snapshot;
pub mod step;
pub mod steps;
pub mod theme;
pub mod widgets;
pub mod worker;

pub use app::GuiApp;
pub use picker::{FixedFolders, FolderPicker, RfdFolderPicker};
pub use step::Step;

use airlock_core::config::AirlockConfig;

/// Environment variable with folders (separated by `:`) handed out in
/// order instead of opening the folder dialog: for scripted rehearsals and
/// the screenshot script. The custodians still see every chosen folder.
pub const FOLDERS_ENV: &str = "AIRLOCK_GUI_FOLDERS";

/// Window title.
pub const TITLE: &str = "Airlock key ceremony";

/// Opens the app window on `config` and runs until it is closed.
pub fn run(config: AirlockConfig) -> Result<(), eframe::Error> {
    // As the CLI does before it reads a secret: no core dumps, not
    // dumpable, memory locked where allowed.
    for note in airlock_ceremony::hygiene::harden_process().notes {
        eprintln!("warning: {note}");
    }
    let options = eframe::NativeOptions {
        viewport: eframe::egui::ViewportBuilder::default()
            .with_title(TITLE)
            .with_inner_size([1400.0, 900.0])
            .with_min_inner_size([1000.0, 700.0]),
        ..Default::default()
    };
    let picker: Box<dyn FolderPicker> = match std::env::var_os(FOLDERS_ENV) {
        Some(list) => Box::new(FixedFolders::new(std::env::split_paths(&list))),
        None => Box::new(RfdFolderPicker),
    };
    eframe::run_native(
        TITLE,
        options,
        Box::new(move |cc| {
            theme::apply(&cc.egui_ctx);
            Ok(Box::new(GuiApp::new(cc.egui_ctx.clone(), config, picker)))
        }),
    )
}
