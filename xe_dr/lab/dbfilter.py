"""xapi's row filter language (``ocaml/database/db_filter*.ml``), for ``get_all_records_where``
and ``get_all_where``.

    expr  := value "=" value | expr "and" expr | expr "or" expr | "not" expr
           | "true" | "false" | "(" expr ")"
    value := "\\"" chars "\\"" | "field" "\\"" name "\\""

The lexer skips spaces, tabs and newlines; a string is anything but ``"`` between double quotes
(no escapes). ``and`` and ``or`` share one precedence level and group to the left; ``not`` is
declared with a lower precedence, so it takes everything to its right (``not a and b`` is
``not (a and b)``). A field is compared through its database column (``name__label``, ...)
marshalled as the database stores it. A string that does not parse is INVALID_VALUE
``[expr, exception]`` (exnHelper.ml); a field a row lacks is INTERNAL_ERROR
``["missing field", name, ""]`` (Row.find, DBCache_NotFound).
"""

from .errors import XapiError

PARSE_ERROR = "Stdlib.Parsing.Parse_error"
LEX_ERROR = 'Failure("lexing: empty token")'
_KEYWORDS = ("field", "true", "false", "and", "not", "or")


class _Bad(Exception):
    def __init__(self, what):
        Exception.__init__(self, what)
        self.what = what


def _tokens(text):
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\n":
            i += 1
        elif c in "=()":
            out.append((c, None))
            i += 1
        elif c == '"':
            j = text.find('"', i + 1)
            if j < 0:
                raise _Bad(LEX_ERROR)
            out.append(("ident", text[i + 1:j]))
            i = j + 1
        else:
            for word in _KEYWORDS:
                if text.startswith(word, i):
                    out.append((word, None))
                    i += len(word)
                    break
            else:
                raise _Bad(LEX_ERROR)
    out.append(("eof", None))
    return out


class _Parser(object):
    def __init__(self, tokens):
        self.tokens = tokens
        self.pos = 0

    def peek(self):
        return self.tokens[self.pos][0]

    def take(self, kind=None):
        tok = self.tokens[self.pos]
        if kind is not None and tok[0] != kind:
            raise _Bad(PARSE_ERROR)
        self.pos += 1
        return tok

    def expr(self):
        if self.peek() == "not":
            self.take()
            return ("not", self.expr())
        left = self.primary()
        while self.peek() in ("and", "or"):
            op = self.take()[0]
            if self.peek() == "not":
                self.take()
                right = ("not", self.expr())
            else:
                right = self.primary()
            left = (op, left, right)
        return left

    def primary(self):
        kind = self.peek()
        if kind in ("true", "false"):
            self.take()
            return (kind,)
        if kind == "(":
            self.take()
            inner = self.expr()
            self.take(")")
            return inner
        left = self.value()
        self.take("=")
        return ("eq", left, self.value())

    def value(self):
        if self.peek() == "field":
            self.take()
            return ("field", self.take("ident")[1])
        return ("literal", self.take("ident")[1])


def parse(text):
    try:
        parser = _Parser(_tokens(text))
        tree = parser.expr()
        parser.take("eof")
        return tree
    except _Bad as e:
        raise XapiError("INVALID_VALUE", [text, e.what])


def evaluate(tree, lookup):
    """``lookup(field name) -> str`` gives a row's marshalled column."""
    kind = tree[0]
    if kind == "true":
        return True
    if kind == "false":
        return False
    if kind == "not":
        return not evaluate(tree[1], lookup)
    if kind == "and":
        return evaluate(tree[1], lookup) and evaluate(tree[2], lookup)
    if kind == "or":
        return evaluate(tree[1], lookup) or evaluate(tree[2], lookup)

    def value(v):
        return lookup(v[1]) if v[0] == "field" else v[1]
    return value(tree[1]) == value(tree[2])


def missing_field(name):
    return XapiError("INTERNAL_ERROR", ["missing field", name, ""])
