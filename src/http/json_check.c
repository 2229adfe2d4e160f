// SPDX-License-Identifier: MIT
//
// Where a JSON text stops parsing and why, in the words and at the
// position Python's json module gives (FastAPI's json_invalid error shows
// both: `loc: ["body", pos]`, `ctx.error`).  Only the failure path uses it:
// Jansson parses; this says where a text Jansson refused goes wrong.  The
// grammar is Python's (3.11): NaN, Infinity and -Infinity are values, a
// number is -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?, and a number
// followed by "." or "e" without digits ends before them.  Positions are
// counted in characters, as Python counts them; the text is UTF-8.
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "json_check.h"

// A parse in progress: the text, and the error once there is one.
struct scan {
  const char *s;   // the text
  size_t n;        //   its length
  size_t err_at;   // the error's byte offset
  const char *msg; //   and message, or NULL
};

static bool fail(struct scan *sc, size_t at, const char *msg) {
  sc->err_at = at;
  sc->msg = msg;
  return false;
}

static size_t skip_ws(const struct scan *sc, size_t i) {
  while (i < sc->n && (sc->s[i] == ' ' || sc->s[i] == '\t' || sc->s[i] == '\n' || sc->s[i] == '\r'))
    i++;
  return i;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// True if the text at i starts with lit.
static bool at_lit(const struct scan *sc, size_t i, const char *lit) {
  size_t k = strlen(lit);
  return sc->n - i >= k && memcmp(sc->s + i, lit, k) == 0;
}

// A string whose opening quote is at `begin`: *end past its closing quote.
static bool scan_string(struct scan *sc, size_t begin, size_t *end) {
  size_t i = begin + 1;
  for (;;) {
    while (i < sc->n && sc->s[i] != '"' && sc->s[i] != '\\') {
      if ((unsigned char)sc->s[i] <= 0x1f) return fail(sc, i, "Invalid control character at");
      i++;
    }
    if (i == sc->n) return fail(sc, begin, "Unterminated string starting at");
    if (sc->s[i++] == '"') break;
    if (i == sc->n) return fail(sc, begin, "Unterminated string starting at");
    char c = sc->s[i];
    if (c != 'u') {
      if (!strchr("\"\\/bfnrt", c) || c == '\0') return fail(sc, i - 1, "Invalid \\escape");
      i++;
      continue;
    }
    // \uXXXX: four hex digits, and a character after them (Python asks
    // for one before it looks at the digits).
    if (i + 5 >= sc->n) return fail(sc, i, "Invalid \\uXXXX escape");
    for (size_t k = 1; k <= 4; k++)
      if (!is_hex(sc->s[i + k])) return fail(sc, i, "Invalid \\uXXXX escape");
    i += 5;
  }
  *end = i;
  return true;
}

// A number at i (Python's grammar): *end past it.  Returns false when there
// is none (a value was expected at i).
static bool scan_number(const struct scan *sc, size_t i, size_t *end) {
  if (i < sc->n && sc->s[i] == '-') i++;
  if (i < sc->n && sc->s[i] >= '1' && sc->s[i] <= '9') {
    while (i < sc->n && is_digit(sc->s[i])) i++;
  } else if (i < sc->n && sc->s[i] == '0') {
    i++;
  } else {
    return false;
  }
  if (i + 1 < sc->n && sc->s[i] == '.' && is_digit(sc->s[i + 1])) {
    i += 2;
    while (i < sc->n && is_digit(sc->s[i])) i++;
  }
  if (i < sc->n && (sc->s[i] == 'e' || sc->s[i] == 'E')) {
    size_t e = i++;
    if (i < sc->n && (sc->s[i] == '-' || sc->s[i] == '+')) i++;
    size_t digits = i;
    while (i < sc->n && is_digit(sc->s[i])) i++;
    if (i == digits) i = e; // "1e" is the number 1, then "e"
  }
  *end = i;
  return true;
}

static bool scan_value(struct scan *sc, size_t i, size_t *end, int depth);

// An object whose '{' is at i - 1.
// NOLINTNEXTLINE(misc-no-recursion): bounded as scan_value is
static bool scan_object(struct scan *sc, size_t i, size_t *end, int depth) {
  i = skip_ws(sc, i);
  if (i < sc->n && sc->s[i] == '}') {
    *end = i + 1;
    return true;
  }
  for (;;) {
    if (i >= sc->n || sc->s[i] != '"')
      return fail(sc, i, "Expecting property name enclosed in double quotes");
    if (!scan_string(sc, i, &i)) return false;
    i = skip_ws(sc, i);
    if (i >= sc->n || sc->s[i] != ':') return fail(sc, i, "Expecting ':' delimiter");
    i = skip_ws(sc, i + 1);
    if (!scan_value(sc, i, &i, depth + 1)) return false;
    i = skip_ws(sc, i);
    if (i < sc->n && sc->s[i] == '}') break;
    if (i >= sc->n || sc->s[i] != ',') return fail(sc, i, "Expecting ',' delimiter");
    i = skip_ws(sc, i + 1);
  }
  *end = i + 1;
  return true;
}

// An array whose '[' is at i - 1.
// NOLINTNEXTLINE(misc-no-recursion): bounded as scan_value is
static bool scan_array(struct scan *sc, size_t i, size_t *end, int depth) {
  i = skip_ws(sc, i);
  if (i < sc->n && sc->s[i] == ']') {
    *end = i + 1;
    return true;
  }
  for (;;) {
    if (!scan_value(sc, i, &i, depth + 1)) return false;
    i = skip_ws(sc, i);
    if (i < sc->n && sc->s[i] == ']') break;
    if (i >= sc->n || sc->s[i] != ',') return fail(sc, i, "Expecting ',' delimiter");
    i = skip_ws(sc, i + 1);
  }
  *end = i + 1;
  return true;
}

// A value at i (no whitespace before it): *end past it.  The recursion is
// bounded: callers measured the text's depth first (cio__json_depth_ok).
// NOLINTNEXTLINE(misc-no-recursion): bounded by CIO__JSON_MAX_DEPTH
static bool scan_value(struct scan *sc, size_t i, size_t *end, int depth) {
  if (depth > CIO__JSON_MAX_DEPTH) return fail(sc, i, "Expecting value"); // (not reached)
  if (i >= sc->n) return fail(sc, i, "Expecting value");
  switch (sc->s[i]) {
  case '"': return scan_string(sc, i, end);
  case '{': return scan_object(sc, i + 1, end, depth);
  case '[': return scan_array(sc, i + 1, end, depth);
  default: break;
  }
  static const char *const names[] = {"null", "true", "false", "NaN", "Infinity", "-Infinity"};
  for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
    if (at_lit(sc, i, names[k])) {
      *end = i + strlen(names[k]);
      return true;
    }
  if (scan_number(sc, i, end)) return true;
  return fail(sc, i, "Expecting value");
}

// Characters (UTF-8 sequences) in s[0..n).
static size_t chars_before(const char *s, size_t n) {
  size_t c = 0;
  for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
  return c;
}

bool cio__json_depth_ok(const char *s, size_t n) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (in_string) {
      if (c == '\\')
        i++; // the escaped character is not a quote
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > CIO__JSON_MAX_DEPTH) return false;
    } else if ((c == ']' || c == '}') && depth) {
      depth--;
    }
  }
  return true;
}

bool cio__json_check(const char *s, size_t n, size_t *pos, const char **msg) {
  struct scan sc = {s, n, 0, NULL};
  size_t end;
  size_t i = skip_ws(&sc, 0);
  if (scan_value(&sc, i, &end, 0)) {
    end = skip_ws(&sc, end);
    if (end == n) return false;
    fail(&sc, end, "Extra data");
  }
  *pos = chars_before(s, sc.err_at);
  *msg = sc.msg;
  return true;
}
