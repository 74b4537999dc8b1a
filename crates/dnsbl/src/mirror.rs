//! Mirror duties of `dnsbl serve`: the export directory and NOTIFY to secondaries, both
//! redone whenever the snapshot serial changes.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use dnsbl_core::Snapshot;
use dnsbl_dns::{ServerOptions, XfrAcl};
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::cli::MirrorArgs;

/// How often the current snapshot's serial is compared with the last one exported.
const CHECK_INTERVAL: Duration = Duration::from_millis(500);

/// The listener options with the transfer access list from the arguments.
pub fn server_options(args: &MirrorArgs) -> ServerOptions {
    let mut options = ServerOptions::default();
    if !args.axfr_allow.is_empty() {
        options.xfr_acl = XfrAcl::new(args.axfr_allow.clone());
    }
    options
}

/// Starts the task that exports and notifies after every serial change, the first time
/// right away.
pub fn spawn(args: MirrorArgs, current: Arc<ArcSwap<Snapshot>>) -> JoinHandle<()> {
    tokio::spawn(async move {
        if args.export_dir.is_none() && args.notify.is_empty() {
            return;
        }
        let mut exported: Option<u32> = None;
        let mut ticker = tokio::time::interval(CHECK_INTERVAL);
        loop {
            ticker.tick().await;
            let snapshot = current.load_full();
            if exported == Some(snapshot.serial) {
                continue;
            }
            if let Some(dir) = &args.export_dir {
                let dir = dir.clone();
                let for_export = snapshot.clone();
                let result = tokio::task::spawn_blocking(move || {
                    crate::export::write_export(&for_export, &dir)
                })
                .await;
                match result {
                    Ok(Ok(_)) => {}
                    Ok(Err(error)) => {
                        error!(
                            error = format!("{error:#}"),
                            serial = snapshot.serial,
                            "export failed, retrying at the next change"
                        );
                    }
                    Err(error) => error!(%error, "export task failed"),
                }
            }
            // The first snapshot after a start is announced too: a secondary may have
            // missed changes while the server was down.
            for zone in &snapshot.zones {
                for &target in &args.notify {
                    let apex = zone.records.apex.clone();
                    let soa = zone.records.soa.clone();
                    tokio::spawn(async move {
                        match dnsbl_dns::send_notify(target, &apex, &soa).await {
                            Ok(()) => info!(zone = %apex, %target, "NOTIFY acknowledged"),
                            Err(error) => warn!(%error, "NOTIFY failed"),
                        }
                    });
                }
            }
            exported = Some(snapshot.serial);
        }
    })
}
