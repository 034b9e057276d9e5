//! Look for a projected screen read from across a room: large type, dark
//! text on white, and pass/fail colours that always come with a text label
//! (never colour alone).

use eframe::egui::{self, Color32, FontFamily, FontId, TextStyle};

/// Dark green: passed.
pub const PASS: Color32 = Color32::from_rgb(0, 100, 30);
/// Dark red: failed.
pub const FAIL: Color32 = Color32::from_rgb(170, 0, 0);
/// Dark amber: attention (overrides, warnings).
pub const WARN: Color32 = Color32::from_rgb(140, 75, 0);
/// Dark blue: in progress.
pub const BUSY: Color32 = Color32::from_rgb(0, 60, 140);
/// Body text.
pub const TEXT: Color32 = Color32::from_rgb(10, 10, 10);
/// Secondary text (still high contrast).
pub const MUTED: Color32 = Color32::from_rgb(60, 60, 60);

/// Body text size in points.
pub const BODY_SIZE: f32 = 22.0;

/// Applies the theme to every style of `ctx`.
pub fn apply(ctx: &egui::Context) {
    ctx.set_theme(egui::ThemePreference::Light);
    ctx.all_styles_mut(|style| {
        style.text_styles = [
            (
                TextStyle::Heading,
                FontId::new(34.0, FontFamily::Proportional),
            ),
            (
                TextStyle::Body,
                FontId::new(BODY_SIZE, FontFamily::Proportional),
            ),
            (
                TextStyle::Button,
                FontId::new(BODY_SIZE, FontFamily::Proportional),
            ),
            (
                TextStyle::Monospace,
                FontId::new(BODY_SIZE, FontFamily::Monospace),
            ),
            (
                TextStyle::Small,
                FontId::new(17.0, FontFamily::Proportional),
            ),
        ]
        .into();
        style.spacing.item_spacing = egui::vec2(12.0, 10.0);
        style.spacing.button_padding = egui::vec2(16.0, 8.0);
        style.spacing.interact_size.y = 40.0;
        // Checkboxes big enough to see from across the room.
        style.spacing.icon_width = 28.0;
        style.spacing.icon_width_inner = 18.0;
        let v = &mut style.visuals;
        v.override_text_color = Some(TEXT);
        v.panel_fill = Color32::WHITE;
        v.window_fill = Color32::WHITE;
        v.extreme_bg_color = Color32::from_rgb(245, 245, 245);
        v.selection.bg_fill = Color32::from_rgb(190, 215, 255);
        v.widgets.inactive.bg_stroke = egui::Stroke::new(1.5, Color32::from_rgb(90, 90, 90));
        v.widgets.noninteractive.fg_stroke = egui::Stroke::new(1.0, TEXT);
        // Hover: a medium blue outline.
        v.widgets.hovered.bg_stroke = egui::Stroke::new(2.0, BUSY);
        // Keyboard focus: egui draws a focused widget (button, checkbox,
        // step in the list) with the `active` visuals, a focused text field
        // with `selection.stroke`. Both are a thick, near-black ring on a
        // light-blue fill, stronger than hover, so that the custodians see
        // from across the room which button Enter presses.
        v.widgets.active.bg_stroke = FOCUS_RING;
        v.widgets.active.bg_fill = FOCUS_FILL;
        v.widgets.active.weak_bg_fill = FOCUS_FILL;
        v.widgets.active.fg_stroke = egui::Stroke::new(2.0, TEXT);
        v.widgets.active.expansion = 2.0;
        v.selection.stroke = FOCUS_RING;
    });
}

/// The keyboard focus ring: 4 px, near black on white.
pub const FOCUS_RING: egui::Stroke = egui::Stroke {
    width: 4.0,
    color: Color32::from_rgb(0, 30, 90),
};

/// The fill of the focused widget.
pub const FOCUS_FILL: Color32 = Color32::from_rgb(200, 222, 255);
