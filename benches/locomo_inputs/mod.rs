//! What the model benches read: the model folder (`AURRA_TEST_MODEL`) and the LoCoMo
//! conversations (`AURRA_LOCOMO`, else the dev split in `../shared/data`).

/// The model folder `scripts/test-model` prints.
pub fn model_dir() -> String {
    std::env::var("AURRA_TEST_MODEL")
        .expect("AURRA_TEST_MODEL: the model folder (scripts/test-model prints it)")
}

/// The LoCoMo conversations.
pub fn conversations() -> Vec<aurra::eval::Conversation> {
    let file = std::env::var("AURRA_LOCOMO").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/data/locomo/locomo-dev.json"
        )
        .into()
    });
    let json = std::fs::read_to_string(&file).expect("the LoCoMo file");
    aurra::eval::parse_locomo(&json).expect("a LoCoMo file")
}
