// SPDX-License-Identifier: MIT
//
// A JSON text cio writes itself (422 bodies, error details), growing as
// needed, so that an input is echoed whole however long it is (the request
// limits bound it).  Strings are escaped as Python's json.dumps escapes
// them with ensure_ascii=False, which is what FastAPI sends: '"', '\\' and
// the control characters escaped, everything else as UTF-8, and bytes that
// are not UTF-8 replaced by U+FFFD (never sent raw).  An allocation that
// fails leaves the text NULL, and every later call does nothing: the
// caller checks p once, at the end.
#ifndef CIO_HTTP_JSON_TEXT_H
#define CIO_HTTP_JSON_TEXT_H

#include <stdbool.h>
#include <stddef.h>

struct cio__jtext {
  char *p;    // the text (malloc'd), NULL once an allocation failed
  size_t n;   //   its length
  size_t cap; //   its allocation
};

// An empty text with room for `hint` bytes.
struct cio__jtext cio__jt_new(size_t hint);

// Appends s[0..n) as it is.
void cio__jt_raw(struct cio__jtext *j, const char *s, size_t n);

// Appends the C string s as it is.
void cio__jt_lit(struct cio__jtext *j, const char *s);

// Appends s[0..n) as a JSON string, quoted and escaped.
void cio__jt_str(struct cio__jtext *j, const char *s, size_t n);

// Appends v as Python's repr writes a float (FastAPI's JSON): 10.0, 0.1,
// 1e+16, 1.5e-05; a NaN or an infinity as null.
void cio__jt_float(struct cio__jtext *j, double v);

#endif
