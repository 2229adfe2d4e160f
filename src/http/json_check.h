// SPDX-License-Identifier: MIT
//
// Looking at a JSON text before (or after) a parser does: how deeply it
// nests, and where and why it stops parsing in Python's words
// (json_check.c).  Jansson's parser recurses once per level of nesting,
// and so would anything walking its values: a task's stack (64 KiB by
// default) holds about 400 levels of it, so every JSON text from outside
// (a request body, a client's response) is measured first and refused
// beyond CIO__JSON_MAX_DEPTH.
#ifndef CIO_HTTP_JSON_CHECK_H
#define CIO_HTTP_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>

// The deepest nesting of arrays and objects cio parses (Python's json
// module stops near 1,000, at its recursion limit; FastAPI answers 400).
#define CIO__JSON_MAX_DEPTH 128

// True if the text s[0..n) nests arrays and objects no deeper than
// CIO__JSON_MAX_DEPTH (brackets inside strings do not count).  Linear, no
// recursion.
bool cio__json_depth_ok(const char *s, size_t n);

// Where the JSON text s[0..n) stops parsing, in characters (Python's
// JSONDecodeError.pos), and Python's message for it ("Expecting value").
// Returns false for a text that parses.  Call it only on a text whose depth
// is ok: it recurses once per level.
bool cio__json_check(const char *s, size_t n, size_t *pos, const char **msg);

#endif
