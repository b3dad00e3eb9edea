//! The command line's output survives a reader that goes away (`hotline check-config |
//! head`) and an output that cannot be written (`> /dev/full`): no panic, a clear status.

use std::process::{Command, Stdio};

fn config_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("hotline.toml");
    std::fs::write(
        &path,
        "[[connection]]\nname = \"support\"\ntoken = \"123456:ABC-def\"\ngroup_id = -100123\n",
    )
    .unwrap();
    path
}

fn check_config(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hotline"));
    cmd.arg("check-config")
        .arg("--config")
        .arg(config_file(dir))
        .current_dir(dir)
        .env_remove("HOTLINE_CONFIG")
        .env_remove("HOTLINE_DATABASE_URL");
    cmd
}

#[test]
fn closed_pipe_ends_quietly() {
    let dir = tempfile::tempdir().unwrap();
    // The reader is gone before the first line is written: every write fails with EPIPE,
    // deterministically (as with `| head` once head has exited).
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = check_config(dir.path())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
}

#[test]
fn unwritable_output_is_an_error_not_a_panic() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return; // not a Linux-like system
    };
    let dir = tempfile::tempdir().unwrap();
    let out = check_config(dir.path())
        .stdout(Stdio::from(full))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot write the output"), "{stderr}");
}

/// A file with only a setup bot is valid (`hotline run` may start with no connection) and
/// `check-config` shows it without its token or its encryption key.
#[test]
fn setup_bot_alone_checks_out_without_showing_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("setup.toml");
    std::fs::write(
        &path,
        "[setup_bot]\ntoken = \"777:SETUPSECRET\"\nowners = [42]\n\
         secret_key = \"ab00112233445566778899aabbccddeeff00112233445566778899aabbccddee\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hotline"))
        .arg("check-config")
        .arg("--config")
        .arg(&path)
        .current_dir(dir.path())
        .env_remove("HOTLINE_CONFIG")
        .env_remove("HOTLINE_DATABASE_URL")
        .env_remove("HOTLINE_SETUP_BOT_TOKEN")
        .env_remove("HOTLINE_SECRET_KEY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("[setup_bot]"), "{stdout}");
    assert!(stdout.contains("owners = [42]"), "{stdout}");
    for secret in ["SETUPSECRET", "ab0011", "aabbcc"] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{stdout}{stderr}"
        );
    }
}
