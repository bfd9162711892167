"""Secrets in command lines, masked: `mask_command("mysql -uroot -psecret")` is "mysql -uroot -p***". Pure.

A secret's value becomes `***`; the flag or name before it stays, so a reader still sees the command's shape.
What holds a secret's value:

- a long option whose name ends in a secret word: `--password X`, `--password=X`, `--token`, `--secret`,
  `--api-key`, `--db-password` (not `--password-stdin` or `--password-file`, which take no secret);
- `-pVALUE`, anywhere; `-p VALUE` only once mysql, mariadb, mysqldump or mysqladmin was named before it:
  elsewhere a spaced `-p` is a port (`docker run -p 8080:80`) or a flag of its own (`mkdir -p /data`);
- `NAME=VALUE` and a header `Name: VALUE` whose name holds PASS, PWD, SECRET, TOKEN, KEY, CREDENTIAL or AUTH,
  in any case (`PGPASSWORD=***`, `API_TOKEN=***`); a header keeps its scheme (`Authorization: Bearer ***`);
- the password of `-u user:password`, `--user user:password` (curl) and `scheme://user:password@host`.

A value runs to the next unquoted whitespace. A quoted part ('...' or "...") is masked whole, an unterminated
one to the end of the text; a quote that closes the string the value sits in (`sh -c "mysql -psecret"`) stays.
When the flag or name itself opens a quoted argument (`'-u bob:my pass'`, `"TOKEN=a b"`), its value is the rest
of that argument.
All else is kept byte for byte. Where a rule is unsure it masks more, never less. Each regex here is possessive
or starts only where no character of its own kind precedes it, so no input makes the scan backtrack for long.
"""

from __future__ import annotations

import re

MASK = "***"

# Where a secret may begin; _secret_span decides whether one does, and where its value lies.
_CANDIDATE = re.compile(
    r"""
      (?<![\w+.-])(?P<url>[A-Za-z][\w+.-]*+://[^\s/?#@:]*+:)(?=[^\s/?#]*@)
    | (?<![\w.-])(?P<program>mysql|mariadb|mysqldump|mysqladmin|mariadb-dump|mariadb-admin)(?![\w.-])
    | (?<![\w-])(?P<name>[A-Za-z_][\w-]*+)(?P<mark>=|:[ \t]++)
    | (?<![\w-])(?P<short>-[pu])
    | (?<![\w-])--(?P<long>[A-Za-z][\w-]*+)
    """,
    re.VERBOSE,
)
_SECRET_WORDS = ("pass", "pwd", "secret", "token", "key", "credential", "auth")
# A long option takes a secret when its name ends in one of these (so `--password-stdin` takes none).
_SECRET_OPTION = re.compile(
    r"(?:pass(?:word|wd|phrase)?|pwd|token|secret|credentials?|(?:api|access|secret|auth)[-_]?key)$", re.IGNORECASE,
)
_USER_OPTIONS = frozenset({"user", "proxy-user"})
_SCHEME = re.compile(r"(?:bearer|basic|token|digest|negotiate|ntlm|apikey)[ \t]++(?=\S)", re.IGNORECASE)
_OPTION_VALUE = re.compile(r"=|\s++(?!--)")  # a long option's value, unless the next word is another option
_SPACED_VALUE = re.compile(r"\s++(?=[^\s-])")  # a spaced `-p`'s value, unless the next word is another flag
_USER_PART = re.compile(r"""(?:=|\s*+)(?P<quote>['"]?)[^\s:'"]*+:(?!//)""")  # what -u keeps of "user:password": "user:"
_URL_USERINFO = re.compile(r"[^\s/?#]*+")
_PLAIN = re.compile(r"(?:[^\s'\"\\]++|\\.?)*+", re.DOTALL)
_QUOTED = {"'": re.compile(r"'[^']*+'?"), '"': re.compile(r'"(?:[^"\\]++|\\.?)*+"?', re.DOTALL)}
_QUOTED_REST = {"'": re.compile(r"[^']*+"), '"': re.compile(r'(?:[^"\\]++|\\.?)*+', re.DOTALL)}
_WORD_END = re.compile(r"\s|\Z")


def mask_command(text: str) -> str:
    """`text` with the value of each secret in it replaced by `***` (the rules are in the module's docstring)."""
    pieces: list[str] = []
    kept = 0
    quotes = _OpenQuotes(text)
    after_password_program = False
    position = 0
    while match := _CANDIDATE.search(text, position):
        position = match.end()
        if match["program"]:
            after_password_program = True
            continue
        span = _secret_span(text, match, after_password_program, quotes)
        if span and span[1] > span[0]:
            pieces += (text[kept:span[0]], MASK)
            kept = position = span[1]
    pieces.append(text[kept:])
    return "".join(pieces)


def _is_secret_name(name: str) -> bool:
    """Whether an environment variable or header of this name holds a secret: `PGPASSWORD`, `X-Api-Key`."""
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def _secret_span(text: str, match: re.Match[str], after_password_program: bool,
                 quotes: _OpenQuotes) -> tuple[int, int] | None:
    """Where the secret value that `match` introduces lies, or None when it introduces none."""
    start = match.end()
    opener = text[max(match.start() - 1, 0):match.start()]
    if match["url"]:
        # user:p@ss@host: the password runs to the last @ before the host.
        return start, text.rindex("@", start, _URL_USERINFO.match(text, start).end())
    if match["name"]:
        if not _is_secret_name(match["name"]):
            return None
        scheme = _SCHEME.match(text, start) if match["mark"] != "=" else None
        start = scheme.end() if scheme else start
    elif match["short"] == "-p":
        spaced = _SPACED_VALUE.match(text, start) if after_password_program else None
        if spaced:
            start = spaced.end()
        elif _WORD_END.match(text, start):
            return None
    elif match["short"] == "-u" or match["long"] in _USER_OPTIONS:
        user = _USER_PART.match(text, start)
        if not user:
            return None
        start, opener = user.end(), user["quote"] or opener
    elif _SECRET_OPTION.search(match["long"]):
        separator = _OPTION_VALUE.match(text, start)
        if not separator:
            return None
        start = separator.end()
    else:
        return None
    if opener in _QUOTED_REST:
        # The flag or name opens a quoted argument ('-u bob:my pass'): its value is the rest of that argument.
        return start, _QUOTED_REST[opener].match(text, start).end()
    return start, _value_end(text, start, quotes.open_at(start))


def _value_end(text: str, start: int, open_quotes: str) -> int:
    """Where a value starting at `start` ends: at unquoted whitespace, or at a quote closing an open string."""
    end = start
    while True:
        end = _PLAIN.match(text, end).end()
        if end == len(text) or text[end] not in _QUOTED:
            return end
        quote = text[end]
        if quote in open_quotes and _WORD_END.match(text, end + 1):
            return end
        end = _QUOTED[quote].match(text, end).end()


class _OpenQuotes:
    """Which quote characters are open at a position of a text, judged by how many of each precede it.

    Counts move from the last position asked, so asking at positions that mostly grow costs linear time.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0
        self.counts = dict.fromkeys(_QUOTED, 0)

    def open_at(self, position: int) -> str:
        low, high = sorted((self.position, position))
        sign = 1 if position >= self.position else -1
        for quote in self.counts:
            self.counts[quote] += sign * self.text.count(quote, low, high)
        self.position = position
        return "".join(quote for quote, count in self.counts.items() if count % 2)
