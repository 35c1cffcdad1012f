"""The conditions of the CI systems, evaluated offline: enough to follow a caller into them.

The reusable entry points decide two things by condition: which job runs for
an event (GitHub's job ``if:``, GitLab's ``rules: - if:``), and which optional
flag a dagger line gets (a GitHub expression on the inputs). This module
evaluates exactly the subset of each language those files use, and refuses
anything else by name, so a test never guesses:

- GitHub expressions (``${{ ... }}``): ``||``, ``&&``, ``!``, ``==``, ``!=``,
  parentheses, string/boolean/null literals and context paths such as
  ``inputs.dev-target``. String comparison ignores case, as GitHub's does;
  ``&&``/``||`` return one of their operands, as GitHub's do.
- GitLab rule expressions: ``$VAR``, ``$VAR == "x"``, ``!=``, ``&&``, ``||``,
  parentheses. A variable alone is true when it is defined and not empty.
- POSIX parameter expansion in a dagger line: ``$V``, ``${V}`` and
  ``${V:+word}`` (``word`` when ``V`` is set and not empty, else nothing).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

Value = str | bool | None


class ExpressionError(AssertionError):
    """An expression uses something this evaluator does not model."""


# --- tokens ------------------------------------------------------------------------

_GITHUB_TOKEN = re.compile(
    r"\s*(?:(?P<op>\|\||&&|==|!=|!|\(|\))|'(?P<str>(?:[^']|'')*)'"
    r"|(?P<path>[A-Za-z_][\w-]*(?:\.[A-Za-z_*][\w-]*)*))"
)
_GITLAB_TOKEN = re.compile(
    r"\s*(?:(?P<op>\|\||&&|==|!=|\(|\))|\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)'"
    r"|\$(?P<var>\w+)|(?P<null>null)\b)"
)


@dataclass(frozen=True)
class Token:
    kind: str  # "op", "str", "path" (GitHub) / "var", "null" (GitLab)
    text: str


def _tokens(pattern: re.Pattern[str], expression: str, language: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(expression):
        if expression[position:].strip() == "":
            break
        match = pattern.match(expression, position)
        if match is None:
            raise ExpressionError(
                f"{language} expression {expression!r}: cannot read {expression[position:]!r}"
            )
        kind = next(name for name, value in match.groupdict().items() if value is not None)
        text = match.group(kind)
        if kind == "str":
            text = text.replace("''", "'")
        tokens.append(Token({"dq": "str", "sq": "str"}.get(kind, kind), text))
        position = match.end()
    return tokens


# --- a small precedence-climbing parser shared by both languages --------------------------


class _Parser:
    def __init__(self, tokens: Sequence[Token], operand: Callable[[Token], Value], where: str):
        self.tokens = list(tokens)
        self.index = 0
        self.operand = operand
        self.where = where

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise ExpressionError(f"{self.where}: ends too early")
        self.index += 1
        return token

    def parse(self) -> Value:
        value = self.or_()
        if self.peek() is not None:
            raise ExpressionError(f"{self.where}: unexpected {self.peek()!r}")
        return value

    def or_(self) -> Value:
        value = self.and_()
        while self.peek() == Token("op", "||"):
            self.take()
            right = self.and_()
            value = value if truthy(value) else right
        return value

    def and_(self) -> Value:
        value = self.comparison()
        while self.peek() == Token("op", "&&"):
            self.take()
            right = self.comparison()
            value = right if truthy(value) else value
        return value

    def comparison(self) -> Value:
        left = self.unary()
        token = self.peek()
        if token is not None and token.kind == "op" and token.text in ("==", "!="):
            self.take()
            right = self.unary()
            same = _equal(left, right)
            return same if token.text == "==" else not same
        return left

    def unary(self) -> Value:
        if self.peek() == Token("op", "!"):
            self.take()
            return not truthy(self.unary())
        if self.peek() == Token("op", "("):
            self.take()
            value = self.or_()
            if self.take() != Token("op", ")"):
                raise ExpressionError(f"{self.where}: unbalanced parentheses")
            return value
        return self.operand(self.take())


def truthy(value: Value) -> bool:
    return value not in (None, False, "")


def _equal(left: Value, right: Value) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.casefold() == right.casefold()
    return left == right


# --- GitHub ------------------------------------------------------------------------------


def github_evaluate(expression: str, context: Mapping[str, Value]) -> Value:
    """The value of one GitHub expression (without ``${{ }}``) in ``context``.

    ``context`` maps full paths (``inputs.dev-target``, ``github.ref_name``,
    ``secrets.dev-kubeconfig``) to values; a path it lacks is refused, except
    ``secrets.*``, which is empty when the caller passed no such secret.
    """
    where = f"GitHub expression {expression!r}"

    def operand(token: Token) -> Value:
        if token.kind == "str":
            return token.text
        if token.kind != "path":
            raise ExpressionError(f"{where}: unexpected {token.text!r}")
        if token.text in ("true", "false"):
            return token.text == "true"
        if token.text == "null":
            return None
        if token.text in context:
            return context[token.text]
        if token.text.startswith("secrets."):
            return ""
        raise ExpressionError(f"{where}: {token.text} is not in the context the test models")

    return _Parser(_tokens(_GITHUB_TOKEN, expression, "GitHub"), operand, where).parse()


_TEMPLATE = re.compile(r"\$\{\{\s*(.*?)\s*\}\}", re.S)


def github_template(value: object, context: Mapping[str, Value]) -> str:
    """A workflow string with its ``${{ }}`` parts evaluated, as GitHub renders it."""
    text = str(value)

    def render(match: re.Match[str]) -> str:
        result = github_evaluate(match.group(1), context)
        if isinstance(result, bool):
            return "true" if result else "false"
        return "" if result is None else result

    return _TEMPLATE.sub(render, text)


def github_condition(expression: str, context: Mapping[str, Value]) -> bool:
    """A job's ``if:``: GitHub accepts it with or without ``${{ }}``."""
    bare = _TEMPLATE.fullmatch(expression.strip())
    return truthy(github_evaluate(bare.group(1) if bare else expression, context))


# --- GitLab ------------------------------------------------------------------------------


def gitlab_condition(expression: str, variables: Mapping[str, str]) -> bool:
    """A ``rules: - if:`` expression with the pipeline's ``variables``."""
    where = f"GitLab rule {expression!r}"

    def operand(token: Token) -> Value:
        if token.kind == "var":
            return variables.get(token.text)
        if token.kind == "str":
            return token.text
        if token.kind == "null":
            return None
        raise ExpressionError(f"{where}: unexpected {token.text!r}")

    return truthy(_Parser(_tokens(_GITLAB_TOKEN, expression, "GitLab"), operand, where).parse())


# --- the shell's parameter expansion, in a line already split into words -----------------

_CONDITIONAL = re.compile(r"\$\{(\w+):\+([^}]*)\}")
_PLAIN = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def expand_word(word: str, env: Mapping[str, str | None], substitute: Callable[[str], bool]) -> str:
    """``word`` with ``${V:+x}`` decided by ``env`` and ``$V`` replaced where ``substitute(V)``.

    Variables that are not substituted stay as ``$V`` (braces dropped), so a
    line keeps the names the CI system fills at run time.
    """

    def plain(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            if substitute(name):
                return env.get(name) or ""
            return f"${name}"

        return _PLAIN.sub(one, text)

    def conditional(match: re.Match[str]) -> str:
        return plain(match.group(2)) if env.get(match.group(1)) else ""

    return plain(_CONDITIONAL.sub(conditional, word))


def expand_line(
    words: Sequence[str], env: Mapping[str, str | None], substitute: Callable[[str], bool]
) -> tuple[str, ...]:
    """The words of a line after expansion; an unquoted expansion to nothing is no word."""
    expanded = []
    for word in words:
        result = expand_word(word, env, substitute)
        if result == "" and _CONDITIONAL.fullmatch(word):
            continue
        expanded.append(result)
    return tuple(expanded)


def unconditional_references(word: str) -> set[str]:
    """Names a word reads whatever the environment: ``$V``/``env://V`` outside ``${V:+...}``."""
    outside = _CONDITIONAL.sub("", word)
    names = {m.group(1) or m.group(2) for m in _PLAIN.finditer(outside)}
    names |= set(re.findall(r"env://(\w+)", outside))
    return names
