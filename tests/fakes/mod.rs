//! Fake services on 127.0.0.1 for tests: an OpenAI-compatible embeddings API and the chat
//! APIs of the LLM providers. Each records the requests it receives and can be scripted to
//! fail the way the real service does.

#![allow(dead_code)] // each test file uses a different part of the fakes

pub mod embeddings;
pub mod http;
pub mod llm;
