"""Cache volume keys: one namespace per trust level and service, and nothing else gets in."""

from __future__ import annotations

import itertools

import pytest

from pipelines.caches import (
    CACHE_PREFIX,
    DEFAULT_TRUST_LEVEL,
    TRUST_LEVELS,
    CacheScope,
    parse_trust_level,
)
from pipelines.config import parse_config
from pipelines.errors import ConfigError, InputError

CONFIG = '[service]\nname = "{name}"\nport = 80\n'


@pytest.mark.parametrize("level", TRUST_LEVELS)
def test_each_trust_level_is_accepted_as_written(level: str) -> None:
    assert parse_trust_level(level) == level


@pytest.mark.parametrize("bad", ["Release", "RELEASE", "release\n", " release", "trusted", ""])
def test_anything_else_is_refused_with_the_levels_to_pass(bad: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_trust_level(bad)
    assert caught.value.argument == "trust-level"
    assert "--trust-level=untrusted, --trust-level=release" in str(caught.value)


def test_the_default_is_the_least_trusted_level() -> None:
    assert DEFAULT_TRUST_LEVEL == "untrusted"
    assert parse_config(CONFIG.format(name="svc")).trust_level == "untrusted"


def test_a_key_names_its_trust_level_and_service() -> None:
    scope = CacheScope(trust_level="release", service="hello-service")
    assert scope.key("pip") == f"{CACHE_PREFIX}/release/hello-service/pip"


def test_no_two_scopes_share_a_key_whatever_the_key_says() -> None:
    # Keys crafted to look like another scope's still land under their own prefix.
    services = ["a", "b", "a-b"]
    names = ["pip", "b/pip", "../release/a/pip", "release/a/pip", "trivy-db"]
    seen: dict[str, tuple[str, str]] = {}
    for level, service, name in itertools.product(TRUST_LEVELS, services, names):
        scope = CacheScope(trust_level=level, service=service)
        key = scope.key(name)
        assert key.startswith(scope.prefix)
        for other_level, other_service in itertools.product(TRUST_LEVELS, services):
            other = CacheScope(trust_level=other_level, service=other_service)
            if (other_level, other_service) != (level, service):
                # The remainder after a prefix says which scope wrote it: the
                # first two path segments after "portable-pipelines/".
                assert key.split("/")[1:3] != other.prefix.split("/")[1:3]
        assert seen.setdefault(key, (level, service)) == (level, service)


def test_a_scope_refuses_what_would_blur_the_prefix() -> None:
    with pytest.raises(InputError):
        CacheScope(trust_level="prod", service="a")
    with pytest.raises(ValueError, match="no '/'"):
        CacheScope(trust_level="untrusted", service="a/b")
    with pytest.raises(ValueError, match="not empty"):
        CacheScope(trust_level="untrusted", service="a").key("")


def test_the_config_names_its_scope_from_the_service() -> None:
    config = parse_config(CONFIG.format(name="go-service"))
    assert config.cache_scope == CacheScope(trust_level="untrusted", service="go-service")


def test_an_empty_cache_key_is_a_config_error() -> None:
    text = (
        CONFIG.format(name="svc")
        + '[toolchain]\ntarget = "test"\n[[toolchain.caches]]\npath = "/c"\nkey = ""\n'
    )
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert caught.value.key == "toolchain.caches[0].key"
    assert 'key = "pip"' in caught.value.fix
