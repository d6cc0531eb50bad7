//! The UI's TypeScript types are generated from the Rust types the server sends and reads,
//! over the WebSocket and over REST (with ts-rs), so that a renamed field fails `tsc` instead of a browser. This test writes
//! static/src/generated/api.ts and fails when what was there was not current: commit the
//! rewritten file, and `npm run check` shows the UI code that must follow.

use berth::docker::observe::Usage;
use berth::error::ErrorCode;
use berth::session::protocol::{
    BuildRequest, ClientMessage, DeriveRequest, ExecRequest, LogsRequest, ReattachedStream,
    Received, RunRequest, ServerMessage, StatsRequest, TransferRequest,
};
use berth::workspaces::run::Killed;
use berth::{assignments, attendance, auth, containers, courses, images, registries};
use berth::{routes, templates};
use berth::{users, workspaces};
use ts_rs::TS;

const PATH: &str = "static/src/generated/api.ts";

fn generated() -> String {
    let declarations = [
        ServerMessage::decl(),
        ClientMessage::decl(),
        ExecRequest::decl(),
        TransferRequest::decl(),
        BuildRequest::decl(),
        DeriveRequest::decl(),
        LogsRequest::decl(),
        StatsRequest::decl(),
        RunRequest::decl(),
        Received::decl(),
        ReattachedStream::decl(),
        ErrorCode::decl(),
        Killed::decl(),
        Usage::decl(),
        serde_json::Value::decl(),
        // REST
        users::User::decl(),
        users::Role::decl(),
        auth::LoggedIn::decl(),
        routes::accounts::Ticket::decl(),
        routes::sso::Providers::decl(),
        berth::audit::AuditView::decl(),
        berth::usage::ServerUsage::decl(),
        berth::usage::UserUsage::decl(),
        routes::admin::Ended::decl(),
        routes::sso::OidcButton::decl(),
        berth::config::Registration::decl(),
        containers::ContainerView::decl(),
        containers::LimitsView::decl(),
        routes::containers::Created::decl(),
        images::ImageView::decl(),
        images::ImageDetails::decl(),
        images::ImageConfigView::decl(),
        images::Tagged::decl(),
        images::Removed::decl(),
        images::Pruned::decl(),
        routes::images::Loaded::decl(),
        routes::builds::Uploaded::decl(),
        registries::RegistryView::decl(),
        registries::Found::decl(),
        registries::search::Source::decl(),
        registries::search::SearchResults::decl(),
        routes::hosts::HostStatus::decl(),
        courses::CourseView::decl(),
        courses::Student::decl(),
        attendance::AttendanceView::decl(),
        attendance::SessionRecord::decl(),
        berth::replicas::held::ShareView::decl(),
        berth::workspaces::jobs::JobView::decl(),
        berth::replicas::held::SourceView::decl(),
        attendance::CheckedIn::decl(),
        attendance::RosterEntry::decl(),
        routes::attendance::Roster::decl(),
        templates::Template::decl(),
        templates::TemplateSpec::decl(),
        templates::Network::decl(),
        workspaces::WorkspaceView::decl(),
        workspaces::files::Entry::decl(),
        assignments::AssignmentView::decl(),
        assignments::MyPart::decl(),
        assignments::NewAssignment::decl(),
        assignments::AssignmentPatch::decl(),
        assignments::Check::decl(),
        assignments::WorkspaceOfAssignment::decl(),
        assignments::checks::CheckResult::decl(),
        assignments::submissions::Submitted::decl(),
        assignments::submissions::SubmissionState::decl(),
    ];
    let mut text = String::from(
        "// Generated from berth's Rust types by tests/ui_types.rs (ts-rs). Do not edit.\n\n",
    );
    for declaration in declarations {
        // Every number berth sends fits a JavaScript number (below 2^53), which is what
        // JSON.parse gives; ts-rs would call 64-bit integers bigint.
        let declaration = declaration
            .replace(": bigint", ": number")
            .replace("bigint |", "number |");
        text.push_str(&format!("export {declaration}\n\n"));
    }
    text
}

#[test]
fn the_uis_types_are_the_rust_types() {
    let fresh = generated();
    let current = std::fs::read_to_string(PATH).unwrap_or_default();
    if current != fresh {
        std::fs::create_dir_all("static/src/generated").unwrap();
        std::fs::write(PATH, &fresh).unwrap();
        panic!("{PATH} was not current and has been rewritten: check the UI (npm run check) and commit it");
    }
    assert!(fresh.contains("\"type\": \"hello\""), "{fresh}");
}
