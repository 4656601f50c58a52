//! `kezctl keys …`: make, list, show, export, import and delete identities. A new identity's
//! secret is encrypted with a passphrase unless `--no-passphrase` says otherwise; exports are
//! the key file itself (format `kez-identity` v1, see the crate doc), so an encrypted identity
//! stays encrypted when it travels. `new` and `import` print the primary on stdout, `list` one
//! tab-separated line per identity, `show` the identity's fields, `export` the key file; what
//! was done is said on stderr.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;

use kez_spec::SigningKey;
use rand_core::{OsRng, RngCore};
use serde_json::json;
use zeroize::Zeroizing;

use crate::cli::KeysCommand;
use crate::config_dir;
use crate::context::Context;
use crate::error::CliError;
use crate::keyfile::KeyFile;
use crate::keystore::{KeystoreError, check_name};
use crate::output::{self, format_ms};
use kez_spec::clock::now_ms;

/// Runs a `keys` subcommand.
pub fn run(ctx: &Context, command: KeysCommand) -> Result<(), CliError> {
    match command {
        KeysCommand::New {
            name,
            no_passphrase,
        } => new(ctx, &name, no_passphrase),
        KeysCommand::List => list(ctx),
        KeysCommand::Show { name } => show(ctx, name),
        KeysCommand::Export { name, out } => export(ctx, name, out.as_deref()),
        KeysCommand::Import { file, name } => import(ctx, &file, name),
        KeysCommand::Delete { name, yes } => delete(ctx, &name, yes),
    }
}

fn describe(file: &KeyFile) -> serde_json::Value {
    json!({
        "name": file.name,
        "primary": file.primary.to_string(),
        "address": file.home.as_ref().map(|h| h.address.to_string()),
        "server_url": file.home.as_ref().map(|h| h.server_url.clone()),
        "encrypted": file.is_encrypted(),
        "created_at": file.created_at,
    })
}

fn new(ctx: &Context, name: &str, no_passphrase: bool) -> Result<(), CliError> {
    check_name(name)?;
    if ctx.keystore.names()?.iter().any(|n| n == name) {
        return Err(KeystoreError::Exists(name.to_owned()).into());
    }
    let passphrase = if no_passphrase {
        None
    } else {
        Some(ctx.passphrases.new_passphrase(name)?)
    };
    let mut seed = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(seed.as_mut());
    let key = SigningKey::from_bytes(&seed);
    let file = KeyFile::new(
        name,
        &key,
        passphrase.as_deref().map(String::as_str),
        now_ms(),
    )?;
    let path = ctx.keystore.create(&file)?;
    if no_passphrase {
        ctx.out.status(format!(
            "warning: the secret key of {name:?} is stored unencrypted in {}",
            path.display()
        ));
    }
    if !ctx.out.is_json() {
        ctx.out.status(format!(
            "created identity {name:?}; next: kezctl{} register handle@server",
            identity_option(ctx, name)
        ));
    }
    let json = describe(&file);
    ctx.out.result(file.primary, &json)
}

/// The `-i NAME` a later command needs to pick identity `name` ("" when it is picked anyway).
fn identity_option(ctx: &Context, name: &str) -> String {
    match ctx.keystore.resolve(None) {
        Ok(chosen) if chosen == name => String::new(),
        _ => format!(" -i {name}"),
    }
}

fn list(ctx: &Context) -> Result<(), CliError> {
    let mut rows = Vec::new();
    let mut text = String::new();
    for name in ctx.keystore.names()? {
        match ctx.keystore.load(&name) {
            Ok(file) => {
                let address = file
                    .home
                    .as_ref()
                    .map(|h| h.address.to_string())
                    .unwrap_or_else(|| "(not registered)".into());
                text.push_str(&format!("{name}\t{address}\t{}\n", file.primary));
                rows.push(describe(&file));
            }
            Err(e) => {
                text.push_str(&format!("{name}\t(unreadable: {e})\n"));
                rows.push(json!({"name": name, "error": e.to_string()}));
            }
        }
    }
    if rows.is_empty() && !ctx.out.is_json() {
        ctx.out
            .status("no identities; create one with `kezctl keys new`");
    }
    ctx.out
        .result(text.trim_end(), &json!({ "identities": rows }))
}

fn show(ctx: &Context, name: Option<String>) -> Result<(), CliError> {
    let name = ctx
        .keystore
        .resolve(name.as_deref().or(ctx.identity.as_deref()))?;
    let file = ctx.keystore.load(&name)?;
    let mut text = format!("name: {}\nprimary: {}\n", file.name, file.primary);
    match &file.home {
        Some(home) => text.push_str(&format!(
            "address: {}\nserver: {}\n",
            home.address, home.server_url
        )),
        None => text.push_str("address: (not registered)\n"),
    }
    text.push_str(&format!(
        "secret: {}\ncreated: {}",
        if file.is_encrypted() {
            "encrypted (argon2id + AES-256-GCM)"
        } else {
            "UNENCRYPTED"
        },
        format_ms(file.created_at)
    ));
    ctx.out.result(text, &describe(&file))
}

fn export(ctx: &Context, name: Option<String>, out: Option<&Path>) -> Result<(), CliError> {
    let name = ctx
        .keystore
        .resolve(name.as_deref().or(ctx.identity.as_deref()))?;
    let file = ctx.keystore.load(&name)?;
    if !file.is_encrypted() {
        ctx.out.status(format!(
            "warning: {name:?} is unencrypted; the export contains its secret key in the clear"
        ));
    }
    let bytes = file.to_bytes();
    match out {
        Some(path) => {
            config_dir::create_private(path, &bytes).map_err(CliError::io(path))?;
            if !ctx.out.is_json() {
                ctx.out
                    .status(format!("exported {name:?} to {}", path.display()));
            }
            ctx.out.result(
                "",
                &json!({"name": name, "file": path.display().to_string()}),
            )?;
        }
        None => {
            // The export itself is the output; --json does not wrap it (it is JSON already).
            if std::io::stdout().is_terminal() && !file.is_encrypted() {
                return Err(CliError::Usage(
                    "refusing to print an unencrypted secret key on a terminal; use --out FILE \
                     or redirect stdout"
                        .into(),
                ));
            }
            output::write_stdout(&bytes)?;
        }
    }
    Ok(())
}

fn import(ctx: &Context, path: &Path, name: Option<String>) -> Result<(), CliError> {
    let bytes = if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(CliError::Terminal)?;
        bytes
    } else {
        std::fs::read(path).map_err(CliError::io(path))?
    };
    let mut file = KeyFile::parse(&bytes)?;
    // Prove the file opens before storing it: a typo in the passphrase or a damaged export is
    // found now, not on the first send.
    let unlocked = ctx.unlock(file.clone())?;
    drop(unlocked);
    if let Some(name) = name {
        check_name(&name)?;
        file.name = name;
    }
    ctx.keystore.create(&file)?;
    if !ctx.out.is_json() {
        ctx.out.status(format!(
            "imported identity {:?}{}",
            file.name,
            file.home
                .as_ref()
                .map(|h| format!(" ({})", h.address))
                .unwrap_or_default()
        ));
    }
    let json = describe(&file);
    ctx.out.result(file.primary, &json)
}

fn delete(ctx: &Context, name: &str, yes: bool) -> Result<(), CliError> {
    let file = ctx.keystore.load(name)?;
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(CliError::Usage(
                "deleting needs confirmation: run in a terminal or pass --yes".into(),
            ));
        }
        let _ = write!(
            std::io::stderr(),
            "Delete identity {name:?} ({})? Without a backup (kezctl keys export) it is gone \
             for good. Type the name to confirm: ",
            file.primary
        );
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .map_err(CliError::Terminal)?;
        if answer.trim() != name {
            return Err(CliError::Cancelled);
        }
    }
    let path = ctx.keystore.delete(name)?;
    ctx.cursors.remove(name);
    ctx.records.forget(name);
    if !ctx.out.is_json() {
        ctx.out
            .status(format!("deleted identity {name:?} ({})", path.display()));
    }
    ctx.out.result("", &json!({"name": name, "deleted": true}))
}
