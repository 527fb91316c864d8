"""Schemathesis hooks for test_openapi.py (loaded through SCHEMATHESIS_HOOKS)."""

import schemathesis

PROVIDERS = {"anthropic", "openai", "azure", "gemini", "grok"}
YEARS = "datetime must be within the years 0001-9999 (UTC)"


def _would_call_a_provider(llm):
    """An `llm` object the server accepts, and so a provider it would call."""
    return (isinstance(llm, dict)
            and isinstance(llm.get("provider"), str) and llm["provider"].lower() in PROVIDERS
            and any(isinstance(llm.get(k), str) and llm[k].strip() for k in ("api_key", "key"))
            and isinstance(llm.get("model"), str) and llm["model"].strip() != ""
            and all(isinstance(llm.get(k), (str, type(None))) for k in ("base_url", "api_version"))
            and not any(isinstance(v, str) and "\0" in v for v in llm.values()))


@schemathesis.hook
def map_case(ctx, case):
    # Such an `llm` names a provider on the public internet. The run happens in a network
    # namespace with loopback only, so the call would fail at once; dropping the object keeps
    # the examples on what the server itself decides. Invalid `llm` values stay: the server
    # refuses them before any call.
    if isinstance(case.body, dict) and _would_call_a_provider(case.body.get("llm")):
        del case.body["llm"]
    return case


def _detail(response):
    try:
        return response.json().get("detail")
    except Exception:
        return None


@schemathesis.hook
def filter_failure(ctx, failure, case, response):
    """Keeps every failure but two kinds, both documented:

    - a provider being unreachable is the documented 502/503 `llm_provider_error`, not the
      server failing (should an `llm` object get through `map_case`);
    - JSON Schema's `date-time` cannot say "whose UTC year is 0001-9999": an offset moves
      0001-01-01T00:00:00+22:59 into year 0 and 9999-12-31T23:00:00-05:00 into 10000, which
      the server refuses with 422 because no client could read them back.
    """
    detail = _detail(response)
    if isinstance(detail, dict) and detail.get("error") == "llm_provider_error":
        return False
    if (response.status_code == 422 and isinstance(detail, list) and detail
            and all(isinstance(d, dict) and d.get("msg") == YEARS for d in detail)):
        return False
    return True
