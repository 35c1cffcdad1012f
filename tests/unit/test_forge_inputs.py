"""Bad forge inputs get an error naming the argument or key, never a traceback.

API URLs are https (loopback aside) without user:password@; a URL urllib
cannot read (a broken IPv6 literal, a port past 65535) is a problem to
report; a token that cannot travel in an HTTP header is refused up front.
"""

from __future__ import annotations

import pytest

from pipelines.config import ConfigError, parse_config
from pipelines.config.forge import ForgeConfig
from pipelines.errors import InputError
from pipelines.forge import make_forge
from pipelines.urls import api_url_problem, check_http_url
from pipelines_cli.branch_protection import forge_config

SERVICE = '[service]\nname = "app"\nport = 8080\n'


@pytest.mark.parametrize(
    "url",
    [
        "https://api.github.com",
        "https://git.example.com/api/v4",
        "http://127.0.0.1:8080/api/v3",
        "http://localhost/api/v4",
        "http://[::1]:9000/api/v4",
    ],
)
def test_https_and_loopback_api_urls_are_accepted(url: str) -> None:
    assert api_url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://gitlab.example.com/api/v4", "plain http"),
        ("http://10.0.0.5/api/v4", "plain http"),
        ("https://bot:hunter2@gitlab.example.com/api/v4", "user name or password"),
        ("https://bot@gitlab.example.com/api/v4", "user name or password"),
        ("https://[::1/api/v4", "not a valid URL"),
        ("https://[zz]/api/v4", "not a valid URL"),
        ("https://git.example.com:99999/api/v4", "not a valid URL"),
        ("api.github.com", "not an https base URL"),
        ("https://git.example.com/api/v4?x=1", "not an https base URL"),
    ],
)
def test_bad_api_urls_are_refused_with_the_reason(url: str, says: str) -> None:
    problem = api_url_problem(url)
    assert problem is not None
    assert says in problem
    # A password in the URL is never repeated back.
    assert "hunter2" not in problem


@pytest.mark.parametrize(
    "url", ["http://u:hunter2@git.example.com", "http://git.example.com", "https://[::1"]
)
def test_the_cli_names_its_api_url_argument(url: str) -> None:
    with pytest.raises(InputError) as caught:
        forge_config("gitlab", repository="1234", api_url=url)
    assert caught.value.argument == "api-url"
    assert "hunter2" not in str(caught.value)
    assert "https" in caught.value.fix


@pytest.mark.parametrize(
    "url", ["http://u:hunter2@git.example.com/api/v4", "http://git.example.com/api/v4"]
)
def test_the_config_names_its_api_url_key(url: str) -> None:
    text = SERVICE + f'[forge]\nprovider = "gitlab"\nproject = "1234"\napi_url = "{url}"\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert caught.value.key == "forge.api_url"
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("url", ["http://[::1/x", "http://[zz]/x", "https://a:99999/x"])
def test_a_url_argument_urllib_cannot_read_is_an_input_error(url: str) -> None:
    with pytest.raises(InputError) as caught:
        check_http_url(url, argument="run-url")
    assert caught.value.argument == "run-url"
    assert "not a valid URL" in caught.value.problem


@pytest.mark.parametrize("token", ["ghp_abc\u200bdef", "glpat-caf\u00e9", "tok en", "tok\x7f"])
def test_a_token_that_cannot_travel_in_a_header_is_refused(token: str) -> None:
    config = ForgeConfig(provider="github", api_url="https://api.github.com", repository="a/b")
    with pytest.raises(InputError) as caught:
        make_forge(config, token, argument="status-token", purpose="statuses")
    assert caught.value.argument == "status-token"
    assert "not printable ASCII" in caught.value.problem
    assert token not in str(caught.value)
