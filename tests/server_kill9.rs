//! `kill -9` under concurrent writers: the release-mode promise that an acknowledged write
//! survives a crash, checked on the real binary. Five cycles: start `aurra serve` on one data
//! dir, four writers write until 150 writes of the cycle are acknowledged, then SIGKILL while
//! they are still writing. After the last cycle a fresh server must return every
//! acknowledged memory in every read mode (current truth, `as_of`, `transaction_as_of`, the
//! timeline and the audit). Bounded: 5 cycles, at most 2 000 writes per cycle.

mod process;

use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

const CYCLES: usize = 5;
const WRITERS: usize = 4;
const ACKED_BEFORE_KILL: usize = 150;
const MAX_WRITES_PER_WRITER: usize = 500;

fn start(dir: &std::path::Path) -> (Child, String) {
    let started = process::start(&mut process::serve(dir));
    (started.child, started.url)
}

fn get(agent: &ureq::Agent, url: &str, auth: &str) -> Value {
    let mut resp = agent
        .get(url)
        .header("Authorization", auth)
        .call()
        .expect("GET");
    assert_eq!(resp.status(), 200, "{url}");
    serde_json::from_str(&resp.body_mut().read_to_string().expect("body")).expect("json")
}

#[derive(Default)]
struct Acked {
    /// (cycle, memory id, content) of every acknowledged write.
    rows: Vec<(usize, String, String)>,
    this_cycle: usize,
}

#[test]
fn every_acknowledged_write_survives_kill_9_in_every_read_mode() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut child, _) = start(dir.path());
    child.kill().expect("stop the first start");
    child.wait().expect("wait");
    let key = std::fs::read_to_string(dir.path().join("first-api-key")).expect("first key");
    let auth = format!("Bearer {}", key.trim());
    let acked = Arc::new((Mutex::new(Acked::default()), Condvar::new()));
    for cycle in 0..CYCLES {
        let (mut child, url) = start(dir.path());
        acked.0.lock().unwrap().this_cycle = 0;
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (acked, stop, url, auth) =
                    (acked.clone(), stop.clone(), url.clone(), auth.clone());
                std::thread::spawn(move || {
                    let agent = process::agent();
                    for n in 0..MAX_WRITES_PER_WRITER {
                        if stop.load(Ordering::SeqCst) {
                            return;
                        }
                        let content = format!("cycle {cycle} writer {w} fact {n}");
                        let body = json!({"content": content, "tenant_id": format!("c{cycle}")});
                        let Ok(mut resp) = agent
                            .post(&format!("{url}/agent/memories"))
                            .header("Authorization", &auth)
                            .header("Content-Type", "application/json")
                            .send(body.to_string())
                        else {
                            return; // The server was killed.
                        };
                        let Ok(text) = resp.body_mut().read_to_string() else {
                            return;
                        };
                        if resp.status() != 200 {
                            return;
                        }
                        let answer: Value = serde_json::from_str(&text).expect("json");
                        assert_eq!(answer["status"], "saved", "{text}");
                        let id = answer["memory_id"].as_str().expect("id").to_owned();
                        let (lock, cv) = &*acked;
                        let mut a = lock.lock().unwrap();
                        a.rows.push((cycle, id, content));
                        a.this_cycle += 1;
                        cv.notify_all();
                    }
                })
            })
            .collect();
        {
            let (lock, cv) = &*acked;
            let a = lock.lock().unwrap();
            let (a, timeout) = cv
                .wait_timeout_while(a, Duration::from_secs(60), |a| {
                    a.this_cycle < ACKED_BEFORE_KILL
                })
                .unwrap();
            assert!(
                !timeout.timed_out(),
                "cycle {cycle}: {} acknowledged",
                a.this_cycle
            );
        }
        // SIGKILL while the writers are still writing.
        child.kill().expect("kill -9");
        child.wait().expect("wait");
        stop.store(true, Ordering::SeqCst);
        for w in writers {
            w.join().expect("writer");
        }
    }

    let (mut child, url) = start(dir.path());
    let agent = process::agent();
    let rows = acked.0.lock().unwrap().rows.clone();
    assert!(rows.len() >= CYCLES * ACKED_BEFORE_KILL);
    let now = "9999-12-31T00:00:00Z";
    for cycle in 0..CYCLES {
        let tenant = format!("c{cycle}");
        let modes = [
            format!("{url}/agent/memories?tenant_id={tenant}&limit=1000"),
            format!("{url}/agent/memories?tenant_id={tenant}&limit=1000&as_of={now}"),
            format!("{url}/agent/memories?tenant_id={tenant}&limit=1000&transaction_as_of={now}"),
        ];
        for mode in &modes {
            let list = get(&agent, mode, &auth);
            let stored: std::collections::HashMap<&str, &str> = list["memories"]
                .as_array()
                .expect("memories")
                .iter()
                .map(|m| (m["id"].as_str().unwrap(), m["decision"].as_str().unwrap()))
                .collect();
            for (_, id, content) in rows.iter().filter(|(c, _, _)| *c == cycle) {
                assert_eq!(
                    stored.get(id.as_str()).copied(),
                    Some(content.as_str()),
                    "acknowledged {id} ({content}) missing from {mode}"
                );
            }
        }
    }
    for (_, id, content) in rows.iter().step_by(25) {
        let timeline = get(&agent, &format!("{url}/memories/{id}/timeline"), &auth);
        assert_eq!(
            timeline["timeline"][0]["decision"],
            content.as_str(),
            "{timeline}"
        );
        let audit = get(&agent, &format!("{url}/memories/{id}/audit"), &auth);
        assert_eq!(audit["memory"]["decision"], content.as_str(), "{audit}");
        assert!(
            !audit["history"].as_array().expect("history").is_empty(),
            "its creation event survives too: {audit}"
        );
    }
    child.kill().expect("stop");
    child.wait().expect("wait");
}
