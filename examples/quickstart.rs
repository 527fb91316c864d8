//! Writes, supersedes and time-travels on an embedded store in `./aurra-data/`.
//!
//! ```sh
//! cargo run --example quickstart
//! ```

use std::error::Error;

use aurra::{ListQuery, Memory, NewMemory, ReadMode, Store, Supersede, temporal};

fn show(title: &str, memories: &[Memory], now: aurra::Timestamp) {
    println!("\n{title}");
    if memories.is_empty() {
        println!("  (nothing)");
    }
    for m in memories {
        let f = temporal::flags(m, now);
        let state = if f.is_superseded {
            "superseded"
        } else if f.is_expired {
            "expired"
        } else {
            "current"
        };
        println!(
            "  {}  {:<40} valid {} .. {}  [{state}]",
            m.id,
            m.decision,
            m.valid_from,
            m.valid_to.map_or("open".to_string(), |t| t.to_string()),
        );
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    std::fs::create_dir_all("aurra-data")?;
    let store = Store::open("aurra-data/aurra.redb")?;
    let account = "quickstart";
    // Start from a clean tenant so the example can be run again and again.
    store.delete_tenant(account, Some("demo"))?;

    let acme = store
        .write(
            account,
            NewMemory::new("Alice is a senior engineer at Acme Corp.")
                .with_tenant("demo")
                .with_topic("people")
                .with_importance(8),
        )?
        .saved_id()
        .expect("a new memory");
    let before_move = store.now()?;

    let globex = store
        .write(
            account,
            NewMemory::new("Alice is a staff engineer at Globex.")
                .with_tenant("demo")
                .with_topic("people")
                .with_importance(8),
        )?
        .saved_id()
        .expect("a new memory");
    store.supersede(
        account,
        acme,
        Supersede {
            superseded_by: Some(globex),
            valid_to: None,
        },
        account,
    )?;

    let demo = ListQuery::new().tenant("demo");
    let current = store.list(account, &demo)?;
    show("Current truth:", &current.memories, current.now);

    let then = store.list(account, &demo.clone().mode(ReadMode::AsOf(before_move)))?;
    show(
        &format!("Valid at {before_move}:"),
        &then.memories,
        then.now,
    );

    let believed = store.list(
        account,
        &demo.clone().mode(ReadMode::TransactionAsOf {
            at: before_move,
            include_superseded: true,
        }),
    )?;
    show(
        &format!("What the store believed at {before_move}:"),
        &believed.memories,
        believed.now,
    );

    let timeline = store.timeline(account, globex)?;
    show("Timeline of the fact:", &timeline.versions, timeline.now);

    let (_, events) = store.audit(account, acme)?;
    println!("\nAudit log of the first version:");
    for e in events {
        println!("  {}  {:<18} by {}", e.at, e.kind.as_str(), e.by);
    }
    Ok(())
}
