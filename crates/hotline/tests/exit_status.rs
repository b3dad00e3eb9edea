//! `hotline run` exits non-zero when a task truly cannot continue (before, "a task stopped
//! unexpectedly" ended the process with status 0, so a service manager saw a clean stop).
//! The task is killed through the test-only fault hook (`hotline::fault`, feature
//! `fault-injection`); a normal SIGTERM stop still exits 0.

mod cli_support;

use cli_support::{finish, hotline, Proc, World};

#[test]
fn a_task_that_cannot_continue_exits_non_zero() {
    let world = World::start("7000079:exit-status-token");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hotline.toml"), world.config("")).unwrap();
    let mut cmd = hotline();
    cmd.args(["run", "--config", "hotline.toml"])
        .current_dir(dir.path())
        .env("HOTLINE_FAULT_TASK", "support");
    let out = finish(cmd, "run with a dying task");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("a task stopped unexpectedly"), "{stderr}");

    // The same configuration without the fault runs until SIGTERM and exits 0.
    let mut cmd = hotline();
    cmd.args(["run", "--config", "hotline.toml"])
        .current_dir(dir.path());
    let mut p = Proc::start(cmd);
    p.wait_line("hotline is running", |l| l.contains("hotline is running"));
    let (status, output) = p.stop();
    assert!(status.success(), "{status}: {output}");
}
