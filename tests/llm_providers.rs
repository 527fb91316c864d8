//! The provider clients against a fake of each provider's API on 127.0.0.1: the exact
//! requests (endpoint, auth header style, model, messages, JSON mode), the answer's text, and
//! every failure mapped to the kind the server turns into `llm_provider_error`.

mod fakes;

use std::time::Duration;

use aurra::llm::{BaseUrlPolicy, HttpLlm, Llm, LlmConfig, LlmErrorKind, Prompt, Provider};
use fakes::llm::{FakeLlm, Script, Shape, user_text};

fn config(fake: &FakeLlm, provider: Provider) -> LlmConfig {
    let base_url = match provider {
        Provider::OpenAi | Provider::Grok => format!("{}/v1", fake.url()),
        _ => fake.url(),
    };
    LlmConfig {
        provider,
        model: "m-1".into(),
        api_key: "sk-caller".into(),
        base_url: Some(base_url),
        api_version: None,
    }
}

fn client(fake: &FakeLlm, provider: Provider) -> HttpLlm {
    HttpLlm::new(config(fake, provider), Duration::from_secs(10)).expect("client")
}

fn prompt(json: bool) -> Prompt {
    Prompt {
        system: "Be brief.".into(),
        user: "[mem-1] (valid from 2026-01-01) Alice works at Acme\nQuestion: where?".into(),
        json,
        max_tokens: 100,
    }
}

#[test]
fn each_provider_gets_its_own_request_shape_and_answers_are_read_from_its_shape() {
    let fake = FakeLlm::start();
    for provider in Provider::ALL {
        let llm = client(&fake, provider);
        let text = llm.complete(&prompt(true)).expect("answer");
        assert_eq!(text, "Alice works at Acme [mem-1] [mem-99].", "{provider}");
        let seen = fake.seen();
        let request = seen.last().unwrap();
        assert_eq!(request.method, "POST");
        let body = &request.body;
        match provider {
            Provider::Anthropic => {
                assert_eq!(request.path, "/v1/messages");
                assert_eq!(request.header("x-api-key"), Some("sk-caller"));
                assert_eq!(request.header("anthropic-version"), Some("2023-06-01"));
                assert_eq!(request.header("authorization"), None);
                assert_eq!(body["model"], "m-1");
                assert_eq!(body["max_tokens"], 100);
                assert!(body["system"].as_str().unwrap().starts_with("Be brief."));
                assert!(body["system"].as_str().unwrap().contains("JSON"));
                assert_eq!(body["messages"][0]["role"], "user");
                assert_eq!(user_text(Shape::Anthropic, body), prompt(true).user);
            }
            Provider::OpenAi | Provider::Grok => {
                assert_eq!(request.path, "/v1/chat/completions");
                assert_eq!(request.header("authorization"), Some("Bearer sk-caller"));
                assert_eq!(body["model"], "m-1");
                assert_eq!(body["messages"][0]["role"], "system");
                assert_eq!(body["messages"][0]["content"], "Be brief.");
                assert_eq!(user_text(Shape::OpenAi, body), prompt(true).user);
                assert_eq!(body["response_format"]["type"], "json_object");
                assert_eq!(body["temperature"], 0);
            }
            Provider::Azure => {
                assert_eq!(
                    request.path,
                    "/openai/deployments/m-1/chat/completions?api-version=2024-10-21"
                );
                assert_eq!(request.header("api-key"), Some("sk-caller"));
                assert_eq!(request.header("authorization"), None);
                assert!(
                    body.get("model").is_none(),
                    "the deployment names the model"
                );
            }
            Provider::Gemini => {
                assert_eq!(request.path, "/v1beta/models/m-1:generateContent");
                assert_eq!(request.header("x-goog-api-key"), Some("sk-caller"));
                assert_eq!(body["systemInstruction"]["parts"][0]["text"], "Be brief.");
                assert_eq!(
                    body["generationConfig"]["responseMimeType"],
                    "application/json"
                );
                assert_eq!(user_text(Shape::Gemini, body), prompt(true).user);
            }
        }
    }
    // Without JSON mode no response_format is sent; Azure takes an explicit api_version.
    let mut azure = config(&fake, Provider::Azure);
    azure.api_version = Some("2025-01-01-preview".into());
    HttpLlm::new(azure, Duration::from_secs(10))
        .unwrap()
        .complete(&prompt(false))
        .unwrap();
    let last = fake.seen().pop().unwrap();
    assert!(last.path.ends_with("api-version=2025-01-01-preview"));
    assert!(last.body.get("response_format").is_none());
}

#[test]
fn failures_map_to_the_kinds_of_the_contract_for_every_provider() {
    let fake = FakeLlm::start();
    for provider in Provider::ALL {
        let llm = client(&fake, provider);
        let cases = [
            (Script::BadKey, LlmErrorKind::Unauthorized),
            (Script::UnknownModel, LlmErrorKind::InvalidModel),
            (
                Script::RateLimited(7),
                LlmErrorKind::RateLimited {
                    retry_after: Some(7),
                },
            ),
            (Script::Outage, LlmErrorKind::Unavailable),
            (Script::NoText, LlmErrorKind::BadOutput),
        ];
        for (script, kind) in cases {
            fake.script([script.clone()]);
            let error = llm.complete(&prompt(false)).expect_err("a failure");
            assert_eq!(error.kind, kind, "{provider} {script:?}: {error}");
            assert_eq!(error.provider, provider.as_str());
            assert!(!error.message.contains("sk-caller"));
            assert!(!error.message.is_empty());
        }
    }
    // The provider's own message reaches the caller.
    fake.script([Script::BadKey]);
    let error = client(&fake, Provider::OpenAi)
        .complete(&prompt(false))
        .unwrap_err();
    assert_eq!(error.message, "Incorrect API key provided");
}

#[test]
fn an_unreachable_provider_is_unavailable_and_azure_needs_its_endpoint() {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let llm = HttpLlm::new(
        LlmConfig {
            provider: Provider::OpenAi,
            model: "m".into(),
            api_key: "k".into(),
            base_url: Some(format!("http://{addr}/v1")),
            api_version: None,
        },
        Duration::from_secs(5),
    )
    .unwrap();
    let error = llm.complete(&prompt(false)).unwrap_err();
    assert_eq!(error.kind, LlmErrorKind::Unavailable);

    let azure = LlmConfig {
        provider: Provider::Azure,
        model: "d".into(),
        api_key: "k".into(),
        base_url: None,
        api_version: None,
    };
    let error = HttpLlm::new(azure, Duration::from_secs(5)).unwrap_err();
    assert_eq!(error.kind, LlmErrorKind::Refused);
}

#[test]
fn a_callers_base_url_to_a_private_address_is_refused_unless_allowed() {
    let fake = FakeLlm::start();
    let error = HttpLlm::checked(
        config(&fake, Provider::OpenAi),
        Duration::from_secs(5),
        BaseUrlPolicy::default(),
    )
    .unwrap_err();
    assert_eq!(error.kind, LlmErrorKind::Refused);
    assert!(error.message.contains("non-public"), "{}", error.message);
    assert!(fake.seen().is_empty(), "nothing was sent");

    let allowed = HttpLlm::checked(
        config(&fake, Provider::OpenAi),
        Duration::from_secs(5),
        BaseUrlPolicy {
            allow_private: true,
        },
    )
    .unwrap();
    assert!(allowed.complete(&prompt(false)).is_ok());
    let shown = format!("{allowed:?}");
    assert!(!shown.contains("sk-caller"), "{shown}");
}
